use serde_json::{Value, json};
use shared::testing::{self, TestRequest, body_json};
use sqlx::PgPool;
use uuid::Uuid;

use super::*;

async fn fail(state: &State, key: &str, task: Uuid, body: Value) -> (u16, Value) {
    let request = TestRequest::post(&format!("/api/agent/tasks/{task}/fail"))
        .bearer(key)
        .path_parameter("id", &task.to_string())
        .json(&body)
        .build();
    let response = http::respond(handle(state, request).await);
    (response.status().as_u16(), body_json(&response))
}

#[sqlx::test(migrator = "shared::db::MIGRATOR")]
async fn a_failed_attempt_with_attempts_left_waits_for_a_backoff_that_doubles(db: PgPool) {
    let state = testing::work_state(db.clone());
    let (key, task, token) = testing::claimed_task(&db, 2).await;

    let (status, body) = fail(
        &state,
        &key,
        task,
        json!({"fencing_token": token, "error": {"code": "timeout"}}),
    )
    .await;

    assert_eq!(status, 200, "{body}");
    assert_eq!(body["status"], "pending");
    assert_eq!(body["last_error"], json!({"code": "timeout"}));
    let wait: f64 = sqlx::query_scalar(
        "select extract(epoch from not_before - now())::float8 from tasks where id = $1",
    )
    .bind(task)
    .fetch_one(&db)
    .await
    .unwrap();
    // Attempt 2: the 10 s base, doubled once.
    assert!((18.0..=20.0).contains(&wait), "{wait}");
    assert_eq!(
        testing::count(
            &db,
            "select count(*) from audit_logs where action = 'task.retry'"
        )
        .await,
        1
    );
}

#[sqlx::test(migrator = "shared::db::MIGRATOR")]
async fn the_last_attempt_fails_the_task_and_a_lost_lease_writes_nothing(db: PgPool) {
    let state = testing::work_state(db.clone());
    let (key, task, token) = testing::claimed_task(&db, 3).await;

    assert_eq!(
        fail(
            &state,
            &key,
            task,
            json!({"fencing_token": token + 1, "error": {}})
        )
        .await
        .0,
        409
    );
    assert_eq!(
        fail(&state, &key, task, json!({"fencing_token": token}))
            .await
            .0,
        422,
        "an error document"
    );
    let (status, body) = fail(
        &state,
        &key,
        task,
        json!({"fencing_token": token, "error": {"code": "bad input"}}),
    )
    .await;

    assert_eq!(status, 200, "{body}");
    assert_eq!(body["status"], "failed");
    assert!(body["not_before"].is_null());
    assert_eq!(
        testing::count(
            &db,
            "select count(*) from audit_logs where action = 'task.fail'"
        )
        .await,
        1
    );
}
