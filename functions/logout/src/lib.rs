//! POST /api/auth/logout?scope=local|global|others: ends the caller's session (`local`, the
//! default), every session of the account (`global`), or every other one (`others`), as
//! Supabase does. The access tokens of an ended session are refused at once.

use lambda_http::Request;
use shared::ApiError;
use shared::audit;
use shared::auth::{authenticate_token, session_ended};
use shared::http::{self, ApiResult, QueryParameters};
use shared::sessions::{self, LogoutScope};

pub use shared::state::Api as State;

pub async fn handle(state: &State, request: Request) -> ApiResult {
    let caller = authenticate_token(&request, &state.keys).await?;
    let parameters = QueryParameters::parse(&request, &["scope"])?;
    let scope = match parameters.single("scope")? {
        None => LogoutScope::Local,
        Some(raw) => LogoutScope::parse(raw).ok_or_else(|| {
            ApiError::BadRequest("scope must be one of local, global, others".into())
        })?,
    };

    let metadata = audit::request_metadata(&request);
    if !sessions::logout(&state.db, caller, scope, &metadata).await? {
        return Err(session_ended(caller));
    }
    tracing::info!(user_id = %caller.user_id, session_id = %caller.session_id, ?scope, "logout");
    http::no_content()
}

#[cfg(test)]
mod tests;
