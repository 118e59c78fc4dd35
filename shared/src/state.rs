//! What a function builds once per Lambda instance and hands to every invocation.

use sqlx::PgPool;

use crate::auth::password;
use crate::config::{ConfigError, DatabaseConfig, Env, HttpConfig};
use crate::db;
use crate::secrets::Secrets;

pub struct AppState {
    pub db: PgPool,
    pub http: HttpConfig,
    /// bcrypt cost for new password hashes (`BCRYPT_COST`).
    pub bcrypt_cost: u32,
}

impl AppState {
    pub async fn from_env(env: &Env, secrets: &Secrets) -> Result<Self, ConfigError> {
        let database = DatabaseConfig::load(env, secrets).await?;
        Self::new(db::pool(&database), env)
    }

    /// The state around an existing pool, with the other settings from `env`.
    pub fn new(db: PgPool, env: &Env) -> Result<Self, ConfigError> {
        let bcrypt_cost = env.parse_or("BCRYPT_COST", password::DEFAULT_COST)?;
        if !(password::MIN_COST..=password::MAX_COST).contains(&bcrypt_cost) {
            return Err(ConfigError::Invalid {
                name: "BCRYPT_COST".into(),
                reason: format!(
                    "must be between {} and {}",
                    password::MIN_COST,
                    password::MAX_COST
                ),
            });
        }
        Ok(Self {
            db,
            http: HttpConfig::from_env(env)?,
            bcrypt_cost,
        })
    }
}
