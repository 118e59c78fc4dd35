use lambda_http::Body;
use shared::http;
use shared::testing::{self, TestRequest, count};
use sqlx::PgPool;

use super::*;

async fn delete(state: &State, token: &str, id: &str) -> lambda_http::Response<Body> {
    let request = TestRequest::new("DELETE", &format!("/api/tasks/{id}"))
        .bearer(token)
        .path_parameter("id", id)
        .build();
    http::respond(handle(state, request).await)
}

#[sqlx::test(migrator = "shared::db::MIGRATOR")]
async fn deletes_the_task_and_its_steps_and_keeps_an_audit_row(db: PgPool) {
    let state = testing::api_state(db.clone());
    let user = testing::create_user(&db, "ada", "correct horse battery staple").await;
    let task = testing::insert_task(&db, user.id, "old", &["a", "b"]).await;
    let token = testing::token_for(&db, user.id).await;

    let response = delete(&state, &token, &task.id.to_string()).await;

    assert_eq!(response.status(), 204);
    assert!(response.body().is_empty());
    assert_eq!(count(&db, "select count(*) from tasks").await, 0);
    assert_eq!(count(&db, "select count(*) from task_steps").await, 0);
    let (action, entity, actor): (String, Option<uuid::Uuid>, Option<uuid::Uuid>) =
        sqlx::query_as("select action, entity_id, actor_id from audit_logs")
            .fetch_one(&db)
            .await
            .unwrap();
    assert_eq!(
        (action.as_str(), entity, actor),
        ("task.delete", Some(task.id), Some(user.id))
    );

    let again = delete(&state, &token, &task.id.to_string()).await;
    assert_eq!(again.status(), 404);
}

#[sqlx::test(migrator = "shared::db::MIGRATOR")]
async fn another_users_task_is_404_and_stays(db: PgPool) {
    let state = testing::api_state(db.clone());
    let ada = testing::create_user(&db, "ada", "correct horse battery staple").await;
    let grace = testing::create_user(&db, "grace", "correct horse battery staple").await;
    let adas = testing::insert_task(&db, ada.id, "mine", &["a"]).await;

    let response = delete(
        &state,
        &testing::token_for(&db, grace.id).await,
        &adas.id.to_string(),
    )
    .await;

    assert_eq!(response.status(), 404);
    assert_eq!(count(&db, "select count(*) from tasks").await, 1);
    assert_eq!(count(&db, "select count(*) from task_steps").await, 1);
    assert_eq!(count(&db, "select count(*) from audit_logs").await, 0);
}

#[sqlx::test(migrator = "shared::db::MIGRATOR")]
async fn a_bad_id_is_400_and_no_token_is_401(db: PgPool) {
    let state = testing::api_state(db.clone());
    let user = testing::create_user(&db, "ada", "correct horse battery staple").await;
    let task = testing::insert_task(&db, user.id, "t", &[]).await;

    assert_eq!(
        delete(
            &state,
            &testing::token_for(&db, user.id).await,
            "not-a-uuid"
        )
        .await
        .status(),
        400
    );
    let request = TestRequest::new("DELETE", "/api/tasks/x")
        .path_parameter("id", &task.id.to_string())
        .build();
    assert_eq!(http::respond(handle(&state, request).await).status(), 401);
    assert_eq!(count(&db, "select count(*) from tasks").await, 1);
}

#[sqlx::test(migrator = "shared::db::MIGRATOR")]
async fn a_token_of_a_deleted_user_is_401(db: PgPool) {
    let state = testing::api_state(db.clone());
    let (token, task) = testing::deleted_user_with_a_task(&db).await;

    let response = delete(&state, &token, &task.id.to_string()).await;

    assert_eq!(response.status(), 401);
}
