use serde_json::{Value, json};
use shared::testing::{self, TestRequest, body_json};
use sqlx::PgPool;
use uuid::Uuid;

use super::*;
use shared::http;

async fn list(state: &State, token: &str, query: &str) -> lambda_http::Response<lambda_http::Body> {
    let request = TestRequest::get("/api/audit")
        .bearer(token)
        .query(query)
        .build();
    http::respond(handle(state, request).await)
}

async fn record(db: &PgPool, actor: Uuid, action: &str, entity: Option<Uuid>) {
    let entity_type = action.split('.').next().unwrap();
    sqlx::query(
        "insert into audit_logs (actor_id, action, entity_type, entity_id, metadata) \
         values ($1, $2, $3, $4, '{\"source_ip\": \"203.0.113.7\"}')",
    )
    .bind(actor)
    .bind(action)
    .bind(entity_type)
    .bind(entity)
    .execute(db)
    .await
    .unwrap();
}

#[sqlx::test(migrator = "shared::db::MIGRATOR")]
async fn the_caller_reads_only_their_own_events_newest_first_filtered_and_paged(db: PgPool) {
    let state = testing::api_state(db.clone());
    let ada = testing::create_user(&db, "ada", "correct horse battery staple").await;
    let grace = testing::create_user(&db, "grace", "correct horse battery staple").await;
    let task = Uuid::new_v4();
    for i in 0..7 {
        let action = if i % 2 == 0 {
            "task.update"
        } else {
            "agent.create"
        };
        record(&db, ada.id, action, Some(task)).await;
    }
    record(&db, grace.id, "task.update", Some(task)).await;
    let token = testing::token_for(&db, ada.id).await;

    let all = body_json(&list(&state, &token, "").await);
    let ids: Vec<i64> = all["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["id"].as_i64().unwrap())
        .collect();
    assert_eq!(ids.len(), 7, "grace's event is not ada's");
    assert!(ids.windows(2).all(|w| w[0] > w[1]), "newest first: {ids:?}");
    assert!(
        all["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e["actor_id"] == json!(ada.id))
    );

    let updates = body_json(&list(&state, &token, "action=task.update&entity_type=task").await);
    assert_eq!(updates["items"].as_array().unwrap().len(), 4);
    let by_entity = body_json(&list(&state, &token, &format!("entity_id={task}&limit=3")).await);
    assert_eq!(by_entity["items"].as_array().unwrap().len(), 3);
    let cursor = by_entity["next_cursor"].as_str().unwrap();
    let rest = body_json(
        &list(
            &state,
            &token,
            &format!("entity_id={task}&limit=3&cursor={cursor}"),
        )
        .await,
    );
    let first_of_rest = rest["items"][0]["id"].as_i64().unwrap();
    assert!(first_of_rest < by_entity["items"][2]["id"].as_i64().unwrap());
    let other_filter = list(&state, &token, &format!("limit=3&cursor={cursor}")).await;
    assert_eq!(
        other_filter.status(),
        400,
        "a cursor is bound to its filter"
    );
}

#[sqlx::test(migrator = "shared::db::MIGRATOR")]
async fn unknown_or_malformed_parameters_are_400(db: PgPool) {
    let state = testing::api_state(db.clone());
    let ada = testing::create_user(&db, "ada", "correct horse battery staple").await;
    let token = testing::token_for(&db, ada.id).await;

    for query in [
        "actor_id=x",
        "entity_id=7",
        "action=Task.Update",
        "entity_type=a-b",
        "limit=0",
    ] {
        assert_eq!(list(&state, &token, query).await.status(), 400, "{query}");
    }
    let page: Value = body_json(&list(&state, &token, "").await);
    assert_eq!(page["items"], json!([]));
}
