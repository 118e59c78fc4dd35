//! PATCH /api/tasks/{id}/steps/{step_id}: a step's `status` (following the transition table)
//! and `output` (a JSON object, `null` clears it). The step drives its task in the same
//! statement: the first step that starts moves a pending task to in_progress, the last one that
//! completes completes it, a failed one fails it. The task's version increments, so `If-Match`
//! with the task's `ETag` guards its steps too. Answers the task with its steps.

use lambda_http::Request;
use lambda_http::http::StatusCode;
use shared::audit;
use shared::auth::authenticate_token;
use shared::http::etag::{self, IfMatch};
use shared::http::{self, ApiResult};
use shared::tasks::{StepChanges, store};

pub use shared::state::Api as State;

pub async fn handle(state: &State, request: Request) -> ApiResult {
    let caller = authenticate_token(&request, &state.keys).await?;
    let task_id = http::path_id(&request, "id")?;
    let step_id = http::path_id(&request, "step_id")?;
    let if_match = IfMatch::from_request(&request)?;
    let changes = StepChanges::parse(http::parse_json(&request, state.http.max_body_bytes)?)?;

    let metadata = audit::request_metadata(&request);
    let versions = if_match.versions();
    let written = store::update_step(
        &state.db, caller, task_id, step_id, versions, &changes, &metadata,
    )
    .await?;
    state
        .written_response(caller, written, |task| {
            let version = task.task.version;
            tracing::info!(%task_id, %step_id, version, "step updated");
            etag::with_etag(http::json(StatusCode::OK, &task)?, version)
        })
        .await
}

#[cfg(test)]
mod tests;
