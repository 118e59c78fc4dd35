use shared::testing::{self, TestRequest, body_json};
use sqlx::PgPool;
use uuid::Uuid;

use super::*;
use shared::http;

async fn delete(state: &State, token: &str, id: Uuid, if_match: Option<&str>) -> u16 {
    let mut request = TestRequest::new("DELETE", &format!("/api/agents/{id}"))
        .bearer(token)
        .path_parameter("id", &id.to_string());
    if let Some(tag) = if_match {
        request = request.header("if-match", tag);
    }
    http::respond(handle(state, request.build()).await)
        .status()
        .as_u16()
}

async fn assign(db: &PgPool, task: Uuid, agent: Uuid, status: &str) {
    sqlx::query("update tasks set agent_id = $2 where id = $1")
        .bind(task)
        .bind(agent)
        .execute(db)
        .await
        .unwrap();
    if status != "pending" {
        sqlx::query("update tasks set status = $2 where id = $1")
            .bind(task)
            .bind(status)
            .execute(db)
            .await
            .unwrap();
    }
}

#[sqlx::test(migrator = "shared::db::MIGRATOR")]
async fn deleting_an_agent_keeps_its_tasks_without_it(db: PgPool) {
    let state = testing::api_state(db.clone());
    let user = testing::create_user(&db, "ada", "correct horse battery staple").await;
    let token = testing::token_for(&db, user.id).await;
    let agent = testing::insert_agent(&db, user.id, "runner").await;
    let task = testing::insert_task(&db, user.id, "done work", &["a"]).await;
    assign(&db, task.id, agent, "completed").await;

    assert_eq!(delete(&state, &token, agent, Some("\"7\"")).await, 412);
    assert_eq!(delete(&state, &token, agent, Some("\"1\"")).await, 204);

    let (agent_id, title): (Option<Uuid>, String) =
        sqlx::query_as("select agent_id, title from tasks where id = $1")
            .bind(task.id)
            .fetch_one(&db)
            .await
            .unwrap();
    assert_eq!((agent_id, title.as_str()), (None, "done work"));
    assert_eq!(delete(&state, &token, agent, None).await, 404);
}

#[sqlx::test(migrator = "shared::db::MIGRATOR")]
async fn an_agent_with_a_task_in_progress_cannot_be_deleted(db: PgPool) {
    let state = testing::api_state(db.clone());
    let user = testing::create_user(&db, "ada", "correct horse battery staple").await;
    let token = testing::token_for(&db, user.id).await;
    let agent = testing::insert_agent(&db, user.id, "runner").await;
    let task = testing::insert_task(&db, user.id, "running", &[]).await;
    assign(&db, task.id, agent, "in_progress").await;

    let request = TestRequest::new("DELETE", &format!("/api/agents/{agent}"))
        .bearer(&token)
        .path_parameter("id", &agent.to_string())
        .build();
    let response = http::respond(handle(&state, request).await);

    assert_eq!(response.status(), 409);
    assert!(
        body_json(&response)["detail"]
            .as_str()
            .unwrap()
            .contains("in progress")
    );
    assert_eq!(testing::count(&db, "select count(*) from agents").await, 1);
    // A client may still clear the agent of its own running task directly.
    sqlx::query("update tasks set agent_id = null where id = $1")
        .bind(task.id)
        .execute(&db)
        .await
        .unwrap();
    assert_eq!(delete(&state, &token, agent, None).await, 204);
}
