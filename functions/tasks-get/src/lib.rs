//! GET /api/tasks/{id}: one of the caller's tasks with its steps, and its version as `ETag`.
//! Another user's task is a 404, exactly like a task that does not exist.

use lambda_http::Request;
use lambda_http::http::StatusCode;
use shared::auth::{authenticate_token, not_found};
use shared::http::{self, ApiResult, etag};
use shared::tasks::store;

pub use shared::state::Api as State;

pub async fn handle(state: &State, request: Request) -> ApiResult {
    let caller = authenticate_token(&request, &state.keys).await?;
    let id = http::path_id(&request, "id")?;

    // One round trip: the task with its steps. Finding it proves its owner still exists.
    let Some(task) = store::find_owned(&state.db, caller, id).await? else {
        return Err(not_found(&state.db, caller).await);
    };
    let version = task.task.version;
    etag::with_etag(http::json(StatusCode::OK, &task)?, version)
}

#[cfg(test)]
mod tests;
