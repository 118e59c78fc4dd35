//! The login throttle, all of it: charging (`throttle_charge.sql`), verifying (`verify_login`,
//! `verify_caller_password`, `charge_registration`) and clearing (`login_throttle_clear`,
//! migration 0010, which a successful login, a password change and an account's deletion call
//! inside their own statements). Every password check (login, password change, account
//! deletion) is first charged, in one statement, before the hash is checked: the attempt counts
//! as a failure until a success clears it, so a burst across many Lambda instances cannot get
//! more guesses than the allowance. Three limits, after Auth0's brute-force protection:
//!
//! - per (account, source address): `free_failures` consecutive failures, then a lock of
//!   2^(n - free_failures) seconds after the n-th, at most `max_lock`; refused attempts do not
//!   extend it. An attacker's address is locked; the owner's other addresses are not.
//! - per account, across addresses: after `lockdown_failures` consecutive failures, only
//!   addresses that logged in to it within `known_address_window` may try, until a success or
//!   `lockdown_quiet` without failures. A name no account has is locked down the same way
//!   (`login_name_failures`), with the same `Retry-After`, so the lockdown tells nothing either.
//! - per source address, across accounts: at most `address_budget` failures per
//!   `address_window` (10 minutes)
//!   (credential stuffing).
//!
//! An unknown account is throttled by the name tried, exactly like a known one, so the answers
//! do not tell whether an account exists.

use lambda_http::Request;
use secrecy::SecretString;
use sqlx::PgExecutor;

use crate::db::Db;
use uuid::Uuid;

use crate::audit::{self, AuditEvent};
use crate::auth::password::{dummy_hash, verify_password};
use crate::auth::{Caller, session_ended};
use crate::config::ThrottleConfig;
use crate::db::{Operation, StoreError};
use crate::error::ApiError;
use crate::metrics;
use crate::sessions::Origin;
use crate::users::Credentials;

/// The account a password is checked against.
pub struct Account {
    pub id: Uuid,
    pub password_hash: String,
    /// The version of the password that hash belongs to (moved on by every password change).
    pub password_version: i32,
    pub username: String,
    pub email: String,
}

/// Without the password hash: a `{:?}` in a log line must not carry it.
impl std::fmt::Debug for Account {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Account")
            .field("id", &self.id)
            .field("password_hash", &"<redacted>")
            .field("password_version", &self.password_version)
            .field("username", &self.username)
            .field("email", &self.email)
            .finish()
    }
}

/// What charging an attempt decided.
#[derive(Debug)]
pub enum Verdict {
    /// Check the password. `failures` counts this attempt, as if it fails.
    Allowed { failures: i32 },
    /// Refused before any check; retry after this many seconds.
    Refused {
        retry_after_secs: u64,
        reason: &'static str,
    },
}

#[derive(Debug)]
pub struct Attempt {
    /// `None` when no account has the name tried (or, for a caller, the session is gone).
    pub account: Option<Account>,
    pub verdict: Verdict,
}

struct Row {
    id: Option<Uuid>,
    password_hash: Option<String>,
    password_version: Option<i32>,
    username: Option<String>,
    email: Option<String>,
    locked_down: bool,
    address_allowed: Option<bool>,
    throttle_allowed: Option<bool>,
    failures: Option<i32>,
    retry_after_secs: Option<i64>,
}

/// Charges a login attempt for the account named `login_key` (a username or email, already
/// normalised and lower-cased) from `source_ip`.
pub async fn charge_login(
    db: impl PgExecutor<'_>,
    login_key: &str,
    source_ip: Option<&str>,
    config: &ThrottleConfig,
) -> Result<Attempt, StoreError> {
    charge(db, Some(login_key), None, source_ip, config).await
}

/// Charges a password check of the signed-in caller (password change, account deletion). The
/// account is `None` when the caller's session no longer stands.
pub async fn charge_caller(
    db: impl PgExecutor<'_>,
    caller: Caller,
    source_ip: Option<&str>,
    config: &ThrottleConfig,
) -> Result<Attempt, StoreError> {
    charge(db, None, Some(caller), source_ip, config).await
}

async fn charge(
    db: impl PgExecutor<'_>,
    login_key: Option<&str>,
    caller: Option<Caller>,
    source_ip: Option<&str>,
    config: &ThrottleConfig,
) -> Result<Attempt, StoreError> {
    let attempt = Uuid::new_v4();
    let row = sqlx::query_file_as!(
        Row,
        "src/auth/throttle_charge.sql",
        login_key.unwrap_or(""),
        caller.map(|c| c.user_id),
        caller.map(|c| c.session_id),
        source_ip,
        attempt,
        config.free_failures,
        config.max_lock.as_secs_f64(),
        config.lockdown_failures,
        config.lockdown_quiet.as_secs_f64(),
        config.known_address_window.as_secs_f64(),
        config.address_budget,
        config.address_window.as_secs_f64(),
    )
    .fetch_one(db)
    .await
    .during("throttle.charge")?;

    let account = match (
        row.id,
        row.password_hash,
        row.password_version,
        row.username,
        row.email,
    ) {
        (Some(id), Some(password_hash), Some(password_version), Some(username), Some(email)) => {
            Some(Account {
                id,
                password_hash,
                password_version,
                username,
                email,
            })
        }
        _ => None,
    };
    let retry_after_secs = u64::try_from(row.retry_after_secs.unwrap_or(1))
        .unwrap_or(1)
        .max(1);
    let verdict = if caller.is_some() && account.is_none() {
        // The session is gone: nothing was charged; the caller gets a 401.
        Verdict::Allowed { failures: 0 }
    } else if row.locked_down {
        Verdict::Refused {
            retry_after_secs,
            reason: "account_lockdown",
        }
    } else if row.address_allowed != Some(true) {
        Verdict::Refused {
            retry_after_secs,
            reason: "address_budget",
        }
    } else if row.throttle_allowed != Some(true) {
        Verdict::Refused {
            retry_after_secs,
            reason: "account_address_lock",
        }
    } else {
        Verdict::Allowed {
            failures: row.failures.unwrap_or(1),
        }
    };
    Ok(Attempt { account, verdict })
}

/// Charges a registration to its source address before the password is hashed: at most
/// `register_budget` per `register_window`. `Some(retry_after_secs)` when this address has
/// spent it.
pub async fn charge_registration(
    db: impl PgExecutor<'_>,
    source_ip: Option<&str>,
    config: &ThrottleConfig,
) -> Result<Option<u64>, StoreError> {
    let row = sqlx::query!(
        r#"insert into register_address_budgets as b (source_ip, window_start, attempts)
           values (coalesce($1::text::inet, inet '0.0.0.0'),
                   date_bin($3::float8 * interval '1 second', now(), timestamptz 'epoch'), 1)
           on conflict (source_ip, window_start)
               do update set attempts = least(b.attempts + 1, $2::int + 1)
           returning attempts <= $2 as "allowed!",
                     ceil(extract(epoch from window_start + $3 * interval '1 second' - now()))::bigint
                         as "retry_after_secs!""#,
        source_ip,
        config.register_budget,
        config.register_window.as_secs_f64(),
    )
    .fetch_one(db)
    .await
    .during("throttle.charge_registration")?;
    Ok((!row.allowed).then(|| u64::try_from(row.retry_after_secs).unwrap_or(1).max(1)))
}

/// The 401 of a failed login: the same for an unknown account, a wrong password, and a password
/// that changed while the login checked it.
pub fn invalid_credentials() -> ApiError {
    ApiError::Unauthorized {
        detail: "invalid credentials",
        invalid_token: false,
    }
}

/// Records a refused attempt (`event`, with why and for how long) and answers 429.
async fn refuse(
    db: &Db,
    request: &Request,
    event: AuditEvent,
    reason: &'static str,
    retry_after_secs: u64,
) -> ApiError {
    let event = event
        .with("reason", reason)
        .with("retry_after_secs", retry_after_secs)
        .from_request(request);
    match audit::store::record(db, event).await {
        Ok(()) => ApiError::TooManyRequests { retry_after_secs },
        Err(err) => err.into(),
    }
}

/// Checks a login's password, throttled: the attempt is charged first, refused while throttled
/// (audited, 429), then checked against the account's hash, or against a dummy hash of `cost`
/// when no account has the name, so the work and the answer (401) are the same. A failure is
/// audited with its consecutive count. The account when the password matches.
pub async fn verify_login(
    db: &Db,
    credentials: &Credentials,
    request: &Request,
    config: &ThrottleConfig,
    cost: u32,
) -> Result<Account, ApiError> {
    let origin = Origin::of(request);
    let attempt = charge_login(db, &credentials.login_key, origin.ip(), config).await?;
    let account_id = attempt.account.as_ref().map(|account| account.id);
    let failures = match attempt.verdict {
        Verdict::Refused {
            retry_after_secs,
            reason,
        } => {
            tracing::info!(outcome = "throttled", reason, retry_after_secs, "login");
            metrics::login(if reason == "address_budget" {
                metrics::Login::Throttled
            } else {
                metrics::Login::Locked
            });
            let event = AuditEvent::new("auth.login_throttled", "user", account_id);
            return Err(refuse(db, request, event, reason, retry_after_secs).await);
        }
        Verdict::Allowed { failures } => failures,
    };
    let hash = match &attempt.account {
        Some(account) => account.password_hash.clone(),
        None => dummy_hash(cost),
    };
    let verified = verify_password(credentials.password.clone(), hash).await?;
    match attempt.account.filter(|_| verified) {
        Some(account) => Ok(account),
        None => {
            let reason = if account_id.is_some() {
                "wrong_password"
            } else {
                "unknown_account"
            };
            let event = AuditEvent::new("auth.login_failure", "user", account_id)
                .with("reason", reason)
                .with("consecutive_failures", failures)
                .from_request(request);
            audit::store::record(db, event).await?;
            tracing::info!(outcome = "failure", reason, failures, "login");
            metrics::login(metrics::Login::WrongPassword);
            Err(invalid_credentials())
        }
    }
}

/// Checks the signed-in caller's password before a sensitive change (password change, account
/// deletion), throttled like a login: the account when it matches; 403 for a wrong password
/// (counted, and audited as `action`'s failure), 429 while throttled, 401 when the session ended.
pub async fn verify_caller_password(
    db: &Db,
    caller: Caller,
    password: SecretString,
    request: &Request,
    config: &ThrottleConfig,
    action: &'static str,
) -> Result<Account, ApiError> {
    let origin = Origin::of(request);
    let attempt = charge_caller(db, caller, origin.ip(), config).await?;
    let Some(account) = attempt.account else {
        return Err(session_ended(caller));
    };
    match attempt.verdict {
        Verdict::Refused {
            retry_after_secs,
            reason,
        } => {
            let event = AuditEvent::new("auth.password_check_throttled", "user", Some(account.id))
                .by(account.id)
                .with("for", action);
            Err(refuse(db, request, event, reason, retry_after_secs).await)
        }
        Verdict::Allowed { failures } => {
            if verify_password(password, account.password_hash.clone()).await? {
                return Ok(account);
            }
            let event = AuditEvent::new("auth.password_check_failure", "user", Some(account.id))
                .by(account.id)
                .with("for", action)
                .with("consecutive_failures", failures)
                .from_request(request);
            audit::store::record(db, event).await?;
            Err(ApiError::Forbidden {
                detail: "the password is wrong",
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_account_prints_without_its_password_hash() {
        let account = Account {
            id: Uuid::nil(),
            password_hash: "$2b$12$abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJKLMNOPQ".into(),
            password_version: 1,
            username: "ada".into(),
            email: "ada@example.com".into(),
        };

        let printed = format!("{account:?}");

        assert!(!printed.contains("$2b$"), "{printed}");
        assert!(printed.contains("ada@example.com"), "{printed}");
    }
}
