//! What a function builds once per Lambda instance and hands to every invocation. Each function
//! names the state it needs; each state loads only its own settings and secrets, fetching
//! secrets concurrently.

use std::future::Future;

use lambda_http::Request;
use lambda_http::http::StatusCode;
use serde_json::Value;
use uuid::Uuid;

use crate::audit;
use crate::auth::{Caller, TokenKeys, authenticate_token, ensure_session_live, not_found};
use crate::config::{
    ConfigError, DatabaseConfig, Env, HttpConfig, JwtSecret, PasswordConfig, RetentionConfig,
    SessionConfig, ThrottleConfig, TokenSettings,
};
use crate::db::{Db, StoreError};
use crate::error::ApiError;
use crate::http::etag::IfMatch;
use crate::http::{self, ApiResult};
use crate::pagination::{CursorKey, PageRequest, Position, Scope};
use crate::runtime::Load;
use crate::secrets::Secrets;
use crate::written::Written;

async fn database(env: &Env, secrets: &Secrets) -> Result<Db, ConfigError> {
    let config = DatabaseConfig::load(env, secrets).await?;
    Ok(Db::new(&config, secrets.clone()))
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

/// A function that acts for the signed-in caller: it verifies access tokens and signs page
/// cursors (`me`, the task functions).
pub struct Api {
    pub db: Db,
    pub http: HttpConfig,
    pub keys: TokenKeys,
    pub cursors: CursorKey,
}

impl Api {
    /// The page response of a listing: `rows` fetched with `page.fetch()` become a page bounded
    /// by count and bytes. An empty page proves nothing, so only then is the caller's session
    /// checked (a second statement).
    pub async fn page_response<T: serde::Serialize>(
        &self,
        caller: Caller,
        page: &PageRequest,
        rows: Vec<T>,
        scope: &Scope<'_>,
        position: impl Fn(&T) -> Position,
    ) -> ApiResult {
        if rows.is_empty() {
            ensure_session_live(&self.db, caller).await?;
        }
        let page = page.page(
            rows,
            &self.cursors,
            scope,
            self.http.response_budget,
            position,
        )?;
        http::json(StatusCode::OK, &page)
    }

    /// The answer to a conditional write: `done` with what was written, 412 when the version
    /// was stale, or the 404 (or 401 of an ended session) of a missing row.
    pub async fn written_response<T>(
        &self,
        caller: Caller,
        written: Written<T>,
        done: impl FnOnce(T) -> ApiResult,
    ) -> ApiResult {
        match written {
            Written::Done(value) => done(value),
            Written::Stale => Err(ApiError::PreconditionFailed),
            Written::Missing => Err(not_found(&self.db, caller).await),
        }
    }

    /// `DELETE` of the caller's resource `{id}`, guarded by `If-Match`: `delete` is its store
    /// operation (one statement with its audit row); 204, 412 for a stale version, or the 404
    /// (401 of an ended session) of a missing one.
    pub async fn delete_response<Fut>(
        &self,
        request: &Request,
        entity: &'static str,
        delete: impl FnOnce(Caller, Uuid, Option<Vec<i64>>, Value) -> Fut,
    ) -> ApiResult
    where
        Fut: Future<Output = Result<Written<()>, StoreError>>,
    {
        let caller = authenticate_token(request, &self.keys).await?;
        let id = http::path_id(request, "id")?;
        let versions = IfMatch::from_request(request)?
            .versions()
            .map(<[i64]>::to_vec);
        let written = delete(caller, id, versions, audit::request_metadata(request)).await?;
        self.written_response(caller, written, |()| {
            tracing::info!(entity, %id, user_id = %caller.user_id, "deleted");
            http::no_content()
        })
        .await
    }

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
