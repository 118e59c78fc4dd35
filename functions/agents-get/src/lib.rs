//! GET /api/agents/{id}: one of the caller's agents, and its version as `ETag`. Another user's
//! agent is a 404, exactly like a missing one.

use lambda_http::Request;
use lambda_http::http::StatusCode;
use shared::agents::store;
use shared::auth::{authenticate_token, not_found};
use shared::http::{self, ApiResult, etag};

pub use shared::state::Api as State;

pub async fn handle(state: &State, request: Request) -> ApiResult {
    let caller = authenticate_token(&request, &state.keys).await?;
    let id = http::path_id(&request, "id")?;

    let Some(agent) = store::find_owned(&state.db, caller, id).await? else {
        return Err(not_found(&state.db, caller).await);
    };
    etag::with_etag(http::json(StatusCode::OK, &agent)?, agent.version)
}

#[cfg(test)]
mod tests;
