//! POST /api/auth/login: a username or email and a password in, an access token out.
//!
//! Unknown user and wrong password give the same 401 and cost the same bcrypt work (an unknown
//! user is checked against a dummy hash). After `FREE_FAILURES` consecutive failures an account
//! refuses attempts with 429 for 2^(n - FREE_FAILURES) seconds, at most `MAX_LOCK`; the count
//! lives in the users table, so every Lambda instance sees it, and a success resets it.

mod throttle;

use lambda_http::Request;
use lambda_http::http::{HeaderValue, StatusCode, header};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use serde_json::json;
use shared::audit::{self, AuditEvent};
use shared::auth::TokenKeys;
use shared::auth::password::{dummy_hash, verify_password};
use shared::http::{self, ApiResult};
use shared::{ApiError, AppState, FieldErrors};

pub use throttle::{FREE_FAILURES, MAX_LOCK};

/// The login body: the account as `login` (username or email), or as `username` or `email`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LoginRequest {
    login: Option<String>,
    username: Option<String>,
    email: Option<String>,
    password: Option<SecretString>,
}

struct Credentials {
    login: String,
    password: SecretString,
}

impl Credentials {
    const MAX_LOGIN_CHARS: usize = 254;
    /// Far above any valid password, small enough that nothing large reaches bcrypt.
    const MAX_PASSWORD_BYTES: usize = 1024;

    fn parse(request: LoginRequest) -> Result<Self, ApiError> {
        let mut errors = FieldErrors::new();
        let given: Vec<(&str, String)> = [
            ("login", request.login),
            ("username", request.username),
            ("email", request.email),
        ]
        .into_iter()
        .filter_map(|(field, value)| value.map(|v| (field, v)))
        .collect();
        let login = match given.as_slice() {
            [(field, value)] => {
                let value = value.trim();
                if value.is_empty() {
                    errors.add(*field, "must not be empty");
                } else if value.contains('\0') {
                    errors.add(*field, "must not contain the NUL character (\\u0000)");
                } else if value.chars().count() > Self::MAX_LOGIN_CHARS {
                    errors.add(
                        *field,
                        format!("must be at most {} characters", Self::MAX_LOGIN_CHARS),
                    );
                }
                value.to_owned()
            }
            [] => {
                errors.add("login", "is required (a username or an email address)");
                String::new()
            }
            _ => {
                errors.add("login", "give only one of login, username and email");
                String::new()
            }
        };
        let password = match request.password {
            Some(password) if password.expose_secret().is_empty() => {
                errors.add("password", "must not be empty");
                password
            }
            Some(password) if password.expose_secret().len() > Self::MAX_PASSWORD_BYTES => {
                errors.add(
                    "password",
                    format!("must be at most {} bytes", Self::MAX_PASSWORD_BYTES),
                );
                password
            }
            Some(password) => password,
            None => {
                errors.add("password", "is required");
                SecretString::from("")
            }
        };
        errors.into_result(Self { login, password })
    }
}

fn invalid_credentials() -> ApiError {
    ApiError::Unauthorized {
        detail: "invalid credentials",
        invalid_token: false,
    }
}

pub async fn handle(state: &AppState, keys: &TokenKeys, request: Request) -> ApiResult {
    let body: LoginRequest = http::parse_json(&request, state.http.max_body_bytes)?;
    let credentials = Credentials::parse(body)?;

    let Some(account) = throttle::find_account(&state.db, &credentials.login).await? else {
        // Same work as a wrong password, so timing does not tell whether the account exists.
        verify_password(credentials.password, dummy_hash(state.bcrypt_cost)).await?;
        audit::record(
            &state.db,
            AuditEvent::new("auth.login_failure", "user", None)
                .with("reason", "unknown_account")
                .from_request(&request),
        )
        .await?;
        tracing::info!(outcome = "failure", reason = "unknown_account", "login");
        return Err(invalid_credentials());
    };

    if let Some(retry_after_secs) = account.retry_after_secs() {
        audit::record(
            &state.db,
            AuditEvent::new("auth.login_throttled", "user", Some(account.id))
                .with("retry_after_secs", retry_after_secs)
                .from_request(&request),
        )
        .await?;
        tracing::info!(outcome = "throttled", user_id = %account.id, retry_after_secs, "login");
        return Err(ApiError::TooManyRequests { retry_after_secs });
    }

    if !verify_password(credentials.password, account.password_hash.clone()).await? {
        let mut tx = state.db.begin().await?;
        let failures = throttle::record_failure(&mut *tx, account.id).await?;
        audit::record(
            &mut *tx,
            AuditEvent::new("auth.login_failure", "user", Some(account.id))
                .with("reason", "wrong_password")
                .with("consecutive_failures", failures)
                .from_request(&request),
        )
        .await?;
        tx.commit().await?;
        tracing::info!(outcome = "failure", reason = "wrong_password", user_id = %account.id, failures, "login");
        return Err(invalid_credentials());
    }

    let mut tx = state.db.begin().await?;
    throttle::record_success(&mut *tx, account.id).await?;
    audit::record(
        &mut *tx,
        AuditEvent::new("auth.login_success", "user", Some(account.id))
            .by(account.id)
            .from_request(&request),
    )
    .await?;
    tx.commit().await?;

    let issued = keys.issue(account.id)?;
    tracing::info!(outcome = "success", user_id = %account.id, "login");
    let mut response = http::json(
        StatusCode::OK,
        &json!({
            "access_token": issued.token.expose_secret(),
            "token_type": "Bearer",
            "expires_in": issued.expires_in,
        }),
    )?;
    // A token response must not be cached (RFC 6749, section 5.1).
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
}

#[cfg(test)]
mod tests;
