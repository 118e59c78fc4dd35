//! What the task functions share: the task-with-steps view, reading a caller's task, the id in
//! the path, `ETag`/`If-Match` versions, field rules, and the status transition table.

use lambda_http::http::{HeaderValue, header};
use lambda_http::{Body, Request, RequestExt, Response};
use serde::Serialize;
use serde_json::Value;
use sqlx::postgres::PgRow;
use sqlx::{FromRow, PgExecutor, Row};
use uuid::Uuid;

use crate::error::ApiError;
use crate::models::{Task, TaskStatus, TaskStep};

pub const MAX_TITLE_CHARS: usize = 200;
pub const MAX_DESCRIPTION_CHARS: usize = 10_000;
pub const PRIORITY_RANGE: std::ops::RangeInclusive<i64> = 0..=100;
/// Largest `input` or `result` document, as compact JSON.
pub const MAX_DOCUMENT_BYTES: usize = 64 * 1024;
pub const MAX_STEPS: usize = 100;
pub const MAX_STEP_NAME_CHARS: usize = 200;

/// A task with its steps in order, as responses show it.
#[derive(Debug, Serialize)]
pub struct TaskWithSteps {
    #[serde(flatten)]
    pub task: Task,
    pub steps: Vec<TaskStep>,
}

/// A row of a task's columns plus a `steps` column holding its steps as a JSON array
/// (`json_agg` of `task_steps` rows), so one statement returns the task with its steps.
impl<'r> FromRow<'r, PgRow> for TaskWithSteps {
    fn from_row(row: &'r PgRow) -> Result<Self, sqlx::Error> {
        let sqlx::types::Json(mut steps): sqlx::types::Json<Vec<TaskStep>> =
            row.try_get("steps")?;
        steps.sort_by_key(|step| step.position);
        Ok(Self {
            task: Task::from_row(row)?,
            steps,
        })
    }
}

/// The caller's task `id` with its steps, in one round trip; `None` when there is no such task
/// or it is someone else's.
pub async fn find_owned(
    db: impl PgExecutor<'_>,
    owner_id: Uuid,
    id: Uuid,
) -> Result<Option<TaskWithSteps>, sqlx::Error> {
    sqlx::query_as(
        "select t.*, \
                coalesce((select json_agg(s) from task_steps s where s.task_id = t.id), '[]') as steps \
         from tasks t where t.id = $1 and t.owner_id = $2",
    )
    .bind(id)
    .bind(owner_id)
    .fetch_optional(db)
    .await
}

/// The `{id}` of the path, which must be a UUID (400 otherwise).
pub fn task_id(request: &Request) -> Result<Uuid, ApiError> {
    let parameters = request.path_parameters();
    let raw = parameters
        .first("id")
        .ok_or_else(|| ApiError::BadRequest("the path has no task id".into()))?;
    parse_uuid(raw)
        .ok_or_else(|| ApiError::BadRequest(format!("the task id {raw:?} is not a UUID")))
}

/// A UUID in its canonical hyphenated form only (`8-4-4-4-12` hex digits), as the API documents
/// it; the other spellings the `uuid` crate accepts (braces, `urn:uuid:`, no hyphens) are not.
pub fn parse_uuid(text: &str) -> Option<Uuid> {
    let bytes = text.as_bytes();
    let hyphens_in_place = bytes.len() == 36 && [8, 13, 18, 23].iter().all(|&i| bytes[i] == b'-');
    hyphens_in_place
        .then(|| Uuid::try_parse(text).ok())
        .flatten()
}

/// The entity tag of a task version: the version number, quoted.
pub fn etag(version: i64) -> String {
    format!("\"{version}\"")
}

/// Adds the task's version as its `ETag`.
pub fn with_etag(mut response: Response<Body>, version: i64) -> Result<Response<Body>, ApiError> {
    let value = HeaderValue::from_str(&etag(version)).map_err(ApiError::internal)?;
    response.headers_mut().insert(header::ETAG, value);
    Ok(response)
}

/// What `If-Match` asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IfMatch {
    /// No header, or `*`: any current version.
    Any,
    /// One of these versions.
    Versions(Vec<i64>),
}

impl IfMatch {
    pub fn from_request(request: &Request) -> Result<Self, ApiError> {
        let mut values = request
            .headers()
            .get_all(header::IF_MATCH)
            .iter()
            .peekable();
        if values.peek().is_none() {
            return Ok(Self::Any);
        }
        let mut versions = Vec::new();
        for value in values {
            let text = value
                .to_str()
                .map_err(|_| ApiError::BadRequest("If-Match is not readable".into()))?;
            for tag in text.split(',').map(str::trim) {
                if tag == "*" {
                    return Ok(Self::Any);
                }
                let version = tag
                    .strip_prefix('"')
                    .and_then(|t| t.strip_suffix('"'))
                    .and_then(|t| t.parse::<i64>().ok())
                    .ok_or_else(|| {
                        ApiError::BadRequest(format!(
                            "If-Match must hold the task's ETag, like \"3\"; got {tag:?}"
                        ))
                    })?;
                versions.push(version);
            }
        }
        Ok(Self::Versions(versions))
    }

    pub fn matches(&self, version: i64) -> bool {
        match self {
            Self::Any => true,
            Self::Versions(versions) => versions.contains(&version),
        }
    }
}

impl TaskStatus {
    /// The transition table. A task that is completed or cancelled is final; a failed task can
    /// be retried; pending and in-progress tasks move forward or back.
    ///
    /// | from \ to   | pending | in_progress | completed | failed | cancelled |
    /// |-------------|---------|-------------|-----------|--------|-----------|
    /// | pending     | =       | yes         | yes       | no     | yes       |
    /// | in_progress | yes     | =           | yes       | yes    | yes       |
    /// | failed      | yes     | yes         | no        | =      | yes       |
    /// | completed   | no      | no          | no        | no     | no        |
    /// | cancelled   | no      | no          | no        | no     | no        |
    ///
    /// Staying in the same status is always allowed.
    pub fn can_become(self, to: TaskStatus) -> bool {
        use TaskStatus::*;
        self == to
            || matches!(
                (self, to),
                (Pending, InProgress | Completed | Cancelled)
                    | (InProgress, Pending | Completed | Failed | Cancelled)
                    | (Failed, Pending | InProgress | Cancelled)
            )
    }

    pub fn parse(raw: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|status| status.as_str() == raw)
    }
}

/// The valid status names, for messages.
pub fn status_names() -> String {
    TaskStatus::ALL.map(TaskStatus::as_str).join(", ")
}

/// Field rules shared by create and update; each returns the problem to report.
pub mod rules {
    use super::*;

    /// PostgreSQL text cannot hold the NUL character.
    pub const NUL_MESSAGE: &str = "must not contain the NUL character (\\u0000)";

    pub fn no_nul(text: &str) -> Result<&str, String> {
        if text.contains('\0') {
            Err(NUL_MESSAGE.into())
        } else {
            Ok(text)
        }
    }

    /// True when a string anywhere in the document, key or value, holds a NUL character.
    fn has_nul(value: &Value) -> bool {
        match value {
            Value::String(text) => text.contains('\0'),
            Value::Array(items) => items.iter().any(has_nul),
            Value::Object(map) => map
                .iter()
                .any(|(key, value)| key.contains('\0') || has_nul(value)),
            _ => false,
        }
    }

    pub fn title(raw: &str) -> Result<String, String> {
        no_nul(raw)?;
        let title = raw.trim();
        let chars = title.chars().count();
        if chars == 0 {
            return Err("must not be empty".into());
        }
        if chars > MAX_TITLE_CHARS {
            return Err(format!("must be at most {MAX_TITLE_CHARS} characters"));
        }
        Ok(title.to_owned())
    }

    pub fn description(raw: &str) -> Result<String, String> {
        no_nul(raw)?;
        if raw.chars().count() > MAX_DESCRIPTION_CHARS {
            return Err(format!(
                "must be at most {MAX_DESCRIPTION_CHARS} characters"
            ));
        }
        Ok(raw.to_owned())
    }

    pub fn priority(value: &Value) -> Result<i32, String> {
        let message = || {
            format!(
                "must be a whole number from {} to {}",
                PRIORITY_RANGE.start(),
                PRIORITY_RANGE.end()
            )
        };
        let number = value.as_i64().ok_or_else(message)?;
        if !PRIORITY_RANGE.contains(&number) {
            return Err(message());
        }
        i32::try_from(number).map_err(|_| message())
    }

    pub fn status(value: &Value) -> Result<TaskStatus, String> {
        value
            .as_str()
            .and_then(TaskStatus::parse)
            .ok_or_else(|| format!("must be one of {}", status_names()))
    }

    /// A JSON object of at most `MAX_DOCUMENT_BYTES`.
    pub fn document(value: &Value) -> Result<Value, String> {
        if !value.is_object() {
            return Err("must be a JSON object".into());
        }
        if has_nul(value) {
            return Err(format!("{NUL_MESSAGE}, in no key or string"));
        }
        let size = serde_json::to_vec(value)
            .map(|v| v.len())
            .unwrap_or(usize::MAX);
        if size > MAX_DOCUMENT_BYTES {
            return Err(format!(
                "is {size} bytes as JSON; at most {MAX_DOCUMENT_BYTES} bytes are allowed"
            ));
        }
        Ok(value.clone())
    }

    pub fn uuid(value: &Value) -> Result<Uuid, String> {
        value
            .as_str()
            .and_then(parse_uuid)
            .ok_or_else(|| "must be a UUID like 123e4567-e89b-12d3-a456-426614174000".into())
    }

    pub fn string(value: &Value) -> Result<&str, String> {
        value.as_str().ok_or_else(|| "must be a string".into())
    }
}

/// Fields that only the server sets.
pub const SERVER_FIELDS: &[&str] = &[
    "id",
    "owner_id",
    "version",
    "created_at",
    "updated_at",
    "started_at",
    "completed_at",
];

/// Reports each field of a request body that is not one the request may set: a field the
/// server sets says so, instead of being silently ignored; anything else is unknown.
pub fn report_other_fields(
    other: &serde_json::Map<String, Value>,
    errors: &mut crate::FieldErrors,
) {
    for field in other.keys() {
        if SERVER_FIELDS.contains(&field.as_str()) {
            errors.add(field.clone(), "is set by the server and cannot be sent");
        } else {
            errors.add(field.clone(), "is not a field this request can set");
        }
    }
}

/// For `#[serde(default, deserialize_with = "present")]` on an `Option<Value>`: an absent
/// field stays `None`, a field sent as `null` becomes `Some(Value::Null)`.
pub fn present<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<Value>, D::Error> {
    serde::Deserialize::deserialize(deserializer).map(Some)
}

#[cfg(test)]
mod tests {
    use super::*;
    use TaskStatus::*;
    use serde_json::json;

    #[test]
    fn finished_tasks_are_final_and_failed_ones_can_be_retried() {
        for to in TaskStatus::ALL {
            assert_eq!(
                Completed.can_become(to),
                to == Completed,
                "completed -> {to:?}"
            );
            assert_eq!(
                Cancelled.can_become(to),
                to == Cancelled,
                "cancelled -> {to:?}"
            );
        }
        assert!(Failed.can_become(Pending));
        assert!(Failed.can_become(InProgress));
        assert!(!Failed.can_become(Completed));
        assert!(!Pending.can_become(Failed));
        assert!(InProgress.can_become(Failed));
        assert!(Pending.can_become(Completed));
    }

    #[test]
    fn status_names_parse_back() {
        for status in TaskStatus::ALL {
            assert_eq!(TaskStatus::parse(status.as_str()), Some(status));
        }
        assert_eq!(TaskStatus::parse("done"), None);
        assert_eq!(TaskStatus::parse("PENDING"), None);
    }

    #[test]
    fn titles_are_trimmed_and_bounded() {
        assert_eq!(rules::title("  write docs  ").unwrap(), "write docs");
        assert!(rules::title("   ").is_err());
        assert!(rules::title(&"é".repeat(200)).is_ok());
        assert!(rules::title(&"é".repeat(201)).is_err());
    }

    #[test]
    fn priorities_are_whole_numbers_in_range() {
        assert_eq!(rules::priority(&json!(0)).unwrap(), 0);
        assert_eq!(rules::priority(&json!(100)).unwrap(), 100);
        for bad in [
            json!(-1),
            json!(101),
            json!(1.5),
            json!("5"),
            json!(1e300),
            json!(u64::MAX),
        ] {
            assert!(rules::priority(&bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn text_and_documents_with_nul_characters_are_refused() {
        assert!(rules::title("a\0b").is_err());
        assert!(rules::description("a\0").is_err());
        assert!(rules::document(&json!({"k": ["ok", {"deep": "x\u{0}"}]})).is_err());
        assert!(rules::document(&json!({"k\u{0}": 1})).is_err());
        assert!(rules::document(&json!({"k": "\\u0000 spelled out is fine"})).is_ok());
    }

    #[test]
    fn documents_are_objects_of_bounded_size() {
        assert!(rules::document(&json!({"a": 1})).is_ok());
        assert!(rules::document(&json!([1])).is_err());
        assert!(rules::document(&json!("text")).is_err());
        let big = json!({"blob": "x".repeat(MAX_DOCUMENT_BYTES)});
        assert!(rules::document(&big).unwrap_err().contains("bytes"));
    }

    fn request_with_if_match(values: &[&str]) -> Request {
        let mut builder = lambda_http::http::Request::builder();
        for value in values {
            builder = builder.header(header::IF_MATCH, *value);
        }
        builder.body(Body::Empty).unwrap()
    }

    #[test]
    fn if_match_reads_quoted_versions_and_star() {
        assert_eq!(
            IfMatch::from_request(&request_with_if_match(&[])).unwrap(),
            IfMatch::Any
        );
        assert_eq!(
            IfMatch::from_request(&request_with_if_match(&["*"])).unwrap(),
            IfMatch::Any
        );
        let two = IfMatch::from_request(&request_with_if_match(&["\"3\", \"5\""])).unwrap();
        assert!(two.matches(3) && two.matches(5) && !two.matches(4));
        for bad in ["3", "W/\"3\"", "\"three\"", "\"\""] {
            let result = IfMatch::from_request(&request_with_if_match(&[bad]));
            assert!(matches!(result, Err(ApiError::BadRequest(_))), "{bad}");
        }
    }

    #[test]
    fn only_canonical_uuids_are_accepted() {
        let id = "123e4567-e89b-12d3-a456-426614174000";
        assert_eq!(parse_uuid(id).unwrap().to_string(), id);
        assert!(parse_uuid(&id.to_uppercase()).is_some());
        for other in [
            "123e4567e89b12d3a456426614174000",
            "{123e4567-e89b-12d3-a456-426614174000}",
            "urn:uuid:123e4567-e89b-12d3-a456-426614174000",
            "123e4567-e89b-12d3-a456-42661417400g",
            "123e4567-e89b-12d3-a456+426614174000",
            "",
        ] {
            assert_eq!(parse_uuid(other), None, "{other}");
        }
    }

    #[test]
    fn etags_quote_the_version() {
        assert_eq!(etag(7), "\"7\"");
    }
}
