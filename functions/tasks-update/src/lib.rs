//! PATCH /api/tasks/{id}: a partial update of title, description, status, priority, agent_id
//! and result (`null` clears the optional ones). Status changes follow the transition table in
//! the database, which also sets `started_at`/`completed_at`. With `If-Match: "<version>"` the
//! change applies only to that version (412 otherwise). One statement locks the task, applies
//! the change to its latest version and writes the audit row, so concurrent updates never lose
//! a change.

use lambda_http::Request;
use lambda_http::http::StatusCode;
use shared::audit;
use shared::auth::authenticate_token;
use shared::http::etag::{self, IfMatch};
use shared::http::{self, ApiResult};
use shared::tasks::TaskChanges;
use shared::tasks::store;

pub use shared::state::Api as State;

pub async fn handle(state: &State, request: Request) -> ApiResult {
    let caller = authenticate_token(&request, &state.keys).await?;
    let id = http::path_id(&request, "id")?;
    let if_match = IfMatch::from_request(&request)?;
    let changes = TaskChanges::parse(http::parse_json(&request, state.http.max_body_bytes)?)?;

    let metadata = audit::request_metadata(&request);
    let versions = if_match.versions();
    let written =
        store::update_if_version(&state.db, caller, id, versions, &changes, &metadata).await?;
    state
        .written_response(caller, written, |task| {
            let version = task.task.version;
            tracing::info!(task_id = %id, user_id = %caller.user_id, version, "task updated");
            etag::with_etag(http::json(StatusCode::OK, &task)?, version)
        })
        .await
}

#[cfg(test)]
mod tests;
