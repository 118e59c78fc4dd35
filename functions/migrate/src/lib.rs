//! Applies the embedded migrations. Locally it runs once from the command line; in AWS it is a
//! CloudFormation custom resource that applies them on every deploy (see `custom_resource`).
//! sqlx holds a PostgreSQL advisory lock while it migrates, so concurrent runs are safe.

pub mod custom_resource;

use std::time::Duration;

use shared::db;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};

pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Applies every pending migration; returns how many were applied.
pub async fn apply(connect: PgConnectOptions) -> Result<usize, BoxError> {
    let pool = PgPoolOptions::new()
        .max_connections(1)
        .acquire_timeout(Duration::from_secs(30))
        .connect_with(connect)
        .await?;
    let before = applied_count(&pool).await?;
    db::MIGRATOR.run(&pool).await?;
    let after = applied_count(&pool).await?;
    pool.close().await;
    Ok(after.saturating_sub(before))
}

async fn applied_count(pool: &sqlx::PgPool) -> Result<usize, sqlx::Error> {
    let exists: bool = sqlx::query_scalar("select to_regclass('_sqlx_migrations') is not null")
        .fetch_one(pool)
        .await?;
    if !exists {
        return Ok(0);
    }
    let count: i64 = sqlx::query_scalar("select count(*) from _sqlx_migrations where success")
        .fetch_one(pool)
        .await?;
    Ok(usize::try_from(count).unwrap_or(0))
}
