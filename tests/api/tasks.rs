use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::TestApi;

#[tokio::test]
async fn create_list_get_update_delete_cycle() {
    let api = TestApi::new();
    let token = api.new_user_token("cycle").await;

    let created = api
        .send_with_token(
            Method::POST,
            "/api/tasks",
            &token,
            Some(&json!({"title": "Ship it", "priority": 5, "steps": [{"name": "build"}, {"name": "deploy"}]})),
            &[],
        )
        .await;
    assert_eq!(created.status(), 201);
    let location = created.headers()["location"].to_str().unwrap().to_owned();
    let task: Value = created.json().await.unwrap();
    let id = task["id"].as_str().unwrap().to_owned();
    assert_eq!(location, format!("/api/tasks/{id}"));

    let list = api
        .send_with_token(Method::GET, "/api/tasks?limit=5", &token, None, &[])
        .await;
    assert_eq!(list.status(), 200);
    let list: Value = list.json().await.unwrap();
    assert_eq!(list["items"][0]["id"], id);
    assert!(list["next_cursor"].is_null());

    let fetched = api
        .send_with_token(Method::GET, &location, &token, None, &[])
        .await;
    assert_eq!(fetched.status(), 200);
    let etag = fetched.headers()["etag"].to_str().unwrap().to_owned();
    assert_eq!(etag, "\"1\"");
    let fetched: Value = fetched.json().await.unwrap();
    assert_eq!(fetched["steps"][1]["name"], "deploy");

    let updated = api
        .send_with_token(
            Method::PATCH,
            &location,
            &token,
            Some(&json!({"status": "in_progress"})),
            &[("if-match", &etag)],
        )
        .await;
    assert_eq!(updated.status(), 200);
    assert_eq!(updated.headers()["etag"], "\"2\"");
    let updated: Value = updated.json().await.unwrap();
    assert_eq!(updated["status"], "in_progress");
    assert!(updated["started_at"].is_string());

    let stale = api
        .send_with_token(
            Method::PATCH,
            &location,
            &token,
            Some(&json!({"title": "late"})),
            &[("if-match", &etag)],
        )
        .await;
    assert_eq!(stale.status(), 412);

    let deleted = api
        .send_with_token(Method::DELETE, &location, &token, None, &[])
        .await;
    assert_eq!(deleted.status(), 204);
    let gone = api
        .send_with_token(Method::GET, &location, &token, None, &[])
        .await;
    assert_eq!(gone.status(), 404);
}

#[tokio::test]
async fn nobody_sees_or_touches_another_users_tasks() {
    let api = TestApi::new();
    let owner = api.new_user_token("owner").await;
    let intruder = api.new_user_token("intruder").await;
    let created = api
        .send_with_token(
            Method::POST,
            "/api/tasks",
            &owner,
            Some(&json!({"title": "private"})),
            &[],
        )
        .await;
    let location = created.headers()["location"].to_str().unwrap().to_owned();

    for method in [Method::GET, Method::PATCH, Method::DELETE] {
        let body = (method == Method::PATCH).then(|| json!({"title": "mine"}));
        let response = api
            .send_with_token(method.clone(), &location, &intruder, body.as_ref(), &[])
            .await;
        assert_eq!(response.status(), 404, "{method}");
    }
    let list: Value = api
        .send_with_token(Method::GET, "/api/tasks", &intruder, None, &[])
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(list["items"], json!([]));
    let still_there = api
        .send_with_token(Method::GET, &location, &owner, None, &[])
        .await;
    assert_eq!(still_there.status(), 200);
}

#[tokio::test]
async fn pages_follow_the_cursor_and_bad_input_is_refused() {
    let api = TestApi::new();
    let token = api.new_user_token("pager").await;
    for i in 0..5 {
        let response = api
            .send_with_token(
                Method::POST,
                "/api/tasks",
                &token,
                Some(&json!({"title": format!("task {i}")})),
                &[],
            )
            .await;
        assert_eq!(response.status(), 201);
    }

    let mut titles = Vec::new();
    let mut path = "/api/tasks?limit=2".to_owned();
    loop {
        let page: Value = api
            .send_with_token(Method::GET, &path, &token, None, &[])
            .await
            .json()
            .await
            .unwrap();
        titles.extend(
            page["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|t| t["title"].as_str().unwrap().to_owned()),
        );
        match page["next_cursor"].as_str() {
            Some(cursor) => path = format!("/api/tasks?limit=2&cursor={cursor}"),
            None => break,
        }
    }
    assert_eq!(titles, ["task 4", "task 3", "task 2", "task 1", "task 0"]);

    for path in [
        "/api/tasks?limit=0",
        "/api/tasks?cursor=bogus",
        "/api/tasks?status=done",
        "/api/tasks/not-a-uuid",
    ] {
        let response = api
            .send_with_token(Method::GET, path, &token, None, &[])
            .await;
        assert_eq!(response.status(), 400, "{path}");
    }
    let invalid = api
        .send_with_token(
            Method::POST,
            "/api/tasks",
            &token,
            Some(&json!({"title": "", "priority": 500})),
            &[],
        )
        .await;
    assert_eq!(invalid.status(), 422);
    let anonymous = api.get("/api/tasks").await;
    assert_eq!(anonymous.status(), 401);
}
