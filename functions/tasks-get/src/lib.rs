//! GET /api/tasks/{id}: one of the caller's tasks with its steps, and its version as `ETag`.
//! Another user's task is a 404, exactly like a task that does not exist.

use lambda_http::Request;
use lambda_http::http::StatusCode;
use shared::auth::{TokenKeys, authenticate};
use shared::http::{self, ApiResult};
use shared::tasks::{self, TaskWithSteps};
use shared::{ApiError, AppState};

pub async fn handle(state: &AppState, keys: &TokenKeys, request: Request) -> ApiResult {
    let user = authenticate(&request, keys, &state.db).await?;
    let id = tasks::task_id(&request)?;

    let task = tasks::find_owned(&state.db, user.id, id)
        .await?
        .ok_or(ApiError::NotFound)?;
    let steps = tasks::steps_of(&state.db, task.id).await?;

    let version = task.version;
    tasks::with_etag(
        http::json(StatusCode::OK, &TaskWithSteps { task, steps })?,
        version,
    )
}

#[cfg(test)]
mod tests;
