//! GET /api/openapi.json: the API's contract, the same document as `openapi.yaml`, converted to
//! JSON when the function is built (`build.rs`), for client generators and docs tools that ask
//! the running API for it.

use lambda_http::http::{HeaderValue, StatusCode, header};
use lambda_http::{Body, Request, Response};
use shared::http::{ApiResult, JSON};

pub use shared::state::Bare as State;

/// `openapi.yaml` as JSON.
pub const OPENAPI_JSON: &str = include_str!(concat!(env!("OUT_DIR"), "/openapi.json"));

/// The contract changes only with a deployment: a client may keep it five minutes.
const CACHE_CONTROL: &str = "public, max-age=300";

pub async fn handle(_state: &State, _request: Request) -> ApiResult {
    let mut response = Response::new(Body::Text(OPENAPI_JSON.to_owned()));
    *response.status_mut() = StatusCode::OK;
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(JSON));
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static(CACHE_CONTROL),
    );
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;
    use shared::testing::{TestRequest, body_json, content_type};

    #[tokio::test]
    async fn serves_the_contract_as_json_that_clients_may_cache_briefly() {
        let response = handle(&State, TestRequest::get("/api/openapi.json").build())
            .await
            .expect("a response");
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(content_type(&response), JSON);
        assert_eq!(response.headers()[header::CACHE_CONTROL], CACHE_CONTROL);
        let document = body_json(&response);
        assert!(
            document["openapi"]
                .as_str()
                .is_some_and(|v| v.starts_with("3."))
        );
        let paths = document["paths"].as_object().expect("paths");
        assert!(
            paths.contains_key("/api/openapi.json"),
            "the contract lists itself"
        );
        assert!(paths.contains_key("/api/agent/claim"));
        // Response codes are object keys, as in the YAML, not numbers.
        let health = &document["paths"]["/api/health"]["get"]["responses"];
        assert!(health.get("200").is_some_and(Value::is_object), "{health}");
    }
}
