//! Applies the embedded migrations to the configured database and exits. sqlx takes a
//! PostgreSQL advisory lock for the run, so concurrent runs apply each migration once.

use std::process::ExitCode;

use shared::config::DatabaseConfig;
use shared::error::ErrorChain;
use shared::secrets::Secrets;
use shared::{Env, db};
use sqlx::postgres::PgPoolOptions;

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    shared::telemetry::init();
    match run().await {
        Ok(applied) => {
            tracing::info!(applied, "migrations are up to date");
            ExitCode::SUCCESS
        }
        Err(err) => {
            tracing::error!(error = %ErrorChain(err.as_ref()), "migration failed");
            ExitCode::FAILURE
        }
    }
}

async fn run() -> Result<usize, Box<dyn std::error::Error + Send + Sync>> {
    let config = DatabaseConfig::load(&Env::from_process(), &Secrets::new()).await?;
    let pool = PgPoolOptions::new()
        .max_connections(1)
        .acquire_timeout(std::time::Duration::from_secs(10))
        .connect_with(config.connect)
        .await?;
    let before = applied_count(&pool).await?;
    db::MIGRATOR.run(&pool).await?;
    let after = applied_count(&pool).await?;
    pool.close().await;
    Ok(after - before)
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
    Ok(count as usize)
}
