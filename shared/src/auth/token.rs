//! Access tokens: HS256 JWTs with `sub`, `sid` (the session), `iat`, `nbf`, `exp`, `iss`, `aud`
//! and `jti`.

use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use aws_lc_rs::digest::{SHA256, digest};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use secrecy::SecretString;
use serde::{Deserialize, Serialize};
use tokio::sync::Mutex;
use uuid::Uuid;

use crate::auth::Caller;
use crate::config::{ConfigError, Env, JwtKeySource, JwtSecret, TokenSettings};
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
///
/// Keys rotate. Every token names its key in the header (`kid`, derived from the key itself,
/// so every instance names a key alike). Tokens are signed with the current key; verification
/// accepts the current and the previous one (Secrets Manager's `AWSCURRENT` and `AWSPREVIOUS`).
/// A token naming a key this instance does not know makes it read both again, at most once per
/// `MIN_REREAD_INTERVAL`: the key rotated after this instance started, and other instances
/// already sign with the new one.
pub struct TokenKeys {
    keys: RwLock<Arc<KeySet>>,
    validation: Validation,
    settings: TokenSettings,
    source: Option<KeySource>,
}

/// How often an unknown `kid` may make an instance read the keys again.
pub const MIN_REREAD_INTERVAL: Duration = Duration::from_secs(60);

struct Key {
    kid: String,
    secret: JwtSecret,
    encoding: EncodingKey,
    decoding: DecodingKey,
}

impl Key {
    fn new(secret: JwtSecret) -> Self {
        let hash = digest(&SHA256, secret.as_bytes());
        Self {
            kid: URL_SAFE_NO_PAD.encode(&hash.as_ref()[..12]),
            encoding: EncodingKey::from_secret(secret.as_bytes()),
            decoding: DecodingKey::from_secret(secret.as_bytes()),
            secret,
        }
    }
}

struct KeySet {
    current: Key,
    previous: Option<Key>,
}

impl KeySet {
    fn find(&self, kid: &str) -> Option<&Key> {
        std::iter::once(&self.current)
            .chain(&self.previous)
            .find(|key| key.kid == kid)
    }
}

/// The secret the keys are read from, and when an unknown key last made them be read again.
struct KeySource {
    secrets: Secrets,
    arn: String,
    last_reread: Mutex<Option<Instant>>,
}

/// Why a token was refused; logged, never shown to the client in detail.
#[derive(Debug, thiserror::Error)]
pub enum TokenRejected {
    #[error("token refused: {0}")]
    Invalid(#[from] jsonwebtoken::errors::Error),
    #[error("token refused: signed with a key this instance does not know (kid {0})")]
    UnknownKey(String),
}

impl TokenKeys {
    pub fn new(secret: &JwtSecret, settings: TokenSettings) -> Self {
        Self::with_keys(
            KeySet {
                current: Key::new(secret.clone()),
                previous: None,
            },
            settings,
            None,
        )
    }

    fn with_keys(keys: KeySet, settings: TokenSettings, source: Option<KeySource>) -> Self {
        // Pinned to HS256; every registered claim is required and checked.
        let mut validation = Validation::new(Algorithm::HS256);
        validation.leeway = LEEWAY.as_secs();
        validation.validate_exp = true;
        validation.validate_nbf = true;
        validation.set_required_spec_claims(&["sub", "iat", "nbf", "exp", "iss", "aud", "jti"]);
        validation.set_issuer(&[&settings.issuer]);
        validation.set_audience(&[&settings.audience]);
        Self {
            keys: RwLock::new(Arc::new(keys)),
            validation,
            settings,
            source,
        }
    }

    /// The key from `JWT_SECRET` (local), or the current and previous keys of the secret
    /// `JWT_SECRET_ARN` (AWS), read at once; and the settings from the environment.
    pub async fn load(env: &Env, secrets: &Secrets) -> Result<Self, ConfigError> {
        let settings = TokenSettings::from_env(env)?;
        let arn = match JwtKeySource::from_env(env)? {
            JwtKeySource::Value(secret) => return Ok(Self::new(&secret, settings)),
            JwtKeySource::Secret(arn) => arn,
        };
        let keys = read_keys(secrets, &arn).await?;
        let source = KeySource {
            secrets: secrets.clone(),
            arn,
            last_reread: Mutex::new(None),
        };
        Ok(Self::with_keys(keys, settings, Some(source)))
    }

    pub fn settings(&self) -> &TokenSettings {
        &self.settings
    }

    fn keys(&self) -> Arc<KeySet> {
        match self.keys.read() {
            Ok(keys) => Arc::clone(&keys),
            Err(poisoned) => Arc::clone(&poisoned.into_inner()),
        }
    }

    /// The secret of the current signing key (page cursors derive their own key from it).
    pub fn current_secret(&self) -> JwtSecret {
        self.keys().current.secret.clone()
    }

    /// A token for the caller's session, valid from now for the configured lifetime, signed
    /// with the current key.
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
        let keys = self.keys();
        let mut header = Header::new(Algorithm::HS256);
        header.kid = Some(keys.current.kid.clone());
        let token = jsonwebtoken::encode(&header, &claims, &keys.current.encoding)
            .map_err(ApiError::internal)?;
        Ok(IssuedToken {
            token: SecretString::from(token),
            expires_in: lifetime,
        })
    }

    /// The claims of a token that is well-formed, signed with HS256 by one of our keys,
    /// current, and meant for us. A token without a `kid` (issued before keys had ids) is
    /// checked against the current key.
    pub fn verify(&self, token: &str) -> Result<Claims, TokenRejected> {
        let header = jsonwebtoken::decode_header(token)?;
        let keys = self.keys();
        let key = match header.kid {
            Some(kid) => keys.find(&kid).ok_or(TokenRejected::UnknownKey(kid))?,
            None => &keys.current,
        };
        Ok(jsonwebtoken::decode::<Claims>(token, &key.decoding, &self.validation)?.claims)
    }

    /// Like `verify`, but a token signed with a key this instance does not know makes it read
    /// the keys again first (at most once per `MIN_REREAD_INTERVAL`).
    pub async fn verify_fresh(&self, token: &str) -> Result<Claims, TokenRejected> {
        match self.verify(token) {
            Err(TokenRejected::UnknownKey(kid)) if self.reread().await => self
                .verify(token)
                .map_err(|_| TokenRejected::UnknownKey(kid)),
            outcome => outcome,
        }
    }

    /// Reads the keys again unless they were read again within `MIN_REREAD_INTERVAL`; whether
    /// a token is worth checking again (concurrent callers wait for one read and then check
    /// against what it found).
    async fn reread(&self) -> bool {
        let Some(source) = &self.source else {
            return false;
        };
        let mut last_reread = source.last_reread.lock().await;
        if last_reread.is_some_and(|at| at.elapsed() < MIN_REREAD_INTERVAL) {
            return true;
        }
        *last_reread = Some(Instant::now());
        match read_keys(&source.secrets, &source.arn).await {
            Ok(keys) => {
                tracing::info!(current = %keys.current.kid, "auth: token keys read again");
                match self.keys.write() {
                    Ok(mut slot) => *slot = Arc::new(keys),
                    Err(poisoned) => *poisoned.into_inner() = Arc::new(keys),
                }
                true
            }
            Err(err) => {
                tracing::error!(error = %err, "auth: token keys could not be read again");
                false
            }
        }
    }
}

/// The current and previous versions of the key secret, read at once.
async fn read_keys(secrets: &Secrets, arn: &str) -> Result<KeySet, ConfigError> {
    let (current, previous) =
        tokio::try_join!(secrets.fetch(arn), secrets.fetch_stage(arn, "AWSPREVIOUS"))?;
    Ok(KeySet {
        current: Key::new(JwtSecret::new(current)?),
        // A previous version too short to be a key is not one we ever signed with.
        previous: previous
            .and_then(|previous| JwtSecret::new(previous).ok())
            .map(Key::new),
    })
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

    #[tokio::test]
    async fn tokens_name_their_key_and_an_unknown_key_is_refused() {
        let keys = keys();
        let token = keys.issue(caller(Uuid::new_v4())).unwrap().token;
        let header = jsonwebtoken::decode_header(token.expose_secret()).unwrap();
        assert_eq!(header.kid.as_deref().map(str::len), Some(16));

        let other = TokenKeys::new(
            &JwtSecret::new(SecretString::from("another-key-of-32-bytes-or-more!!")).unwrap(),
            keys.settings().clone(),
        );
        let foreign = other.issue(caller(Uuid::new_v4())).unwrap().token;
        // Without a secret to read again, an unknown key stays unknown.
        assert!(matches!(
            keys.verify_fresh(foreign.expose_secret()).await,
            Err(TokenRejected::UnknownKey(_))
        ));
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
