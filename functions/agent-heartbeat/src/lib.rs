//! POST /api/agent/tasks/{id}/heartbeat: the agent holding the task's lease extends it by
//! `lease_seconds` (1-900, default 60) from now, sending its claim's `fencing_token`. A lease
//! that ended, or that a later claim holds, is a 409 and nothing changes.

use lambda_http::Request;
use lambda_http::http::StatusCode;
use shared::auth::authenticate_agent;
use shared::http::{self, ApiResult};
use shared::work::{Heartbeat, store};

pub use shared::state::Work as State;

pub async fn handle(state: &State, request: Request) -> ApiResult {
    let agent = authenticate_agent(&request)?;
    let task_id = http::path_id(&request, "id")?;
    let heartbeat = Heartbeat::parse(http::parse_json(&request, state.http.max_body_bytes)?)?;

    let lease = store::heartbeat(&state.db, agent, task_id, heartbeat)
        .await?
        .into_result()?;
    tracing::debug!(%task_id, lease_expires_at = %lease.lease_expires_at, "lease extended");
    http::json(StatusCode::OK, &lease)
}

#[cfg(test)]
mod tests;
