//! DELETE /api/tasks/{id}: deletes one of the caller's tasks (its steps go with it) and writes
//! the audit row, in one statement. With `If-Match` only that version is deleted (412
//! otherwise, and nothing is deleted). Another user's task is a 404.

use lambda_http::Request;
use shared::http::ApiResult;
use shared::tasks::store;

pub use shared::state::Api as State;

pub async fn handle(state: &State, request: Request) -> ApiResult {
    state
        .delete_response(
            &request,
            "task",
            |caller, id, versions, metadata| async move {
                store::delete_if_version(&state.db, caller, id, versions.as_deref(), &metadata)
                    .await
            },
        )
        .await
}

#[cfg(test)]
mod tests;
