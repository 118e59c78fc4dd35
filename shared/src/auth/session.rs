//! The body a login or a refresh answers with.

use chrono::Utc;
use lambda_http::http::StatusCode;
use secrecy::ExposeSecret;
use serde_json::json;

use crate::auth::{Caller, TokenKeys};
use crate::http::{self, ApiResult};
use crate::sessions::{Opened, RefreshToken, expose};

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
