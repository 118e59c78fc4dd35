use serde_json::Value;

use crate::helpers::TestApi;

#[tokio::test]
async fn the_api_serves_the_same_contract_as_openapi_yaml() {
    let api = TestApi::new();

    let response = api.get("/api/openapi.json").await;

    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "application/json");
    let served: Value = response.json().await.unwrap();
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../openapi.yaml");
    let yaml = std::fs::read_to_string(path).expect("openapi.yaml");
    let written: Value = serde_yaml_ng::from_str(&yaml).expect("openapi.yaml parses");
    assert!(
        served == written,
        "/api/openapi.json differs from openapi.yaml"
    );
}
