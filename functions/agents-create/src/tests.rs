use lambda_http::Body;
use lambda_http::http::header;
use serde_json::{Value, json};
use shared::testing::{self, TestRequest, body_json};
use sqlx::PgPool;

use super::*;

async fn create(state: &State, token: &str, body: Value) -> lambda_http::Response<Body> {
    let request = TestRequest::post("/api/agents")
        .bearer(token)
        .json(&body)
        .build();
    http::respond(handle(state, request).await)
}

#[sqlx::test(migrator = "shared::db::MIGRATOR")]
async fn an_agent_is_created_with_defaults_location_etag_and_audit(db: PgPool) {
    let state = testing::api_state(db.clone());
    let user = testing::create_user(&db, "ada", "correct horse battery staple").await;
    let token = testing::token_for(&db, user.id).await;

    let response = create(
        &state,
        &token,
        json!({"name": " runner ", "config": {"model": "m1"}}),
    )
    .await;

    assert_eq!(response.status(), 201);
    assert_eq!(response.headers()[header::ETAG], "\"1\"");
    let body = body_json(&response);
    let location = format!("/api/agents/{}", body["id"].as_str().unwrap());
    assert_eq!(response.headers()[header::LOCATION], location.as_str());
    assert_eq!(
        (
            &body["name"],
            &body["is_active"],
            &body["owner_id"],
            &body["config"]["model"]
        ),
        (
            &json!("runner"),
            &json!(true),
            &json!(user.id),
            &json!("m1")
        )
    );
    let action: String = sqlx::query_scalar("select action from audit_logs")
        .fetch_one(&db)
        .await
        .unwrap();
    assert_eq!(action, "agent.create");
}

#[sqlx::test(migrator = "shared::db::MIGRATOR")]
async fn a_name_is_unique_per_owner_ignoring_case_and_fields_are_checked(db: PgPool) {
    let state = testing::api_state(db.clone());
    let ada = testing::create_user(&db, "ada", "correct horse battery staple").await;
    let grace = testing::create_user(&db, "grace", "correct horse battery staple").await;
    let (ada_token, grace_token) = (
        testing::token_for(&db, ada.id).await,
        testing::token_for(&db, grace.id).await,
    );
    assert_eq!(
        create(&state, &ada_token, json!({"name": "Runner"}))
            .await
            .status(),
        201
    );

    let taken = create(&state, &ada_token, json!({"name": "runner"})).await;
    let elsewhere = create(&state, &grace_token, json!({"name": "runner"})).await;
    let invalid = create(
        &state,
        &ada_token,
        json!({"name": "", "config": "x", "id": 1}),
    )
    .await;

    assert_eq!(taken.status(), 409);
    assert!(body_json(&taken)["errors"]["name"].is_array());
    assert_eq!(elsewhere.status(), 201, "another owner may use the name");
    assert_eq!(invalid.status(), 422);
    let errors = &body_json(&invalid)["errors"];
    for field in ["name", "config", "id"] {
        assert!(errors[field].is_array(), "{field}");
    }
}
