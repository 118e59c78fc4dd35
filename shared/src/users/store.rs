//! Every SQL statement on user accounts, one function per operation, each one round trip.

use serde_json::Value;
use sqlx::PgExecutor;
use uuid::Uuid;

use crate::db::{Operation, StoreError};
use crate::users::{NewUser, User};

pub async fn find_by_id(db: impl PgExecutor<'_>, id: Uuid) -> Result<Option<User>, StoreError> {
    sqlx::query_as("select id, username, email, created_at, updated_at from users where id = $1")
        .bind(id)
        .fetch_optional(db)
        .await
        .during("users.find_by_id")
}

pub async fn exists(db: impl PgExecutor<'_>, id: Uuid) -> Result<bool, StoreError> {
    sqlx::query_scalar("select exists(select 1 from users where id = $1)")
        .bind(id)
        .fetch_one(db)
        .await
        .during("users.exists")
}

/// Inserts the account and its `user.register` audit row in one statement. The unique indexes
/// settle who gets a contested username or email (`users_username_unique`,
/// `users_email_unique`).
pub async fn create(
    db: impl PgExecutor<'_>,
    new_user: &NewUser,
    password_hash: &str,
    audit_metadata: &Value,
) -> Result<User, StoreError> {
    sqlx::query_as(
        "with created as ( \
             insert into users (username, email, password_hash) values ($1, $2, $3) \
             returning id, username, email, created_at, updated_at), \
         audit as ( \
             insert into audit_logs (actor_id, action, entity_type, entity_id, metadata) \
             select id, 'user.register', 'user', id, $4 from created) \
         select * from created",
    )
    .bind(new_user.username.as_str())
    .bind(new_user.email.as_str())
    .bind(password_hash)
    .bind(audit_metadata)
    .fetch_one(db)
    .await
    .during("users.create")
}
