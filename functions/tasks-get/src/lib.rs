//! GET /api/tasks/{id}: one of the caller's tasks with its steps, and its version as `ETag`.
//! Another user's task is a 404, exactly like a task that does not exist.

use lambda_http::Request;
use lambda_http::http::StatusCode;
use shared::auth::{TokenKeys, authenticate_token, ensure_user_exists};
use shared::http::{self, ApiResult};
use shared::tasks;
use shared::{ApiError, AppState};

pub async fn handle(state: &AppState, keys: &TokenKeys, request: Request) -> ApiResult {
    let user_id = authenticate_token(&request, keys)?;
    let id = tasks::task_id(&request)?;

    // One round trip: the task with its steps. Finding it proves its owner still exists.
    let Some(found) = tasks::find_owned(&state.db, user_id, id).await? else {
        ensure_user_exists(&state.db, user_id).await?;
        return Err(ApiError::NotFound);
    };
    let version = found.task.version;
    tasks::with_etag(http::json(StatusCode::OK, &found)?, version)
}

#[cfg(test)]
mod tests;
