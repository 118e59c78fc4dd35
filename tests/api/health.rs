use serde_json::Value;

use crate::helpers::TestApi;

#[tokio::test]
async fn health_reports_the_service_and_database_ok() {
    let api = TestApi::new();

    let response = api.get("/api/health").await;

    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "application/json");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["status"], "ok");
    assert_eq!(body["database"], "ok");
    assert!(body["version"].as_str().is_some_and(|v| !v.is_empty()));
}

#[tokio::test]
async fn unknown_api_path_is_not_served() {
    let api = TestApi::new();

    let response = api.get("/api/no-such-route").await;

    assert_eq!(response.status(), 404);
}
