use lambda_http::http::header;
use serde_json::{Value, json};
use shared::testing::{self, TestRequest, body_json};
use sqlx::PgPool;

use super::*;

async fn patch(
    state: &State,
    token: &str,
    id: &str,
    body: Value,
    if_match: Option<&str>,
) -> lambda_http::Response<lambda_http::Body> {
    let mut request = TestRequest::new("PATCH", &format!("/api/agents/{id}"))
        .bearer(token)
        .path_parameter("id", id)
        .json(&body);
    if let Some(tag) = if_match {
        request = request.header("if-match", tag);
    }
    http::respond(handle(state, request.build()).await)
}

#[sqlx::test(migrator = "shared::db::MIGRATOR")]
async fn a_partial_update_changes_the_named_fields_and_guards_the_version(db: PgPool) {
    let state = testing::api_state(db.clone());
    let user = testing::create_user(&db, "ada", "correct horse battery staple").await;
    let token = testing::token_for(&db, user.id).await;
    let id = testing::insert_agent(&db, user.id, "runner")
        .await
        .to_string();
    testing::insert_agent(&db, user.id, "other").await;

    let changed = patch(
        &state,
        &token,
        &id,
        json!({"is_active": false, "description": "d"}),
        Some("\"1\""),
    )
    .await;
    let stale = patch(&state, &token, &id, json!({"name": "late"}), Some("\"1\"")).await;
    let taken = patch(&state, &token, &id, json!({"name": "OTHER"}), None).await;
    let cleared = patch(&state, &token, &id, json!({"description": null}), None).await;

    assert_eq!(changed.status(), 200);
    assert_eq!(changed.headers()[header::ETAG], "\"2\"");
    let body = body_json(&changed);
    assert_eq!(
        (&body["is_active"], &body["name"]),
        (&json!(false), &json!("runner"))
    );
    assert_eq!(stale.status(), 412);
    assert_eq!(taken.status(), 409);
    assert!(body_json(&cleared)["description"].is_null());
    let foreign = testing::create_user(&db, "grace", "correct horse battery staple").await;
    let foreign_token = testing::token_for(&db, foreign.id).await;
    assert_eq!(
        patch(&state, &foreign_token, &id, json!({"name": "mine"}), None)
            .await
            .status(),
        404
    );
}
