//! What a function builds once per Lambda instance and hands to every invocation. Each function
//! names the state it needs; each state loads only its own settings and secrets, fetching
//! secrets concurrently.

use crate::auth::TokenKeys;
use crate::config::{
    ConfigError, DatabaseConfig, Env, HttpConfig, JwtSecret, PasswordConfig, RetentionConfig,
    SessionConfig, ThrottleConfig, TokenSettings, WorkConfig,
};
use crate::db::Db;
use crate::pagination::CursorKey;
use crate::runtime::Load;
use crate::secrets::Secrets;

async fn database(env: &Env, secrets: &Secrets) -> Result<Db, ConfigError> {
    let config = DatabaseConfig::load(env, secrets).await?;
    Ok(Db::new(&config, secrets.clone()))
}

/// Nothing beyond the process: what the function serves is built into it (`docs`).
pub struct Bare;

impl Load for Bare {
    async fn load(_env: &Env, _secrets: &Secrets) -> Result<Self, ConfigError> {
        Ok(Self)
    }
}

/// Only the database (`health`).
pub struct Database {
    pub db: Db,
}

impl Load for Database {
    async fn load(env: &Env, secrets: &Secrets) -> Result<Self, ConfigError> {
        Ok(Self {
            db: database(env, secrets).await?,
        })
    }
}

/// The scheduled function that prunes what has expired (`maintenance`).
pub struct Maintenance {
    pub db: Db,
    pub retention: RetentionConfig,
    pub throttle: ThrottleConfig,
}

impl Load for Maintenance {
    async fn load(env: &Env, secrets: &Secrets) -> Result<Self, ConfigError> {
        Ok(Self {
            retention: RetentionConfig::from_env(env)?,
            throttle: ThrottleConfig::from_env(env)?,
            db: database(env, secrets).await?,
        })
    }
}

/// A function an agent calls with its key (`agent-claim`, `agent-heartbeat`, `agent-complete`,
/// `agent-fail`): the database and the queue's settings. No token key: an agent's key is checked
/// in the database, inside the statement it makes.
pub struct Work {
    pub db: Db,
    pub http: HttpConfig,
    pub work: WorkConfig,
}

impl Load for Work {
    async fn load(env: &Env, secrets: &Secrets) -> Result<Self, ConfigError> {
        Ok(Self {
            http: HttpConfig::from_env(env)?,
            work: WorkConfig::from_env(env)?,
            db: database(env, secrets).await?,
        })
    }
}

/// A function that acts for the signed-in caller: it verifies access tokens and signs page
/// cursors (`me`, the task functions).
pub struct Api {
    pub db: Db,
    pub http: HttpConfig,
    pub keys: TokenKeys,
    pub cursors: CursorKey,
}

impl Api {
    pub fn new(db: Db, http: HttpConfig, secret: &JwtSecret, tokens: TokenSettings) -> Self {
        Self::with_keys(db, http, TokenKeys::new(secret, tokens))
    }

    /// Page cursors are signed with a key derived from the token key current at start.
    fn with_keys(db: Db, http: HttpConfig, keys: TokenKeys) -> Self {
        Self {
            db,
            http,
            cursors: CursorKey::derive(&keys.current_secret()),
            keys,
        }
    }
}

impl Load for Api {
    async fn load(env: &Env, secrets: &Secrets) -> Result<Self, ConfigError> {
        let http = HttpConfig::from_env(env)?;
        let (db, keys) = tokio::try_join!(database(env, secrets), TokenKeys::load(env, secrets))?;
        Ok(Self::with_keys(db, http, keys))
    }
}

/// A function that creates accounts: it hashes passwords within each address's budget, and
/// issues no token (`register`).
pub struct Signup {
    pub db: Db,
    pub http: HttpConfig,
    pub passwords: PasswordConfig,
    pub throttle: ThrottleConfig,
}

impl Load for Signup {
    async fn load(env: &Env, secrets: &Secrets) -> Result<Self, ConfigError> {
        Ok(Self {
            http: HttpConfig::from_env(env)?,
            passwords: PasswordConfig::from_env(env)?,
            throttle: ThrottleConfig::from_env(env)?,
            db: database(env, secrets).await?,
        })
    }
}

/// A function that checks passwords against the login throttle and issues or checks tokens
/// (`login`, `password-change`, `account-delete`).
pub struct PasswordCheck {
    pub db: Db,
    pub http: HttpConfig,
    pub passwords: PasswordConfig,
    pub sessions: SessionConfig,
    pub throttle: ThrottleConfig,
    pub keys: TokenKeys,
}

impl Load for PasswordCheck {
    async fn load(env: &Env, secrets: &Secrets) -> Result<Self, ConfigError> {
        let http = HttpConfig::from_env(env)?;
        let passwords = PasswordConfig::from_env(env)?;
        let sessions = SessionConfig::from_env(env)?;
        let throttle = ThrottleConfig::from_env(env)?;
        let (db, keys) = tokio::try_join!(database(env, secrets), TokenKeys::load(env, secrets))?;
        Ok(Self {
            db,
            http,
            passwords,
            sessions,
            throttle,
            keys,
        })
    }
}

/// The function that rotates refresh tokens (`refresh`): sessions and token keys, no passwords.
pub struct Refresh {
    pub db: Db,
    pub http: HttpConfig,
    pub sessions: SessionConfig,
    pub keys: TokenKeys,
}

impl Load for Refresh {
    async fn load(env: &Env, secrets: &Secrets) -> Result<Self, ConfigError> {
        let http = HttpConfig::from_env(env)?;
        let sessions = SessionConfig::from_env(env)?;
        let (db, keys) = tokio::try_join!(database(env, secrets), TokenKeys::load(env, secrets))?;
        Ok(Self {
            db,
            http,
            sessions,
            keys,
        })
    }
}
