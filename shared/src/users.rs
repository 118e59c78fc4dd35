//! Reading user accounts.

use sqlx::PgExecutor;
use uuid::Uuid;

use crate::models::User;

pub async fn find_by_id(db: impl PgExecutor<'_>, id: Uuid) -> Result<Option<User>, sqlx::Error> {
    sqlx::query_as("select id, username, email, created_at, updated_at from users where id = $1")
        .bind(id)
        .fetch_optional(db)
        .await
}

pub async fn exists(db: impl PgExecutor<'_>, id: Uuid) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar("select exists(select 1 from users where id = $1)")
        .bind(id)
        .fetch_one(db)
        .await
}
