//! Keyset pagination: a page of at most `limit` items and an opaque cursor to the next one. The
//! cursor is the position of the last item of a page, (created_at, id), bound to the caller,
//! the listing and its filter, and signed, so a garbage, tampered or borrowed cursor is a 400
//! instead of a wrong page.

use aws_lc_rs::{constant_time, hmac};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use serde::Serialize;
use uuid::Uuid;

use crate::config::{JwtSecret, RESPONSE_BUDGET};
use crate::error::ApiError;
use crate::http::{self, QueryParameters};

pub const DEFAULT_LIMIT: i64 = 20;
pub const MAX_LIMIT: i64 = 100;

/// One page of a listing, as responses show it.
#[derive(Debug, Serialize)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next_cursor: Option<String>,
}

/// Where the next page starts: after this item in newest-first order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Position {
    pub created_at: DateTime<Utc>,
    pub id: Uuid,
}

/// What a cursor is valid for: one listing of one caller with one filter.
pub struct Scope<'a> {
    pub listing: &'static str,
    pub owner_id: Uuid,
    pub filter: Option<&'a str>,
}

/// The page a request asks for: `limit` (1 to `MAX_LIMIT`) and `cursor`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PageRequest {
    pub limit: i64,
    pub after: Option<Position>,
}

impl PageRequest {
    pub fn parse(
        parameters: &QueryParameters,
        key: &CursorKey,
        scope: &Scope<'_>,
    ) -> Result<Self, ApiError> {
        let limit = match parameters.single("limit")? {
            None => DEFAULT_LIMIT,
            Some(raw) => raw
                .parse()
                .ok()
                .filter(|limit| (1..=MAX_LIMIT).contains(limit))
                .ok_or_else(|| {
                    ApiError::BadRequest(format!(
                        "limit must be a whole number from 1 to {MAX_LIMIT}"
                    ))
                })?,
        };
        let after = match parameters.single("cursor")? {
            None => None,
            Some(cursor) => Some(key.decode(cursor, scope).ok_or_else(|| {
                ApiError::BadRequest(
                    "cursor is not one this listing gave out; start again without it".into(),
                )
            })?),
        };
        Ok(Self { limit, after })
    }

    /// How many rows to fetch: one more than the page, to learn whether another page follows.
    pub fn fetch(&self) -> i64 {
        self.limit + 1
    }

    /// The page of `rows` (fetched with `fetch()`), with a cursor when more follow. A page stops
    /// adding items before its JSON, as the Lambda response envelope carries it, would pass
    /// `budget` (at most `RESPONSE_BUDGET`): it may hold fewer than `limit` items, and its cursor
    /// then starts the next page at the first item left out, so paging still visits every item
    /// once.
    pub fn page<T: Serialize>(
        &self,
        mut rows: Vec<T>,
        key: &CursorKey,
        scope: &Scope<'_>,
        budget: usize,
        position: impl Fn(&T) -> Position,
    ) -> Result<Page<T>, ApiError> {
        let limit = usize::try_from(self.limit).unwrap_or(usize::MAX);
        let mut more = rows.len() > limit;
        rows.truncate(limit);
        // The envelope of the page itself, with room for the longest cursor.
        let mut used = http::escaped_len(r#"{"items":[],"next_cursor":null}"#) + 2 * 64;
        let mut fits = 0;
        for row in &rows {
            let item = serde_json::to_string(row).map_err(ApiError::internal)?;
            let size = http::escaped_len(&item) + 1;
            if used + size > budget.min(RESPONSE_BUDGET) && fits > 0 {
                break;
            }
            used += size;
            fits += 1;
        }
        if fits < rows.len() {
            rows.truncate(fits);
            more = true;
        }
        let next_cursor = if more {
            rows.last().map(|last| key.encode(position(last), scope))
        } else {
            None
        };
        Ok(Page {
            items: rows,
            next_cursor,
        })
    }
}

const TAG_BYTES: usize = 16;
const PAYLOAD_BYTES: usize = 8 + 16;

pub struct CursorKey(hmac::Key);

impl CursorKey {
    /// A key of its own, derived from the token secret, so cursors and tokens never share one.
    pub fn derive(secret: &JwtSecret) -> Self {
        let derivation = hmac::Key::new(hmac::HMAC_SHA256, secret.as_bytes());
        let key = hmac::sign(&derivation, b"taskapi list cursor key v1");
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
        context.update(scope.listing.as_bytes());
        context.update(b"\0");
        context.update(scope.owner_id.as_bytes());
        context.update(scope.filter.unwrap_or("*").as_bytes());
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

    fn request(limit: i64) -> PageRequest {
        PageRequest { limit, after: None }
    }

    fn scope() -> Scope<'static> {
        Scope {
            listing: "tasks",
            owner_id: Uuid::nil(),
            filter: None,
        }
    }

    #[test]
    fn a_page_stops_before_its_response_would_pass_the_budget() {
        let key = key("cursor-test-secret-that-is-long-enough");
        // 100 items of about 1 MB each as the envelope escapes them (quotes escape to two bytes).
        let big = "\"".repeat(500_000);
        let rows: Vec<(u32, String)> = (0..101).map(|i| (i, big.clone())).collect();

        let page = request(100)
            .page(rows, &key, &scope(), RESPONSE_BUDGET, |(i, _)| Position {
                created_at: DateTime::from_timestamp_micros(i64::from(*i)).unwrap(),
                id: Uuid::nil(),
            })
            .unwrap();

        assert!(page.items.len() < 100, "{}", page.items.len());
        assert!(!page.items.is_empty());
        let body = serde_json::to_string(&page).unwrap();
        assert!(http::escaped_len(&body) <= RESPONSE_BUDGET);
        let next = key
            .decode(page.next_cursor.as_deref().unwrap(), &scope())
            .unwrap();
        let last = page.items.last().unwrap().0;
        assert_eq!(next.created_at.timestamp_micros(), i64::from(last));
    }

    #[test]
    fn a_small_page_is_cut_by_count_only() {
        let key = key("cursor-test-secret-that-is-long-enough");
        let rows: Vec<u32> = (0..11).collect();
        let position = |i: &u32| Position {
            created_at: DateTime::from_timestamp_micros(i64::from(*i)).unwrap(),
            id: Uuid::nil(),
        };
        let page = request(10)
            .page(rows, &key, &scope(), RESPONSE_BUDGET, position)
            .unwrap();
        assert_eq!(page.items.len(), 10);
        assert!(page.next_cursor.is_some());
        let last = request(10)
            .page(vec![1, 2], &key, &scope(), RESPONSE_BUDGET, position)
            .unwrap();
        assert_eq!((last.items.len(), last.next_cursor), (2, None));
    }

    #[test]
    fn a_cursor_decodes_to_its_position_in_its_scope() {
        let key = key("cursor-test-secret-that-is-long-enough");
        let owner = Uuid::new_v4();
        let scope = Scope {
            listing: "tasks",
            owner_id: owner,
            filter: Some("pending"),
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
            listing: "tasks",
            owner_id: owner,
            filter: None,
        };
        let cursor = key.encode(position(), &scope);

        let mut bytes = URL_SAFE_NO_PAD.decode(&cursor).unwrap();
        bytes[3] ^= 1;
        let tampered = URL_SAFE_NO_PAD.encode(bytes);
        assert_eq!(key.decode(&tampered, &scope), None);

        let someone_else = Scope {
            listing: "tasks",
            owner_id: Uuid::new_v4(),
            filter: None,
        };
        assert_eq!(key.decode(&cursor, &someone_else), None);
        let other_filter = Scope {
            listing: "tasks",
            owner_id: owner,
            filter: Some("failed"),
        };
        assert_eq!(key.decode(&cursor, &other_filter), None);
        let other_listing = Scope {
            listing: "agents",
            owner_id: owner,
            filter: None,
        };
        assert_eq!(key.decode(&cursor, &other_listing), None);
        let other_key = self::key("another-secret-of-enough-length-for-jwt");
        assert_eq!(other_key.decode(&cursor, &scope), None);

        for garbage in ["", "abc", "!!!!", &"A".repeat(54), &"A".repeat(500)] {
            assert_eq!(key.decode(garbage, &scope), None, "{garbage:?}");
        }
    }
}
