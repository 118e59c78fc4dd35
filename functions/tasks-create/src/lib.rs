//! POST /api/tasks: validates the task and its steps, then writes the task, its steps (positions
//! in the order given) and an audit row in one statement, so in one round trip and atomically.

use lambda_http::Request;
use serde::Deserialize;
use serde_json::{Map, Value, json};
use shared::audit;
use shared::auth::{TokenKeys, authenticate_token, unknown_user};
use shared::http::{self, ApiResult};
use shared::models::TaskStatus;
use shared::tasks::{self, MAX_STEP_NAME_CHARS, MAX_STEPS, TaskWithSteps, present, rules};
use shared::{ApiError, AppState, FieldErrors};
use uuid::Uuid;

/// The body as sent: every field kept as JSON so that every problem can be reported at once.
#[derive(Deserialize)]
struct CreateTaskRequest {
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
    input: Option<Value>,
    #[serde(default, deserialize_with = "present")]
    steps: Option<Value>,
    /// Every other field, reported as one the client may not set.
    #[serde(flatten)]
    other: Map<String, Value>,
}

struct NewTask {
    title: String,
    description: Option<String>,
    status: TaskStatus,
    priority: i32,
    agent_id: Option<Uuid>,
    input: Value,
    steps: Vec<NewStep>,
}

struct NewStep {
    name: String,
    input: Value,
}

impl NewTask {
    fn parse(body: CreateTaskRequest) -> Result<Self, ApiError> {
        let mut errors = FieldErrors::new();

        let title = match &body.title {
            None | Some(Value::Null) => errors.check("title", Err("is required".into())),
            Some(value) => errors.check("title", rules::string(value).and_then(rules::title)),
        };
        let description = match &body.description {
            None | Some(Value::Null) => Some(None),
            Some(value) => errors
                .check(
                    "description",
                    rules::string(value).and_then(rules::description),
                )
                .map(Some),
        };
        let status = match &body.status {
            None => Some(TaskStatus::Pending),
            Some(value) => errors.check("status", rules::status(value)),
        };
        let priority = match &body.priority {
            None => Some(0),
            Some(value) => errors.check("priority", rules::priority(value)),
        };
        let agent_id = match &body.agent_id {
            None | Some(Value::Null) => Some(None),
            Some(value) => errors.check("agent_id", rules::uuid(value)).map(Some),
        };
        let input = match &body.input {
            None => Some(json!({})),
            Some(value) => errors.check("input", rules::document(value)),
        };
        let steps = match &body.steps {
            None | Some(Value::Null) => Some(Vec::new()),
            Some(value) => parse_steps(value, &mut errors),
        };
        tasks::report_other_fields(&body.other, &mut errors);

        match (title, description, status, priority, agent_id, input, steps) {
            (
                Some(title),
                Some(description),
                Some(status),
                Some(priority),
                Some(agent_id),
                Some(input),
                Some(steps),
            ) if errors.is_empty() => Ok(Self {
                title,
                description,
                status,
                priority,
                agent_id,
                input,
                steps,
            }),
            _ => Err(ApiError::Unprocessable(errors)),
        }
    }
}

fn parse_steps(value: &Value, errors: &mut FieldErrors) -> Option<Vec<NewStep>> {
    let Some(items) = value.as_array() else {
        errors.add("steps", "must be an array of {name, input?} objects");
        return None;
    };
    if items.len() > MAX_STEPS {
        errors.add("steps", format!("must have at most {MAX_STEPS} steps"));
        return None;
    }
    let before = errors.clone();
    let mut steps = Vec::with_capacity(items.len());
    for (index, item) in items.iter().enumerate() {
        let field = |name: &str| format!("steps[{index}].{name}");
        let Some(object) = item.as_object() else {
            errors.add(format!("steps[{index}]"), "must be an object with a name");
            continue;
        };
        let name = match object.get("name") {
            None | Some(Value::Null) => Err("is required".to_owned()),
            Some(value) => rules::string(value)
                .and_then(rules::no_nul)
                .and_then(|name| {
                    let name = name.trim();
                    match name.chars().count() {
                        0 => Err("must not be empty".to_owned()),
                        n if n > MAX_STEP_NAME_CHARS => {
                            Err(format!("must be at most {MAX_STEP_NAME_CHARS} characters"))
                        }
                        _ => Ok(name.to_owned()),
                    }
                }),
        };
        let input = match object.get("input") {
            None => Ok(json!({})),
            Some(value) => rules::document(value),
        };
        for key in object
            .keys()
            .filter(|key| !matches!(key.as_str(), "name" | "input"))
        {
            errors.add(field(key), "is not a field of a new step");
        }
        match (name, input) {
            (Ok(name), Ok(input)) => steps.push(NewStep { name, input }),
            (name, input) => {
                if let Err(problem) = name {
                    errors.add(field("name"), problem);
                }
                if let Err(problem) = input {
                    errors.add(field("input"), problem);
                }
            }
        }
    }
    (*errors == before).then_some(steps)
}

pub async fn handle(state: &AppState, keys: &TokenKeys, request: Request) -> ApiResult {
    let user_id = authenticate_token(&request, keys)?;
    let body: CreateTaskRequest = http::parse_json(&request, state.http.max_body_bytes)?;
    let new_task = NewTask::parse(body)?;

    // One statement writes the task, its steps in the order given, and the audit row: all of
    // them or, if any part fails, none. The owner's foreign key refuses a deleted user.
    let (names, inputs): (Vec<&str>, Vec<&Value>) = new_task
        .steps
        .iter()
        .map(|step| (step.name.as_str(), &step.input))
        .unzip();
    let created: TaskWithSteps = sqlx::query_as(
        "with task as ( \
             insert into tasks (owner_id, agent_id, title, description, status, priority, input, \
                                started_at, completed_at) \
             values ($1, $2, $3, $4, $5, $6, $7, \
                     case when $5 in ('in_progress', 'completed') then now() end, \
                     case when $5 in ('completed', 'failed', 'cancelled') then now() end) \
             returning *), \
         steps as ( \
             insert into task_steps (task_id, position, name, input) \
             select task.id, step.ordinality - 1, step.name, step.input \
             from task, unnest($8::text[], $9::jsonb[]) with ordinality as step(name, input, ordinality) \
             returning *), \
         audit as ( \
             insert into audit_logs (actor_id, action, entity_type, entity_id, metadata) \
             select owner_id, 'task.create', 'task', id, \
                    $10::jsonb || jsonb_build_object('status', status, 'steps', cardinality($8::text[])) \
             from task) \
         select task.*, coalesce((select json_agg(steps) from steps), '[]') as steps from task",
    )
    .bind(user_id)
    .bind(new_task.agent_id)
    .bind(&new_task.title)
    .bind(&new_task.description)
    .bind(new_task.status)
    .bind(new_task.priority)
    .bind(&new_task.input)
    .bind(names)
    .bind(inputs)
    .bind(audit::request_metadata(&request))
    .fetch_one(&state.db)
    .await
    .map_err(|err| {
        if is_owner_violation(&err) {
            unknown_user(user_id)
        } else {
            ApiError::from(err)
        }
    })?;

    let task = &created.task;
    tracing::info!(task_id = %task.id, user_id = %user_id, steps = created.steps.len(), "task created");
    let location = format!("/api/tasks/{}", task.id);
    let version = task.version;
    tasks::with_etag(http::created(&location, &created)?, version)
}

/// The owner's foreign key refused the row: the token's user no longer exists.
fn is_owner_violation(err: &sqlx::Error) -> bool {
    err.as_database_error().is_some_and(|e| {
        e.is_foreign_key_violation() && e.constraint() == Some("tasks_owner_id_fkey")
    })
}

#[cfg(test)]
mod tests;
