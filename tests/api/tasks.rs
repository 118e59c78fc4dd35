use serde_json::{Value, json};

use crate::helpers::TestApi;

fn header(response: &reqwest::Response, name: &str) -> String {
    response.headers()[name].to_str().unwrap().to_owned()
}

#[tokio::test]
async fn create_list_get_update_delete_cycle() {
    let api = TestApi::new();
    let user = api.new_user("cycle").await;
    let token = user.token().to_owned();

    let created = api
        .create_task(
            &token,
            &json!({"title": "Ship it", "priority": 5, "steps": [{"name": "build"}, {"name": "deploy"}]}),
        )
        .await;
    assert_eq!(created.status(), 201);
    let location = header(&created, "location");
    let task: Value = created.json().await.unwrap();
    let id = task["id"].as_str().unwrap().to_owned();
    assert_eq!(location, format!("/api/tasks/{id}"));

    let list = api.list_tasks(&token, "limit=5").await;
    assert_eq!(list.status(), 200);
    assert_eq!(header(&list, "cache-control"), "no-store");
    let list: Value = list.json().await.unwrap();
    assert_eq!(list["items"][0]["id"], id);
    assert!(list["next_cursor"].is_null());

    let fetched = api.get_task(&token, &id).await;
    assert_eq!(fetched.status(), 200);
    let etag = header(&fetched, "etag");
    assert_eq!(etag, "\"1\"");
    let fetched: Value = fetched.json().await.unwrap();
    assert_eq!(fetched["steps"][1]["name"], "deploy");

    let updated = api
        .update_task(&token, &id, &json!({"status": "in_progress"}), Some(&etag))
        .await;
    assert_eq!(updated.status(), 200);
    assert_eq!(header(&updated, "etag"), "\"2\"");
    let updated: Value = updated.json().await.unwrap();
    assert_eq!(updated["status"], "in_progress");
    assert!(updated["started_at"].is_string());

    let stale = api
        .update_task(&token, &id, &json!({"title": "late"}), Some(&etag))
        .await;
    assert_eq!(stale.status(), 412);
    let forbidden = api
        .update_task(&token, &id, &json!({"status": "completed"}), None)
        .await;
    assert_eq!(forbidden.status(), 200);
    let final_state = api
        .update_task(&token, &id, &json!({"status": "pending"}), None)
        .await;
    assert_eq!(final_state.status(), 422);
    let problem: Value = final_state.json().await.unwrap();
    assert_eq!(
        problem["errors"]["status"][0],
        "a completed task cannot become pending"
    );

    let stale_delete = api.delete_task(&token, &id, Some(&etag)).await;
    assert_eq!(stale_delete.status(), 412);
    assert_eq!(api.get_task(&token, &id).await.status(), 200);
    let deleted = api.delete_task(&token, &id, Some("\"3\"")).await;
    assert_eq!(deleted.status(), 204);
    assert_eq!(api.get_task(&token, &id).await.status(), 404);
    api.remove(&user).await;
}

#[tokio::test]
async fn nobody_sees_or_touches_another_users_tasks() {
    let api = TestApi::new();
    let owner_user = api.new_user("owner").await;
    let intruder_user = api.new_user("intruder").await;
    let (owner, intruder) = (owner_user.token(), intruder_user.token());
    let created: Value = api
        .create_task(owner, &json!({"title": "private"}))
        .await
        .json()
        .await
        .unwrap();
    let id = created["id"].as_str().unwrap();

    assert_eq!(api.get_task(intruder, id).await.status(), 404);
    let patch = json!({"title": "mine"});
    assert_eq!(
        api.update_task(intruder, id, &patch, None).await.status(),
        404
    );
    assert_eq!(api.delete_task(intruder, id, None).await.status(), 404);
    let list: Value = api.list_tasks(intruder, "").await.json().await.unwrap();
    assert_eq!(list["items"], json!([]));
    let still_there: Value = api.get_task(owner, id).await.json().await.unwrap();
    assert_eq!(still_there["title"], "private");
    api.remove(&owner_user).await;
    api.remove(&intruder_user).await;
}

#[tokio::test]
async fn pages_follow_the_cursor_and_bad_input_is_refused() {
    let api = TestApi::new();
    let user = api.new_user("pager").await;
    let token = user.token().to_owned();
    for i in 0..5 {
        let response = api
            .create_task(&token, &json!({"title": format!("task {i}")}))
            .await;
        assert_eq!(response.status(), 201);
    }

    let mut titles = Vec::new();
    let mut query = "limit=2".to_owned();
    loop {
        let page: Value = api.list_tasks(&token, &query).await.json().await.unwrap();
        titles.extend(
            page["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|t| t["title"].as_str().unwrap().to_owned()),
        );
        match page["next_cursor"].as_str() {
            Some(cursor) => query = format!("limit=2&cursor={cursor}"),
            None => break,
        }
    }
    assert_eq!(titles, ["task 4", "task 3", "task 2", "task 1", "task 0"]);

    for query in ["limit=0", "cursor=bogus", "status=done", "colour=red"] {
        let response = api.list_tasks(&token, query).await;
        assert_eq!(response.status(), 400, "{query}");
    }
    assert_eq!(api.get_task(&token, "not-a-uuid").await.status(), 400);
    let invalid = api
        .create_task(&token, &json!({"title": "", "priority": 500}))
        .await;
    assert_eq!(invalid.status(), 422);
    let anonymous = api.get("/api/tasks").await;
    assert_eq!(anonymous.status(), 401);
    api.remove(&user).await;
}
