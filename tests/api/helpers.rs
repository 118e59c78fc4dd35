use std::time::Duration;

use reqwest::{Client, Method, RequestBuilder, Response};
use serde_json::Value;

/// A client for the API under test.
#[derive(Clone)]
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

    pub async fn get_with(&self, path: &str, headers: &[(&str, &str)]) -> Response {
        let request = headers
            .iter()
            .fold(self.client.get(self.url(path)), |request, (name, value)| {
                request.header(*name, *value)
            });
        self.send(request, path).await
    }

    fn with_token(&self, method: Method, path: &str, token: &str) -> RequestBuilder {
        self.client
            .request(method, self.url(path))
            .bearer_auth(token)
    }

    fn if_match(request: RequestBuilder, etag: Option<&str>) -> RequestBuilder {
        match etag {
            Some(etag) => request.header("if-match", etag),
            None => request,
        }
    }

    pub async fn post_json(&self, path: &str, body: &Value) -> Response {
        self.send(self.client.post(self.url(path)).json(body), path)
            .await
    }

    pub async fn register(&self, body: &Value) -> Response {
        self.post_json("/api/users/register", body).await
    }

    pub async fn login(&self, body: &Value) -> Response {
        self.post_json("/api/auth/login", body).await
    }

    pub async fn me(&self, token: &str) -> Response {
        let path = "/api/users/me";
        self.send(self.with_token(Method::GET, path, token), path)
            .await
    }

    pub async fn create_task(&self, token: &str, body: &Value) -> Response {
        let path = "/api/tasks";
        self.send(self.with_token(Method::POST, path, token).json(body), path)
            .await
    }

    /// `GET /api/tasks?{query}`.
    pub async fn list_tasks(&self, token: &str, query: &str) -> Response {
        let path = format!("/api/tasks?{query}");
        self.send(self.with_token(Method::GET, &path, token), &path)
            .await
    }

    pub async fn get_task(&self, token: &str, id: &str) -> Response {
        let path = format!("/api/tasks/{id}");
        self.send(self.with_token(Method::GET, &path, token), &path)
            .await
    }

    pub async fn update_task(
        &self,
        token: &str,
        id: &str,
        body: &Value,
        if_match: Option<&str>,
    ) -> Response {
        let path = format!("/api/tasks/{id}");
        let request = self.with_token(Method::PATCH, &path, token).json(body);
        self.send(Self::if_match(request, if_match), &path).await
    }

    pub async fn delete_task(&self, token: &str, id: &str, if_match: Option<&str>) -> Response {
        let path = format!("/api/tasks/{id}");
        let request = self.with_token(Method::DELETE, &path, token);
        self.send(Self::if_match(request, if_match), &path).await
    }

    /// Any authenticated request, with an optional JSON body and `If-Match`.
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        token: &str,
        body: Option<&Value>,
        if_match: Option<&str>,
    ) -> Response {
        let mut request = self.with_token(method, path, token);
        if let Some(body) = body {
            request = request.json(body);
        }
        self.send(Self::if_match(request, if_match), path).await
    }

    pub async fn create_agent(&self, token: &str, body: &Value) -> Response {
        self.call(Method::POST, "/api/agents", token, Some(body), None)
            .await
    }

    /// `GET /api/agents?{query}`.
    pub async fn list_agents(&self, token: &str, query: &str) -> Response {
        let path = format!("/api/agents?{query}");
        self.call(Method::GET, &path, token, None, None).await
    }

    pub async fn get_agent(&self, token: &str, id: &str) -> Response {
        let path = format!("/api/agents/{id}");
        self.call(Method::GET, &path, token, None, None).await
    }

    pub async fn update_agent(
        &self,
        token: &str,
        id: &str,
        body: &Value,
        if_match: Option<&str>,
    ) -> Response {
        let path = format!("/api/agents/{id}");
        self.call(Method::PATCH, &path, token, Some(body), if_match)
            .await
    }

    pub async fn delete_agent(&self, token: &str, id: &str, if_match: Option<&str>) -> Response {
        let path = format!("/api/agents/{id}");
        self.call(Method::DELETE, &path, token, None, if_match)
            .await
    }

    pub async fn update_step(
        &self,
        token: &str,
        task: &str,
        step: &str,
        body: &Value,
        if_match: Option<&str>,
    ) -> Response {
        let path = format!("/api/tasks/{task}/steps/{step}");
        self.call(Method::PATCH, &path, token, Some(body), if_match)
            .await
    }

    /// `GET /api/audit?{query}`.
    pub async fn list_audit(&self, token: &str, query: &str) -> Response {
        let path = format!("/api/audit?{query}");
        self.call(Method::GET, &path, token, None, None).await
    }

    pub async fn refresh(&self, refresh_token: &str) -> Response {
        self.post_json(
            "/api/auth/refresh",
            &serde_json::json!({ "refresh_token": refresh_token }),
        )
        .await
    }

    /// `POST /api/auth/logout?{query}`.
    pub async fn logout(&self, token: &str, query: &str) -> Response {
        let path = format!("/api/auth/logout?{query}");
        self.send(self.with_token(Method::POST, &path, token), &path)
            .await
    }

    pub async fn change_password(&self, token: &str, current: &str, new: &str) -> Response {
        let path = "/api/users/me/password";
        let body = serde_json::json!({"current_password": current, "new_password": new});
        self.send(self.with_token(Method::PUT, path, token).json(&body), path)
            .await
    }

    pub async fn delete_account(&self, token: &str, password: &str) -> Response {
        let path = "/api/users/me";
        let body = serde_json::json!({ "password": password });
        self.send(
            self.with_token(Method::DELETE, path, token).json(&body),
            path,
        )
        .await
    }

    /// Logs in and returns the token response.
    pub async fn session(&self, login: &str, password: &str) -> Tokens {
        let response = self
            .login(&serde_json::json!({"login": login, "password": password}))
            .await;
        assert_eq!(response.status(), 200, "logging in {login}");
        let body: Value = response.json().await.expect("a token response");
        Tokens {
            access: body["access_token"]
                .as_str()
                .expect("an access token")
                .to_owned(),
            refresh: body["refresh_token"]
                .as_str()
                .expect("a refresh token")
                .to_owned(),
        }
    }

    /// Registers a new user with a unique name and logs in.
    pub async fn new_user(&self, prefix: &str) -> TestUser {
        let name = unique_name(prefix);
        let password = PASSWORD.to_owned();
        let body = serde_json::json!({"username": name, "email": format!("{name}@example.com"), "password": password});
        let registered = self.register(&body).await;
        assert_eq!(registered.status(), 201, "registering {name}");
        let tokens = self.session(&name, &password).await;
        TestUser {
            name,
            password,
            tokens,
        }
    }

    /// Deletes a test user's account and everything it owns: the suite leaves nothing behind
    /// on a deployed stack.
    pub async fn remove(&self, user: &TestUser) {
        self.remove_account(&user.name, &user.password).await;
    }

    /// Deletes the account `login` with its password.
    pub async fn remove_account(&self, login: &str, password: &str) {
        let tokens = self.session(login, password).await;
        let deleted = self.delete_account(&tokens.access, password).await;
        assert_eq!(deleted.status(), 204, "deleting {login}");
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

/// The password of every test user.
pub const PASSWORD: &str = "violet rivers hum beneath lanterns";

/// An access token and a refresh token of one session.
pub struct Tokens {
    pub access: String,
    pub refresh: String,
}

/// A user a test registered, with a session.
pub struct TestUser {
    pub name: String,
    pub password: String,
    pub tokens: Tokens,
}

impl TestUser {
    pub fn token(&self) -> &str {
        &self.tokens.access
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
