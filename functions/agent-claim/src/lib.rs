//! POST /api/agent/claim: an agent (by its key) claims, in one statement, its owner's most
//! urgent task that it may run: assigned to it or to no agent, pending and past any retry
//! backoff, or in progress with an expired lease and attempts left; priority first, then age.
//! The task starts, the agent holds its lease for `lease_seconds` (1-900, default 60), and the
//! answer carries a fencing token every later write of this attempt must send. An empty queue
//! is a 204 with `Retry-After`.

use lambda_http::Request;
use lambda_http::http::StatusCode;
use shared::audit;
use shared::auth::{agent_key_refused, authenticate_agent};
use shared::http::{self, ApiResult, etag};
use shared::work::{Claim, WorkRequest, store};

pub use shared::state::Work as State;

pub async fn handle(state: &State, request: Request) -> ApiResult {
    let agent = authenticate_agent(&request)?;
    let claim = Claim::parse(http::parse_optional_json::<WorkRequest>(
        &request,
        state.http.max_body_bytes,
    )?)?;

    let metadata = audit::request_metadata(&request);
    match store::claim(&state.db, agent, claim, &metadata).await? {
        None => Err(agent_key_refused()),
        Some(None) => http::no_content_retry_after(state.work.idle_retry_after.as_secs()),
        Some(Some(claimed)) => {
            let task = &claimed.task.task;
            tracing::info!(task_id = %task.id, attempt = task.attempt, fencing_token = claimed.fencing_token, "task claimed");
            let version = task.version;
            etag::with_etag(http::json(StatusCode::OK, &claimed)?, version)
        }
    }
}

#[cfg(test)]
mod tests;
