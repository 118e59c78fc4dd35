use std::time::Duration;

use reqwest::{Client, Response};
use serde_json::Value;

/// A client for the API under test.
pub struct TestApi {
    pub base_url: String,
    client: Client,
}

impl TestApi {
    pub fn new() -> Self {
        let base_url = std::env::var("API_BASE_URL")
            .unwrap_or_else(|_| "http://127.0.0.1:9000".to_owned())
            .trim_end_matches('/')
            .to_owned();
        let client = Client::builder()
            .timeout(Duration::from_secs(30))
            .build()
            .expect("an HTTP client");
        Self { base_url, client }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base_url)
    }

    async fn send(&self, request: reqwest::RequestBuilder, what: &str) -> Response {
        request
            .send()
            .await
            .unwrap_or_else(|e| panic!("{what} against {}: {e}", self.base_url))
    }

    pub async fn get(&self, path: &str) -> Response {
        self.send(self.client.get(self.url(path)), path).await
    }

    pub async fn get_with_token(&self, path: &str, token: &str) -> Response {
        self.send(self.client.get(self.url(path)).bearer_auth(token), path)
            .await
    }

    pub async fn post_json(&self, path: &str, body: &Value) -> Response {
        self.send(self.client.post(self.url(path)).json(body), path)
            .await
    }

    pub async fn post_raw(&self, path: &str, content_type: &str, body: &str) -> Response {
        let request = self
            .client
            .post(self.url(path))
            .header("content-type", content_type)
            .body(body.to_owned());
        self.send(request, path).await
    }
}

/// A name no other test run has used, so the suite can run against a shared deployment.
pub fn unique_name(prefix: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    format!("{prefix}_{:x}", nanos & 0xffff_ffff_ffff)
}
