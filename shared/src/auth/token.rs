//! Access tokens: HS256 JWTs with `sub`, `sid` (the session), `iat`, `nbf`, `exp`, `iss`, `aud`
//! and `jti`.

use std::time::Duration;

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use secrecy::SecretString;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::auth::Caller;
use crate::config::{ConfigError, Env, JwtSecret, TokenSettings};
use crate::error::ApiError;
use crate::secrets::Secrets;

/// Largest clock difference tolerated between the issuer and a verifier.
pub const LEEWAY: Duration = Duration::from_secs(30);

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Claims {
    pub sub: Uuid,
    /// The session the token belongs to: refused once it is revoked or expired.
    pub sid: Uuid,
    pub iat: i64,
    pub nbf: i64,
    pub exp: i64,
    pub iss: String,
    pub aud: String,
    pub jti: Uuid,
}

/// A freshly issued access token.
pub struct IssuedToken {
    pub token: SecretString,
    pub expires_in: u64,
}

/// The keys and rules for issuing and verifying tokens, built once per instance.
pub struct TokenKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
    settings: TokenSettings,
}

/// Why a token was refused; logged, never shown to the client in detail.
#[derive(Debug, thiserror::Error)]
#[error("token refused: {0}")]
pub struct TokenRejected(#[from] jsonwebtoken::errors::Error);

impl TokenKeys {
    pub fn new(secret: &JwtSecret, settings: TokenSettings) -> Self {
        // Pinned to HS256; every registered claim is required and checked.
        let mut validation = Validation::new(Algorithm::HS256);
        validation.leeway = LEEWAY.as_secs();
        validation.validate_exp = true;
        validation.validate_nbf = true;
        validation.set_required_spec_claims(&["sub", "iat", "nbf", "exp", "iss", "aud", "jti"]);
        validation.set_issuer(&[&settings.issuer]);
        validation.set_audience(&[&settings.audience]);
        Self {
            encoding: EncodingKey::from_secret(secret.as_bytes()),
            decoding: DecodingKey::from_secret(secret.as_bytes()),
            validation,
            settings,
        }
    }

    /// The secret (`JWT_SECRET` or `JWT_SECRET_ARN`) and settings from the environment.
    pub async fn load(env: &Env, secrets: &Secrets) -> Result<Self, ConfigError> {
        let secret = JwtSecret::load(env, secrets).await?;
        Ok(Self::new(&secret, TokenSettings::from_env(env)?))
    }

    pub fn settings(&self) -> &TokenSettings {
        &self.settings
    }

    /// A token for the caller's session, valid from now for the configured lifetime.
    pub fn issue(&self, caller: Caller) -> Result<IssuedToken, ApiError> {
        self.issue_at(caller, chrono::Utc::now().timestamp())
    }

    fn issue_at(&self, caller: Caller, now: i64) -> Result<IssuedToken, ApiError> {
        let lifetime = self.settings.lifetime.as_secs();
        let claims = Claims {
            sub: caller.user_id,
            sid: caller.session_id,
            iat: now,
            nbf: now,
            exp: now + lifetime as i64,
            iss: self.settings.issuer.clone(),
            aud: self.settings.audience.clone(),
            jti: Uuid::new_v4(),
        };
        let token = jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
            .map_err(ApiError::internal)?;
        Ok(IssuedToken {
            token: SecretString::from(token),
            expires_in: lifetime,
        })
    }

    /// The claims of a token that is well-formed, signed with HS256 by our key, current, and
    /// meant for us.
    pub fn verify(&self, token: &str) -> Result<Claims, TokenRejected> {
        Ok(jsonwebtoken::decode::<Claims>(token, &self.decoding, &self.validation)?.claims)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{TEST_JWT_SECRET as SECRET, sign, token_keys as keys, valid_claims};
    use crate::testing::{with_claim as with, without_claim as without};
    use secrecy::ExposeSecret;
    use serde_json::json;

    fn now() -> i64 {
        chrono::Utc::now().timestamp()
    }

    fn caller(user_id: Uuid) -> Caller {
        Caller {
            user_id,
            session_id: Uuid::new_v4(),
        }
    }

    #[test]
    fn an_issued_token_verifies_with_all_claims() {
        let keys = keys();
        let user = Uuid::new_v4();

        let issued = keys.issue(caller(user)).unwrap();
        let claims = keys.verify(issued.token.expose_secret()).unwrap();

        assert_eq!(issued.expires_in, 900);
        assert_eq!(claims.sub, user);
        assert_ne!(claims.sid, claims.sub);
        assert_eq!(claims.exp - claims.iat, 900);
        assert_eq!(claims.nbf, claims.iat);
        assert_eq!(
            (claims.iss.as_str(), claims.aud.as_str()),
            ("taskapi", "taskapi")
        );
        let header = jsonwebtoken::decode_header(issued.token.expose_secret()).unwrap();
        assert_eq!(header.alg, Algorithm::HS256);
    }

    #[test]
    fn two_tokens_have_distinct_ids() {
        let keys = keys();
        let user = Uuid::new_v4();
        let a = keys
            .verify(keys.issue(caller(user)).unwrap().token.expose_secret())
            .unwrap();
        let b = keys
            .verify(keys.issue(caller(user)).unwrap().token.expose_secret())
            .unwrap();
        assert_ne!(a.jti, b.jti);
    }

    #[test]
    fn a_token_signed_by_hand_with_the_right_claims_verifies() {
        let user = Uuid::new_v4();
        let token = sign(&valid_claims(caller(user)), Algorithm::HS256, SECRET);
        assert_eq!(keys().verify(&token).unwrap().sub, user);
    }

    #[test]
    fn hostile_tokens_are_refused() {
        let keys = keys();
        let user = Uuid::new_v4();
        let good = valid_claims(caller(user));
        let now = now();
        let good_token = sign(&good, Algorithm::HS256, SECRET);
        let (head, rest) = good_token.split_once('.').unwrap();
        let (payload, signature) = rest.split_once('.').unwrap();

        use base64_url_encode as b64;
        let alg_none = format!("{}.{}.", b64(r#"{"alg":"none","typ":"JWT"}"#), payload);
        let mut flipped = signature.chars().collect::<Vec<_>>();
        flipped[3] = if flipped[3] == 'A' { 'B' } else { 'A' };
        let tampered_signature = format!("{head}.{payload}.{}", flipped.iter().collect::<String>());
        let other_user = b64(&with(good.clone(), "sub", json!(Uuid::new_v4())).to_string());
        let tampered_payload = format!("{head}.{other_user}.{signature}");

        let cases = [
            ("alg none", alg_none),
            ("HS512", sign(&good, Algorithm::HS512, SECRET)),
            ("HS384", sign(&good, Algorithm::HS384, SECRET)),
            (
                "wrong key",
                sign(
                    &good,
                    Algorithm::HS256,
                    "another-secret-of-sufficient-length!!",
                ),
            ),
            ("tampered signature", tampered_signature),
            ("tampered payload", tampered_payload),
            (
                "expired",
                sign(
                    &with(good.clone(), "exp", json!(now - 31)),
                    Algorithm::HS256,
                    SECRET,
                ),
            ),
            (
                "not yet valid",
                sign(
                    &with(good.clone(), "nbf", json!(now + 120)),
                    Algorithm::HS256,
                    SECRET,
                ),
            ),
            (
                "wrong issuer",
                sign(
                    &with(good.clone(), "iss", json!("someone-else")),
                    Algorithm::HS256,
                    SECRET,
                ),
            ),
            (
                "wrong audience",
                sign(
                    &with(good.clone(), "aud", json!("another-app")),
                    Algorithm::HS256,
                    SECRET,
                ),
            ),
            (
                "missing exp",
                sign(&without(good.clone(), "exp"), Algorithm::HS256, SECRET),
            ),
            (
                "missing nbf",
                sign(&without(good.clone(), "nbf"), Algorithm::HS256, SECRET),
            ),
            (
                "missing aud",
                sign(&without(good.clone(), "aud"), Algorithm::HS256, SECRET),
            ),
            (
                "missing jti",
                sign(&without(good.clone(), "jti"), Algorithm::HS256, SECRET),
            ),
            (
                "sub not a uuid",
                sign(
                    &with(good.clone(), "sub", json!("admin")),
                    Algorithm::HS256,
                    SECRET,
                ),
            ),
            ("garbage", "not.a.token".to_owned()),
            ("empty", String::new()),
        ];
        for (name, token) in cases {
            assert!(keys.verify(&token).is_err(), "{name} was accepted");
        }
    }

    #[test]
    fn expiry_within_the_leeway_is_tolerated_and_beyond_it_refused() {
        let keys = keys();
        let good = valid_claims(caller(Uuid::new_v4()));
        let now = now();
        let just_expired = sign(
            &with(good.clone(), "exp", json!(now - 5)),
            Algorithm::HS256,
            SECRET,
        );
        let long_expired = sign(
            &with(good, "exp", json!(now - 40)),
            Algorithm::HS256,
            SECRET,
        );

        assert!(keys.verify(&just_expired).is_ok());
        assert!(keys.verify(&long_expired).is_err());
    }

    #[test]
    fn lifetime_is_configurable_within_bounds() {
        let env = Env::from_pairs([("ACCESS_TOKEN_TTL_SECONDS", "300")]);
        assert_eq!(
            TokenSettings::from_env(&env).unwrap().lifetime,
            Duration::from_secs(300)
        );
        let env = Env::from_pairs([("ACCESS_TOKEN_TTL_SECONDS", "5")]);
        assert!(TokenSettings::from_env(&env).is_err());
    }

    fn base64_url_encode(text: &str) -> String {
        use base64::Engine;
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(text)
    }
}
