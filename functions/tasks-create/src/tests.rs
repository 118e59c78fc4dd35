use lambda_http::Body;
use lambda_http::http::header;
use serde_json::{Value, json};
use shared::testing::{self, TestRequest, body_json, count};
use sqlx::PgPool;

use super::*;

async fn create(state: &State, token: &str, body: Value) -> lambda_http::Response<Body> {
    let request = TestRequest::post("/api/tasks")
        .bearer(token)
        .json(&body)
        .build();
    http::respond(handle(state, request).await)
}

async fn setup(db: &PgPool) -> (State, shared::users::User, String) {
    let user = testing::create_user(db, "ada", "correct horse battery staple").await;
    let token = testing::token_for(db, user.id).await;
    (testing::api_state(db.clone()), user, token)
}

#[sqlx::test(migrator = "shared::db::MIGRATOR")]
async fn creates_a_task_with_ordered_steps(db: PgPool) {
    let (state, user, token) = setup(&db).await;

    let response = create(
        &state,
        &token,
        json!({
            "title": "  Ship the release  ",
            "description": "all of it",
            "priority": 7,
            "input": {"branch": "main"},
            "steps": [{"name": "build"}, {"name": "test", "input": {"suite": "all"}}, {"name": "deploy"}]
        }),
    )
    .await;

    assert_eq!(response.status(), 201);
    let body = body_json(&response);
    let id = body["id"].as_str().unwrap();
    assert_eq!(
        response.headers()[header::LOCATION],
        format!("/api/tasks/{id}")
    );
    assert_eq!(response.headers()[header::ETAG], "\"1\"");
    assert_eq!(body["title"], "Ship the release");
    assert_eq!(body["owner_id"], user.id.to_string());
    assert_eq!(
        (
            body["status"].as_str(),
            body["priority"].as_i64(),
            body["version"].as_i64()
        ),
        (Some("pending"), Some(7), Some(1))
    );
    assert_eq!(body["input"], json!({"branch": "main"}));
    let steps: Vec<(&str, i64)> = body["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| (s["name"].as_str().unwrap(), s["position"].as_i64().unwrap()))
        .collect();
    assert_eq!(steps, [("build", 0), ("test", 1), ("deploy", 2)]);
    assert_eq!(body["steps"][1]["input"], json!({"suite": "all"}));

    let audit: (String, Option<uuid::Uuid>) =
        sqlx::query_as("select action, actor_id from audit_logs")
            .fetch_one(&db)
            .await
            .unwrap();
    assert_eq!(audit, ("task.create".to_owned(), Some(user.id)));
}

#[sqlx::test(migrator = "shared::db::MIGRATOR")]
async fn defaults_apply_and_a_started_or_finished_task_gets_its_times(db: PgPool) {
    let (state, _, token) = setup(&db).await;

    let plain = body_json(&create(&state, &token, json!({"title": "plain"})).await);
    assert_eq!(
        (plain["status"].as_str(), plain["priority"].as_i64()),
        (Some("pending"), Some(0))
    );
    assert_eq!(plain["input"], json!({}));
    assert_eq!(plain["steps"], json!([]));
    assert!(plain["started_at"].is_null() && plain["completed_at"].is_null());

    let started = body_json(
        &create(
            &state,
            &token,
            json!({"title": "busy", "status": "in_progress"}),
        )
        .await,
    );
    assert!(started["started_at"].is_string() && started["completed_at"].is_null());

    let done = body_json(
        &create(
            &state,
            &token,
            json!({"title": "done", "status": "completed"}),
        )
        .await,
    );
    assert!(done["started_at"].is_string() && done["completed_at"].is_string());
}

#[sqlx::test(migrator = "shared::db::MIGRATOR")]
async fn an_agent_of_the_caller_is_accepted_and_anyone_elses_is_422(db: PgPool) {
    let (state, user, token) = setup(&db).await;
    let other = testing::create_user(&db, "grace", "correct horse battery staple").await;
    let mine = testing::insert_agent(&db, user.id, "runner").await;
    let theirs = testing::insert_agent(&db, other.id, "runner").await;

    let ok = create(&state, &token, json!({"title": "t", "agent_id": mine})).await;
    assert_eq!(ok.status(), 201);
    assert_eq!(body_json(&ok)["agent_id"], mine.to_string());

    let refused = create(&state, &token, json!({"title": "t", "agent_id": theirs})).await;
    assert_eq!(refused.status(), 422);
    assert_eq!(
        body_json(&refused)["errors"]["agent_id"][0],
        "is not one of your agents"
    );

    let unknown = create(
        &state,
        &token,
        json!({"title": "t", "agent_id": uuid::Uuid::new_v4()}),
    )
    .await;
    assert_eq!(unknown.status(), 422);
    assert_eq!(count(&db, "select count(*) from tasks").await, 1);
}

#[sqlx::test(migrator = "shared::db::MIGRATOR")]
async fn each_invalid_field_is_422_naming_it_and_nothing_is_stored(db: PgPool) {
    let (state, _, token) = setup(&db).await;
    let steps = |n: usize| Value::Array((0..n).map(|i| json!({"name": format!("s{i}")})).collect());
    let cases: Vec<(Value, &str)> = vec![
        (json!({}), "title"),
        (json!({"title": null}), "title"),
        (json!({"title": "   "}), "title"),
        (json!({"title": "x".repeat(201)}), "title"),
        (json!({"title": 5}), "title"),
        (
            json!({"title": "t", "description": "d".repeat(10_001)}),
            "description",
        ),
        (json!({"title": "t", "status": "done"}), "status"),
        (json!({"title": "t", "status": null}), "status"),
        (json!({"title": "t", "priority": 101}), "priority"),
        (json!({"title": "t", "priority": -1}), "priority"),
        (json!({"title": "t", "priority": 2.5}), "priority"),
        (json!({"title": "t", "priority": "high"}), "priority"),
        (json!({"title": "t", "agent_id": "agent-7"}), "agent_id"),
        (json!({"title": "t", "input": [1, 2]}), "input"),
        (
            json!({"title": "t", "input": {"blob": "x".repeat(70_000)}}),
            "input",
        ),
        (json!({"title": "t", "steps": {"name": "a"}}), "steps"),
        (json!({"title": "t", "steps": steps(101)}), "steps"),
        (
            json!({"title": "t", "steps": [{"name": "a"}, {}]}),
            "steps[1].name",
        ),
        (
            json!({"title": "t", "steps": [{"name": " "}]}),
            "steps[0].name",
        ),
        (
            json!({"title": "t", "steps": [{"name": "x".repeat(201)}]}),
            "steps[0].name",
        ),
        (
            json!({"title": "t", "steps": [{"name": "a", "input": "x"}]}),
            "steps[0].input",
        ),
        (
            json!({"title": "t", "steps": [{"name": "a", "position": 9}]}),
            "steps[0].position",
        ),
        (json!({"title": "t", "steps": ["a"]}), "steps[0]"),
        (json!({"title": "t", "id": uuid::Uuid::new_v4()}), "id"),
        (
            json!({"title": "t", "owner_id": uuid::Uuid::new_v4()}),
            "owner_id",
        ),
        (json!({"title": "t", "version": 9}), "version"),
        (
            json!({"title": "t", "created_at": "2020-01-01T00:00:00Z"}),
            "created_at",
        ),
        (json!({"title": "t", "colour": "red"}), "colour"),
        (json!({"title": "a\u{0}b"}), "title"),
        (
            json!({"title": "t", "description": "d\u{0}"}),
            "description",
        ),
        (json!({"title": "t", "input": {"k\u{0}": 1}}), "input"),
        (json!({"title": "t", "input": {"k": ["\u{0}"]}}), "input"),
        (
            json!({"title": "t", "steps": [{"name": "a\u{0}"}]}),
            "steps[0].name",
        ),
    ];
    for (body, field) in cases {
        let response = create(&state, &token, body.clone()).await;

        assert_eq!(response.status(), 422, "{body}");
        let problem = body_json(&response);
        assert!(problem["errors"][field].is_array(), "{field} in {problem}");
    }
    let server_field =
        body_json(&create(&state, &token, json!({"title": "t", "version": 9})).await);
    assert_eq!(
        server_field["errors"]["version"][0],
        "is set by the server and cannot be sent"
    );
    assert_eq!(count(&db, "select count(*) from tasks").await, 0);
    assert_eq!(count(&db, "select count(*) from audit_logs").await, 0);
}

#[sqlx::test(migrator = "shared::db::MIGRATOR")]
async fn a_hundred_steps_are_accepted(db: PgPool) {
    let (state, _, token) = setup(&db).await;
    let steps: Vec<Value> = (0..100)
        .map(|i| json!({"name": format!("step {i}")}))
        .collect();

    let response = create(&state, &token, json!({"title": "long", "steps": steps})).await;

    assert_eq!(response.status(), 201);
    let body = body_json(&response);
    assert_eq!(body["steps"].as_array().unwrap().len(), 100);
    assert_eq!(body["steps"][99]["name"], "step 99");
    assert_eq!(body["steps"][99]["position"], 99);
}

#[sqlx::test(migrator = "shared::db::MIGRATOR")]
async fn unauthenticated_and_unreadable_requests_are_refused(db: PgPool) {
    let (state, _, token) = setup(&db).await;

    let anonymous = TestRequest::post("/api/tasks")
        .json(&json!({"title": "t"}))
        .build();
    let response = http::respond(handle(&state, anonymous).await);
    assert_eq!(response.status(), 401);

    let malformed = TestRequest::post("/api/tasks")
        .bearer(&token)
        .raw_body("application/json", "{\"title\"")
        .build();
    assert_eq!(http::respond(handle(&state, malformed).await).status(), 400);

    let text = TestRequest::post("/api/tasks")
        .bearer(&token)
        .raw_body("text/plain", "title")
        .build();
    assert_eq!(http::respond(handle(&state, text).await).status(), 415);

    let duplicate = TestRequest::post("/api/tasks")
        .bearer(&token)
        .raw_body("application/json", r#"{"title": "a", "title": "b"}"#)
        .build();
    let response = http::respond(handle(&state, duplicate).await);
    assert_eq!(response.status(), 422, "{:?}", body_json(&response));
    assert_eq!(count(&db, "select count(*) from tasks").await, 0);
}

#[sqlx::test(migrator = "shared::db::MIGRATOR")]
async fn a_failing_step_insert_leaves_no_task_behind(db: PgPool) {
    let (state, _, token) = setup(&db).await;
    // Make the database refuse the third step, after the task and two steps are written.
    sqlx::query(
        "create function refuse_third_step() returns trigger language plpgsql as $$ \
         begin if new.position = 2 then raise exception 'refused by test'; end if; return new; end $$",
    )
    .execute(&db)
    .await
    .unwrap();
    sqlx::query("create trigger refuse_third_step before insert on task_steps for each row execute function refuse_third_step()")
        .execute(&db)
        .await
        .unwrap();

    let response = create(
        &state,
        &token,
        json!({"title": "t", "steps": [{"name": "a"}, {"name": "b"}, {"name": "c"}]}),
    )
    .await;

    assert_eq!(response.status(), 500);
    let text = String::from_utf8_lossy(response.body()).into_owned();
    assert!(
        !text.contains("refused by test") && !text.contains("insert"),
        "{text}"
    );
    assert_eq!(count(&db, "select count(*) from tasks").await, 0);
    assert_eq!(count(&db, "select count(*) from task_steps").await, 0);
    assert_eq!(count(&db, "select count(*) from audit_logs").await, 0);
}

#[sqlx::test(migrator = "shared::db::MIGRATOR")]
async fn a_write_cut_off_halfway_leaves_no_rows(db: PgPool) {
    let (state, _, token) = setup(&db).await;
    // Hold the transaction open after the task and the first step are written.
    sqlx::query(
        "create function slow_second_step() returns trigger language plpgsql as $$ \
         begin if new.position = 1 then perform pg_sleep(30); end if; return new; end $$",
    )
    .execute(&db)
    .await
    .unwrap();
    sqlx::query("create trigger slow_second_step before insert on task_steps for each row execute function slow_second_step()")
        .execute(&db)
        .await
        .unwrap();
    let state = std::sync::Arc::new(state);
    let writer = {
        let state = std::sync::Arc::clone(&state);
        tokio::spawn(async move {
            create(
                &state,
                &token,
                json!({"title": "t", "steps": [{"name": "a"}, {"name": "b"}]}),
            )
            .await
            .status()
        })
    };

    // Cut the writer's connection while it sits inside the transaction.
    let mut terminated = false;
    for _ in 0..200 {
        let pid: Option<i32> = sqlx::query_scalar(
            "select pid from pg_stat_activity where datname = current_database() and wait_event = 'PgSleep'",
        )
        .fetch_optional(&db)
        .await
        .unwrap();
        if let Some(pid) = pid {
            terminated = sqlx::query_scalar("select pg_terminate_backend($1)")
                .bind(pid)
                .fetch_one(&db)
                .await
                .unwrap();
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }

    assert!(terminated, "the writer never reached the slow step");
    assert_eq!(writer.await.unwrap(), 503);
    assert_eq!(count(&db, "select count(*) from tasks").await, 0);
    assert_eq!(count(&db, "select count(*) from task_steps").await, 0);
    assert_eq!(count(&db, "select count(*) from audit_logs").await, 0);
}

#[sqlx::test(migrator = "shared::db::MIGRATOR")]
async fn a_token_of_a_deleted_user_is_401_and_writes_nothing(db: PgPool) {
    let (state, user, token) = setup(&db).await;
    sqlx::query("delete from users where id = $1")
        .bind(user.id)
        .execute(&db)
        .await
        .unwrap();

    let response = create(
        &state,
        &token,
        json!({"title": "orphan", "steps": [{"name": "a"}]}),
    )
    .await;

    assert_eq!(response.status(), 401);
    assert_eq!(
        response.headers()[header::WWW_AUTHENTICATE],
        r#"Bearer error="invalid_token""#
    );
    assert_eq!(count(&db, "select count(*) from tasks").await, 0);
    assert_eq!(count(&db, "select count(*) from audit_logs").await, 0);
}
