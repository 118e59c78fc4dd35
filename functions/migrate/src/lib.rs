//! Applies the embedded migrations. Locally it runs once from the command line; in AWS it is a
//! CloudFormation custom resource that applies them on every deploy (see `custom_resource`),
//! and the rotation function of the app role's secret (see `rotation`). sqlx holds a PostgreSQL
//! advisory lock while it migrates, so concurrent runs are safe.

pub mod custom_resource;
mod roles;
pub mod rotation;

use std::time::Duration;

use custom_resource::CustomResourceEvent;
use shared::Env;
use shared::config::{AppRoleConfig, ConfigError, DatabaseConfig, MigrationConfig};
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
    async fn load(env: &Env, secrets: &Secrets) -> Result<Self, ConfigError> {
        Ok(Self {
            env: env.clone(),
            secrets: secrets.clone(),
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
    let (config, app_role) = tokio::try_join!(
        DatabaseConfig::load(&state.env, &state.secrets),
        AppRoleConfig::load(&state.env, &state.secrets),
    )?;
    let migration = MigrationConfig::from_env(&state.env)?;
    apply_within(
        config.connect,
        migration.statement_timeout,
        migration.connect_timeout,
        app_role.as_ref(),
    )
    .await
}

/// Serves CloudFormation's custom-resource events and Secrets Manager's rotation steps (an
/// event with a `Step`), the function's two callers in AWS.
async fn serve_custom_resource(state: &State) -> Result<(), BoxError> {
    let client = custom_resource::response_client()?;
    lambda_runtime::run(lambda_runtime::service_fn(
        |event: lambda_runtime::LambdaEvent<serde_json::Value>| {
            let client = &client;
            async move {
                if event.payload.get("Step").is_some() {
                    let rotation: rotation::RotationEvent = serde_json::from_value(event.payload)?;
                    let result = rotation::handle(state, rotation).await;
                    if let Err(err) = &result {
                        tracing::error!(error = %ErrorChain(err.as_ref()), "rotation failed");
                    }
                    return result;
                }
                let request: CustomResourceEvent = serde_json::from_value(event.payload)?;
                custom_resource::handle(request, client, || apply_configured(state)).await
            }
        },
    ))
    .await
}

/// How long one migration statement may run unless `MIGRATION_STATEMENT_TIMEOUT_MS` says otherwise.
pub const DEFAULT_STATEMENT_TIMEOUT: Duration = MigrationConfig::DEFAULT_STATEMENT_TIMEOUT;
/// How long to wait for a connection unless `MIGRATION_CONNECT_TIMEOUT_MS` says otherwise.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = MigrationConfig::DEFAULT_CONNECT_TIMEOUT;

/// Applies every pending migration, then provisions the app role when one is given; returns how
/// many migrations were applied. Applied migrations this build does not know (a newer
/// release's) are left alone.
pub async fn apply(
    connect: PgConnectOptions,
    statement_timeout: Duration,
    app_role: Option<&AppRoleConfig>,
) -> Result<usize, BoxError> {
    apply_within(
        connect,
        statement_timeout,
        DEFAULT_CONNECT_TIMEOUT,
        app_role,
    )
    .await
}

/// `apply`, waiting up to `connect_timeout` for the database to accept a connection.
pub async fn apply_within(
    connect: PgConnectOptions,
    statement_timeout: Duration,
    connect_timeout: Duration,
    app_role: Option<&AppRoleConfig>,
) -> Result<usize, BoxError> {
    let pool = migration_pool(connect, statement_timeout, connect_timeout).await?;
    let before = applied_count(&pool).await?;
    db::deploy_migrator().run(&pool).await?;
    let after = applied_count(&pool).await?;
    match app_role {
        Some(role) => {
            roles::provision(&pool, role).await?;
            tracing::info!(role = %role.username, "app role provisioned");
        }
        None => tracing::info!(
            "no app role configured (APP_DATABASE_SECRET_ARN or APP_DATABASE_USERNAME)"
        ),
    }
    pool.close().await;
    Ok(after.saturating_sub(before))
}

/// One session connection (sqlx's migration lock is a session advisory lock), with the
/// migrations' statement timeout set on it. A refused connection is tried again, backing off,
/// until `connect_timeout`.
pub(crate) async fn migration_pool(
    connect: PgConnectOptions,
    statement_timeout: Duration,
    connect_timeout: Duration,
) -> Result<sqlx::PgPool, sqlx::Error> {
    let timeout_ms = statement_timeout.as_millis().to_string();
    PgPoolOptions::new()
        .max_connections(1)
        .acquire_timeout(connect_timeout)
        .after_connect(move |connection, _| {
            let timeout_ms = timeout_ms.clone();
            Box::pin(async move {
                sqlx::query("select set_config('statement_timeout', $1, false)")
                    .bind(timeout_ms)
                    .execute(connection)
                    .await
                    .map(drop)
            })
        })
        .connect_with(connect)
        .await
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

#[cfg(test)]
mod tests;
