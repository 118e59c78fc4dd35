//! POST /api/agent/tasks/{id}/fail: the agent holding the task's lease reports a failed attempt
//! with an `error` document (a JSON object) and its claim's `fencing_token`. With attempts left
//! the task waits for a retry (pending, claimable again after an exponential backoff shown as
//! `not_before`); after its last attempt it is failed. A lease that ended, or that a later claim
//! holds, is a 409 and nothing changes.

use lambda_http::Request;
use lambda_http::http::StatusCode;
use shared::audit;
use shared::auth::authenticate_agent;
use shared::http::{self, ApiResult, etag};
use shared::work::{Failure, store};

pub use shared::state::Work as State;

pub async fn handle(state: &State, request: Request) -> ApiResult {
    let agent = authenticate_agent(&request)?;
    let task_id = http::path_id(&request, "id")?;
    let failure = Failure::parse(http::parse_json(&request, state.http.max_body_bytes)?)?;

    let metadata = audit::request_metadata(&request);
    let task = store::fail(&state.db, agent, task_id, &failure, &state.work, &metadata)
        .await?
        .into_result()?;
    let task_status = task.task.status.as_str();
    tracing::info!(%task_id, attempt = task.task.attempt, task_status, "task attempt failed");
    let version = task.task.version;
    etag::with_etag(http::json(StatusCode::OK, &task)?, version)
}

#[cfg(test)]
mod tests;
