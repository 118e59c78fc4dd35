//! Reading requests and writing responses: JSON bodies, path ids and query parameters in, JSON
//! or problem responses out; entity tags in `etag`.

pub mod etag;

use std::convert::Infallible;
use std::future::Future;

use lambda_http::http::{HeaderValue, StatusCode, header};
use lambda_http::{Body, Request, RequestExt, Response, service_fn};
use serde::Serialize;
use serde::de::DeserializeOwned;
use tracing::Instrument;
use uuid::Uuid;

use crate::error::{ApiError, FieldErrors};

pub const JSON: &str = "application/json";

pub type ApiResult = Result<Response<Body>, ApiError>;

/// Runs the Lambda runtime loop with `handler`, turning every error into its problem response.
/// Each request is handled inside its span (`telemetry::request_span`), and the metrics it
/// counted are written after it (`metrics::measured`).
pub async fn serve<F, Fut>(handler: F) -> Result<(), lambda_http::Error>
where
    F: Fn(Request) -> Fut,
    Fut: Future<Output = ApiResult> + Send,
{
    lambda_http::run(service_fn(|request: Request| {
        let span = crate::telemetry::request_span(&request);
        let request_id = request
            .lambda_context_ref()
            .map(|context| context.request_id.clone())
            .unwrap_or_default();
        let response = span.in_scope(|| handler(request));
        async move {
            let response = crate::metrics::measured(&request_id, response).await;
            Ok::<_, Infallible>(respond(response))
        }
        .instrument(span)
    }))
    .await
}

/// The response for a handler's result: the success as is, an error as its problem response.
pub fn respond(result: ApiResult) -> Response<Body> {
    result.unwrap_or_else(ApiError::into_response)
}

/// A JSON response with the given status. It carries user data or tokens, so no cache may
/// keep it (`Cache-Control: no-store`).
pub fn json<T: Serialize>(status: StatusCode, body: &T) -> ApiResult {
    let text = serde_json::to_string(body).map_err(ApiError::internal)?;
    let mut response = Response::new(Body::Text(text));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(JSON));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
}

/// The size of `text` once written as a JSON string, as the Lambda runtime writes a response
/// body into its envelope: measured by serializing it with serde_json, as the runtime does, into
/// a writer that only counts.
pub fn escaped_len(text: &str) -> usize {
    struct Counter(usize);
    impl std::io::Write for Counter {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0 += buf.len();
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut counter = Counter(0);
    // Writing a string to a writer that never fails cannot fail.
    match serde_json::to_writer(&mut counter, text) {
        Ok(()) => counter.0,
        Err(_) => usize::MAX,
    }
}

/// A 204 with no body.
pub fn no_content() -> ApiResult {
    let mut response = Response::new(Body::Empty);
    *response.status_mut() = StatusCode::NO_CONTENT;
    Ok(response)
}

/// A 204 that tells the client when to ask again (`Retry-After`, in seconds): an empty queue.
pub fn no_content_retry_after(seconds: u64) -> ApiResult {
    let mut response = no_content()?;
    response
        .headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
    Ok(response)
}

/// The JSON body of a request whose body is optional: `T::default()` when there is none.
pub fn parse_optional_json<T: DeserializeOwned + Default>(
    request: &Request,
    max_bytes: usize,
) -> Result<T, ApiError> {
    let bytes: &[u8] = request.body().as_ref();
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(T::default());
    }
    parse_json(request, max_bytes)
}

/// The `{name}` of the path, which must be a UUID (400 otherwise).
pub fn path_id(request: &Request, name: &str) -> Result<Uuid, ApiError> {
    let parameters = request.path_parameters();
    let raw = parameters
        .first(name)
        .ok_or_else(|| ApiError::BadRequest(format!("the path has no {name}")))?;
    parse_uuid(raw).ok_or_else(|| ApiError::BadRequest(format!("the {name} {raw:?} is not a UUID")))
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

/// A request's query parameters, limited to the ones a route knows.
pub struct QueryParameters {
    parameters: lambda_http::aws_lambda_events::query_map::QueryMap,
}

impl QueryParameters {
    /// The parameters of `request`; any name outside `known` is a 400 that lists them.
    pub fn parse(request: &Request, known: &[&str]) -> Result<Self, ApiError> {
        let parameters = request.query_string_parameters();
        for (name, _) in parameters.iter() {
            if !known.contains(&name) {
                return Err(ApiError::BadRequest(format!(
                    "unknown query parameter {name:?}; use {}",
                    known.join(", ")
                )));
            }
        }
        Ok(Self { parameters })
    }

    /// The parameter's value; given twice is a 400.
    pub fn single(&self, name: &str) -> Result<Option<&str>, ApiError> {
        match self.parameters.all(name).as_deref() {
            None | Some([]) => Ok(None),
            Some([value]) => Ok(Some(value)),
            Some(_) => Err(ApiError::BadRequest(format!(
                "{name} is given more than once"
            ))),
        }
    }
}

/// A 201 JSON response with a `Location` header.
pub fn created<T: Serialize>(location: &str, body: &T) -> ApiResult {
    let mut response = json(StatusCode::CREATED, body)?;
    let location = HeaderValue::from_str(location).map_err(ApiError::internal)?;
    response.headers_mut().insert(header::LOCATION, location);
    Ok(response)
}

/// Parses the JSON body into `T`:
/// - 415 unless `Content-Type` is `application/json` (or another `+json` type);
/// - 413 when the body is over `max_bytes`;
/// - 400 when it is empty, not UTF-8, or not well-formed JSON (or nested too deeply);
/// - 422 when it is JSON of the wrong shape (a field of the wrong type, an unknown or
///   duplicate field), with the field's path in `errors`.
pub fn parse_json<T: DeserializeOwned>(request: &Request, max_bytes: usize) -> Result<T, ApiError> {
    if !is_json_content_type(request.headers().get(header::CONTENT_TYPE)) {
        return Err(ApiError::UnsupportedMediaType);
    }
    let bytes: &[u8] = request.body().as_ref();
    if bytes.len() > max_bytes {
        return Err(ApiError::PayloadTooLarge { limit: max_bytes });
    }
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::BadRequest(
            "the request body is empty; send a JSON object".into(),
        ));
    }
    if std::str::from_utf8(bytes).is_err() {
        return Err(ApiError::BadRequest(
            "the request body is not valid UTF-8".into(),
        ));
    }

    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    let value = serde_path_to_error::deserialize(&mut deserializer).map_err(|err| {
        let path = err.path().to_string();
        let inner = err.into_inner();
        match inner.classify() {
            serde_json::error::Category::Data => {
                let field = if path == "." { "body".to_owned() } else { path };
                ApiError::Unprocessable(FieldErrors::single(
                    field,
                    message_without_position(&inner),
                ))
            }
            _ => ApiError::BadRequest(format!("the request body is not valid JSON: {inner}")),
        }
    })?;
    deserializer.end().map_err(|err| {
        ApiError::BadRequest(format!("the request body is not valid JSON: {err}"))
    })?;
    Ok(value)
}

fn is_json_content_type(value: Option<&HeaderValue>) -> bool {
    let Some(media_type) = value
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<mime::Mime>().ok())
    else {
        return false;
    };
    media_type.type_() == mime::APPLICATION
        && (media_type.subtype() == mime::JSON || media_type.suffix() == Some(mime::JSON))
}

/// serde_json's message without its " at line L column C" suffix, which means nothing to a
/// client that sent one field of the wrong type.
fn message_without_position(err: &serde_json::Error) -> String {
    let text = err.to_string();
    match text.rfind(" at line ") {
        Some(index) => text[..index].to_owned(),
        None => text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;
    use serde_json::Value;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Signup {
        name: Option<String>,
        age: Option<u32>,
    }

    fn request(content_type: Option<&str>, body: &str) -> Request {
        let mut builder = lambda_http::http::Request::builder()
            .method("POST")
            .uri("/api/things");
        if let Some(content_type) = content_type {
            builder = builder.header(header::CONTENT_TYPE, content_type);
        }
        builder.body(Body::Text(body.to_owned())).unwrap()
    }

    fn problem(err: ApiError) -> (u16, Value) {
        let response = err.into_response();
        assert_eq!(
            response.headers()[header::CONTENT_TYPE],
            crate::error::PROBLEM_JSON
        );
        let body = serde_json::from_slice(response.body()).unwrap();
        (response.status().as_u16(), body)
    }

    #[test]
    fn accepts_json_with_parameters_and_vendor_json_types() {
        for content_type in [
            "application/json",
            "Application/JSON; charset=utf-8",
            "application/merge-patch+json",
        ] {
            let parsed: Signup =
                parse_json(&request(Some(content_type), r#"{"name":"a"}"#), 1024).unwrap();
            assert_eq!(parsed.name.as_deref(), Some("a"));
        }
    }

    #[test]
    fn wrong_or_missing_content_type_is_415() {
        for content_type in [
            Some("text/plain"),
            Some("application/x-www-form-urlencoded"),
            None,
        ] {
            let err = parse_json::<Signup>(&request(content_type, "{}"), 1024).unwrap_err();
            let (status, body) = problem(err);
            assert_eq!(status, 415, "{content_type:?}");
            assert_eq!(body["status"], 415);
        }
    }

    #[test]
    fn malformed_json_is_400() {
        for text in [
            r#"{"name": "#,
            "{name: 1}",
            r#"{"name":"a"} trailing"#,
            "",
            "   ",
        ] {
            let err = parse_json::<Signup>(&request(Some(JSON), text), 1024).unwrap_err();
            let (status, body) = problem(err);
            assert_eq!(status, 400, "{text:?}");
            assert!(body["detail"].as_str().unwrap().len() > 10);
        }
    }

    #[test]
    fn non_utf8_body_is_400() {
        let request = lambda_http::http::Request::builder()
            .header(header::CONTENT_TYPE, JSON)
            .body(Body::Binary(vec![b'"', 0xff, 0xfe, b'"']))
            .unwrap();
        let (status, _) = problem(parse_json::<Signup>(&request, 1024).unwrap_err());
        assert_eq!(status, 400);
    }

    #[test]
    fn deeply_nested_json_is_400_not_a_stack_overflow() {
        let text = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
        let err = parse_json::<Value>(&request(Some(JSON), &text), 1 << 20).unwrap_err();
        assert_eq!(problem(err).0, 400);
    }

    #[test]
    fn oversize_body_is_413() {
        let text = format!(r#"{{"name":"{}"}}"#, "a".repeat(2000));
        let err = parse_json::<Signup>(&request(Some(JSON), &text), 1024).unwrap_err();
        let (status, body) = problem(err);
        assert_eq!(status, 413);
        assert!(body["detail"].as_str().unwrap().contains("1024"));
    }

    #[test]
    fn wrong_field_type_is_422_naming_the_field() {
        let err = parse_json::<Signup>(&request(Some(JSON), r#"{"name":"a","age":"old"}"#), 1024)
            .unwrap_err();
        let (status, body) = problem(err);
        assert_eq!(status, 422);
        let message = body["errors"]["age"][0].as_str().unwrap();
        assert!(message.contains("invalid type"), "{message}");
        assert!(!message.contains("line"), "{message}");
    }

    #[test]
    fn unknown_and_duplicate_fields_are_422() {
        let err = parse_json::<Signup>(&request(Some(JSON), r#"{"name":"a","admin":true}"#), 1024)
            .unwrap_err();
        let (status, body) = problem(err);
        assert_eq!(status, 422);
        let message = body["errors"]["admin"][0].as_str().unwrap();
        assert!(message.starts_with("unknown field"), "{message}");

        let err = parse_json::<Signup>(&request(Some(JSON), r#"{"name":"a","name":"b"}"#), 1024)
            .unwrap_err();
        assert_eq!(problem(err).0, 422);
    }

    #[test]
    fn a_body_that_is_not_an_object_is_422() {
        let err = parse_json::<Signup>(&request(Some(JSON), "[1,2]"), 1024).unwrap_err();
        assert_eq!(problem(err).0, 422);
    }

    #[test]
    fn created_sets_location() {
        let response = created("/api/things/1", &serde_json::json!({"id": 1})).unwrap();
        assert_eq!(response.status(), 201);
        assert_eq!(response.headers()[header::LOCATION], "/api/things/1");
        assert_eq!(response.headers()[header::CONTENT_TYPE], JSON);
    }

    #[test]
    fn escaped_length_counts_what_a_json_string_adds() {
        for text in [
            "plain",
            "say \"hi\"",
            "back\\slash",
            "line\nbreak",
            "\u{1}",
            "é",
        ] {
            let written = serde_json::to_string(text).unwrap();
            assert_eq!(escaped_len(text), written.len(), "{text:?}");
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
}
