//! The outcome of a conditional write (an `If-Match` update or delete) and, when it touched
//! nothing, why.

use uuid::Uuid;

use crate::caller::Caller;
use crate::db::{Db, Operation, StoreError};

/// The outcome of a write that only applies to a version the client still has.
#[derive(Debug)]
pub enum Written<T> {
    Done(T),
    /// The row exists, but not at a version `If-Match` named.
    Stale,
    /// No such row of this owner (or the caller's session has ended: the handler's
    /// `not_found` then answers 401).
    Missing,
}

/// Why a conditional write touched nothing (a second statement, on the failure path only):
/// `exists` is the statement that tells whether row `$1` of owner `$2` is there.
pub async fn why_not_written<T>(
    db: &Db,
    caller: Caller,
    id: Uuid,
    exists: &'static str,
) -> Result<Written<T>, StoreError> {
    let live = crate::auth::session::is_live(db, caller).await?;
    let there: bool = sqlx::query_scalar(exists)
        .bind(id)
        .bind(caller.user_id)
        .fetch_one(db)
        .await
        .during("db.why_not_written")?;
    Ok(if live && there {
        Written::Stale
    } else {
        Written::Missing
    })
}

/// The outcome of a conditional delete that removed `deleted` rows.
pub async fn deleted_or_why(
    db: &Db,
    caller: Caller,
    id: Uuid,
    deleted: i64,
    exists: &'static str,
) -> Result<Written<()>, StoreError> {
    if deleted > 0 {
        Ok(Written::Done(()))
    } else {
        why_not_written(db, caller, id, exists).await
    }
}
