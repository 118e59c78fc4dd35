//! Agent keys: what an agent authenticates with. A key is `tak_` and 256 random bits in
//! base64url (47 characters), shown once when it is minted; the database keeps its SHA-256 and
//! its first 12 characters (`prefix`), so a key can be recognised in a list but never read back.

use aws_lc_rs::digest::{SHA256, digest};
use aws_lc_rs::rand::{SecureRandom, SystemRandom};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use uuid::Uuid;

use crate::error::{ApiError, FieldErrors};
use crate::input::{Name, present, report_other_fields};

/// What every agent key starts with, so one is recognised in a header, a log or a leak scan.
pub const KEY_PREFIX: &str = "tak_";
const ENCODED_LEN: usize = 43;

/// A key just minted: its value (for the response, once) and what the database keeps.
pub struct MintedKey {
    pub value: SecretString,
    pub hash: [u8; 32],
    pub prefix: String,
}

impl MintedKey {
    pub fn generate() -> Result<Self, ApiError> {
        let mut bytes = [0u8; 32];
        SystemRandom::new()
            .fill(&mut bytes)
            .map_err(|_| ApiError::internal("the system random generator failed"))?;
        let value = format!("{KEY_PREFIX}{}", URL_SAFE_NO_PAD.encode(bytes));
        Ok(Self {
            hash: hash(&value),
            prefix: value[..KEY_PREFIX.len() + 8].to_owned(),
            value: SecretString::from(value),
        })
    }

    pub fn expose(&self) -> &str {
        self.value.expose_secret()
    }
}

/// The SHA-256 of a presented key, the form the database keeps.
pub fn hash(key: &str) -> [u8; 32] {
    let mut out = [0u8; 32];
    out.copy_from_slice(digest(&SHA256, key.as_bytes()).as_ref());
    out
}

/// Whether a bearer credential is shaped like an agent key (`tak_` and 43 base64url characters
/// of 32 bytes).
pub fn is_agent_key(raw: &str) -> bool {
    raw.strip_prefix(KEY_PREFIX).is_some_and(|rest| {
        rest.len() == ENCODED_LEN && URL_SAFE_NO_PAD.decode(rest).is_ok_and(|b| b.len() == 32)
    })
}

/// A key as its owner sees it in a list: never the key itself.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AgentKey {
    pub id: Uuid,
    pub agent_id: Uuid,
    pub name: String,
    pub prefix: String,
    pub expires_at: Option<DateTime<Utc>>,
    pub last_used_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

/// A key's name: 1 to 100 characters, trimmed.
pub type KeyName = Name<100>;

/// The body of POST /api/agents/{id}/keys, before validation.
#[derive(Deserialize)]
pub struct CreateKeyRequest {
    #[serde(default, deserialize_with = "present")]
    name: Option<Value>,
    #[serde(default, deserialize_with = "present")]
    expires_at: Option<Value>,
    #[serde(flatten)]
    other: Map<String, Value>,
}

/// A valid new key: its name and when it stops working (never, when `None`).
#[derive(Debug)]
pub struct NewKey {
    pub name: KeyName,
    pub expires_at: Option<DateTime<Utc>>,
}

impl NewKey {
    /// The longest a key may live: a year.
    pub const MAX_LIFETIME_DAYS: i64 = 366;

    pub fn parse(body: CreateKeyRequest) -> Result<Self, ApiError> {
        let mut errors = FieldErrors::new();
        let name = match &body.name {
            None | Some(Value::Null) => errors.check("name", Err("is required".into())),
            Some(value) => errors.check("name", KeyName::parse(value)),
        };
        let expires_at = match &body.expires_at {
            None | Some(Value::Null) => Some(None),
            Some(value) => errors.check("expires_at", expiry(value)).map(Some),
        };
        report_other_fields(
            &body.other,
            &[
                "id",
                "agent_id",
                "key",
                "prefix",
                "last_used_at",
                "created_at",
            ],
            &mut errors,
        );
        match (name, expires_at) {
            (Some(name), Some(expires_at)) if errors.is_empty() => Ok(Self { name, expires_at }),
            _ => Err(ApiError::Unprocessable(errors)),
        }
    }
}

fn expiry(value: &Value) -> Result<DateTime<Utc>, String> {
    let message = || {
        format!(
            "must be an RFC 3339 time in the future, at most {} days away",
            NewKey::MAX_LIFETIME_DAYS
        )
    };
    let at = value
        .as_str()
        .and_then(|raw| DateTime::parse_from_rfc3339(raw).ok())
        .map(|at| at.with_timezone(&Utc))
        .ok_or_else(message)?;
    let now = Utc::now();
    if at <= now || at > now + chrono::Duration::days(NewKey::MAX_LIFETIME_DAYS) {
        return Err(message());
    }
    Ok(at)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn keys_are_256_random_bits_with_a_recognisable_prefix_and_hash_to_what_is_kept() {
        let a = MintedKey::generate().unwrap();
        let b = MintedKey::generate().unwrap();

        assert_ne!(a.expose(), b.expose());
        assert_eq!(a.expose().len(), KEY_PREFIX.len() + ENCODED_LEN);
        assert!(a.expose().starts_with(&a.prefix) && a.prefix.len() == 12);
        assert!(is_agent_key(a.expose()));
        assert_eq!(hash(a.expose()), a.hash);
        for bad in [
            "",
            "tak_",
            "tak_short",
            &format!("xyz_{}", &a.expose()[4..]),
        ] {
            assert!(!is_agent_key(bad), "{bad}");
        }
    }

    fn parse(body: Value) -> Result<NewKey, ApiError> {
        NewKey::parse(serde_json::from_value(body).unwrap())
    }

    #[test]
    fn a_new_key_needs_a_name_and_at_most_a_year_of_future() {
        assert!(parse(json!({"name": "ci"})).unwrap().expires_at.is_none());
        let soon = (Utc::now() + chrono::Duration::days(30)).to_rfc3339();
        assert!(parse(json!({"name": "ci", "expires_at": soon})).is_ok());
        let past = (Utc::now() - chrono::Duration::days(1)).to_rfc3339();
        let far = (Utc::now() + chrono::Duration::days(400)).to_rfc3339();
        for body in [
            json!({}),
            json!({"name": ""}),
            json!({"name": "ci", "expires_at": past}),
            json!({"name": "ci", "expires_at": far}),
            json!({"name": "ci", "expires_at": "tomorrow"}),
            json!({"name": "ci", "key": "tak_mine"}),
        ] {
            assert!(
                matches!(parse(body.clone()), Err(ApiError::Unprocessable(_))),
                "{body}"
            );
        }
    }
}
