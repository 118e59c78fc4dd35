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

    /// Any request with a bearer token, an optional JSON body and extra headers.
    pub async fn send_with_token(
        &self,
        method: reqwest::Method,
        path: &str,
        token: &str,
        body: Option<&Value>,
        headers: &[(&str, &str)],
    ) -> Response {
        let mut request = self
            .client
            .request(method, self.url(path))
            .bearer_auth(token);
        if let Some(body) = body {
            request = request.json(body);
        }
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        self.send(request, path).await
    }

    /// Registers a new user with a unique name and returns an access token for it.
    pub async fn new_user_token(&self, prefix: &str) -> String {
        let name = unique_name(prefix);
        let password = "violet rivers hum beneath lanterns";
        let body = serde_json::json!({"username": name, "email": format!("{name}@example.com"), "password": password});
        let registered = self.post_json("/api/users/register", &body).await;
        assert_eq!(registered.status(), 201, "registering {name}");
        let login = self
            .post_json(
                "/api/auth/login",
                &serde_json::json!({"login": name, "password": password}),
            )
            .await;
        assert_eq!(login.status(), 200, "logging in {name}");
        let token: Value = login.json().await.expect("a token response");
        token["access_token"]
            .as_str()
            .expect("an access token")
            .to_owned()
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
