//! DELETE /api/tasks/{id}: deletes one of the caller's tasks (its steps go with it) and writes
//! the audit row, in one statement, so both happen or neither. Another user's task is a 404.

use lambda_http::http::StatusCode;
use lambda_http::{Body, Request, Response};
use shared::audit;
use shared::auth::{TokenKeys, authenticate_token, ensure_user_exists};
use shared::http::ApiResult;
use shared::tasks;
use shared::{ApiError, AppState};

pub async fn handle(state: &AppState, keys: &TokenKeys, request: Request) -> ApiResult {
    let user_id = authenticate_token(&request, keys)?;
    let id = tasks::task_id(&request)?;

    let deleted: i64 = sqlx::query_scalar(
        "with deleted as ( \
             delete from tasks where id = $1 and owner_id = $2 returning id, title, version), \
         audit as ( \
             insert into audit_logs (actor_id, action, entity_type, entity_id, metadata) \
             select $2, 'task.delete', 'task', id, \
                    $3::jsonb || jsonb_build_object('title', title, 'version', version) \
             from deleted) \
         select count(*) from deleted",
    )
    .bind(id)
    .bind(user_id)
    .bind(audit::request_metadata(&request))
    .fetch_one(&state.db)
    .await?;
    if deleted == 0 {
        ensure_user_exists(&state.db, user_id).await?;
        return Err(ApiError::NotFound);
    }

    tracing::info!(task_id = %id, user_id = %user_id, "task deleted");
    let mut response = Response::new(Body::Empty);
    *response.status_mut() = StatusCode::NO_CONTENT;
    Ok(response)
}

#[cfg(test)]
mod tests;
