use serde_json::{Value, json};

use crate::helpers::TestApi;

#[tokio::test]
async fn the_audit_trail_shows_the_callers_own_events_newest_first() {
    let api = TestApi::new();
    let user = api.new_user("audited").await;
    let other = api.new_user("unaudited").await;
    let task: Value = api
        .create_task(user.token(), &json!({"title": "watched"}))
        .await
        .json()
        .await
        .unwrap();
    let id = task["id"].as_str().unwrap();
    api.update_task(user.token(), id, &json!({"priority": 3}), None)
        .await;

    let trail: Value = api
        .list_audit(user.token(), &format!("entity_id={id}"))
        .await
        .json()
        .await
        .unwrap();
    let actions: Vec<&str> = trail["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions, ["task.update", "task.create"]);
    assert!(!trail.to_string().contains(&user.password));

    let theirs: Value = api
        .list_audit(other.token(), &format!("entity_id={id}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(theirs["items"], json!([]));
    assert_eq!(api.list_audit(user.token(), "actor=me").await.status(), 400);
    api.remove(&user).await;
    api.remove(&other).await;
}
