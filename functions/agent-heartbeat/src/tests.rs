use serde_json::{Value, json};
use shared::testing::{self, TestRequest, body_json};
use sqlx::PgPool;
use uuid::Uuid;

use super::*;

/// A task of a fresh owner, claimed by its agent: (state, db, key, task, fencing token).
async fn claimed(db: PgPool) -> (State, PgPool, String, Uuid, i64) {
    let (key, task, token) = testing::claimed_task(&db, 1).await;
    (testing::work_state(db.clone()), db, key, task, token)
}

async fn beat(state: &State, key: &str, task: Uuid, body: Value) -> (u16, Value) {
    let request = TestRequest::post(&format!("/api/agent/tasks/{task}/heartbeat"))
        .bearer(key)
        .path_parameter("id", &task.to_string())
        .json(&body)
        .build();
    let response = http::respond(handle(state, request).await);
    (response.status().as_u16(), body_json(&response))
}

#[sqlx::test(migrator = "shared::db::MIGRATOR")]
async fn the_holder_extends_its_lease_and_a_stale_token_is_409(db: PgPool) {
    let (state, db, key, task, token) = claimed(db).await;

    let (status, body) = beat(
        &state,
        &key,
        task,
        json!({"fencing_token": token, "lease_seconds": 600}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let left: f64 = sqlx::query_scalar(
        "select extract(epoch from lease_expires_at - now())::float8 from tasks where id = $1",
    )
    .bind(task)
    .fetch_one(&db)
    .await
    .unwrap();
    assert!((590.0..=600.0).contains(&left), "{left}");

    let (stale, problem) = beat(&state, &key, task, json!({"fencing_token": token + 1})).await;
    assert_eq!(stale, 409, "{problem}");
    assert!(problem["detail"].as_str().unwrap().contains("lease"));
    assert_eq!(
        beat(
            &state,
            &key,
            Uuid::new_v4(),
            json!({"fencing_token": token})
        )
        .await
        .0,
        404
    );
    assert_eq!(beat(&state, &key, task, json!({})).await.0, 422);
}

#[sqlx::test(migrator = "shared::db::MIGRATOR")]
async fn an_expired_lease_cannot_be_extended(db: PgPool) {
    let (state, db, key, task, token) = claimed(db).await;
    sqlx::query("update tasks set lease_expires_at = now() - interval '1 second'")
        .execute(&db)
        .await
        .unwrap();

    assert_eq!(
        beat(&state, &key, task, json!({"fencing_token": token}))
            .await
            .0,
        409
    );
}
