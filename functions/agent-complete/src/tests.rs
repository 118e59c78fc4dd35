use serde_json::{Value, json};
use shared::testing::{self, TestRequest, body_json};
use sqlx::PgPool;
use uuid::Uuid;

use super::*;

async fn complete(state: &State, key: &str, task: Uuid, body: Value) -> (u16, Value) {
    let request = TestRequest::post(&format!("/api/agent/tasks/{task}/complete"))
        .bearer(key)
        .path_parameter("id", &task.to_string())
        .json(&body)
        .build();
    let response = http::respond(handle(state, request).await);
    (response.status().as_u16(), body_json(&response))
}

#[sqlx::test(migrator = "shared::db::MIGRATOR")]
async fn the_holder_completes_with_a_result_once(db: PgPool) {
    let state = testing::work_state(db.clone());
    let (key, task, token) = testing::claimed_task(&db, 1).await;

    let (status, body) = complete(
        &state,
        &key,
        task,
        json!({"fencing_token": token, "result": {"rows": 3}}),
    )
    .await;

    assert_eq!(status, 200, "{body}");
    assert_eq!(
        (&body["status"], &body["result"]),
        (&json!("completed"), &json!({"rows": 3}))
    );
    assert!(body["lease_expires_at"].is_null());
    let again = complete(&state, &key, task, json!({"fencing_token": token})).await;
    assert_eq!(again.0, 409, "a finished attempt holds no lease");
    let audit: Value =
        sqlx::query_scalar("select metadata from audit_logs where action = 'task.complete'")
            .fetch_one(&db)
            .await
            .unwrap();
    assert_eq!(audit["fencing_token"], token);
}

#[sqlx::test(migrator = "shared::db::MIGRATOR")]
async fn a_stale_holder_writes_nothing(db: PgPool) {
    let state = testing::work_state(db.clone());
    let (key, task, token) = testing::claimed_task(&db, 1).await;
    // Another claim took the task after this holder's lease ended.
    sqlx::query("update tasks set fencing_token = nextval('task_fencing_tokens'), attempt = 2")
        .execute(&db)
        .await
        .unwrap();

    let (status, _) = complete(
        &state,
        &key,
        task,
        json!({"fencing_token": token, "result": {"late": true}}),
    )
    .await;

    assert_eq!(status, 409);
    let (task_status, result): (String, Option<Value>) =
        sqlx::query_as("select status, result from tasks where id = $1")
            .bind(task)
            .fetch_one(&db)
            .await
            .unwrap();
    assert_eq!((task_status.as_str(), result), ("in_progress", None));
}
