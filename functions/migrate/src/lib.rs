//! Applies the embedded migrations. Locally it runs once from the command line; in AWS it is a
//! CloudFormation custom resource that applies them on every deploy (see `custom_resource`).
//! sqlx holds a PostgreSQL advisory lock while it migrates, so concurrent runs are safe.

pub mod custom_resource;

use std::time::Duration;

use custom_resource::CustomResourceEvent;
use shared::Env;
use shared::config::{ConfigError, DatabaseConfig};
use shared::db;
use shared::error::ErrorChain;
use shared::runtime::Load;
use shared::secrets::Secrets;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};

pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The environment and secrets, kept so that each run reads the database settings afresh: a
/// bad setting then fails that run (and is reported to CloudFormation) instead of the process.
pub struct State {
    env: Env,
    secrets: Secrets,
}

impl Load for State {
    async fn load(env: &Env, _secrets: &Secrets) -> Result<Self, ConfigError> {
        Ok(Self {
            env: env.clone(),
            secrets: Secrets::new(env),
        })
    }
}

/// Under Lambda, answers CloudFormation custom-resource events; from the command line, applies
/// the migrations once and exits.
pub async fn run(state: &State) -> Result<(), BoxError> {
    let result = if state.env.get("AWS_LAMBDA_RUNTIME_API").is_some() {
        // Boxed: the runtime's future is deep enough to exceed the compiler's layout limit
        // when nested inline.
        Box::pin(serve_custom_resource(state)).await
    } else {
        apply_configured(state).await.map(|applied| {
            tracing::info!(applied, "migrations are up to date");
        })
    };
    if let Err(err) = &result {
        tracing::error!(error = %ErrorChain(err.as_ref()), "migrate failed");
    }
    result
}

async fn apply_configured(state: &State) -> Result<usize, BoxError> {
    let config = DatabaseConfig::load(&state.env, &state.secrets).await?;
    apply(config.connect).await
}

async fn serve_custom_resource(state: &State) -> Result<(), BoxError> {
    let client = custom_resource::response_client()?;
    lambda_runtime::run(lambda_runtime::service_fn(
        |event: lambda_runtime::LambdaEvent<CustomResourceEvent>| {
            let client = &client;
            async move {
                custom_resource::handle(event.payload, client, || apply_configured(state)).await
            }
        },
    ))
    .await
}

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
