//! The opaque page cursor: the position of the last task of a page, (created_at, id), bound to
//! the caller and the status filter and signed, so a garbage, tampered or borrowed cursor is a
//! 400 instead of a wrong page.

use aws_lc_rs::{constant_time, hmac};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use shared::config::JwtSecret;

/// Where the next page starts: after this task in newest-first order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Position {
    pub created_at: DateTime<Utc>,
    pub id: Uuid,
}

/// What a cursor is valid for.
pub struct Scope<'a> {
    pub owner_id: Uuid,
    pub status: Option<&'a str>,
}

const TAG_BYTES: usize = 16;
const PAYLOAD_BYTES: usize = 8 + 16;

pub struct CursorKey(hmac::Key);

impl CursorKey {
    /// A key of its own, derived from the token secret, so cursors and tokens never share one.
    pub fn derive(secret: &JwtSecret) -> Self {
        let derivation = hmac::Key::new(hmac::HMAC_SHA256, secret.as_bytes());
        let key = hmac::sign(&derivation, b"taskapi tasks-list cursor key v1");
        Self(hmac::Key::new(hmac::HMAC_SHA256, key.as_ref()))
    }

    pub fn encode(&self, position: Position, scope: &Scope<'_>) -> String {
        let mut bytes = Vec::with_capacity(PAYLOAD_BYTES + TAG_BYTES);
        bytes.extend_from_slice(&position.created_at.timestamp_micros().to_be_bytes());
        bytes.extend_from_slice(position.id.as_bytes());
        let tag = self.tag(&bytes, scope);
        bytes.extend_from_slice(&tag);
        URL_SAFE_NO_PAD.encode(bytes)
    }

    /// The position in a cursor this key made for this scope; `None` for anything else.
    pub fn decode(&self, cursor: &str, scope: &Scope<'_>) -> Option<Position> {
        if cursor.len() > 64 {
            return None;
        }
        let bytes = URL_SAFE_NO_PAD.decode(cursor).ok()?;
        if bytes.len() != PAYLOAD_BYTES + TAG_BYTES {
            return None;
        }
        let (payload, tag) = bytes.split_at(PAYLOAD_BYTES);
        constant_time::verify_slices_are_equal(&self.tag(payload, scope), tag).ok()?;
        let micros = i64::from_be_bytes(payload[..8].try_into().ok()?);
        Some(Position {
            created_at: DateTime::from_timestamp_micros(micros)?,
            id: Uuid::from_slice(&payload[8..]).ok()?,
        })
    }

    fn tag(&self, payload: &[u8], scope: &Scope<'_>) -> [u8; TAG_BYTES] {
        let mut context = hmac::Context::with_key(&self.0);
        context.update(payload);
        context.update(scope.owner_id.as_bytes());
        context.update(scope.status.unwrap_or("*").as_bytes());
        let full = context.sign();
        let mut tag = [0; TAG_BYTES];
        tag.copy_from_slice(&full.as_ref()[..TAG_BYTES]);
        tag
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::SecretString;

    fn key(secret: &str) -> CursorKey {
        CursorKey::derive(&JwtSecret::new(SecretString::from(secret)).unwrap())
    }

    fn position() -> Position {
        Position {
            created_at: DateTime::from_timestamp_micros(1_795_000_000_123_456).unwrap(),
            id: Uuid::new_v4(),
        }
    }

    #[test]
    fn a_cursor_decodes_to_its_position_in_its_scope() {
        let key = key("cursor-test-secret-that-is-long-enough");
        let owner = Uuid::new_v4();
        let scope = Scope {
            owner_id: owner,
            status: Some("pending"),
        };
        let position = position();

        let cursor = key.encode(position, &scope);

        assert_eq!(key.decode(&cursor, &scope), Some(position));
        assert!(
            cursor
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        );
    }

    #[test]
    fn tampered_borrowed_or_foreign_cursors_are_refused() {
        let key = key("cursor-test-secret-that-is-long-enough");
        let owner = Uuid::new_v4();
        let scope = Scope {
            owner_id: owner,
            status: None,
        };
        let cursor = key.encode(position(), &scope);

        let mut bytes = URL_SAFE_NO_PAD.decode(&cursor).unwrap();
        bytes[3] ^= 1;
        let tampered = URL_SAFE_NO_PAD.encode(bytes);
        assert_eq!(key.decode(&tampered, &scope), None);

        let someone_else = Scope {
            owner_id: Uuid::new_v4(),
            status: None,
        };
        assert_eq!(key.decode(&cursor, &someone_else), None);
        let other_filter = Scope {
            owner_id: owner,
            status: Some("failed"),
        };
        assert_eq!(key.decode(&cursor, &other_filter), None);
        let other_key = self::key("another-secret-of-enough-length-for-jwt");
        assert_eq!(other_key.decode(&cursor, &scope), None);

        for garbage in ["", "abc", "!!!!", &"A".repeat(54), &"A".repeat(500)] {
            assert_eq!(key.decode(garbage, &scope), None, "{garbage:?}");
        }
    }
}
