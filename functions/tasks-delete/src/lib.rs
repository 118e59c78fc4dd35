//! DELETE /api/tasks/{id}: deletes one of the caller's tasks (its steps go with it) and writes
//! the audit row, in one statement. With `If-Match` only that version is deleted (412
//! otherwise, and nothing is deleted). Another user's task is a 404.

use lambda_http::Request;
use shared::ApiError;
use shared::audit;
use shared::auth::{authenticate_token, not_found};
use shared::http::etag::IfMatch;
use shared::http::{self, ApiResult};
use shared::tasks::store::{self, Written};

pub use shared::state::Api as State;

pub async fn handle(state: &State, request: Request) -> ApiResult {
    let caller = authenticate_token(&request, &state.keys)?;
    let id = http::path_id(&request, "id")?;
    let if_match = IfMatch::from_request(&request)?;

    let metadata = audit::request_metadata(&request);
    match store::delete_if_version(&state.db, caller, id, if_match.versions(), &metadata).await? {
        Written::Done(()) => {
            tracing::info!(task_id = %id, user_id = %caller.user_id, "task deleted");
            http::no_content()
        }
        Written::Stale => Err(ApiError::PreconditionFailed),
        Written::Missing => Err(not_found(&state.db, caller).await),
    }
}

#[cfg(test)]
mod tests;
