//! DELETE /api/tasks/{id}: deletes one of the caller's tasks (its steps go with it) and records
//! it in the audit log, in one transaction. Another user's task is a 404.

use lambda_http::http::StatusCode;
use lambda_http::{Body, Request, Response};
use shared::audit::{self, AuditEvent};
use shared::auth::{TokenKeys, authenticate};
use shared::http::ApiResult;
use shared::tasks;
use shared::{ApiError, AppState};

pub async fn handle(state: &AppState, keys: &TokenKeys, request: Request) -> ApiResult {
    let user = authenticate(&request, keys, &state.db).await?;
    let id = tasks::task_id(&request)?;

    let mut tx = state.db.begin().await?;
    let deleted: Option<(String, i64)> = sqlx::query_as(
        "delete from tasks where id = $1 and owner_id = $2 returning title, version",
    )
    .bind(id)
    .bind(user.id)
    .fetch_optional(&mut *tx)
    .await?;
    let Some((title, version)) = deleted else {
        return Err(ApiError::NotFound);
    };
    audit::record(
        &mut *tx,
        AuditEvent::new("task.delete", "task", Some(id))
            .by(user.id)
            .with("title", title)
            .with("version", version)
            .from_request(&request),
    )
    .await?;
    tx.commit().await?;

    tracing::info!(task_id = %id, user_id = %user.id, "task deleted");
    let mut response = Response::new(Body::Empty);
    *response.status_mut() = StatusCode::NO_CONTENT;
    Ok(response)
}

#[cfg(test)]
mod tests;
