//! DELETE /api/agents/{id}: deletes one of the caller's agents with its audit row. Its tasks keep
//! their history, their `agent_id` set to null; while one of them is in progress the database
//! refuses, and the answer is a 409 that says so. `If-Match` guards the version.

use lambda_http::Request;
use shared::agents::store;
use shared::audit;
use shared::auth::authenticate_token;
use shared::http::etag::IfMatch;
use shared::http::{self, ApiResult};

pub use shared::state::Api as State;

pub async fn handle(state: &State, request: Request) -> ApiResult {
    let caller = authenticate_token(&request, &state.keys)?;
    let id = http::path_id(&request, "id")?;
    let if_match = IfMatch::from_request(&request)?;

    let metadata = audit::request_metadata(&request);
    let written =
        store::delete_if_version(&state.db, caller, id, if_match.versions(), &metadata).await?;
    state
        .written_response(caller, written, |()| {
            tracing::info!(agent_id = %id, user_id = %caller.user_id, "agent deleted");
            http::no_content()
        })
        .await
}

#[cfg(test)]
mod tests;
