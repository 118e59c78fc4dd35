//! bcrypt hashing and verification, on a blocking thread so the async executor keeps serving.

use secrecy::{ExposeSecret, SecretString};

use crate::config::PasswordConfig;
use crate::error::ApiError;

pub const MIN_COST: u32 = PasswordConfig::MIN_COST;
pub const DEFAULT_COST: u32 = PasswordConfig::DEFAULT_COST;

/// A structurally valid bcrypt hash that matches no password. Verifying against it (with the
/// cost put in) costs as much as verifying a real hash, so a login for an unknown user takes
/// as long as one with a wrong password.
const DUMMY_HASH_BODY: &str = "ZcUvvqA9MMUgyz0Z.Aq6H.XIpBBY3tb1aoKVK9HnsEYQFd5MdTq8K";

pub fn dummy_hash(cost: u32) -> String {
    format!("$2b${cost:02}${DUMMY_HASH_BODY}")
}

/// The cost a bcrypt hash was made with (`$2b$12$...` is 12).
pub fn cost_of(hash: &str) -> Option<u32> {
    hash.parse::<bcrypt::HashParts>()
        .ok()
        .map(|parts| parts.get_cost())
}

/// Hashes a password at `cost`. The password must already be within bcrypt's 72 bytes
/// (see `users::NewPassword`); a longer one is an error, never silently truncated.
pub async fn hash_password(password: SecretString, cost: u32) -> Result<String, ApiError> {
    tokio::task::spawn_blocking(move || hash_blocking(password.expose_secret(), cost))
        .await
        .map_err(ApiError::internal)?
}

/// bcrypt reads at most 72 bytes: the password plus a NUL terminator. The crate's
/// `non_truncating_*` functions therefore refuse a 72-byte password, although bcrypt uses all
/// 72 of its bytes (only the terminator is dropped). So the limit is checked here, exactly, and
/// the plain function hashes: nothing of a password it accepts is ever cut off.
fn hash_blocking(password: &str, cost: u32) -> Result<String, ApiError> {
    if password.len() > 72 {
        return Err(ApiError::internal(
            "refusing to hash a password over 72 bytes",
        ));
    }
    bcrypt::hash(password, cost).map_err(ApiError::internal)
}

/// True when `password` matches `hash`. A password over 72 bytes never matches: bcrypt would
/// compare only its first 72 bytes.
pub async fn verify_password(password: SecretString, hash: String) -> Result<bool, ApiError> {
    tokio::task::spawn_blocking(move || {
        let password = password.expose_secret();
        if password.len() > 72 {
            // Spend the same time as a real check, then refuse.
            let _ = bcrypt::verify(&password.as_bytes()[..72], &hash);
            return Ok(false);
        }
        bcrypt::verify(password, &hash).map_err(ApiError::internal)
    })
    .await
    .map_err(ApiError::internal)?
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secret(text: &str) -> SecretString {
        SecretString::from(text)
    }

    #[tokio::test]
    async fn a_hash_verifies_its_password_only() {
        let hash = hash_password(secret("correct horse battery staple"), MIN_COST)
            .await
            .unwrap();

        assert!(hash.starts_with("$2b$10$"));
        assert!(
            verify_password(secret("correct horse battery staple"), hash.clone())
                .await
                .unwrap()
        );
        assert!(
            !verify_password(secret("correct horse battery stapler"), hash)
                .await
                .unwrap()
        );
    }

    #[tokio::test]
    async fn seventy_two_bytes_hash_and_verify_exactly() {
        let password = "p".repeat(71) + "!";
        let hash = hash_password(secret(&password), MIN_COST).await.unwrap();

        assert!(
            verify_password(secret(&password), hash.clone())
                .await
                .unwrap()
        );
        assert!(
            !verify_password(secret(&("p".repeat(71) + "?")), hash)
                .await
                .unwrap()
        );
    }

    #[tokio::test]
    async fn passwords_over_72_bytes_are_never_hashed_and_never_match() {
        let long = "p".repeat(73);
        assert!(hash_password(secret(&long), MIN_COST).await.is_err());

        // Matches on its first 72 bytes, which bcrypt alone would accept.
        let hash = hash_password(secret(&"p".repeat(72)), MIN_COST)
            .await
            .unwrap();
        assert!(!verify_password(secret(&long), hash).await.unwrap());
    }

    #[test]
    fn the_cost_is_read_from_the_hash() {
        assert_eq!(cost_of(&dummy_hash(12)), Some(12));
        assert_eq!(cost_of(&dummy_hash(10)), Some(10));
        assert_eq!(cost_of("not a hash"), None);
    }

    #[tokio::test]
    async fn the_dummy_hash_is_valid_and_matches_nothing() {
        for cost in [MIN_COST, DEFAULT_COST] {
            let dummy = dummy_hash(cost);
            assert!(dummy.starts_with(&format!("$2b${cost}$")));
            assert_eq!(dummy.len(), 60);
            assert!(
                !verify_password(secret("correct horse battery staple"), dummy)
                    .await
                    .unwrap()
            );
        }
    }
}
