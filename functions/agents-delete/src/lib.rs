//! DELETE /api/agents/{id}: deletes one of the caller's agents with its audit row. Its tasks keep
//! their history, their `agent_id` set to null; while one of them is in progress the database
//! refuses, and the answer is a 409 that says so. `If-Match` guards the version.

use lambda_http::Request;
use shared::agents::store;
use shared::http::ApiResult;

pub use shared::state::Api as State;

pub async fn handle(state: &State, request: Request) -> ApiResult {
    state
        .delete_response(
            &request,
            "agent",
            |caller, id, versions, metadata| async move {
                store::delete_if_version(&state.db, caller, id, versions.as_deref(), &metadata)
                    .await
            },
        )
        .await
}

#[cfg(test)]
mod tests;
