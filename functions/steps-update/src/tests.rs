use lambda_http::Body;
use lambda_http::http::header;
use serde_json::{Value, json};
use shared::auth::Caller;
use shared::tasks::Task;
use shared::testing::{self, TestRequest, body_json};
use sqlx::PgPool;
use uuid::Uuid;

use super::*;

struct Fixture {
    state: State,
    db: PgPool,
    token: String,
    task: Task,
    steps: Vec<Uuid>,
}

async fn fixture(db: PgPool, names: &[&str]) -> Fixture {
    let user = testing::create_user(&db, "ada", "correct horse battery staple").await;
    let caller: Caller = testing::open_session(&db, user.id).await;
    let task = testing::insert_task(&db, user.id, "work", names).await;
    let steps =
        sqlx::query_scalar("select id from task_steps where task_id = $1 order by position")
            .bind(task.id)
            .fetch_all(&db)
            .await
            .unwrap();
    Fixture {
        state: testing::api_state(db.clone()),
        db,
        token: testing::token_of(caller),
        task,
        steps,
    }
}

impl Fixture {
    async fn patch(
        &self,
        step: usize,
        body: Value,
        if_match: Option<&str>,
    ) -> lambda_http::Response<Body> {
        let (task, step) = (self.task.id.to_string(), self.steps[step].to_string());
        let mut request = TestRequest::new("PATCH", &format!("/api/tasks/{task}/steps/{step}"))
            .bearer(&self.token)
            .path_parameter("id", &task)
            .path_parameter("step_id", &step)
            .json(&body);
        if let Some(tag) = if_match {
            request = request.header("if-match", tag);
        }
        http::respond(handle(&self.state, request.build()).await)
    }

    async fn task_status(&self) -> (String, i64) {
        sqlx::query_as("select status, version from tasks where id = $1")
            .bind(self.task.id)
            .fetch_one(&self.db)
            .await
            .unwrap()
    }
}

#[sqlx::test(migrator = "shared::db::MIGRATOR")]
async fn the_first_step_to_start_starts_the_task_and_the_last_to_complete_completes_it(db: PgPool) {
    let f = fixture(db, &["fetch", "store"]).await;

    let started = f
        .patch(0, json!({"status": "in_progress"}), Some("\"1\""))
        .await;
    assert_eq!(started.status(), 200);
    assert_eq!(started.headers()[header::ETAG], "\"2\"");
    let body = body_json(&started);
    assert_eq!(
        (&body["status"], &body["steps"][0]["status"]),
        (&json!("in_progress"), &json!("in_progress"))
    );
    assert!(body["started_at"].is_string() && body["steps"][0]["started_at"].is_string());

    let first = f
        .patch(
            0,
            json!({"status": "completed", "output": {"rows": 3}}),
            None,
        )
        .await;
    assert_eq!(
        body_json(&first)["status"],
        "in_progress",
        "one step is left"
    );
    assert_eq!(body_json(&first)["steps"][0]["output"]["rows"], 3);
    let last = f.patch(1, json!({"status": "completed"}), None).await;
    let body = body_json(&last);
    assert_eq!(body["status"], "completed");
    assert!(body["completed_at"].is_string());
    assert_eq!(f.task_status().await, ("completed".into(), 4));

    let after = f.patch(1, json!({"output": {"late": true}}), None).await;
    assert_eq!(after.status(), 409, "a completed task's steps are final");
}

#[sqlx::test(migrator = "shared::db::MIGRATOR")]
async fn a_failed_step_fails_the_task_and_a_retry_resumes_it(db: PgPool) {
    let f = fixture(db, &["fetch", "store"]).await;
    f.patch(0, json!({"status": "in_progress"}), None).await;

    let failed = f
        .patch(
            0,
            json!({"status": "failed", "output": {"error": "timeout"}}),
            None,
        )
        .await;
    assert_eq!(body_json(&failed)["status"], "failed");
    let retried = f.patch(0, json!({"status": "in_progress"}), None).await;
    assert_eq!(body_json(&retried)["status"], "in_progress");

    let refused = f.patch(1, json!({"status": "failed"}), None).await;
    assert_eq!(refused.status(), 422, "a pending step cannot fail");
    assert!(body_json(&refused)["errors"]["status"].is_array());
    assert_eq!(
        f.patch(0, json!({"status": "in_progress"}), Some("\"1\""))
            .await
            .status(),
        412
    );
}

#[sqlx::test(migrator = "shared::db::MIGRATOR")]
async fn another_users_task_or_a_step_of_another_task_is_404(db: PgPool) {
    let f = fixture(db.clone(), &["a"]).await;
    let other_task = testing::insert_task(&db, f.task.owner_id, "other", &["b"]).await;
    let grace = testing::create_user(&db, "grace", "correct horse battery staple").await;
    let grace_token = testing::token_for(&db, grace.id).await;

    let foreign = {
        let (task, step) = (f.task.id.to_string(), f.steps[0].to_string());
        let request = TestRequest::new("PATCH", "/x")
            .bearer(&grace_token)
            .path_parameter("id", &task)
            .path_parameter("step_id", &step)
            .json(&json!({"status": "in_progress"}))
            .build();
        http::respond(handle(&f.state, request).await)
    };
    let mismatched = {
        let request = TestRequest::new("PATCH", "/x")
            .bearer(&f.token)
            .path_parameter("id", &other_task.id.to_string())
            .path_parameter("step_id", &f.steps[0].to_string())
            .json(&json!({"status": "in_progress"}))
            .build();
        http::respond(handle(&f.state, request).await)
    };

    assert_eq!(foreign.status(), 404);
    assert_eq!(mismatched.status(), 404);
    assert_eq!(f.task_status().await, ("pending".into(), 1));
}

#[sqlx::test(migrator = "shared::db::MIGRATOR")]
async fn concurrent_updates_of_two_steps_never_lose_a_change(db: PgPool) {
    for round in 0..10 {
        sqlx::query("delete from users").execute(&db).await.unwrap();
        let f = fixture(db.clone(), &["left", "right"]).await;

        // Both last steps complete at once: the task must end completed, with both changes.
        let responses = testing::join_all(vec![
            f.patch(
                0,
                json!({"status": "completed", "output": {"side": "left"}}),
                None,
            ),
            f.patch(
                1,
                json!({"status": "completed", "output": {"side": "right"}}),
                None,
            ),
        ])
        .await;

        for response in &responses {
            assert_eq!(response.status(), 200, "round {round}");
        }
        assert_eq!(
            f.task_status().await,
            ("completed".into(), 3),
            "round {round}"
        );
        let outputs: Vec<Value> =
            sqlx::query_scalar("select output from task_steps order by position")
                .fetch_all(&db)
                .await
                .unwrap();
        assert_eq!(
            outputs,
            [json!({"side": "left"}), json!({"side": "right"})],
            "round {round}"
        );
    }
}

#[sqlx::test(migrator = "shared::db::MIGRATOR")]
async fn a_single_step_task_follows_its_step(db: PgPool) {
    let f = fixture(db, &["only"]).await;

    let started = body_json(&f.patch(0, json!({"status": "in_progress"}), None).await);
    assert_eq!(
        started["status"], "in_progress",
        "not done while its one step runs"
    );
    let failed = body_json(&f.patch(0, json!({"status": "failed"}), None).await);
    assert_eq!(failed["status"], "failed");
    f.patch(0, json!({"status": "in_progress"}), None).await;
    let done = body_json(&f.patch(0, json!({"status": "completed"}), None).await);
    assert_eq!(done["status"], "completed");
}

#[sqlx::test(migrator = "shared::db::MIGRATOR")]
async fn a_task_completes_only_when_every_step_has(db: PgPool) {
    let f = fixture(db, &["one", "two"]).await;
    f.patch(1, json!({"status": "completed"}), None).await;

    let running = body_json(&f.patch(0, json!({"status": "in_progress"}), None).await);

    assert_eq!(running["status"], "in_progress", "step one still runs");
}

/// A task set back to `pending` while one of its steps is in progress, whose step then fails:
/// the derived move would be pending -> failed, which the transition table forbids. The task
/// stays pending (it waits for another attempt) and the step keeps its failure.
#[sqlx::test(migrator = "shared::db::MIGRATOR")]
async fn a_step_failing_under_a_task_set_back_to_pending_leaves_the_task_pending(db: PgPool) {
    let f = fixture(db, &["fetch", "store"]).await;
    assert_eq!(
        f.patch(0, json!({"status": "in_progress"}), None)
            .await
            .status(),
        200
    );
    sqlx::query("update tasks set status = 'pending' where id = $1")
        .bind(f.task.id)
        .execute(&f.db)
        .await
        .unwrap();

    let failed = f.patch(0, json!({"status": "failed"}), None).await;

    assert_eq!(failed.status(), 200, "{:?}", body_json(&failed));
    let body = body_json(&failed);
    assert_eq!(
        (&body["status"], &body["steps"][0]["status"]),
        (&json!("pending"), &json!("failed"))
    );
    assert_eq!(f.task_status().await.0, "pending");
}

/// A failed task is retried by moving a step again; when its last step completes, it completes.
#[sqlx::test(migrator = "shared::db::MIGRATOR")]
async fn a_failed_task_whose_last_step_completes_is_completed(db: PgPool) {
    let f = fixture(db, &["fetch"]).await;
    f.patch(0, json!({"status": "in_progress"}), None).await;
    let failed = f.patch(0, json!({"status": "failed"}), None).await;
    assert_eq!(body_json(&failed)["status"], "failed");

    let completed = f.patch(0, json!({"status": "completed"}), None).await;

    assert_eq!(completed.status(), 200, "{:?}", body_json(&completed));
    assert_eq!(body_json(&completed)["status"], "completed");
    assert_eq!(f.task_status().await.0, "completed");
}
