use shared::testing::{self, TestRequest};
use sqlx::PgPool;
use uuid::Uuid;

use super::*;

async fn delete(state: &State, token: &str, agent: Uuid, key: Uuid) -> u16 {
    let request = TestRequest::new("DELETE", &format!("/api/agents/{agent}/keys/{key}"))
        .bearer(token)
        .path_parameter("id", &agent.to_string())
        .path_parameter("key_id", &key.to_string())
        .build();
    http::respond(handle(state, request).await)
        .status()
        .as_u16()
}

#[sqlx::test(migrator = "shared::db::MIGRATOR")]
async fn a_revoked_key_stops_working_at_once(db: PgPool) {
    let state = testing::api_state(db.clone());
    let ada = testing::create_user(&db, "ada", "correct horse battery staple").await;
    let token = testing::token_for(&db, ada.id).await;
    let agent = testing::insert_agent(&db, ada.id, "runner").await;
    let other = testing::insert_agent(&db, ada.id, "other").await;
    let key = testing::agent_key(&db, ada.id, agent).await;
    let key_id: Uuid = sqlx::query_scalar("select id from agent_keys")
        .fetch_one(&db)
        .await
        .unwrap();
    let valid = |db: PgPool, key: String| async move {
        sqlx::query_scalar::<_, i64>("select count(*) from agent_of_key($1)")
            .bind(&shared::agents::keys::hash(&key)[..])
            .fetch_one(&db)
            .await
            .unwrap()
    };
    assert_eq!(valid(db.clone(), key.clone()).await, 1);

    assert_eq!(
        delete(&state, &token, other, key_id).await,
        404,
        "another agent's path"
    );
    assert_eq!(delete(&state, &token, agent, key_id).await, 204);

    assert_eq!(valid(db.clone(), key.clone()).await, 0);
    assert_eq!(delete(&state, &token, agent, key_id).await, 404);
    assert_eq!(
        testing::count(
            &db,
            "select count(*) from audit_logs where action = 'agent_key.delete'"
        )
        .await,
        1
    );
}
