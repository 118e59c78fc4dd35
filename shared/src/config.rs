//! Configuration, read once per Lambda instance from environment variables. Secret values come
//! from the environment for local use (`DATABASE_URL`, `JWT_SECRET`) or from Secrets Manager
//! by ARN in AWS (`DATABASE_SECRET_ARN`, `JWT_SECRET_ARN`).

use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use sqlx::postgres::{PgConnectOptions, PgSslMode};

pub use crate::env::{ConfigError, Env};
use crate::secrets::Secrets;

/// How to reach PostgreSQL and how the pool behaves.
#[derive(Clone)]
pub struct DatabaseConfig {
    pub connect: PgConnectOptions,
    pub pool: PoolConfig,
    /// A transaction-mode pooler (RDS Proxy, PgBouncer) may sit between the functions and
    /// PostgreSQL (`db::Db` says what changes): unless `DATABASE_POOLER=none` says otherwise.
    pub behind_pooler: bool,
    /// The secret the password came from (`DATABASE_SECRET_ARN`), read again after a rotation.
    pub secret_arn: Option<String>,
}

/// Pool sizing for Lambda: one instance serves one request at a time, so a couple of
/// connections is enough, and a short acquire timeout turns an unreachable database into a
/// quick 503 instead of a request that hangs until the Lambda timeout.
#[derive(Debug, Clone, PartialEq)]
pub struct PoolConfig {
    pub max_connections: u32,
    pub acquire_timeout: Duration,
    pub idle_timeout: Duration,
}

impl PoolConfig {
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let config = Self {
            max_connections: env.parse_or("DATABASE_MAX_CONNECTIONS", 2)?,
            acquire_timeout: env
                .duration_ms_or("DATABASE_ACQUIRE_TIMEOUT_MS", Duration::from_secs(2))?,
            idle_timeout: env
                .duration_ms_or("DATABASE_IDLE_TIMEOUT_MS", Duration::from_secs(300))?,
        };
        if config.max_connections == 0 {
            return Err(ConfigError::Invalid {
                name: "DATABASE_MAX_CONNECTIONS".into(),
                reason: "must be at least 1".into(),
            });
        }
        Ok(config)
    }
}

/// The shape of an RDS database secret. RDS-managed master-user secrets hold only the
/// username and password; the other fields then come from `DATABASE_HOST`, `DATABASE_PORT`
/// and `DATABASE_NAME`.
#[derive(Deserialize)]
pub(crate) struct RdsSecret {
    pub(crate) username: String,
    pub(crate) password: SecretString,
    host: Option<String>,
    port: Option<PortValue>,
    dbname: Option<String>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum PortValue {
    Number(u16),
    Text(String),
}

impl RdsSecret {
    pub(crate) fn parse(arn: &str, secret: &SecretString) -> Result<Self, ConfigError> {
        // The error of a failed parse may quote the input: never include it.
        serde_json::from_str(secret.expose_secret()).map_err(|_| ConfigError::Invalid {
            name: format!("database secret {arn}"),
            reason: "expected JSON with username, password, and optionally host, port, dbname"
                .into(),
        })
    }
}

impl DatabaseConfig {
    pub async fn load(env: &Env, secrets: &Secrets) -> Result<Self, ConfigError> {
        let mut secret_arn = None;
        let connect = async {
            if let Some(url) = env.get("DATABASE_URL") {
                url.parse::<PgConnectOptions>()
                    .map_err(|e| ConfigError::Invalid {
                        name: "DATABASE_URL".into(),
                        reason: e.to_string(),
                    })
            } else if let Some(arn) = env.get("DATABASE_SECRET_ARN") {
                let secret = secrets.fetch(arn).await?;
                secret_arn = Some(arn.to_owned());
                connect_options_from_rds_secret(env, arn, &secret)
            } else {
                Err(ConfigError::Missing(
                    "set DATABASE_URL (local) or DATABASE_SECRET_ARN (AWS) to reach PostgreSQL",
                ))
            }
        };
        // The two secrets are read at once: each is a round trip to Secrets Manager.
        let (connect, root_certificates) =
            tokio::try_join!(connect, RootCertificates::load(env, secrets))?;
        let connect = with_tls(env, connect, root_certificates)?;
        // No `options` startup parameter (a `statement_timeout`, say): transaction-mode poolers
        // and RDS Proxy refuse the connection. The API's timeout is a setting of its database
        // role instead, which `migrate` provisions.
        // Unset means "a pooler may be in between": every statement unnamed and in its own
        // transaction, which is correct behind a transaction-mode pooler and directly alike. A
        // deployment that knows it connects directly says `none` and gets cached, named
        // statements: the template, `make dev` and the bench do. The reverse default let one
        // client's Bind reach another client's statement through PgBouncer.
        let behind_pooler = match env.get("DATABASE_POOLER").unwrap_or("transaction") {
            "none" => false,
            "transaction" => true,
            _ => {
                return Err(ConfigError::Invalid {
                    name: "DATABASE_POOLER".into(),
                    reason: "must be none (a direct connection) or transaction (RDS Proxy, \
                             PgBouncer in transaction mode)"
                        .into(),
                });
            }
        };
        Ok(Self {
            connect: connect.application_name("taskapi"),
            pool: PoolConfig::from_env(env)?,
            behind_pooler,
            secret_arn,
        })
    }
}

fn connect_options_from_rds_secret(
    env: &Env,
    arn: &str,
    secret: &SecretString,
) -> Result<PgConnectOptions, ConfigError> {
    let invalid = |reason: String| ConfigError::Invalid {
        name: format!("database secret {arn}"),
        reason,
    };
    let parsed = RdsSecret::parse(arn, secret)?;

    let host = parsed
        .host
        .or_else(|| env.get("DATABASE_HOST").map(str::to_owned))
        .ok_or_else(|| invalid("no host in the secret and DATABASE_HOST is not set".into()))?;
    let port = match parsed.port {
        Some(PortValue::Number(port)) => port,
        Some(PortValue::Text(text)) => text
            .parse()
            .map_err(|_| invalid(format!("port {text:?} is not a number")))?,
        None => env.parse_or("DATABASE_PORT", 5432)?,
    };
    let dbname = parsed
        .dbname
        .or_else(|| env.get("DATABASE_NAME").map(str::to_owned))
        .unwrap_or_else(|| "postgres".to_owned());
    Ok(PgConnectOptions::new_without_pgpass()
        .host(&host)
        .port(port)
        .username(&parsed.username)
        .password(parsed.password.expose_secret())
        .database(&dbname)
        .ssl_mode(PgSslMode::Require))
}

/// The CAs a `verify-ca`/`verify-full` connection trusts, when not the public roots (RDS
/// Proxy's certificates chain to those; an RDS instance's do not).
enum RootCertificates {
    Public,
    /// `DATABASE_SSLROOTCERT`: a PEM bundle on disk.
    Path(String),
    /// `DATABASE_SSLROOTCERT_SECRET_ARN`: a secret whose value is the PEM bundle.
    Pem(Vec<u8>),
}

impl RootCertificates {
    async fn load(env: &Env, secrets: &Secrets) -> Result<Self, ConfigError> {
        let invalid = |name: &str, reason: &str| ConfigError::Invalid {
            name: name.into(),
            reason: reason.into(),
        };
        if let Some(path) = env.get("DATABASE_SSLROOTCERT") {
            let pem = std::fs::read_to_string(path).map_err(|e| {
                invalid("DATABASE_SSLROOTCERT", &format!("cannot read {path}: {e}"))
            })?;
            if !pem.contains("-----BEGIN CERTIFICATE-----") {
                return Err(invalid("DATABASE_SSLROOTCERT", "holds no PEM certificate"));
            }
            Ok(Self::Path(path.to_owned()))
        } else if let Some(arn) = env.get("DATABASE_SSLROOTCERT_SECRET_ARN") {
            let pem = secrets.fetch(arn).await?;
            if !pem.expose_secret().contains("-----BEGIN CERTIFICATE-----") {
                return Err(invalid(
                    "DATABASE_SSLROOTCERT_SECRET_ARN",
                    "the secret holds no PEM certificate",
                ));
            }
            Ok(Self::Pem(pem.expose_secret().as_bytes().to_vec()))
        } else {
            Ok(Self::Public)
        }
    }
}

/// `DATABASE_SSLMODE` (when set, it overrides a URL's `sslmode`; a secret's connection is
/// `require` by default) and the CAs to verify the server with.
fn with_tls(
    env: &Env,
    options: PgConnectOptions,
    roots: RootCertificates,
) -> Result<PgConnectOptions, ConfigError> {
    let options = match env.get("DATABASE_SSLMODE") {
        Some(_) => options.ssl_mode(env.parse_or("DATABASE_SSLMODE", PgSslMode::Require)?),
        None => options,
    };
    Ok(match roots {
        RootCertificates::Public => options,
        RootCertificates::Path(path) => options.ssl_root_cert(path),
        RootCertificates::Pem(pem) => options.ssl_root_cert_from_pem(pem),
    })
}

/// The database role the API functions connect as, which `migrate` creates or updates on every
/// deploy: from `APP_DATABASE_SECRET_ARN` (AWS; the stack-generated secret, JSON with username
/// and password) or `APP_DATABASE_USERNAME` and `APP_DATABASE_PASSWORD` (local).
#[derive(Clone)]
pub struct AppRoleConfig {
    pub username: String,
    pub password: SecretString,
    /// The role's `statement_timeout` (`DATABASE_STATEMENT_TIMEOUT_MS`, 10 s).
    pub statement_timeout: Duration,
    /// How many days of the audit trail the role may prune past (`AUDIT_RETENTION_DAYS`); `None`,
    /// the default, keeps every row.
    pub audit_retention_days: Option<i32>,
}

#[derive(Deserialize)]
struct RoleSecret {
    username: String,
    password: SecretString,
}

impl AppRoleConfig {
    /// `None` when no app role is configured (then nothing is provisioned).
    pub async fn load(env: &Env, secrets: &Secrets) -> Result<Option<Self>, ConfigError> {
        if let Some(arn) = env.get("APP_DATABASE_SECRET_ARN") {
            let secret = secrets.fetch(arn).await?;
            Self::from_secret(env, arn, &secret).map(Some)
        } else if let Some(username) = env.get("APP_DATABASE_USERNAME") {
            let password = env
                .get("APP_DATABASE_PASSWORD")
                .ok_or(ConfigError::Missing(
                    "APP_DATABASE_PASSWORD must be set with APP_DATABASE_USERNAME",
                ))?;
            Self::checked(env, username.to_owned(), SecretString::from(password)).map(Some)
        } else {
            Ok(None)
        }
    }

    /// The role a version of its secret describes (JSON with username and password): the
    /// current one on deploy, the pending one during a rotation.
    pub fn from_secret(env: &Env, arn: &str, secret: &SecretString) -> Result<Self, ConfigError> {
        // The error of a failed parse may quote the input: never include it.
        let parsed: RoleSecret =
            serde_json::from_str(secret.expose_secret()).map_err(|_| ConfigError::Invalid {
                name: format!("app database secret {arn}"),
                reason: "expected JSON with username and password".into(),
            })?;
        Self::checked(env, parsed.username, parsed.password)
    }

    fn checked(env: &Env, username: String, password: SecretString) -> Result<Self, ConfigError> {
        let role = Self {
            username,
            password,
            statement_timeout: env
                .duration_ms_or("DATABASE_STATEMENT_TIMEOUT_MS", Duration::from_secs(10))?,
            audit_retention_days: audit_retention_days(env)?,
        };
        let valid = role.username.len() <= 63
            && role
                .username
                .starts_with(|c: char| c.is_ascii_lowercase() || c == '_')
            && role
                .username
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
        if !valid {
            return Err(ConfigError::Invalid {
                name: "app database role".into(),
                reason: "the username must be 1 to 63 lower-case letters, digits or _".into(),
            });
        }
        if role.password.expose_secret().len() < 16 {
            return Err(ConfigError::Invalid {
                name: "app database role".into(),
                reason: "the password must be at least 16 characters".into(),
            });
        }
        Ok(role)
    }
}

/// How `migrate` waits for the database and bounds its statements.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MigrationConfig {
    /// One migration statement's limit (`MIGRATION_STATEMENT_TIMEOUT_MS`, 240 s): far longer
    /// than the API's, within the function's own.
    pub statement_timeout: Duration,
    /// How long to wait for the database to accept a connection (`MIGRATION_CONNECT_TIMEOUT_MS`,
    /// 30 s): a paused Aurora takes about 15 s to resume, and a rollback that gives up leaves
    /// the stack in UPDATE_ROLLBACK_FAILED. The template waits up to 5 minutes.
    pub connect_timeout: Duration,
}

impl MigrationConfig {
    pub const DEFAULT_STATEMENT_TIMEOUT: Duration = Duration::from_secs(240);
    pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(30);

    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        Ok(Self {
            statement_timeout: env.duration_ms_or(
                "MIGRATION_STATEMENT_TIMEOUT_MS",
                Self::DEFAULT_STATEMENT_TIMEOUT,
            )?,
            connect_timeout: env.duration_ms_or(
                "MIGRATION_CONNECT_TIMEOUT_MS",
                Self::DEFAULT_CONNECT_TIMEOUT,
            )?,
        })
    }
}

/// `AUDIT_RETENTION_DAYS`: unset (or empty) keeps every audit row; otherwise at least 1.
fn audit_retention_days(env: &Env) -> Result<Option<i32>, ConfigError> {
    let days: i32 = env.parse_or("AUDIT_RETENTION_DAYS", 0)?;
    if env.get("AUDIT_RETENTION_DAYS").is_some() && days < 1 {
        return Err(ConfigError::Invalid {
            name: "AUDIT_RETENTION_DAYS".into(),
            reason: "must be at least 1 (unset keeps every row)".into(),
        });
    }
    Ok((days > 0).then_some(days))
}

/// Where the token key comes from, decided once: `JWT_SECRET` (local; wins when both are set)
/// or the Secrets Manager secret `JWT_SECRET_ARN` (AWS; its versions rotate).
pub enum JwtKeySource {
    Value(JwtSecret),
    Secret(String),
}

impl JwtKeySource {
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        if let Some(value) = env.get("JWT_SECRET") {
            return Ok(Self::Value(JwtSecret::new(SecretString::from(value))?));
        }
        match env.get("JWT_SECRET_ARN") {
            Some(arn) => Ok(Self::Secret(arn.to_owned())),
            None => Err(ConfigError::Missing(
                "set JWT_SECRET (local) or JWT_SECRET_ARN (AWS) to sign access tokens",
            )),
        }
    }
}

/// The HMAC key that signs access tokens: at least 32 bytes, never printed.
#[derive(Clone)]
pub struct JwtSecret(SecretString);

impl JwtSecret {
    pub const MIN_BYTES: usize = 32;

    pub fn new(value: SecretString) -> Result<Self, ConfigError> {
        let len = value.expose_secret().len();
        if len < Self::MIN_BYTES {
            return Err(ConfigError::JwtSecretTooShort(len));
        }
        Ok(Self(value))
    }

    /// The one key of `JWT_SECRET`, or the current version of the secret `JWT_SECRET_ARN`.
    pub async fn load(env: &Env, secrets: &Secrets) -> Result<Self, ConfigError> {
        match JwtKeySource::from_env(env)? {
            JwtKeySource::Value(secret) => Ok(secret),
            JwtKeySource::Secret(arn) => Self::new(secrets.fetch(&arn).await?),
        }
    }

    pub fn as_bytes(&self) -> &[u8] {
        self.0.expose_secret().as_bytes()
    }
}

impl std::fmt::Debug for JwtSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("JwtSecret([REDACTED])")
    }
}

/// Who issues tokens, for whom, and for how long.
#[derive(Debug, Clone, PartialEq)]
pub struct TokenSettings {
    pub issuer: String,
    pub audience: String,
    pub lifetime: Duration,
}

impl TokenSettings {
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let lifetime_secs: u64 = env.parse_or("ACCESS_TOKEN_TTL_SECONDS", 15 * 60)?;
        if !(60..=24 * 60 * 60).contains(&lifetime_secs) {
            return Err(ConfigError::Invalid {
                name: "ACCESS_TOKEN_TTL_SECONDS".into(),
                reason: "must be between 60 and 86400".into(),
            });
        }
        Ok(Self {
            issuer: env.get("JWT_ISSUER").unwrap_or("taskapi").to_owned(),
            audience: env.get("JWT_AUDIENCE").unwrap_or("taskapi").to_owned(),
            lifetime: Duration::from_secs(lifetime_secs),
        })
    }
}

/// How new passwords are hashed. Only the functions that hash or verify passwords read it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PasswordConfig {
    /// bcrypt cost for new hashes and for the unknown-account dummy (`BCRYPT_COST`).
    pub bcrypt_cost: u32,
}

impl PasswordConfig {
    /// bcrypt's cost bounds for this service: never below 10 (weaker hashes are too cheap to
    /// crack), and at most 16 (a single hash would take seconds).
    pub const MIN_COST: u32 = 10;
    pub const MAX_COST: u32 = 16;
    pub const DEFAULT_COST: u32 = 12;

    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let bcrypt_cost = env.parse_or("BCRYPT_COST", Self::DEFAULT_COST)?;
        if !(Self::MIN_COST..=Self::MAX_COST).contains(&bcrypt_cost) {
            return Err(ConfigError::Invalid {
                name: "BCRYPT_COST".into(),
                reason: format!("must be between {} and {}", Self::MIN_COST, Self::MAX_COST),
            });
        }
        Ok(Self { bcrypt_cost })
    }
}

/// How long sessions and refresh tokens live: a session ends `absolute` after the login
/// (`SESSION_LIFETIME_SECONDS`, 30 days), and its refresh token stops working after
/// `refresh_idle` without a refresh (`REFRESH_TOKEN_IDLE_SECONDS`, 7 days).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionConfig {
    pub absolute: Duration,
    pub refresh_idle: Duration,
}

impl SessionConfig {
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let absolute: u64 = env.parse_or("SESSION_LIFETIME_SECONDS", 30 * 24 * 60 * 60)?;
        let refresh_idle: u64 = env.parse_or("REFRESH_TOKEN_IDLE_SECONDS", 7 * 24 * 60 * 60)?;
        if !(300..=365 * 24 * 60 * 60).contains(&absolute) {
            return Err(ConfigError::Invalid {
                name: "SESSION_LIFETIME_SECONDS".into(),
                reason: "must be between 300 and 31536000".into(),
            });
        }
        if refresh_idle < 60 || refresh_idle > absolute {
            return Err(ConfigError::Invalid {
                name: "REFRESH_TOKEN_IDLE_SECONDS".into(),
                reason: "must be at least 60 and at most SESSION_LIFETIME_SECONDS".into(),
            });
        }
        Ok(Self {
            absolute: Duration::from_secs(absolute),
            refresh_idle: Duration::from_secs(refresh_idle),
        })
    }
}

/// The throttle's limits (`LOGIN_ADDRESS_FAILURE_BUDGET` sets the per-address budget of failed
/// logins, `REGISTER_ADDRESS_BUDGET` that of registrations).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ThrottleConfig {
    pub free_failures: i32,
    pub max_lock: Duration,
    pub lockdown_failures: i32,
    pub lockdown_quiet: Duration,
    pub known_address_window: Duration,
    /// Failures one source address may make per `address_window`, across accounts.
    pub address_budget: i32,
    pub address_window: Duration,
    /// Registrations one source address may make per `register_window` (each costs a hash).
    pub register_budget: i32,
    pub register_window: Duration,
}

impl ThrottleConfig {
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let address_budget = env.parse_or("LOGIN_ADDRESS_FAILURE_BUDGET", 100)?;
        if address_budget < 1 {
            return Err(ConfigError::Invalid {
                name: "LOGIN_ADDRESS_FAILURE_BUDGET".into(),
                reason: "must be at least 1".into(),
            });
        }
        let register_budget = env.parse_or("REGISTER_ADDRESS_BUDGET", 20)?;
        if register_budget < 1 {
            return Err(ConfigError::Invalid {
                name: "REGISTER_ADDRESS_BUDGET".into(),
                reason: "must be at least 1".into(),
            });
        }
        Ok(Self {
            free_failures: 5,
            max_lock: Duration::from_secs(15 * 60),
            lockdown_failures: 100,
            lockdown_quiet: Duration::from_secs(24 * 60 * 60),
            known_address_window: Duration::from_secs(30 * 24 * 60 * 60),
            address_budget,
            address_window: Duration::from_secs(10 * 60),
            register_budget,
            register_window: Duration::from_secs(60 * 60),
        })
    }
}

/// What the maintenance function keeps (`shared::retention` has the whole table): ended
/// sessions for `SESSION_RETENTION_DAYS` (30), deleted `MAINTENANCE_BATCH_ROWS` (5,000) per
/// statement. The throttle's rows follow its windows (`ThrottleConfig`); the audit trail follows
/// the app role's policy (`AppRoleConfig::audit_retention_days`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetentionConfig {
    pub ended_sessions: Duration,
    pub batch_rows: i64,
}

impl RetentionConfig {
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let days: u64 = env.parse_or("SESSION_RETENTION_DAYS", 30)?;
        let batch_rows: i64 = env.parse_or("MAINTENANCE_BATCH_ROWS", 5_000)?;
        if !(1..=100_000).contains(&batch_rows) {
            return Err(ConfigError::Invalid {
                name: "MAINTENANCE_BATCH_ROWS".into(),
                reason: "must be from 1 to 100000".into(),
            });
        }
        Ok(Self {
            ended_sessions: Duration::from_secs(days * 24 * 60 * 60),
            batch_rows,
        })
    }
}

/// How agents work the queue: a failed attempt's retry waits `retry_base` * 2^(attempt - 1),
/// at most `retry_max` (`WORK_RETRY_BASE_SECONDS`, 10; `WORK_RETRY_MAX_SECONDS`, 3,600); an
/// empty queue tells the agent to ask again after `idle_retry_after`
/// (`WORK_IDLE_RETRY_AFTER_SECONDS`, 5). A claim's lease is the agent's to choose, within
/// `work::LEASE_SECONDS`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WorkConfig {
    pub retry_base: Duration,
    pub retry_max: Duration,
    pub idle_retry_after: Duration,
}

impl WorkConfig {
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let seconds = |name: &str, default: u64, range: std::ops::RangeInclusive<u64>| {
            let value: u64 = env.parse_or(name, default)?;
            if range.contains(&value) {
                Ok(Duration::from_secs(value))
            } else {
                Err(ConfigError::Invalid {
                    name: name.into(),
                    reason: format!("must be from {} to {}", range.start(), range.end()),
                })
            }
        };
        Ok(Self {
            retry_base: seconds("WORK_RETRY_BASE_SECONDS", 10, 1..=3_600)?,
            retry_max: seconds("WORK_RETRY_MAX_SECONDS", 3_600, 1..=86_400)?,
            idle_retry_after: seconds("WORK_IDLE_RETRY_AFTER_SECONDS", 5, 1..=300)?,
        })
    }
}

/// What the logs hold and how they are written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogConfig {
    /// A tracing filter: `AWS_LAMBDA_LOG_LEVEL` (Lambda's logging configuration), else
    /// `RUST_LOG`; empty means INFO.
    pub level: String,
    /// JSON lines when the function's log format is JSON (`AWS_LAMBDA_LOG_FORMAT=JSON`).
    pub json: bool,
    /// The CloudWatch namespace of the function's metrics (`METRICS_NAMESPACE`, default
    /// `TaskApi`; the template sets `TaskApi/<stack name>`).
    pub metrics_namespace: String,
    /// The function's name (`AWS_LAMBDA_FUNCTION_NAME`, which Lambda and `cargo lambda watch`
    /// set), the database metrics' dimension.
    pub function_name: String,
}

impl LogConfig {
    pub fn from_env(env: &Env) -> Self {
        Self {
            level: env
                .get("AWS_LAMBDA_LOG_LEVEL")
                .or_else(|| env.get("RUST_LOG"))
                .unwrap_or_default()
                .to_owned(),
            json: env
                .get("AWS_LAMBDA_LOG_FORMAT")
                .is_some_and(|format| format.eq_ignore_ascii_case("json")),
            metrics_namespace: env
                .get("METRICS_NAMESPACE")
                .filter(|namespace| !namespace.is_empty())
                .unwrap_or("TaskApi")
                .to_owned(),
            function_name: env
                .get("AWS_LAMBDA_FUNCTION_NAME")
                .unwrap_or_default()
                .to_owned(),
        }
    }
}

/// The most a page may take as the JSON string in the Lambda response envelope. Lambda refuses
/// a response over 6,291,556 bytes; the rest is room for the status, headers and envelope.
pub const RESPONSE_BUDGET: usize = 6_000_000;

/// Limits on what a request may carry.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct HttpConfig {
    pub max_body_bytes: usize,
    /// The most a list page may take in the response envelope (`RESPONSE_BUDGET_BYTES`): just
    /// under Lambda's 6 MB by default; lower for the local emulator, which drops large responses
    /// well before 6 MB (docs/api.md, "Pages").
    pub response_budget: usize,
}

impl HttpConfig {
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let response_budget = env.parse_or("RESPONSE_BUDGET_BYTES", RESPONSE_BUDGET)?;
        if !(65_536..=RESPONSE_BUDGET).contains(&response_budget) {
            return Err(ConfigError::Invalid {
                name: "RESPONSE_BUDGET_BYTES".into(),
                reason: format!("must be between 65536 and {}", RESPONSE_BUDGET),
            });
        }
        Ok(Self {
            max_body_bytes: env.parse_or("MAX_BODY_BYTES", 256 * 1024)?,
            response_budget,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jwt_secret_shorter_than_32_bytes_is_refused_with_a_clear_error() {
        let err = JwtSecret::new(SecretString::from("x".repeat(31))).unwrap_err();
        assert!(matches!(err, ConfigError::JwtSecretTooShort(31)));
        assert!(err.to_string().contains("at least 32 bytes"), "{err}");
    }

    #[test]
    fn jwt_secret_of_32_bytes_is_accepted_and_not_printed() {
        let secret = JwtSecret::new(SecretString::from("s".repeat(32))).unwrap();
        assert_eq!(secret.as_bytes().len(), 32);
        assert!(!format!("{secret:?}").contains("sss"));
    }

    #[tokio::test]
    async fn jwt_secret_from_the_environment_is_length_checked() {
        let env = Env::from_pairs([("JWT_SECRET", "too-short")]);
        let err = JwtSecret::load(&env, &Secrets::new(&Env::default()))
            .await
            .unwrap_err();
        assert!(matches!(err, ConfigError::JwtSecretTooShort(9)));
    }

    #[tokio::test]
    async fn no_startup_option_a_pooler_would_refuse_is_sent() {
        let env = Env::from_pairs([("DATABASE_URL", "postgres://app@db.internal/tasks")]);
        let config = DatabaseConfig::load(&env, &Secrets::new(&env))
            .await
            .unwrap();
        assert_eq!(config.connect.get_options(), None);
        assert_eq!(config.connect.get_application_name(), Some("taskapi"));
    }

    #[tokio::test]
    async fn without_a_pooler_setting_statements_are_safe_behind_a_pooler() {
        let load = |pooler: Option<&'static str>| async move {
            let mut pairs = vec![("DATABASE_URL", "postgres://app@db.internal/tasks")];
            pairs.extend(pooler.map(|value| ("DATABASE_POOLER", value)));
            let env = Env::from_pairs(pairs);
            DatabaseConfig::load(&env, &Secrets::new(&env)).await
        };

        assert!(load(None).await.unwrap().behind_pooler, "unset");
        assert!(load(Some("transaction")).await.unwrap().behind_pooler);
        assert!(!load(Some("none")).await.unwrap().behind_pooler);
        assert!(load(Some("session")).await.is_err());
    }

    #[tokio::test]
    async fn missing_database_settings_say_what_to_set() {
        let err = DatabaseConfig::load(&Env::default(), &Secrets::new(&Env::default()))
            .await
            .err()
            .unwrap();
        assert!(err.to_string().contains("DATABASE_URL"), "{err}");
    }

    #[tokio::test]
    async fn the_app_role_is_optional_validated_and_never_printed() {
        let none = AppRoleConfig::load(&Env::default(), &Secrets::new(&Env::default()))
            .await
            .unwrap();
        assert!(none.is_none());

        let load = |user: &str, password: &str| {
            let env = Env::from_pairs([
                ("APP_DATABASE_USERNAME", user),
                ("APP_DATABASE_PASSWORD", password),
            ]);
            async move { AppRoleConfig::load(&env, &Secrets::new(&env)).await }
        };
        let role = load("taskapi_app", "a-long-enough-password").await.unwrap();
        assert_eq!(role.unwrap().username, "taskapi_app");
        for (user, password) in [
            ("Robert'); drop table users;--", "a-long-enough-password"),
            ("9lives", "a-long-enough-password"),
            ("taskapi_app", "short"),
        ] {
            let err = load(user, password).await.err().unwrap().to_string();
            assert!(!err.contains(password), "{err}");
        }
    }

    #[test]
    fn rds_secret_builds_connection_options() {
        let secret = SecretString::from(
            r#"{"username":"app","password":"p@ss","host":"db.internal","port":6543,"dbname":"tasks","engine":"postgres"}"#,
        );
        let options = connect_options_from_rds_secret(&Env::default(), "arn", &secret).unwrap();
        assert_eq!(options.get_host(), "db.internal");
        assert_eq!(options.get_port(), 6543);
        assert_eq!(options.get_username(), "app");
        assert_eq!(options.get_database(), Some("tasks"));
        assert!(matches!(options.get_ssl_mode(), PgSslMode::Require));
    }

    #[test]
    fn rds_managed_secret_without_host_takes_it_from_the_environment() {
        let env = Env::from_pairs([
            ("DATABASE_HOST", "proxy.internal"),
            ("DATABASE_PORT", "5433"),
            ("DATABASE_NAME", "app"),
        ]);
        let secret = SecretString::from(r#"{"username":"admin","password":"pw"}"#);
        let options = connect_options_from_rds_secret(&env, "arn", &secret).unwrap();
        assert_eq!(options.get_host(), "proxy.internal");
        assert_eq!(options.get_port(), 5433);
        assert_eq!(options.get_database(), Some("app"));
    }

    #[test]
    fn malformed_rds_secret_error_does_not_echo_the_secret() {
        let secret = SecretString::from(r#"{"username":"admin","password":"hunter2-secret""#);
        let err = connect_options_from_rds_secret(&Env::default(), "arn:x", &secret).unwrap_err();
        let text = err.to_string();
        assert!(text.contains("arn:x"), "{text}");
        assert!(!text.contains("hunter2"), "{text}");
    }

    #[test]
    fn pool_settings_have_lambda_sized_defaults_and_can_be_overridden() {
        let defaults = PoolConfig::from_env(&Env::default()).unwrap();
        assert_eq!(defaults.max_connections, 2);
        assert_eq!(defaults.acquire_timeout, Duration::from_secs(2));

        let env = Env::from_pairs([
            ("DATABASE_MAX_CONNECTIONS", "5"),
            ("DATABASE_ACQUIRE_TIMEOUT_MS", "250"),
        ]);
        let custom = PoolConfig::from_env(&env).unwrap();
        assert_eq!(custom.max_connections, 5);
        assert_eq!(custom.acquire_timeout, Duration::from_millis(250));

        let zero = Env::from_pairs([("DATABASE_MAX_CONNECTIONS", "0")]);
        assert!(PoolConfig::from_env(&zero).is_err());
        let junk = Env::from_pairs([("DATABASE_ACQUIRE_TIMEOUT_MS", "soon")]);
        let err = PoolConfig::from_env(&junk).unwrap_err();
        assert!(
            err.to_string().contains("DATABASE_ACQUIRE_TIMEOUT_MS"),
            "{err}"
        );
    }
}
