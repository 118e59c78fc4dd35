//! The one error type at the edge: every outcome a client can see, each with its status, and
//! its rendering as an RFC 9457 problem response. Internal causes are logged, never echoed.

use std::collections::BTreeMap;
use std::error::Error as StdError;
use std::fmt;

use lambda_http::http::{HeaderValue, StatusCode, header};
use lambda_http::{Body, Response};
use serde::Serialize;
use serde_json::{Map, Value};

use crate::db::{self, StoreError, Violation};

pub const PROBLEM_JSON: &str = "application/problem+json";

/// Validation messages by field name, reported all at once.
#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct FieldErrors(BTreeMap<String, Vec<String>>);

impl FieldErrors {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn single(field: impl Into<String>, message: impl Into<String>) -> Self {
        let mut errors = Self::new();
        errors.add(field, message);
        errors
    }

    pub fn add(&mut self, field: impl Into<String>, message: impl Into<String>) {
        self.0.entry(field.into()).or_default().push(message.into());
    }

    /// The value of `result`, or `None` with its problem recorded against `field`.
    pub fn check<T>(&mut self, field: &str, result: Result<T, String>) -> Option<T> {
        result.map_err(|problem| self.add(field, problem)).ok()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn get(&self, field: &str) -> Option<&[String]> {
        self.0.get(field).map(Vec::as_slice)
    }

    /// `Ok(value)` when no error was recorded, else a 422.
    pub fn into_result<T>(self, value: T) -> Result<T, ApiError> {
        if self.is_empty() {
            Ok(value)
        } else {
            Err(ApiError::Unprocessable(self))
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// 400: the request cannot be read (malformed JSON, a bad query parameter, ...).
    #[error("bad request: {0}")]
    BadRequest(String),
    /// 401 with `WWW-Authenticate: Bearer`; `invalid_token` when a token was presented and refused.
    #[error("unauthorized: {detail}")]
    Unauthorized {
        detail: &'static str,
        invalid_token: bool,
    },
    /// 403: the caller is known, but a password check before a sensitive change failed.
    #[error("forbidden: {detail}")]
    Forbidden { detail: &'static str },
    /// 404: absent, or not the caller's (the two are indistinguishable on purpose).
    #[error("not found")]
    NotFound,
    /// 409: a unique value is already taken.
    #[error("conflict: {0:?}")]
    Conflict(FieldErrors),
    /// 409: the resource is in a state that does not allow this now; the detail says why.
    #[error("in use: {0}")]
    InUse(&'static str),
    /// 412: the `If-Match` version is stale.
    #[error("precondition failed")]
    PreconditionFailed,
    /// 413: the body is larger than the configured limit.
    #[error("payload too large")]
    PayloadTooLarge { limit: usize },
    /// 415: the body is not `application/json`.
    #[error("unsupported media type")]
    UnsupportedMediaType,
    /// 422: the body is JSON but its fields are invalid.
    #[error("unprocessable: {0:?}")]
    Unprocessable(FieldErrors),
    /// 429 with `Retry-After`.
    #[error("too many requests")]
    TooManyRequests { retry_after_secs: u64 },
    /// 503: the database cannot be reached right now.
    #[error("service unavailable")]
    Unavailable(#[source] Box<dyn StdError + Send + Sync>),
    /// 500: a bug or an unexpected failure; the cause is logged, the client sees a generic text.
    #[error("internal error")]
    Internal(#[source] Box<dyn StdError + Send + Sync>),
}

impl ApiError {
    pub fn internal(cause: impl Into<Box<dyn StdError + Send + Sync>>) -> Self {
        Self::Internal(cause.into())
    }

    pub fn unprocessable(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self::Unprocessable(FieldErrors::single(field, message))
    }

    pub fn status(&self) -> StatusCode {
        match self {
            Self::BadRequest(_) => StatusCode::BAD_REQUEST,
            Self::Unauthorized { .. } => StatusCode::UNAUTHORIZED,
            Self::Forbidden { .. } => StatusCode::FORBIDDEN,
            Self::NotFound => StatusCode::NOT_FOUND,
            Self::Conflict(_) | Self::InUse(_) => StatusCode::CONFLICT,
            Self::PreconditionFailed => StatusCode::PRECONDITION_FAILED,
            Self::PayloadTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            Self::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::Unprocessable(_) => StatusCode::UNPROCESSABLE_ENTITY,
            Self::TooManyRequests { .. } => StatusCode::TOO_MANY_REQUESTS,
            Self::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    pub fn into_response(self) -> Response<Body> {
        let status = self.status();
        let mut problem = Problem::new(status, String::new());
        match &self {
            Self::BadRequest(detail) => problem.detail = detail.clone(),
            Self::Unauthorized { detail, .. } => problem.detail = (*detail).to_owned(),
            Self::Forbidden { detail } => problem.detail = (*detail).to_owned(),
            Self::NotFound => problem.detail = "the resource does not exist".into(),
            Self::Conflict(errors) => {
                problem.detail = "a value that must be unique is already taken".into();
                problem = problem.with("errors", errors);
            }
            Self::InUse(detail) => problem.detail = (*detail).to_owned(),
            Self::PreconditionFailed => {
                problem.detail = "the resource has changed since the version in If-Match".into();
            }
            Self::PayloadTooLarge { limit } => {
                problem.detail = format!("the request body is larger than {limit} bytes");
            }
            Self::UnsupportedMediaType => {
                problem.detail =
                    "the request body must be JSON, sent as Content-Type: application/json".into();
            }
            Self::Unprocessable(errors) => {
                problem.detail = "the request has invalid fields".into();
                problem = problem.with("errors", errors);
            }
            Self::TooManyRequests { retry_after_secs } => {
                problem.detail =
                    format!("too many attempts; retry after {retry_after_secs} seconds");
            }
            Self::Unavailable(cause) => {
                tracing::warn!(error = %ErrorChain(cause.as_ref()), "database unavailable");
                crate::metrics::database_unavailable();
                problem.detail = "the service is temporarily unavailable; retry shortly".into();
            }
            Self::Internal(cause) => {
                tracing::error!(error = %ErrorChain(cause.as_ref()), "internal error");
                problem.detail = "an unexpected error occurred".into();
            }
        }
        let mut response = problem.into_response();
        let headers = response.headers_mut();
        match self {
            Self::Unauthorized { invalid_token, .. } => {
                let challenge = if invalid_token {
                    r#"Bearer error="invalid_token""#
                } else {
                    "Bearer"
                };
                headers.insert(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static(challenge),
                );
            }
            Self::TooManyRequests { retry_after_secs } => {
                headers.insert(header::RETRY_AFTER, HeaderValue::from(retry_after_secs));
            }
            Self::Unavailable(_) => {
                headers.insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
            }
            _ => {}
        }
        response
    }
}

impl From<StoreError> for ApiError {
    /// A violation of a named constraint is the client's doing (`db::CONSTRAINTS`); an
    /// unreachable database is a 503; anything else is a 500 that logs the operation and its
    /// causes.
    fn from(err: StoreError) -> Self {
        match db::violation(&err.source) {
            Some(Violation::Taken { field, message }) => {
                return Self::Conflict(FieldErrors::single(field, message));
            }
            Some(Violation::Invalid { field, message }) => {
                return Self::unprocessable(field, message);
            }
            Some(Violation::InUse { message }) => return Self::InUse(message),
            Some(Violation::OwnerGone) => {
                return Self::Unauthorized {
                    detail: "the access token's user no longer exists",
                    invalid_token: true,
                };
            }
            None => {}
        }
        if db::is_unstorable_text(&err.source) {
            // Input validation refuses NUL characters; this is the database's backstop.
            return Self::BadRequest(
                "the request contains the NUL character (\\u0000), which cannot be stored".into(),
            );
        }
        if db::is_unavailable(&err.source) {
            db::note_failure();
            return Self::Unavailable(err.into());
        }
        Self::Internal(err.into())
    }
}

/// An RFC 9457 problem details object. `type` is `about:blank` throughout: the status code and
/// `title` carry the meaning, `detail` explains this occurrence, extensions add data.
#[derive(Debug)]
pub struct Problem {
    status: StatusCode,
    detail: String,
    extensions: Map<String, Value>,
}

impl Problem {
    pub fn new(status: StatusCode, detail: impl Into<String>) -> Self {
        Self {
            status,
            detail: detail.into(),
            extensions: Map::new(),
        }
    }

    /// Adds an extension member; the standard members cannot be overwritten.
    pub fn with(mut self, key: &str, value: impl Serialize) -> Self {
        if !matches!(key, "type" | "title" | "status" | "detail") {
            let value = serde_json::to_value(value).unwrap_or(Value::Null);
            self.extensions.insert(key.to_owned(), value);
        }
        self
    }

    pub fn into_response(self) -> Response<Body> {
        let mut body = Map::new();
        body.insert("type".into(), "about:blank".into());
        body.insert(
            "title".into(),
            self.status.canonical_reason().unwrap_or("Error").into(),
        );
        body.insert("status".into(), self.status.as_u16().into());
        body.insert("detail".into(), self.detail.into());
        body.extend(self.extensions);
        let mut response = Response::new(Body::Text(Value::Object(body).to_string()));
        *response.status_mut() = self.status;
        let headers = response.headers_mut();
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON));
        // An error may describe the caller's account or session: no cache keeps it either.
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        response
    }
}

/// Displays an error with its whole chain of causes, for logs.
pub struct ErrorChain<'a>(pub &'a (dyn StdError + 'static));

impl fmt::Display for ErrorChain<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut previous = self.0.to_string();
        f.write_str(&previous)?;
        let mut source = self.0.source();
        while let Some(cause) = source {
            // Some errors (sqlx's among them) already print their cause in their own message:
            // say each cause once.
            let text = cause.to_string();
            if !previous.ends_with(&text) {
                write!(f, ": {text}")?;
            }
            previous = text;
            source = cause.source();
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body_json(response: &Response<Body>) -> Value {
        serde_json::from_slice(response.body()).unwrap()
    }

    #[test]
    fn validation_errors_render_as_a_problem_with_field_messages() {
        let mut errors = FieldErrors::new();
        errors.add("username", "is too short");
        errors.add("username", "has a space");
        errors.add("email", "is not an address");

        let response = ApiError::Unprocessable(errors).into_response();

        assert_eq!(response.status(), 422);
        assert_eq!(response.headers()[header::CONTENT_TYPE], PROBLEM_JSON);
        let body = body_json(&response);
        assert_eq!(body["type"], "about:blank");
        assert_eq!(body["title"], "Unprocessable Entity");
        assert_eq!(body["status"], 422);
        assert_eq!(body["errors"]["username"].as_array().unwrap().len(), 2);
        assert_eq!(body["errors"]["email"][0], "is not an address");
    }

    #[test]
    fn every_problem_forbids_caching() {
        for error in [
            ApiError::BadRequest("x".into()),
            ApiError::NotFound,
            ApiError::TooManyRequests {
                retry_after_secs: 3,
            },
            ApiError::internal("boom"),
        ] {
            let response = error.into_response();
            assert_eq!(
                response.headers()[header::CACHE_CONTROL],
                "no-store",
                "{}",
                response.status()
            );
        }
    }

    #[test]
    fn internal_errors_do_not_leak_their_cause() {
        let response =
            ApiError::internal("relation \"users\" does not exist at SELECT password_hash")
                .into_response();

        assert_eq!(response.status(), 500);
        let text = String::from_utf8(response.body().to_vec()).unwrap();
        assert!(!text.contains("relation"), "{text}");
        assert!(!text.contains("SELECT"), "{text}");
        assert_eq!(
            body_json(&response)["detail"],
            "an unexpected error occurred"
        );
    }

    #[test]
    fn unauthorized_carries_a_bearer_challenge() {
        let missing = ApiError::Unauthorized {
            detail: "missing bearer token",
            invalid_token: false,
        }
        .into_response();
        assert_eq!(missing.status(), 401);
        assert_eq!(missing.headers()[header::WWW_AUTHENTICATE], "Bearer");

        let refused = ApiError::Unauthorized {
            detail: "invalid token",
            invalid_token: true,
        }
        .into_response();
        assert_eq!(
            refused.headers()[header::WWW_AUTHENTICATE],
            r#"Bearer error="invalid_token""#
        );
    }

    #[test]
    fn throttling_sets_retry_after() {
        let response = ApiError::TooManyRequests {
            retry_after_secs: 8,
        }
        .into_response();
        assert_eq!(response.status(), 429);
        assert_eq!(response.headers()[header::RETRY_AFTER], "8");
    }

    fn failed(operation: &'static str, source: sqlx::Error) -> StoreError {
        StoreError { operation, source }
    }

    #[test]
    fn pool_timeout_maps_to_503_and_other_database_errors_to_500() {
        let timeout = ApiError::from(failed("tasks.get", sqlx::Error::PoolTimedOut));
        assert_eq!(timeout.status(), 503);
        let other = ApiError::from(failed("tasks.get", sqlx::Error::RowNotFound));
        assert_eq!(other.status(), 500);
    }

    #[test]
    fn a_500_keeps_the_operation_name_and_its_cause_for_the_log() {
        let err = ApiError::from(failed("tasks.update", sqlx::Error::RowNotFound));
        let ApiError::Internal(cause) = &err else {
            panic!("expected a 500, got {err:?}");
        };
        let logged = ErrorChain(cause.as_ref()).to_string();
        assert!(logged.starts_with("tasks.update failed: "), "{logged}");
        assert!(logged.contains("no rows returned"), "{logged}");
    }

    #[test]
    fn problem_extensions_cannot_replace_standard_members() {
        let response = Problem::new(StatusCode::SERVICE_UNAVAILABLE, "down")
            .with("status", "ok")
            .with("database", "unreachable")
            .into_response();
        let body = body_json(&response);
        assert_eq!(body["status"], 503);
        assert_eq!(body["database"], "unreachable");
    }

    /// An error whose message does not mention its cause, as most do not.
    #[derive(Debug)]
    struct Outer(std::io::Error);

    impl fmt::Display for Outer {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("writing the task failed")
        }
    }

    impl StdError for Outer {
        fn source(&self) -> Option<&(dyn StdError + 'static)> {
            Some(&self.0)
        }
    }

    #[test]
    fn error_chain_walks_to_causes_the_message_does_not_show() {
        let err = Outer(std::io::Error::other("disk full"));
        assert_eq!(
            ErrorChain(&err).to_string(),
            "writing the task failed: disk full"
        );
    }

    #[test]
    fn error_chain_says_a_cause_once_when_the_message_already_shows_it() {
        // sqlx's message ends with its cause's: "error communicating with database: ...".
        let err = sqlx::Error::Io(std::io::Error::other("connection refused"));
        let text = ErrorChain(&err).to_string();
        assert_eq!(text.matches("connection refused").count(), 1, "{text}");
    }
}
