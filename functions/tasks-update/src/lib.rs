//! PATCH /api/tasks/{id}: a partial update of title, description, status, priority, agent_id
//! and result (`null` clears the optional ones). Status changes follow
//! `TaskStatus::can_become` and set `started_at`/`completed_at`. With `If-Match: "<version>"`
//! the change applies only to that version (412 otherwise). The task row is locked for the
//! check and the write, so concurrent updates of one version give one success and 412s.

use lambda_http::Request;
use lambda_http::http::StatusCode;
use serde::Deserialize;
use serde_json::{Map, Value};
use shared::audit::{self, AuditEvent};
use shared::auth::{TokenKeys, authenticate};
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

pub async fn handle(state: &AppState, keys: &TokenKeys, request: Request) -> ApiResult {
    let user = authenticate(&request, keys, &state.db).await?;
    let id = tasks::task_id(&request)?;
    let if_match = IfMatch::from_request(&request)?;
    let body: UpdateTaskRequest = http::parse_json(&request, state.http.max_body_bytes)?;
    let changes = Changes::parse(body)?;

    let mut tx = state.db.begin().await?;
    let current: Task =
        sqlx::query_as("select * from tasks where id = $1 and owner_id = $2 for update")
            .bind(id)
            .bind(user.id)
            .fetch_optional(&mut *tx)
            .await?
            .ok_or(ApiError::NotFound)?;
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

    // Timestamps follow the status: started when work starts, completed when it ends, both
    // cleared when a task goes back to pending. `status` on the right is the current value.
    let task: Task = sqlx::query_as(
        "update tasks set \
            title = $3, description = $4, priority = $5, agent_id = $6, result = $7, status = $8, \
            started_at = case when $8 = status then started_at \
                              when $8 = 'in_progress' then now() \
                              when $8 = 'pending' then null \
                              when $8 = 'completed' then coalesce(started_at, now()) \
                              else started_at end, \
            completed_at = case when $8 = status then completed_at \
                                when $8 in ('completed', 'failed', 'cancelled') then now() \
                                else null end, \
            version = version + 1 \
         where id = $1 and owner_id = $2 \
         returning *",
    )
    .bind(id)
    .bind(user.id)
    .bind(changes.title.as_ref().unwrap_or(&current.title))
    .bind(changes.description.clone().unwrap_or(current.description))
    .bind(changes.priority.unwrap_or(current.priority))
    .bind(changes.agent_id.unwrap_or(current.agent_id))
    .bind(changes.result.clone().unwrap_or(current.result))
    .bind(status)
    .fetch_one(&mut *tx)
    .await?;

    let mut event = AuditEvent::new("task.update", "task", Some(task.id))
        .by(user.id)
        .with("fields", changes.fields())
        .with("version", task.version)
        .from_request(&request);
    if current.status != task.status {
        event = event
            .with("from_status", current.status.as_str())
            .with("to_status", task.status.as_str());
    }
    audit::record(&mut *tx, event).await?;
    let steps = tasks::steps_of(&mut *tx, task.id).await?;
    tx.commit().await?;

    tracing::info!(task_id = %task.id, user_id = %user.id, version = task.version, "task updated");
    let version = task.version;
    tasks::with_etag(
        http::json(StatusCode::OK, &TaskWithSteps { task, steps })?,
        version,
    )
}

#[cfg(test)]
mod tests;
