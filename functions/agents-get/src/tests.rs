use lambda_http::http::header;
use shared::testing::{self, TestRequest, body_json};
use sqlx::PgPool;

use super::*;

async fn get(state: &State, token: &str, id: &str) -> lambda_http::Response<lambda_http::Body> {
    let request = TestRequest::get(&format!("/api/agents/{id}"))
        .bearer(token)
        .path_parameter("id", id)
        .build();
    http::respond(handle(state, request).await)
}

#[sqlx::test(migrator = "shared::db::MIGRATOR")]
async fn the_owner_reads_the_agent_and_anyone_else_gets_the_404_of_a_missing_one(db: PgPool) {
    let state = testing::api_state(db.clone());
    let ada = testing::create_user(&db, "ada", "correct horse battery staple").await;
    let grace = testing::create_user(&db, "grace", "correct horse battery staple").await;
    let agent = testing::insert_agent(&db, ada.id, "runner")
        .await
        .to_string();

    let own = get(&state, &testing::token_for(&db, ada.id).await, &agent).await;
    let grace_token = testing::token_for(&db, grace.id).await;
    let foreign = get(&state, &grace_token, &agent).await;
    let missing = get(&state, &grace_token, &uuid::Uuid::new_v4().to_string()).await;

    assert_eq!(own.status(), 200);
    assert_eq!(own.headers()[header::ETAG], "\"1\"");
    assert_eq!(body_json(&own)["name"], "runner");
    assert_eq!(foreign.status(), 404);
    assert_eq!(foreign.body().as_ref(), missing.body().as_ref());
    assert_eq!(get(&state, &grace_token, "nope").await.status(), 400);
}
