//! POST /api/auth/login: a username or email and a password in, an access token out.
//!
//! Unknown user and wrong password give the same 401 and cost the same bcrypt work (an unknown
//! user is checked against a dummy hash). The throttle (`shared::auth::throttle`) refuses an
//! account's attempts with 429 for a while after repeated failures.

use lambda_http::Request;
use lambda_http::http::StatusCode;
use secrecy::ExposeSecret;
use serde_json::json;
use shared::ApiError;
use shared::audit::{self, AuditEvent};
use shared::auth::password::{dummy_hash, verify_password};
use shared::auth::throttle;
use shared::http::{self, ApiResult};
use shared::users::Credentials;

pub use shared::state::Credentials as State;

fn invalid_credentials() -> ApiError {
    ApiError::Unauthorized {
        detail: "invalid credentials",
        invalid_token: false,
    }
}

pub async fn handle(state: &State, request: Request) -> ApiResult {
    let credentials = Credentials::parse(http::parse_json(&request, state.http.max_body_bytes)?)?;
    let metadata = audit::request_metadata(&request);

    let Some(account) = throttle::find_account(&state.db, &credentials.login).await? else {
        // Same work as a wrong password, so timing does not tell whether the account exists.
        let dummy = dummy_hash(state.passwords.bcrypt_cost);
        verify_password(credentials.password, dummy).await?;
        let event = AuditEvent::new("auth.login_failure", "user", None)
            .with("reason", "unknown_account")
            .from_request(&request);
        audit::store::record(&state.db, event).await?;
        tracing::info!(outcome = "failure", reason = "unknown_account", "login");
        return Err(invalid_credentials());
    };

    if let Some(retry_after_secs) = account.retry_after_secs() {
        let event = AuditEvent::new("auth.login_throttled", "user", Some(account.id))
            .with("retry_after_secs", retry_after_secs)
            .from_request(&request);
        audit::store::record(&state.db, event).await?;
        tracing::info!(outcome = "throttled", user_id = %account.id, retry_after_secs, "login");
        return Err(ApiError::TooManyRequests { retry_after_secs });
    }

    if !verify_password(credentials.password, account.password_hash.clone()).await? {
        let failures = throttle::record_failure(&state.db, account.id, &metadata).await?;
        tracing::info!(outcome = "failure", reason = "wrong_password", user_id = %account.id, failures, "login");
        return Err(invalid_credentials());
    }
    throttle::record_success(&state.db, account.id, &metadata).await?;

    let issued = state.keys.issue(account.id)?;
    tracing::info!(outcome = "success", user_id = %account.id, "login");
    // `http::json` marks it `Cache-Control: no-store`, as RFC 6749 section 5.1 asks of tokens.
    http::json(
        StatusCode::OK,
        &json!({
            "access_token": issued.token.expose_secret(),
            "token_type": "Bearer",
            "expires_in": issued.expires_in,
        }),
    )
}

#[cfg(test)]
mod tests;
