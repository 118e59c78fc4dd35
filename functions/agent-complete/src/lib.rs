//! POST /api/agent/tasks/{id}/complete: the agent holding the task's lease completes it, with
//! an optional `result` (a JSON object) and its claim's `fencing_token`. A lease that ended, or
//! that a later claim holds, is a 409 and nothing changes.

use lambda_http::Request;
use lambda_http::http::StatusCode;
use shared::audit;
use shared::auth::authenticate_agent;
use shared::http::{self, ApiResult, etag};
use shared::work::{Completion, store};

pub use shared::state::Work as State;

pub async fn handle(state: &State, request: Request) -> ApiResult {
    let agent = authenticate_agent(&request)?;
    let task_id = http::path_id(&request, "id")?;
    let completion = Completion::parse(http::parse_json(&request, state.http.max_body_bytes)?)?;

    let metadata = audit::request_metadata(&request);
    let task = store::complete(&state.db, agent, task_id, &completion, &metadata)
        .await?
        .into_result()?;
    tracing::info!(%task_id, attempt = task.task.attempt, "task completed");
    let version = task.task.version;
    etag::with_etag(http::json(StatusCode::OK, &task)?, version)
}

#[cfg(test)]
mod tests;
