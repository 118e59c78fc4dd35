use serde_json::{Value, json};
use shared::testing::{self, TestRequest, body_json};
use sqlx::PgPool;
use uuid::Uuid;

use super::*;

async fn create(state: &State, token: &str, agent: Uuid, body: Value) -> (u16, Value) {
    let request = TestRequest::post(&format!("/api/agents/{agent}/keys"))
        .bearer(token)
        .path_parameter("id", &agent.to_string())
        .json(&body)
        .build();
    let response = http::respond(handle(state, request).await);
    (response.status().as_u16(), body_json(&response))
}

#[sqlx::test(migrator = "shared::db::MIGRATOR")]
async fn a_key_is_shown_once_and_only_its_hash_is_kept(db: PgPool) {
    let state = testing::api_state(db.clone());
    let user = testing::create_user(&db, "ada", "correct horse battery staple").await;
    let token = testing::token_for(&db, user.id).await;
    let agent = testing::insert_agent(&db, user.id, "runner").await;

    let (status, body) = create(&state, &token, agent, json!({"name": "ci"})).await;

    assert_eq!(status, 201, "{body}");
    let key = body["key"].as_str().unwrap();
    assert!(key.starts_with("tak_") && key.len() == 47, "{key}");
    assert_eq!(body["prefix"], &key[..12]);
    let (stored_hash, stored_prefix): (Vec<u8>, String) =
        sqlx::query_as("select key_hash, prefix from agent_keys where id = $1")
            .bind(Uuid::parse_str(body["id"].as_str().unwrap()).unwrap())
            .fetch_one(&db)
            .await
            .unwrap();
    assert_eq!(stored_hash, shared::agents::keys::hash(key).to_vec());
    assert_eq!(stored_prefix, body["prefix"]);
    let audit: String = sqlx::query_scalar(
        "select metadata::text from audit_logs where action = 'agent_key.create'",
    )
    .fetch_one(&db)
    .await
    .unwrap();
    assert!(!audit.contains(key), "the audit row holds no key");
}

#[sqlx::test(migrator = "shared::db::MIGRATOR")]
async fn another_owners_agent_is_404_and_bad_input_is_422_with_nothing_kept(db: PgPool) {
    let state = testing::api_state(db.clone());
    let ada = testing::create_user(&db, "ada", "correct horse battery staple").await;
    let bob = testing::create_user(&db, "bob", "correct horse battery staple").await;
    let token = testing::token_for(&db, ada.id).await;
    let bobs = testing::insert_agent(&db, bob.id, "bobs").await;
    let mine = testing::insert_agent(&db, ada.id, "mine").await;

    assert_eq!(
        create(&state, &token, bobs, json!({"name": "x"})).await.0,
        404
    );
    let (status, body) = create(
        &state,
        &token,
        mine,
        json!({"name": "", "expires_at": "soon"}),
    )
    .await;
    assert_eq!(status, 422);
    assert!(
        body["errors"]["name"].is_array() && body["errors"]["expires_at"].is_array(),
        "{body}"
    );
    assert_eq!(
        testing::count(&db, "select count(*) from agent_keys").await,
        0
    );
}
