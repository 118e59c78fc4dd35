//! POST /api/tasks: a task with its steps (positions in the order given), written with its
//! audit row in one statement, so in one round trip and atomically.

use lambda_http::Request;
use shared::audit;
use shared::auth::{authenticate_token, session_ended};
use shared::http::{self, ApiResult, etag};
use shared::tasks::{NewTask, store};

pub use shared::state::Api as State;

pub async fn handle(state: &State, request: Request) -> ApiResult {
    let caller = authenticate_token(&request, &state.keys).await?;
    let new_task = NewTask::parse(http::parse_json(&request, state.http.max_body_bytes)?)?;

    let metadata = audit::request_metadata(&request);
    let created = store::create(&state.db, caller, &new_task, &metadata)
        .await?
        .ok_or_else(|| session_ended(caller))?;

    let task = &created.task;
    tracing::info!(task_id = %task.id, user_id = %caller.user_id, steps = created.steps.len(), "task created");
    let location = format!("/api/tasks/{}", task.id);
    etag::with_etag(http::created(&location, &created)?, task.version)
}

#[cfg(test)]
mod tests;
