//! POST /api/auth/refresh: `{refresh_token}` in; the session's next access token and refresh
//! token out. A refresh token works once: presenting a spent one revokes its whole session,
//! access tokens included (reuse detection). An unknown, expired, idle or revoked one is a 401.

use lambda_http::Request;
use serde::Deserialize;
use shared::audit;
use shared::auth::session::token_response;
use shared::http::{self, ApiResult};
use shared::metrics;
use shared::sessions::{self, RefreshToken, Refreshed};
use shared::{ApiError, FieldErrors};

pub use shared::state::Refresh as State;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RefreshRequest {
    refresh_token: Option<String>,
}

fn refused(detail: &'static str) -> ApiError {
    ApiError::Unauthorized {
        detail,
        invalid_token: true,
    }
}

pub async fn handle(state: &State, request: Request) -> ApiResult {
    let body: RefreshRequest = http::parse_json(&request, state.http.max_body_bytes)?;
    let presented = body.refresh_token.ok_or_else(|| {
        ApiError::Unprocessable(FieldErrors::single("refresh_token", "is required"))
    })?;
    // A malformed token cannot be one we issued: no need to ask the database.
    let Some(presented) = sessions::parse_refresh_token(&presented) else {
        metrics::refresh(metrics::Refresh::Refused);
        return Err(refused("the refresh token is invalid, expired or revoked"));
    };

    let successor = RefreshToken::generate()?;
    let metadata = audit::request_metadata(&request);
    match sessions::refresh(
        &state.db,
        presented,
        &successor.hash,
        &state.sessions,
        &metadata,
    )
    .await?
    {
        Refreshed::Rotated(opened) => {
            tracing::info!(user_id = %opened.user_id, session_id = %opened.session_id, "refresh");
            metrics::refresh(metrics::Refresh::Success);
            token_response(&state.keys, &opened, &successor)
        }
        Refreshed::Reused => {
            tracing::warn!("refresh: a spent refresh token was presented; its session is revoked");
            metrics::refresh(metrics::Refresh::Reuse);
            Err(refused(
                "the refresh token was already used; the session is revoked",
            ))
        }
        Refreshed::Refused => {
            metrics::refresh(metrics::Refresh::Refused);
            Err(refused("the refresh token is invalid, expired or revoked"))
        }
    }
}

#[cfg(test)]
mod tests;
