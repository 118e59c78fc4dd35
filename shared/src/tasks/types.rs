//! Task input, parsed into types that can only hold valid values. A request body is read with
//! every field kept as JSON, so that every problem of every field is reported in one 422.

use serde::Deserialize;
use serde_json::{Map, Value};
use uuid::Uuid;

use crate::error::{ApiError, FieldErrors};
use crate::http::parse_uuid;
pub use crate::input::Document;
use crate::input::{Name, Text, clearable, present, report_other_fields, required_if_sent};
use crate::tasks::TaskStatus;

/// Fields that only the server sets.
pub const SERVER_FIELDS: &[&str] = &[
    "id",
    "owner_id",
    "version",
    "created_at",
    "updated_at",
    "started_at",
    "completed_at",
    "attempt",
    "not_before",
    "lease_holder",
    "lease_expires_at",
    "last_error",
];

/// A task's title: 1 to 200 characters, trimmed.
pub type TaskTitle = Name<200>;

/// A task's description: at most 10,000 characters, kept as sent.
pub type TaskDescription = Text<10_000>;

/// A priority: a whole number from 0 to 100.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Priority(i32);

impl Priority {
    pub const RANGE: std::ops::RangeInclusive<i32> = 0..=100;

    pub fn parse(value: &Value) -> Result<Self, String> {
        let message = || {
            format!(
                "must be a whole number from {} to {}",
                Self::RANGE.start(),
                Self::RANGE.end()
            )
        };
        let number = value.as_i64().ok_or_else(message)?;
        i32::try_from(number)
            .ok()
            .filter(|number| Self::RANGE.contains(number))
            .map(Self)
            .ok_or_else(message)
    }

    pub fn get(self) -> i32 {
        self.0
    }
}

/// A step's name: 1 to 200 characters, trimmed.
pub type StepName = Name<200>;

fn status(value: &Value) -> Result<TaskStatus, String> {
    value
        .as_str()
        .and_then(TaskStatus::parse)
        .ok_or_else(|| format!("must be one of {}", TaskStatus::names()))
}

fn max_attempts(value: &Value) -> Result<i32, String> {
    value
        .as_i64()
        .and_then(|n| i32::try_from(n).ok())
        .filter(|n| (1..=100).contains(n))
        .ok_or_else(|| "must be a whole number from 1 to 100".into())
}

fn agent_id(value: &Value) -> Result<Uuid, String> {
    value
        .as_str()
        .and_then(parse_uuid)
        .ok_or_else(|| "must be a UUID like 123e4567-e89b-12d3-a456-426614174000".into())
}

/// The body of POST /api/tasks, before validation.
#[derive(Deserialize)]
pub struct CreateTaskRequest {
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
    #[serde(default, deserialize_with = "present")]
    max_attempts: Option<Value>,
    /// Every other field, reported as one the client may not set.
    #[serde(flatten)]
    other: Map<String, Value>,
}

/// A valid new task.
#[derive(Debug)]
pub struct NewTask {
    pub title: TaskTitle,
    pub description: Option<TaskDescription>,
    pub status: TaskStatus,
    pub priority: Priority,
    pub agent_id: Option<Uuid>,
    pub input: Document,
    pub steps: Vec<NewStep>,
    /// How many times agents may claim it before a failure is final (1-100, default 3).
    pub max_attempts: i32,
}

/// A valid new step.
#[derive(Debug)]
pub struct NewStep {
    pub name: StepName,
    pub input: Document,
}

impl NewTask {
    pub const MAX_STEPS: usize = 100;
    pub const DEFAULT_ATTEMPTS: i32 = 3;

    pub fn parse(body: CreateTaskRequest) -> Result<Self, ApiError> {
        let mut errors = FieldErrors::new();
        let title = match &body.title {
            None | Some(Value::Null) => errors.check("title", Err("is required".into())),
            Some(value) => errors.check("title", TaskTitle::parse(value)),
        };
        let description = match &body.description {
            None => Some(None),
            Some(_) => clearable(
                &mut errors,
                "description",
                &body.description,
                TaskDescription::parse,
            ),
        };
        let status = match &body.status {
            None => Some(TaskStatus::Pending),
            Some(value) => errors.check("status", status(value)),
        };
        let priority = match &body.priority {
            None => Some(Priority(0)),
            Some(value) => errors.check("priority", Priority::parse(value)),
        };
        let agent_id = match &body.agent_id {
            None => Some(None),
            Some(_) => clearable(&mut errors, "agent_id", &body.agent_id, agent_id),
        };
        let input = match &body.input {
            None => Some(Document::empty()),
            Some(value) => errors.check("input", Document::parse(value)),
        };
        let steps = match &body.steps {
            None | Some(Value::Null) => Some(Vec::new()),
            Some(value) => parse_steps(value, &mut errors),
        };
        let max_attempts = match &body.max_attempts {
            None => Some(NewTask::DEFAULT_ATTEMPTS),
            Some(value) => errors.check("max_attempts", max_attempts(value)),
        };
        report_other_fields(&body.other, SERVER_FIELDS, &mut errors);

        match (
            title,
            description,
            status,
            priority,
            agent_id,
            input,
            steps,
            max_attempts,
        ) {
            (
                Some(title),
                Some(description),
                Some(status),
                Some(priority),
                Some(agent_id),
                Some(input),
                Some(steps),
                Some(max_attempts),
            ) if errors.is_empty() => Ok(Self {
                title,
                description,
                status,
                priority,
                agent_id,
                input,
                steps,
                max_attempts,
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
    if items.len() > NewTask::MAX_STEPS {
        errors.add(
            "steps",
            format!("must have at most {} steps", NewTask::MAX_STEPS),
        );
        return None;
    }
    let before = errors.clone();
    let mut steps = Vec::with_capacity(items.len());
    for (index, item) in items.iter().enumerate() {
        let Some(object) = item.as_object() else {
            errors.add(format!("steps[{index}]"), "must be an object with a name");
            continue;
        };
        let field = |name: &str| format!("steps[{index}].{name}");
        let name = match object.get("name") {
            None | Some(Value::Null) => errors.check(&field("name"), Err("is required".into())),
            Some(value) => errors.check(&field("name"), StepName::parse(value)),
        };
        let input = match object.get("input") {
            None => Some(Document::empty()),
            Some(value) => errors.check(&field("input"), Document::parse(value)),
        };
        for key in object
            .keys()
            .filter(|key| !matches!(key.as_str(), "name" | "input"))
        {
            errors.add(field(key), "is not a field of a new step");
        }
        if let (Some(name), Some(input)) = (name, input) {
            steps.push(NewStep { name, input });
        }
    }
    (*errors == before).then_some(steps)
}

/// The body of PATCH /api/tasks/{id}, before validation.
#[derive(Deserialize)]
pub struct UpdateTaskRequest {
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

/// A valid partial update: `None` leaves a field as it is, `Some(None)` clears it.
#[derive(Debug, Default)]
pub struct TaskChanges {
    pub title: Option<TaskTitle>,
    pub description: Option<Option<TaskDescription>>,
    pub status: Option<TaskStatus>,
    pub priority: Option<Priority>,
    pub agent_id: Option<Option<Uuid>>,
    pub result: Option<Option<Document>>,
}

impl TaskChanges {
    pub fn parse(mut body: UpdateTaskRequest) -> Result<Self, ApiError> {
        let mut errors = FieldErrors::new();
        let changes = Self {
            title: required_if_sent(&mut errors, "title", &body.title, TaskTitle::parse),
            description: clearable(
                &mut errors,
                "description",
                &body.description,
                TaskDescription::parse,
            ),
            status: required_if_sent(&mut errors, "status", &body.status, status),
            priority: required_if_sent(&mut errors, "priority", &body.priority, Priority::parse),
            agent_id: clearable(&mut errors, "agent_id", &body.agent_id, agent_id),
            result: clearable(&mut errors, "result", &body.result, Document::parse),
        };
        for field in ["input", "steps"] {
            if body.other.remove(field).is_some() {
                errors.add(field, "cannot be changed after the task is created");
            }
        }
        report_other_fields(&body.other, SERVER_FIELDS, &mut errors);
        if errors.is_empty() && changes.fields().is_empty() {
            errors.add(
                "body",
                "name at least one field to change: title, description, status, priority, agent_id, result",
            );
        }
        errors.into_result(changes)
    }

    /// The names of the fields this changes, for the audit log.
    pub fn fields(&self) -> Vec<&'static str> {
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

/// The body of PATCH /api/tasks/{id}/steps/{step_id}, before validation.
#[derive(Deserialize)]
pub struct UpdateStepRequest {
    #[serde(default, deserialize_with = "present")]
    status: Option<Value>,
    #[serde(default, deserialize_with = "present")]
    output: Option<Value>,
    #[serde(default, deserialize_with = "present")]
    fencing_token: Option<Value>,
    #[serde(flatten)]
    other: Map<String, Value>,
}

impl UpdateStepRequest {
    /// The fencing token of the claim an agent's step update carries: required with an agent
    /// key.
    pub fn fencing_token(&self) -> Result<i64, ApiError> {
        self.fencing_token
            .as_ref()
            .and_then(Value::as_i64)
            .filter(|n| *n > 0)
            .ok_or_else(|| {
                ApiError::Unprocessable(FieldErrors::single(
                    "fencing_token",
                    "is required with an agent key: the fencing_token of this task's claim",
                ))
            })
    }

    /// A person holds no lease: a fencing token from one is refused.
    pub fn without_fencing_token(&self) -> Result<(), ApiError> {
        match self.fencing_token {
            None => Ok(()),
            Some(_) => Err(ApiError::Unprocessable(FieldErrors::single(
                "fencing_token",
                "is sent only with an agent key",
            ))),
        }
    }
}

/// A valid step change: its status, its output (`Some(None)` clears it), or both.
#[derive(Debug, Default)]
pub struct StepChanges {
    pub status: Option<TaskStatus>,
    pub output: Option<Option<Document>>,
}

impl StepChanges {
    pub fn parse(body: UpdateStepRequest) -> Result<Self, ApiError> {
        let mut errors = FieldErrors::new();
        let changes = Self {
            status: required_if_sent(&mut errors, "status", &body.status, status),
            output: clearable(&mut errors, "output", &body.output, Document::parse),
        };
        for field in body.other.keys() {
            let message = if matches!(field.as_str(), "name" | "input" | "position") {
                "cannot be changed after the task is created"
            } else if SERVER_FIELDS.contains(&field.as_str()) || field == "task_id" {
                "is set by the server and cannot be sent"
            } else {
                "is not a field this request can set"
            };
            errors.add(field.clone(), message);
        }
        if errors.is_empty() && changes.status.is_none() && changes.output.is_none() {
            errors.add("body", "name at least one field to change: status, output");
        }
        errors.into_result(changes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn create(body: Value) -> Result<NewTask, FieldErrors> {
        NewTask::parse(serde_json::from_value(body).unwrap()).map_err(|err| match err {
            ApiError::Unprocessable(errors) => errors,
            other => panic!("expected 422, got {other:?}"),
        })
    }

    fn update(body: Value) -> Result<TaskChanges, FieldErrors> {
        TaskChanges::parse(serde_json::from_value(body).unwrap()).map_err(|err| match err {
            ApiError::Unprocessable(errors) => errors,
            other => panic!("expected 422, got {other:?}"),
        })
    }

    #[test]
    fn a_step_change_needs_status_or_output_and_nothing_else() {
        let parse = |body: Value| {
            StepChanges::parse(serde_json::from_value(body).unwrap()).map_err(|err| match err {
                ApiError::Unprocessable(errors) => errors,
                other => panic!("expected 422, got {other:?}"),
            })
        };
        let changes = parse(json!({"status": "completed", "output": {"rows": 3}})).unwrap();
        assert_eq!(changes.status, Some(TaskStatus::Completed));
        assert!(matches!(changes.output, Some(Some(_))));
        assert!(matches!(
            parse(json!({"output": null})).unwrap().output,
            Some(None)
        ));
        let errors = parse(json!({"name": "x", "status": "done", "output": [1]})).unwrap_err();
        for field in ["name", "status", "output"] {
            assert!(errors.get(field).is_some(), "{field}");
        }
        assert!(parse(json!({})).unwrap_err().get("body").is_some());
    }

    #[test]
    fn titles_are_trimmed_and_bounded() {
        assert_eq!(
            TaskTitle::parse(&json!("  write docs  ")).unwrap().as_str(),
            "write docs"
        );
        assert!(TaskTitle::parse(&json!("   ")).is_err());
        assert!(TaskTitle::parse(&json!("é".repeat(200))).is_ok());
        assert!(TaskTitle::parse(&json!("é".repeat(201))).is_err());
        assert!(TaskTitle::parse(&json!(5)).is_err());
    }

    #[test]
    fn priorities_are_whole_numbers_in_range() {
        assert_eq!(Priority::parse(&json!(0)).unwrap().get(), 0);
        assert_eq!(Priority::parse(&json!(100)).unwrap().get(), 100);
        for bad in [
            json!(-1),
            json!(101),
            json!(1.5),
            json!("5"),
            json!(1e300),
            json!(u64::MAX),
            json!(i64::from(i32::MAX) + 1),
        ] {
            assert!(Priority::parse(&bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn text_and_documents_with_nul_characters_are_refused() {
        assert!(TaskTitle::parse(&json!("a\0b")).is_err());
        assert!(TaskDescription::parse(&json!("a\0")).is_err());
        assert!(StepName::parse(&json!("step\0")).is_err());
        assert!(Document::parse(&json!({"k": ["ok", {"deep": "x\u{0}"}]})).is_err());
        assert!(Document::parse(&json!({"k\u{0}": 1})).is_err());
        assert!(Document::parse(&json!({"k": "\\u0000 spelled out is fine"})).is_ok());
    }

    #[test]
    fn documents_are_objects_of_bounded_size() {
        assert!(Document::parse(&json!({"a": 1})).is_ok());
        assert!(Document::parse(&json!([1])).is_err());
        assert!(Document::parse(&json!("text")).is_err());
        let big = json!({"blob": "x".repeat(Document::MAX_BYTES)});
        assert!(Document::parse(&big).unwrap_err().contains("bytes"));
    }

    #[test]
    fn a_new_task_reports_every_invalid_field_at_once() {
        let errors = create(json!({
            "priority": 500,
            "status": "done",
            "steps": [{"name": ""}, 7, {"name": "ok", "extra": 1}],
            "version": 3,
            "colour": "red"
        }))
        .unwrap_err();

        for field in [
            "title",
            "priority",
            "status",
            "steps[0].name",
            "steps[1]",
            "steps[2].extra",
            "version",
            "colour",
        ] {
            assert!(errors.get(field).is_some(), "{field}: {errors:?}");
        }
        assert_eq!(
            errors.get("version").unwrap(),
            ["is set by the server and cannot be sent"]
        );
    }

    #[test]
    fn a_new_task_has_defaults_for_what_is_not_sent() {
        let task = create(json!({"title": "write", "steps": [{"name": " draft "}]})).unwrap();
        assert_eq!(task.status, TaskStatus::Pending);
        assert_eq!(task.priority.get(), 0);
        assert_eq!(task.input.as_value(), &json!({}));
        assert_eq!(task.steps[0].name.as_str(), "draft");
        assert!(task.description.is_none() && task.agent_id.is_none());
    }

    #[test]
    fn changes_tell_absent_from_cleared_and_refuse_null_where_a_value_is_needed() {
        let changes = update(json!({"description": null, "result": {"ok": true}})).unwrap();
        assert_eq!(changes.description, Some(None));
        assert!(changes.title.is_none());
        assert_eq!(changes.fields(), ["description", "result"]);

        let errors = update(json!({"title": null, "status": null, "input": {}})).unwrap_err();
        assert_eq!(errors.get("title").unwrap(), ["cannot be null"]);
        assert_eq!(errors.get("status").unwrap(), ["cannot be null"]);
        assert_eq!(
            errors.get("input").unwrap(),
            ["cannot be changed after the task is created"]
        );
        assert!(update(json!({})).unwrap_err().get("body").is_some());
    }
}
