//! Sessions: what a login opens, a refresh rotates, and a logout, a password change or a reused
//! refresh token revokes. Every access token names its session (`sid`); every authenticated
//! statement checks in SQL that the session still stands (`session_is_live`, migration 0006), so
//! a revocation takes effect at once without an extra round trip.
//!
//! A refresh token is 256 random bits, base64url, stored only as its SHA-256. Each refresh spends
//! it and returns a new one; presenting a spent one revokes the whole session.

use aws_lc_rs::digest::{SHA256, digest};
use aws_lc_rs::rand::{SecureRandom, SystemRandom};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use secrecy::{ExposeSecret, SecretString};
use serde_json::Value;
use sqlx::PgExecutor;

use crate::db::Db;
use uuid::Uuid;

use lambda_http::Request;
use lambda_http::http::{StatusCode, header};
use serde_json::json;

use crate::audit;
use crate::auth::{Caller, TokenKeys};
use crate::config::{SessionConfig, ThrottleConfig};
use crate::db::{Operation, StoreError};
use crate::error::ApiError;
use crate::http::{self, ApiResult};

/// A new refresh token: the value the client gets, and the hash the database keeps.
pub struct RefreshToken {
    pub value: SecretString,
    pub hash: [u8; 32],
}

impl RefreshToken {
    pub fn generate() -> Result<Self, ApiError> {
        let mut bytes = [0u8; 32];
        SystemRandom::new()
            .fill(&mut bytes)
            .map_err(|_| ApiError::internal("the system random generator failed"))?;
        let value = URL_SAFE_NO_PAD.encode(bytes);
        Ok(Self {
            hash: hash(&value),
            value: SecretString::from(value),
        })
    }
}

/// The SHA-256 of a presented refresh token, the form the database stores.
pub fn hash(token: &str) -> [u8; 32] {
    let mut out = [0u8; 32];
    out.copy_from_slice(digest(&SHA256, token.as_bytes()).as_ref());
    out
}

/// A well-formed refresh token: 43 base64url characters (256 bits).
pub fn parse_refresh_token(raw: &str) -> Option<&str> {
    (raw.len() == 43 && URL_SAFE_NO_PAD.decode(raw).is_ok_and(|b| b.len() == 32)).then_some(raw)
}

/// Where a request comes from: the address API Gateway saw (`requestContext.http.sourceIp`,
/// never a header a client can set) and the user agent, as sessions and the throttle record it.
pub struct Origin {
    pub source_ip: Option<String>,
    pub user_agent: Option<String>,
}

impl Origin {
    pub fn of(request: &Request) -> Self {
        Self {
            source_ip: audit::source_ip(request),
            user_agent: request
                .headers()
                .get(header::USER_AGENT)
                .and_then(|value| value.to_str().ok())
                .map(str::to_owned),
        }
    }

    pub fn ip(&self) -> Option<&str> {
        self.source_ip.as_deref()
    }
}

/// A session just opened or refreshed: its id and when its refresh token stops working.
#[derive(Debug, sqlx::FromRow)]
pub struct Opened {
    pub session_id: Uuid,
    pub user_id: Uuid,
    pub refresh_expires_at: DateTime<Utc>,
}

/// The statement a successful login makes, if the password it verified is still the account's
/// (`password_version` as read with the hash; `None` when a password change came first: the
/// login fails as with a wrong password): clears the throttle of the account at this address
/// and its failure count, remembers the address, re-hashes the password when its cost changed
/// (only while it is that same password), opens the session under that password version with
/// its first refresh token, and writes the audit row. The account's row is locked, so a change
/// that commits after this statement moves the version past the new session, which then ends.
#[allow(clippy::too_many_arguments)]
pub async fn open_after_login(
    db: impl PgExecutor<'_>,
    user_id: Uuid,
    password_version: i32,
    origin: &Origin,
    refresh: &RefreshToken,
    lifetimes: &SessionConfig,
    throttle: &ThrottleConfig,
    rehashed_password: Option<&str>,
    audit_metadata: &Value,
) -> Result<Option<Opened>, StoreError> {
    sqlx::query_as(
        "with verified as ( \
             select id, password_version from users where id = $1 and password_version = $9 \
             for update), \
         cleared as ( \
             delete from login_throttles \
             where subject = $1::text and source_ip = $2::inet and exists (select 1 from verified)), \
         account as ( \
             update users set failed_login_count = 0, last_failed_login_at = null, \
                              password_hash = coalesce($7, users.password_hash) \
             from verified where users.id = verified.id returning users.id), \
         address as ( \
             insert into login_known_addresses (user_id, source_ip, last_success_at) \
             select id, $2::inet, now() from verified where $2 is not null \
             on conflict (user_id, source_ip) do update set last_success_at = now()), \
         budget as ( \
             update login_address_budgets set failures = greatest(failures - 1, 0) \
             where source_ip = $2::inet \
               and window_start = date_bin($10 * interval '1 second', now(), timestamptz 'epoch') \
               and exists (select 1 from verified)), \
         session as ( \
             insert into sessions (user_id, expires_at, user_agent, source_ip, password_version) \
             select id, now() + $5 * interval '1 second', left($3, 512), $2::inet, password_version \
             from verified \
             returning id, user_id, expires_at), \
         token as ( \
             insert into refresh_tokens (token_hash, session_id) select $4, id from session), \
         audit as ( \
             insert into audit_logs (actor_id, action, entity_type, entity_id, metadata) \
             select user_id, 'auth.login_success', 'session', id, \
                    $8::jsonb || jsonb_build_object('rehashed', $7 is not null) from session) \
         select id as session_id, user_id, \
                least(expires_at, now() + $6 * interval '1 second') as refresh_expires_at \
         from session",
    )
    .bind(user_id)
    .bind(origin.ip())
    .bind(origin.user_agent.as_deref())
    .bind(&refresh.hash[..])
    .bind(lifetimes.absolute.as_secs_f64())
    .bind(lifetimes.refresh_idle.as_secs_f64())
    .bind(rehashed_password)
    .bind(audit_metadata)
    .bind(password_version)
    .bind(throttle.address_window.as_secs_f64())
    .fetch_optional(db)
    .await
    .during("sessions.open_after_login")
}

/// What presenting a refresh token led to.
#[derive(Debug)]
pub enum Refreshed {
    /// Spent and replaced: the session goes on.
    Rotated(Opened),
    /// Already spent: the session is revoked now, with every token of it.
    Reused,
    /// Unknown, or its session revoked, past its lifetime or idle for too long.
    Refused,
}

/// Spends a refresh token and stores its successor, in one statement. The token's row is locked,
/// so of two concurrent refreshes with one token, the second sees it spent and revokes the
/// session, as any reuse does. A session opened under an older password version does not
/// refresh; one that a concurrent password change overtakes keeps its old version and ends.
pub async fn refresh(
    db: &Db,
    presented: &str,
    successor: &RefreshToken,
    lifetimes: &SessionConfig,
    audit_metadata: &Value,
) -> Result<Refreshed, StoreError> {
    #[derive(sqlx::FromRow)]
    struct Row {
        outcome: String,
        session_id: Uuid,
        user_id: Uuid,
        refresh_expires_at: DateTime<Utc>,
    }
    let row: Option<Row> = sqlx::query_as(
        "with presented as ( \
             select t.token_hash, t.session_id, t.used_at, s.user_id, \
                    s.revoked_at is null and s.expires_at > now() \
                        and s.last_used_at > now() - $3 * interval '1 second' \
                        and s.password_version = u.password_version as usable \
             from refresh_tokens t join sessions s on s.id = t.session_id \
                  join users u on u.id = s.user_id \
             where t.token_hash = $1 \
             for update of t, s), \
         reused as ( \
             update sessions set revoked_at = now(), revoked_reason = 'refresh_token_reused' \
             from presented p \
             where sessions.id = p.session_id and p.used_at is not null and sessions.revoked_at is null \
             returning sessions.id), \
         spent as ( \
             update refresh_tokens set used_at = now() from presented p \
             where refresh_tokens.token_hash = p.token_hash and p.used_at is null and p.usable \
             returning refresh_tokens.session_id), \
         successor as ( \
             insert into refresh_tokens (token_hash, session_id) select $2, session_id from spent), \
         touched as ( \
             update sessions set last_used_at = now() from spent \
             where sessions.id = spent.session_id \
             returning sessions.id, sessions.user_id, sessions.expires_at), \
         audit as ( \
             insert into audit_logs (actor_id, action, entity_type, entity_id, metadata) \
             select user_id, 'session.refresh', 'session', id, $4::jsonb from touched \
             union all \
             select p.user_id, 'session.refresh_reused', 'session', p.session_id, $4::jsonb \
             from presented p where p.used_at is not null) \
         select case when p.used_at is not null then 'reused' \
                     when t.id is not null then 'rotated' else 'refused' end as outcome, \
                p.session_id, p.user_id, \
                coalesce(least(t.expires_at, now() + $3 * interval '1 second'), now()) as refresh_expires_at \
         from presented p left join touched t on t.id = p.session_id",
    )
    .bind(&hash(presented)[..])
    .bind(&successor.hash[..])
    .bind(lifetimes.refresh_idle.as_secs_f64())
    .bind(audit_metadata)
    .fetch_optional(db)
    .await
    .during("sessions.refresh")?;
    Ok(match row {
        Some(row) if row.outcome == "rotated" => Refreshed::Rotated(Opened {
            session_id: row.session_id,
            user_id: row.user_id,
            refresh_expires_at: row.refresh_expires_at,
        }),
        Some(row) if row.outcome == "reused" => Refreshed::Reused,
        _ => Refreshed::Refused,
    })
}

/// Which sessions a logout ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogoutScope {
    /// This session (the default).
    Local,
    /// Every session of the user.
    Global,
    /// Every other session of the user.
    Others,
}

impl LogoutScope {
    pub fn parse(raw: &str) -> Option<Self> {
        match raw {
            "local" => Some(Self::Local),
            "global" => Some(Self::Global),
            "others" => Some(Self::Others),
            _ => None,
        }
    }

    fn as_str(self) -> &'static str {
        match self {
            Self::Local => "local",
            Self::Global => "global",
            Self::Others => "others",
        }
    }
}

/// Revokes the sessions `scope` names and writes the audit row, if the caller's own session
/// stands; `false` when it does not (a 401).
pub async fn logout(
    db: impl PgExecutor<'_>,
    caller: Caller,
    scope: LogoutScope,
    audit_metadata: &Value,
) -> Result<bool, StoreError> {
    sqlx::query_scalar(
        "with me as ( \
             select id from sessions where session_is_live($2, $1) and id = $2), \
         revoked as ( \
             update sessions s set revoked_at = now(), \
                    revoked_reason = case $3 when 'local' then 'logout' else 'logout_' || $3 end \
             from me \
             where s.user_id = $1 and s.revoked_at is null \
               and case $3 when 'local' then s.id = me.id \
                           when 'others' then s.id <> me.id \
                           else true end \
             returning s.id), \
         audit as ( \
             insert into audit_logs (actor_id, action, entity_type, entity_id, metadata) \
             select $1, 'session.logout', 'session', me.id, \
                    $4::jsonb || jsonb_build_object('scope', $3::text, \
                                                    'sessions', (select count(*) from revoked)) \
             from me) \
         select exists (select 1 from me)",
    )
    .bind(caller.user_id)
    .bind(caller.session_id)
    .bind(scope.as_str())
    .bind(audit_metadata)
    .fetch_one(db)
    .await
    .during("sessions.logout")
}

/// Whether the caller's session still stands (a failure path's second statement).
pub async fn is_live(db: impl PgExecutor<'_>, caller: Caller) -> Result<bool, StoreError> {
    sqlx::query_scalar("select session_is_live($1, $2)")
        .bind(caller.session_id)
        .bind(caller.user_id)
        .fetch_one(db)
        .await
        .during("sessions.is_live")
}

/// The refresh token's value, for a response.
pub fn expose(token: &RefreshToken) -> &str {
    token.value.expose_secret()
}

/// The body of a login or refresh (RFC 6749 section 5.1): a new access token for the session
/// and its new refresh token, with their lifetimes. `http::json` marks it `no-store`.
pub fn token_response(keys: &TokenKeys, opened: &Opened, refresh: &RefreshToken) -> ApiResult {
    let caller = Caller {
        user_id: opened.user_id,
        session_id: opened.session_id,
    };
    let issued = keys.issue(caller)?;
    let refresh_expires_in = (opened.refresh_expires_at - Utc::now())
        .num_seconds()
        .max(0);
    http::json(
        StatusCode::OK,
        &json!({
            "access_token": issued.token.expose_secret(),
            "token_type": "Bearer",
            "expires_in": issued.expires_in,
            "refresh_token": expose(refresh),
            "refresh_expires_in": refresh_expires_in,
        }),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refresh_tokens_are_256_random_bits_in_base64url_and_hash_to_what_is_stored() {
        let a = RefreshToken::generate().unwrap();
        let b = RefreshToken::generate().unwrap();

        assert_eq!(expose(&a).len(), 43);
        assert_ne!(expose(&a), expose(&b));
        assert_eq!(hash(expose(&a)), a.hash);
        assert_eq!(parse_refresh_token(expose(&a)), Some(expose(&a)));
        for bad in ["", "short", &"A".repeat(44), &"!".repeat(43)] {
            assert_eq!(parse_refresh_token(bad), None, "{bad}");
        }
    }

    #[test]
    fn logout_scopes_parse() {
        assert_eq!(LogoutScope::parse("local"), Some(LogoutScope::Local));
        assert_eq!(LogoutScope::parse("global"), Some(LogoutScope::Global));
        assert_eq!(LogoutScope::parse("others"), Some(LogoutScope::Others));
        assert_eq!(LogoutScope::parse("all"), None);
    }
}
