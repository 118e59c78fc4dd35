//! DELETE /api/tasks/{id}: deletes one of the caller's tasks (its steps go with it) and writes
//! the audit row, in one statement. With `If-Match` only that version is deleted (412
//! otherwise, and nothing is deleted). Another user's task is a 404.

use lambda_http::Request;
use shared::audit;
use shared::auth::authenticate_token;
use shared::http::etag::IfMatch;
use shared::http::{self, ApiResult};
use shared::tasks::store;

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
            tracing::info!(task_id = %id, user_id = %caller.user_id, "task deleted");
            http::no_content()
        })
        .await
}

#[cfg(test)]
mod tests;
