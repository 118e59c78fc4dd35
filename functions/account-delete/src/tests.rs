use lambda_http::Body;
use serde_json::{Value, json};
use shared::auth::Caller;
use shared::testing::{self, TestRequest};
use sqlx::PgPool;

use super::*;

const PASSWORD: &str = "correct horse battery staple";

async fn delete(state: &State, caller: Caller, body: Value) -> lambda_http::Response<Body> {
    let request = TestRequest::new("DELETE", "/api/users/me")
        .bearer(&testing::token_of(caller))
        .json(&body)
        .build();
    http::respond(handle(state, request).await)
}

async fn count(db: &PgPool, sql: &'static str) -> i64 {
    testing::count(db, sql).await
}

#[sqlx::test(migrator = "shared::db::MIGRATOR")]
async fn deletion_removes_what_the_account_owns_keeps_the_audit_and_frees_the_names(db: PgPool) {
    let state = testing::password_check_state(db.clone());
    let user = testing::create_user(&db, "ada", PASSWORD).await;
    let this = testing::open_session(&db, user.id).await;
    testing::open_session(&db, user.id).await;
    let agent = testing::insert_agent(&db, user.id, "runner").await;
    testing::insert_task(&db, user.id, "work", &["one", "two"]).await;
    sqlx::query("update tasks set agent_id = $1")
        .bind(agent)
        .execute(&db)
        .await
        .unwrap();
    sqlx::query("insert into audit_logs (actor_id, action, entity_type) values ($1, 'user.register', 'user')")
        .bind(user.id)
        .execute(&db)
        .await
        .unwrap();

    let response = delete(&state, this, json!({"password": PASSWORD})).await;

    assert_eq!(response.status(), 204);
    for table in [
        "select count(*) from users",
        "select count(*) from sessions",
        "select count(*) from tasks",
        "select count(*) from task_steps",
        "select count(*) from agents",
    ] {
        assert_eq!(count(&db, table).await, 0, "{table}");
    }
    let (rows, actors): (i64, i64) =
        sqlx::query_as("select count(*), count(actor_id) from audit_logs")
            .fetch_one(&db)
            .await
            .unwrap();
    assert_eq!(
        (rows, actors),
        (2, 0),
        "the audit rows stay, without their actor"
    );
    testing::create_user(&db, "ada", PASSWORD).await; // the name and address are free
}

#[sqlx::test(migrator = "shared::db::MIGRATOR")]
async fn a_wrong_password_is_403_deletes_nothing_and_is_throttled(db: PgPool) {
    let state = testing::password_check_state(db.clone());
    let user = testing::create_user(&db, "ada", PASSWORD).await;
    let this = testing::open_session(&db, user.id).await;

    for _ in 0..state.throttle.free_failures {
        let response = delete(&state, this, json!({"password": "not it, not it, not it"})).await;
        assert_eq!(response.status(), 403);
    }
    assert_eq!(
        delete(&state, this, json!({"password": PASSWORD}))
            .await
            .status(),
        429
    );
    assert_eq!(count(&db, "select count(*) from users").await, 1);
}

#[sqlx::test(migrator = "shared::db::MIGRATOR")]
async fn bad_bodies_are_422_and_an_ended_session_401(db: PgPool) {
    let state = testing::password_check_state(db.clone());
    let user = testing::create_user(&db, "ada", PASSWORD).await;
    let this = testing::open_session(&db, user.id).await;

    assert_eq!(delete(&state, this, json!({})).await.status(), 422);
    assert_eq!(
        delete(&state, this, json!({"password": ""})).await.status(),
        422
    );
    sqlx::query("update sessions set revoked_at = now(), revoked_reason = 'logout'")
        .execute(&db)
        .await
        .unwrap();
    assert_eq!(
        delete(&state, this, json!({"password": PASSWORD}))
            .await
            .status(),
        401
    );
    assert_eq!(count(&db, "select count(*) from users").await, 1);
}
