//! PATCH /api/tasks/{id}/steps/{step_id}: a step's `status` (following the transition table)
//! and `output` (a JSON object, `null` clears it), by the task's owner or by an agent holding
//! the task's lease (its key, and the claim's `fencing_token` in the body; a lost lease is a
//! 409). The step moves its task in the same statement, as the database's lifecycle says. The
//! task's version increments, so `If-Match` with the task's `ETag` guards its steps too.
//! Answers the task with its steps.

use lambda_http::Request;
use lambda_http::http::StatusCode;
use shared::ApiError;
use shared::audit;
use shared::auth::{Actor, authenticate_actor};
use shared::http::etag::{self, IfMatch};
use shared::http::{self, ApiResult};
use shared::tasks::store::{self, StepActor, Written};
use shared::tasks::{StepChanges, types::UpdateStepRequest};

pub use shared::state::Api as State;

pub async fn handle(state: &State, request: Request) -> ApiResult {
    let actor = authenticate_actor(&request, &state.keys).await?;
    let task_id = http::path_id(&request, "id")?;
    let step_id = http::path_id(&request, "step_id")?;
    let if_match = IfMatch::from_request(&request)?;
    let body: UpdateStepRequest = http::parse_json(&request, state.http.max_body_bytes)?;
    let step_actor = match actor {
        Actor::Person(caller) => {
            body.without_fencing_token()?;
            StepActor::Owner(caller)
        }
        Actor::Agent(agent) => StepActor::Agent {
            agent,
            fencing_token: body.fencing_token()?,
        },
    };
    let changes = StepChanges::parse(body)?;

    let metadata = audit::request_metadata(&request);
    let versions = if_match.versions();
    let written = store::update_step(
        &state.db, step_actor, task_id, step_id, versions, &changes, &metadata,
    )
    .await?;
    let done = |task: shared::tasks::TaskWithSteps| {
        let version = task.task.version;
        tracing::info!(%task_id, %step_id, version, "step updated");
        etag::with_etag(http::json(StatusCode::OK, &task)?, version)
    };
    match actor {
        Actor::Person(caller) => state.written_response(caller, written, done).await,
        Actor::Agent(_) => match written {
            Written::Done(task) => done(task),
            Written::Stale => Err(ApiError::PreconditionFailed),
            Written::Missing => Err(ApiError::NotFound),
        },
    }
}

#[cfg(test)]
mod tests;
