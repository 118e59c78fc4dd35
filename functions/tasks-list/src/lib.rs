//! GET /api/tasks: the caller's tasks, newest first, `limit` (1-100, default 20) at a time,
//! optionally only those of one `status`. Pages are keyset-paginated on (created_at, id) with
//! an opaque `cursor`, so tasks created while a client pages never shift the pages it has not
//! read yet: each older task appears exactly once.

use lambda_http::Request;
use shared::ApiError;
use shared::auth::authenticate_token;
use shared::http::{ApiResult, QueryParameters};
use shared::pagination::{PageRequest, Position, Scope};
use shared::tasks::{Task, TaskStatus, store};

pub use shared::state::Api as State;

pub async fn handle(state: &State, request: Request) -> ApiResult {
    let caller = authenticate_token(&request, &state.keys).await?;
    let parameters = QueryParameters::parse(&request, &["limit", "status", "cursor"])?;
    let status = match parameters.single("status")? {
        None => None,
        Some(raw) => Some(TaskStatus::parse(raw).ok_or_else(|| {
            ApiError::BadRequest(format!("status must be one of {}", TaskStatus::names()))
        })?),
    };
    let scope = Scope {
        listing: "tasks",
        owner_id: caller.user_id,
        filter: status.map(TaskStatus::as_str),
    };
    let page = PageRequest::parse(&parameters, &state.cursors, &scope)?;

    let rows = store::list_page(&state.db, caller, status, page.after, page.fetch()).await?;
    let position = |task: &Task| Position {
        created_at: task.created_at,
        id: task.id,
    };
    state
        .page_response(caller, &page, rows, &scope, position)
        .await
}

#[cfg(test)]
mod tests;
