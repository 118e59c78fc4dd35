use std::sync::Arc;

use lambda_http::Body;
use lambda_http::http::header;
use serde_json::{Value, json};
use shared::tasks::Task;
use shared::tasks::TaskStatus::{self, *};
use shared::testing::{self, TestRequest, body_json, count};
use sqlx::PgPool;

use super::*;

struct Fixture {
    state: State,
    db: PgPool,
    user: shared::users::User,
    token: String,
    task: Task,
}

async fn fixture(db: PgPool) -> Fixture {
    let user = testing::create_user(&db, "ada", "correct horse battery staple").await;
    let token = testing::token_for(&db, user.id).await;
    let task = testing::insert_task(&db, user.id, "original", &["one", "two"]).await;
    Fixture {
        state: testing::api_state(db.clone()),
        db,
        user,
        token,
        task,
    }
}

fn patch_request(token: &str, id: &str, body: &Value, if_match: Option<&str>) -> Request {
    let mut request = TestRequest::new("PATCH", &format!("/api/tasks/{id}"))
        .bearer(token)
        .path_parameter("id", id)
        .json(body);
    if let Some(tag) = if_match {
        request = request.header("if-match", tag);
    }
    request.build()
}

impl Fixture {
    async fn patch(&self, body: Value) -> lambda_http::Response<Body> {
        self.patch_with(body, None).await
    }

    async fn patch_with(&self, body: Value, if_match: Option<&str>) -> lambda_http::Response<Body> {
        let request = patch_request(&self.token, &self.task.id.to_string(), &body, if_match);
        http::respond(handle(&self.state, request).await)
    }

    async fn stored(&self) -> Task {
        sqlx::query_as("select * from tasks where id = $1")
            .bind(self.task.id)
            .fetch_one(&self.db)
            .await
            .unwrap()
    }

    /// Puts the task in `status` directly, past the transition table (triggers off for this
    /// transaction), to set up a case.
    async fn set_status(&self, status: TaskStatus) {
        let mut tx = self.db.begin().await.unwrap();
        sqlx::query("set local session_replication_role = replica")
            .execute(&mut *tx)
            .await
            .unwrap();
        sqlx::query(
            "update tasks set status = $2, started_at = null, completed_at = null where id = $1",
        )
        .bind(self.task.id)
        .bind(status)
        .execute(&mut *tx)
        .await
        .unwrap();
        tx.commit().await.unwrap();
    }
}

#[sqlx::test(migrator = "shared::db::MIGRATOR")]
async fn a_partial_update_changes_only_the_named_fields_and_advances_the_version(db: PgPool) {
    let f = fixture(db).await;

    let response = f.patch(json!({"title": "renamed", "priority": 9})).await;

    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()[header::ETAG], "\"2\"");
    let body = body_json(&response);
    assert_eq!(
        (
            body["title"].as_str(),
            body["priority"].as_i64(),
            body["version"].as_i64()
        ),
        (Some("renamed"), Some(9), Some(2))
    );
    assert_eq!(body["status"], "pending");
    assert_eq!(body["steps"].as_array().unwrap().len(), 2);
    let stored = f.stored().await;
    assert!(stored.updated_at > f.task.updated_at);
    assert_eq!(stored.input, f.task.input);

    let (fields, version): (Value, Value) = sqlx::query_as(
        "select metadata->'fields', metadata->'version' from audit_logs where action = 'task.update'",
    )
    .fetch_one(&f.db)
    .await
    .unwrap();
    assert_eq!(fields, json!(["title", "priority"]));
    assert_eq!(version, json!(2));
}

#[sqlx::test(migrator = "shared::db::MIGRATOR")]
async fn null_clears_optional_fields_and_is_refused_for_required_ones(db: PgPool) {
    let f = fixture(db).await;
    let agent = testing::insert_agent(&f.db, f.user.id, "runner").await;
    let set = f
        .patch(json!({"description": "d", "agent_id": agent, "result": {"ok": true}}))
        .await;
    assert_eq!(set.status(), 200);

    let cleared = body_json(
        &f.patch(json!({"description": null, "agent_id": null, "result": null}))
            .await,
    );
    assert!(
        cleared["description"].is_null()
            && cleared["agent_id"].is_null()
            && cleared["result"].is_null()
    );

    for field in ["title", "status", "priority"] {
        let response = f.patch(json!({ field: null })).await;
        assert_eq!(response.status(), 422, "{field}");
        assert_eq!(body_json(&response)["errors"][field][0], "cannot be null");
    }
}

#[sqlx::test(migrator = "shared::db::MIGRATOR")]
async fn invalid_changes_are_422_and_change_nothing(db: PgPool) {
    let f = fixture(db).await;
    let other = testing::create_user(&f.db, "grace", "correct horse battery staple").await;
    let foreign_agent = testing::insert_agent(&f.db, other.id, "theirs").await;

    for (body, field) in [
        (json!({}), "body"),
        (json!({"title": ""}), "title"),
        (json!({"title": "x".repeat(201)}), "title"),
        (json!({"status": "archived"}), "status"),
        (json!({"priority": 1000}), "priority"),
        (json!({"agent_id": "nope"}), "agent_id"),
        (json!({"agent_id": foreign_agent}), "agent_id"),
        (json!({"result": "text"}), "result"),
        (json!({"input": {}}), "input"),
        (json!({"steps": []}), "steps"),
        (json!({"version": 5}), "version"),
        (json!({"owner_id": other.id}), "owner_id"),
        (json!({"nickname": "x"}), "nickname"),
    ] {
        let response = f.patch(body.clone()).await;
        assert_eq!(response.status(), 422, "{body}");
        assert!(
            body_json(&response)["errors"][field].is_array(),
            "{field}: {body}"
        );
    }
    let stored = f.stored().await;
    assert_eq!((stored.version, stored.title.as_str()), (1, "original"));
    assert_eq!(count(&f.db, "select count(*) from audit_logs").await, 0);
}

#[sqlx::test(migrator = "shared::db::MIGRATOR")]
async fn status_changes_follow_the_transition_table(db: PgPool) {
    let f = fixture(db).await;
    // The documented table, written out independently of the code.
    let allowed = [
        (Pending, InProgress),
        (Pending, Completed),
        (Pending, Cancelled),
        (InProgress, Pending),
        (InProgress, Completed),
        (InProgress, Failed),
        (InProgress, Cancelled),
        (Failed, Pending),
        (Failed, InProgress),
        (Failed, Completed),
        (Failed, Cancelled),
    ];
    for from in TaskStatus::ALL {
        for to in TaskStatus::ALL {
            f.set_status(from).await;

            let response = f.patch(json!({"status": to.as_str()})).await;

            let expected = if from == to || allowed.contains(&(from, to)) {
                200
            } else {
                422
            };
            assert_eq!(response.status(), expected, "{from:?} -> {to:?}");
            let stored = f.stored().await;
            assert_eq!(
                stored.status,
                if expected == 200 { to } else { from },
                "{from:?} -> {to:?}"
            );
        }
    }
    f.set_status(Completed).await;
    let refused = body_json(&f.patch(json!({"status": "pending"})).await);
    assert_eq!(
        refused["errors"]["status"][0],
        "a completed task cannot become pending"
    );
}

#[sqlx::test(migrator = "shared::db::MIGRATOR")]
async fn status_changes_set_the_start_and_completion_times(db: PgPool) {
    let f = fixture(db).await;

    let started = body_json(&f.patch(json!({"status": "in_progress"})).await);
    assert!(started["started_at"].is_string() && started["completed_at"].is_null());

    let failed = body_json(&f.patch(json!({"status": "failed"})).await);
    assert_eq!(failed["started_at"], started["started_at"]);
    assert!(failed["completed_at"].is_string());

    let retried = body_json(&f.patch(json!({"status": "pending"})).await);
    assert!(retried["started_at"].is_null() && retried["completed_at"].is_null());

    let done = body_json(&f.patch(json!({"status": "completed"})).await);
    assert!(done["started_at"].is_string() && done["completed_at"].is_string());

    let audit: (Value, Value) = sqlx::query_as(
        "select metadata->'from_status', metadata->'to_status' from audit_logs order by id desc limit 1",
    )
    .fetch_one(&f.db)
    .await
    .unwrap();
    assert_eq!(audit, (json!("pending"), json!("completed")));
}

#[sqlx::test(migrator = "shared::db::MIGRATOR")]
async fn if_match_with_a_stale_version_is_412_and_changes_nothing(db: PgPool) {
    let f = fixture(db).await;
    assert_eq!(
        f.patch_with(json!({"title": "v2"}), Some("\"1\""))
            .await
            .status(),
        200
    );

    let stale = f
        .patch_with(json!({"title": "lost update"}), Some("\"1\""))
        .await;

    assert_eq!(stale.status(), 412);
    assert_eq!(testing::content_type(&stale), "application/problem+json");
    let stored = f.stored().await;
    assert_eq!((stored.title.as_str(), stored.version), ("v2", 2));
    assert_eq!(
        f.patch_with(json!({"title": "v3"}), Some("\"2\""))
            .await
            .status(),
        200
    );
    assert_eq!(
        f.patch_with(json!({"title": "v4"}), Some("*"))
            .await
            .status(),
        200
    );
    assert_eq!(
        f.patch_with(json!({"title": "v5"}), Some("2"))
            .await
            .status(),
        400
    );
}

#[sqlx::test(migrator = "shared::db::MIGRATOR")]
async fn racing_updates_of_one_version_give_one_success_and_412s(db: PgPool) {
    let f = Arc::new(fixture(db).await);
    let mut racers = tokio::task::JoinSet::new();
    for i in 0..8 {
        let f = Arc::clone(&f);
        racers.spawn(async move {
            f.patch_with(json!({"title": format!("racer {i}")}), Some("\"1\""))
                .await
                .status()
                .as_u16()
        });
    }

    let statuses = racers.join_all().await;

    assert_eq!(
        statuses.iter().filter(|s| **s == 200).count(),
        1,
        "{statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|s| **s == 412).count(),
        7,
        "{statuses:?}"
    );
    assert_eq!(f.stored().await.version, 2);
}

#[sqlx::test(migrator = "shared::db::MIGRATOR")]
async fn another_users_task_is_404_and_a_bad_id_400(db: PgPool) {
    let f = fixture(db).await;
    let grace = testing::create_user(&f.db, "grace", "correct horse battery staple").await;
    let id = f.task.id.to_string();

    let foreign = patch_request(
        &testing::token_for(&f.db, grace.id).await,
        &id,
        &json!({"title": "mine now"}),
        None,
    );
    assert_eq!(http::respond(handle(&f.state, foreign).await).status(), 404);
    let bad_id = patch_request(&f.token, "123", &json!({"title": "x"}), None);
    assert_eq!(http::respond(handle(&f.state, bad_id).await).status(), 400);
    assert_eq!(f.stored().await.title, "original");
}

#[sqlx::test(migrator = "shared::db::MIGRATOR")]
async fn extreme_numbers_in_documents_survive_the_round_trip(db: PgPool) {
    let f = fixture(db).await;
    let result = json!({"max": -1.7976931348623155e308, "tiny": 5e-324, "big": 1e300, "int": i64::MIN, "u": u64::MAX});

    let response = f.patch(json!({"result": result})).await;

    assert_eq!(response.status(), 200, "{:?}", body_json(&response));
    assert_eq!(body_json(&response)["result"], result);
    let get_again: Value = sqlx::query_scalar("select result from tasks where id = $1")
        .bind(f.task.id)
        .fetch_one(&f.db)
        .await
        .unwrap();
    assert_eq!(get_again, result);
}

#[sqlx::test(migrator = "shared::db::MIGRATOR")]
async fn a_token_of_a_deleted_user_is_401(db: PgPool) {
    let f = fixture(db).await;
    sqlx::query("delete from users where id = $1")
        .bind(f.user.id)
        .execute(&f.db)
        .await
        .unwrap();

    let response = f.patch(json!({"title": "ghost"})).await;

    assert_eq!(response.status(), 401);
}
