//! PATCH /api/tasks/{id}: a partial update of title, description, status, priority, agent_id
//! and result (`null` clears the optional ones). Status changes follow
//! `TaskStatus::can_become` and set `started_at`/`completed_at`. With `If-Match: "<version>"`
//! the change applies only to that version (412 otherwise). The write only succeeds if the
//! version is still the one that was checked, so concurrent updates of one version give one
//! success and 412s; the update and its audit row are one statement.

use lambda_http::Request;
use lambda_http::http::StatusCode;
use serde::Deserialize;
use serde_json::{Map, Value, json};
use shared::audit;
use shared::auth::{TokenKeys, authenticate_token, ensure_user_exists};
use shared::http::{self, ApiResult};
use shared::models::{Task, TaskStatus};
use shared::tasks::{self, IfMatch, TaskWithSteps, present, rules};
use shared::{ApiError, AppState, FieldErrors};
use uuid::Uuid;

#[derive(Deserialize)]
struct UpdateTaskRequest {
    #[serde(default, deserialize_with = "present")]
    title: Option<Value>,
    #[serde(default, deserialize_with = "present")]
    description: Option<Value>,
    #[serde(default, deserialize_with = "present")]
    status: Option<Value>,
    #[serde(default, deserialize_with = "present")]
    priority: Option<Value>,
    #[serde(default, deserialize_with = "present")]
    agent_id: Option<Value>,
    #[serde(default, deserialize_with = "present")]
    result: Option<Value>,
    /// Every other field, reported as one the client may not change.
    #[serde(flatten)]
    other: Map<String, Value>,
}

/// The requested changes; `None` leaves a field as it is, `Some(None)` clears it.
#[derive(Default)]
struct Changes {
    title: Option<String>,
    description: Option<Option<String>>,
    status: Option<TaskStatus>,
    priority: Option<i32>,
    agent_id: Option<Option<Uuid>>,
    result: Option<Option<Value>>,
}

impl Changes {
    fn parse(body: UpdateTaskRequest) -> Result<Self, ApiError> {
        let mut errors = FieldErrors::new();
        let cannot_clear = || Err::<(), _>("cannot be null".to_owned());
        let mut changes = Self::default();

        match &body.title {
            None => {}
            Some(Value::Null) => _ = errors.check("title", cannot_clear()),
            Some(value) => {
                changes.title = errors.check("title", rules::string(value).and_then(rules::title))
            }
        }
        match &body.description {
            None => {}
            Some(Value::Null) => changes.description = Some(None),
            Some(value) => {
                changes.description = errors
                    .check(
                        "description",
                        rules::string(value).and_then(rules::description),
                    )
                    .map(Some)
            }
        }
        match &body.status {
            None => {}
            Some(Value::Null) => _ = errors.check("status", cannot_clear()),
            Some(value) => changes.status = errors.check("status", rules::status(value)),
        }
        match &body.priority {
            None => {}
            Some(Value::Null) => _ = errors.check("priority", cannot_clear()),
            Some(value) => changes.priority = errors.check("priority", rules::priority(value)),
        }
        match &body.agent_id {
            None => {}
            Some(Value::Null) => changes.agent_id = Some(None),
            Some(value) => {
                changes.agent_id = errors.check("agent_id", rules::uuid(value)).map(Some)
            }
        }
        match &body.result {
            None => {}
            Some(Value::Null) => changes.result = Some(None),
            Some(value) => {
                changes.result = errors.check("result", rules::document(value)).map(Some)
            }
        }
        for field in body.other.keys() {
            if matches!(field.as_str(), "input" | "steps") {
                errors.add(field.clone(), "cannot be changed after the task is created");
            }
        }
        let other: Map<String, Value> = body
            .other
            .into_iter()
            .filter(|(field, _)| !matches!(field.as_str(), "input" | "steps"))
            .collect();
        tasks::report_other_fields(&other, &mut errors);

        if errors.is_empty() && changes.is_empty() {
            errors.add(
                "body",
                "name at least one field to change: title, description, status, priority, agent_id, result",
            );
        }
        errors.into_result(changes)
    }

    fn is_empty(&self) -> bool {
        self.title.is_none()
            && self.description.is_none()
            && self.status.is_none()
            && self.priority.is_none()
            && self.agent_id.is_none()
            && self.result.is_none()
    }

    /// The names of the fields this changes, for the audit log.
    fn fields(&self) -> Vec<&'static str> {
        [
            ("title", self.title.is_some()),
            ("description", self.description.is_some()),
            ("status", self.status.is_some()),
            ("priority", self.priority.is_some()),
            ("agent_id", self.agent_id.is_some()),
            ("result", self.result.is_some()),
        ]
        .into_iter()
        .filter_map(|(name, changed)| changed.then_some(name))
        .collect()
    }
}

/// How often an update without `If-Match` re-reads a task that changed under it.
const ATTEMPTS: usize = 3;

pub async fn handle(state: &AppState, keys: &TokenKeys, request: Request) -> ApiResult {
    let user_id = authenticate_token(&request, keys)?;
    let id = tasks::task_id(&request)?;
    let if_match = IfMatch::from_request(&request)?;
    let body: UpdateTaskRequest = http::parse_json(&request, state.http.max_body_bytes)?;
    let changes = Changes::parse(body)?;
    let audit_metadata = audit::request_metadata(&request);

    for _ in 0..ATTEMPTS {
        // Read, check, then write only if the version is still the one that was checked: a
        // compare-and-swap that the database settles, so racing updates cannot both win.
        let current: Option<Task> =
            sqlx::query_as("select * from tasks where id = $1 and owner_id = $2")
                .bind(id)
                .bind(user_id)
                .fetch_optional(&state.db)
                .await?;
        let Some(current) = current else {
            ensure_user_exists(&state.db, user_id).await?;
            return Err(ApiError::NotFound);
        };
        if !if_match.matches(current.version) {
            return Err(ApiError::PreconditionFailed);
        }
        let status = changes.status.unwrap_or(current.status);
        if !current.status.can_become(status) {
            return Err(ApiError::unprocessable(
                "status",
                format!(
                    "a {} task cannot become {}",
                    current.status.as_str(),
                    status.as_str()
                ),
            ));
        }
        let mut metadata = audit_metadata.clone();
        if let Some(map) = metadata.as_object_mut() {
            map.insert("fields".into(), json!(changes.fields()));
            if current.status != status {
                map.insert("from_status".into(), json!(current.status.as_str()));
                map.insert("to_status".into(), json!(status.as_str()));
            }
        }

        // Timestamps follow the status: started when work starts, completed when it ends,
        // both cleared when a task goes back to pending (`status` on the right is the old one).
        let updated: Option<TaskWithSteps> = sqlx::query_as(
            "with task as ( \
                 update tasks set \
                     title = $4, description = $5, priority = $6, agent_id = $7, result = $8, status = $9, \
                     started_at = case when $9 = status then started_at \
                                       when $9 = 'in_progress' then now() \
                                       when $9 = 'pending' then null \
                                       when $9 = 'completed' then coalesce(started_at, now()) \
                                       else started_at end, \
                     completed_at = case when $9 = status then completed_at \
                                         when $9 in ('completed', 'failed', 'cancelled') then now() \
                                         else null end, \
                     version = version + 1 \
                 where id = $1 and owner_id = $2 and version = $3 \
                 returning *), \
             audit as ( \
                 insert into audit_logs (actor_id, action, entity_type, entity_id, metadata) \
                 select owner_id, 'task.update', 'task', id, $10::jsonb || jsonb_build_object('version', version) \
                 from task) \
             select task.*, \
                    coalesce((select json_agg(s) from task_steps s where s.task_id = task.id), '[]') as steps \
             from task",
        )
        .bind(id)
        .bind(user_id)
        .bind(current.version)
        .bind(changes.title.as_ref().unwrap_or(&current.title))
        .bind(changes.description.clone().unwrap_or(current.description))
        .bind(changes.priority.unwrap_or(current.priority))
        .bind(changes.agent_id.unwrap_or(current.agent_id))
        .bind(changes.result.clone().unwrap_or(current.result))
        .bind(status)
        .bind(metadata)
        .fetch_optional(&state.db)
        .await?;

        match updated {
            Some(updated) => {
                let version = updated.task.version;
                tracing::info!(task_id = %id, user_id = %user_id, version, "task updated");
                return tasks::with_etag(http::json(StatusCode::OK, &updated)?, version);
            }
            // Changed since it was read: the version the client asked for is gone.
            None if if_match != IfMatch::Any => return Err(ApiError::PreconditionFailed),
            None => continue,
        }
    }
    Err(ApiError::Conflict(FieldErrors::single(
        "body",
        "the task is changing too fast to update; retry",
    )))
}

#[cfg(test)]
mod tests;
