//! PATCH /api/agents/{id}: any of name, description (`null` clears it), config, is_active. With
//! `If-Match` only that version is changed (412 otherwise). One statement, evaluated against the
//! agent's latest version, with its audit row.

use lambda_http::Request;
use lambda_http::http::StatusCode;
use shared::agents::{AgentChanges, store};
use shared::audit;
use shared::auth::authenticate_token;
use shared::http::etag::{self, IfMatch};
use shared::http::{self, ApiResult};

pub use shared::state::Api as State;

pub async fn handle(state: &State, request: Request) -> ApiResult {
    let caller = authenticate_token(&request, &state.keys).await?;
    let id = http::path_id(&request, "id")?;
    let if_match = IfMatch::from_request(&request)?;
    let changes = AgentChanges::parse(http::parse_json(&request, state.http.max_body_bytes)?)?;

    let metadata = audit::request_metadata(&request);
    let versions = if_match.versions();
    let written =
        store::update_if_version(&state.db, caller, id, versions, &changes, &metadata).await?;
    state
        .written_response(caller, written, |agent| {
            tracing::info!(agent_id = %id, version = agent.version, "agent updated");
            etag::with_etag(http::json(StatusCode::OK, &agent)?, agent.version)
        })
        .await
}

#[cfg(test)]
mod tests;
