//! POST /api/agents: a new agent of the caller, with its audit row, in one statement. A name
//! the caller already uses (ignoring case) is a 409.

use lambda_http::Request;
use shared::agents::{NewAgent, store};
use shared::audit;
use shared::auth::{authenticate_token, session_ended};
use shared::http::{self, ApiResult, etag};

pub use shared::state::Api as State;

pub async fn handle(state: &State, request: Request) -> ApiResult {
    let caller = authenticate_token(&request, &state.keys).await?;
    let agent = NewAgent::parse(http::parse_json(&request, state.http.max_body_bytes)?)?;

    let metadata = audit::request_metadata(&request);
    let created = store::create(&state.db, caller, &agent, &metadata)
        .await?
        .ok_or_else(|| session_ended(caller))?;

    tracing::info!(agent_id = %created.id, user_id = %caller.user_id, "agent created");
    let location = format!("/api/agents/{}", created.id);
    etag::with_etag(http::created(&location, &created)?, created.version)
}

#[cfg(test)]
mod tests;
