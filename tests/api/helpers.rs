use std::time::Duration;

use reqwest::{Client, Response};

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

    pub async fn get(&self, path: &str) -> Response {
        self.client
            .get(self.url(path))
            .send()
            .await
            .unwrap_or_else(|e| panic!("GET {path} against {}: {e}", self.base_url))
    }
}
