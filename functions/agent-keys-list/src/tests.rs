use serde_json::Value;
use shared::testing::{self, TestRequest, body_json};
use sqlx::PgPool;
use uuid::Uuid;

use super::*;

async fn list(state: &State, token: &str, agent: Uuid) -> (u16, Value) {
    let request = TestRequest::get(&format!("/api/agents/{agent}/keys"))
        .bearer(token)
        .path_parameter("id", &agent.to_string())
        .build();
    let response = http::respond(handle(state, request).await);
    (response.status().as_u16(), body_json(&response))
}

#[sqlx::test(migrator = "shared::db::MIGRATOR")]
async fn keys_are_listed_without_their_secrets_and_only_for_the_owners_agent(db: PgPool) {
    let state = testing::api_state(db.clone());
    let ada = testing::create_user(&db, "ada", "correct horse battery staple").await;
    let bob = testing::create_user(&db, "bob", "correct horse battery staple").await;
    let token = testing::token_for(&db, ada.id).await;
    let agent = testing::insert_agent(&db, ada.id, "runner").await;
    let idle = testing::insert_agent(&db, ada.id, "idle").await;
    let bobs = testing::insert_agent(&db, bob.id, "bobs").await;
    let key = testing::agent_key(&db, ada.id, agent).await;
    testing::agent_key(&db, bob.id, bobs).await;

    let (status, body) = list(&state, &token, agent).await;

    assert_eq!(status, 200, "{body}");
    assert_eq!(body["items"].as_array().unwrap().len(), 1);
    assert_eq!(body["items"][0]["prefix"], &key[..12]);
    assert!(body["items"][0]["last_used_at"].is_null());
    assert!(!body.to_string().contains(&key), "no key in a list");
    assert_eq!(list(&state, &token, idle).await, (200, body_json_empty()));
    assert_eq!(list(&state, &token, bobs).await.0, 404);
    assert_eq!(list(&state, &token, Uuid::new_v4()).await.0, 404);
}

fn body_json_empty() -> Value {
    serde_json::json!({"items": [], "next_cursor": null})
}
