//! GET /api/tasks: the caller's tasks, newest first, `limit` (1-100, default 20) at a time,
//! optionally only those of one `status`. Pages are keyset-paginated on (created_at, id) with
//! an opaque `cursor`, so tasks created while a client pages never shift the pages it has not
//! read yet: each older task appears exactly once.

use lambda_http::Request;
use lambda_http::http::StatusCode;
use shared::ApiError;
use shared::auth::{authenticate_token, ensure_session_live};
use shared::http::{self, ApiResult, QueryParameters};
use shared::pagination::{PageRequest, Position, Scope};
use shared::tasks::{TaskStatus, store};

pub use shared::state::Api as State;

pub async fn handle(state: &State, request: Request) -> ApiResult {
    let caller = authenticate_token(&request, &state.keys)?;
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
    // A task found proves the session stands; only an empty page needs to ask.
    if rows.is_empty() {
        ensure_session_live(&state.db, caller).await?;
    }
    let page = page.page(
        rows,
        &state.cursors,
        &scope,
        state.http.response_budget,
        |task| Position {
            created_at: task.created_at,
            id: task.id,
        },
    )?;
    http::json(StatusCode::OK, &page)
}

#[cfg(test)]
mod tests;
