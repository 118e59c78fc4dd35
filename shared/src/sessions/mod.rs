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
use lambda_http::Request;
use lambda_http::http::header;
use secrecy::{ExposeSecret, SecretString};
use uuid::Uuid;

use crate::audit;
use crate::error::ApiError;

pub mod store;

pub use store::{is_live, logout, open_after_login, refresh};

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
#[derive(Debug)]
pub struct Opened {
    pub session_id: Uuid,
    pub user_id: Uuid,
    pub refresh_expires_at: DateTime<Utc>,
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

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Local => "local",
            Self::Global => "global",
            Self::Others => "others",
        }
    }
}

/// The refresh token's value, for a response.
pub fn expose(token: &RefreshToken) -> &str {
    token.value.expose_secret()
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
