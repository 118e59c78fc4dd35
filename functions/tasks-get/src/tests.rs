use lambda_http::Body;
use lambda_http::http::header;
use shared::testing::{self, TestRequest, body_json};
use sqlx::PgPool;

use super::*;

async fn get(state: &State, token: &str, id: &str) -> lambda_http::Response<Body> {
    let request = TestRequest::get(&format!("/api/tasks/{id}"))
        .bearer(token)
        .path_parameter("id", id)
        .build();
    http::respond(handle(state, request).await)
}

#[sqlx::test(migrator = "shared::db::MIGRATOR")]
async fn returns_the_task_with_steps_in_order_and_its_etag(db: PgPool) {
    let state = testing::api_state(db.clone());
    let user = testing::create_user(&db, "ada", "correct horse battery staple").await;
    let task = testing::insert_task(&db, user.id, "write", &["draft", "edit", "publish"]).await;

    let response = get(
        &state,
        &testing::token_for(&db, user.id).await,
        &task.id.to_string(),
    )
    .await;

    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()[header::ETAG], "\"1\"");
    let body = body_json(&response);
    assert_eq!(body["id"], task.id.to_string());
    assert_eq!(body["title"], "write");
    assert_eq!(
        testing::each(&body["steps"], "name"),
        ["draft", "edit", "publish"]
    );
}

#[sqlx::test(migrator = "shared::db::MIGRATOR")]
async fn another_users_task_is_404_exactly_like_a_missing_one(db: PgPool) {
    let state = testing::api_state(db.clone());
    let ada = testing::create_user(&db, "ada", "correct horse battery staple").await;
    let grace = testing::create_user(&db, "grace", "correct horse battery staple").await;
    let adas = testing::insert_task(&db, ada.id, "private", &[]).await;
    let token = testing::token_for(&db, grace.id).await;

    let foreign = get(&state, &token, &adas.id.to_string()).await;
    let missing = get(&state, &token, &uuid::Uuid::new_v4().to_string()).await;

    assert_eq!(foreign.status(), 404);
    assert_eq!(missing.status(), 404);
    assert_eq!(foreign.body().as_ref(), missing.body().as_ref());
}

#[sqlx::test(migrator = "shared::db::MIGRATOR")]
async fn an_id_that_is_not_a_uuid_is_400_and_no_token_is_401(db: PgPool) {
    let state = testing::api_state(db.clone());
    let user = testing::create_user(&db, "ada", "correct horse battery staple").await;

    let bad_id = get(&state, &testing::token_for(&db, user.id).await, "42").await;
    assert_eq!(bad_id.status(), 400);
    assert_eq!(testing::content_type(&bad_id), "application/problem+json");

    let request = TestRequest::get("/api/tasks/x")
        .path_parameter("id", &uuid::Uuid::new_v4().to_string())
        .build();
    let anonymous = http::respond(handle(&state, request).await);
    assert_eq!(anonymous.status(), 401);
}

#[sqlx::test(migrator = "shared::db::MIGRATOR")]
async fn a_token_of_a_deleted_user_is_401(db: PgPool) {
    let state = testing::api_state(db.clone());
    let (token, task) = testing::deleted_user_with_a_task(&db).await;

    let response = get(&state, &token, &task.id.to_string()).await;

    assert_eq!(response.status(), 401);
    assert_eq!(
        response.headers()[header::WWW_AUTHENTICATE],
        r#"Bearer error="invalid_token""#
    );
}
