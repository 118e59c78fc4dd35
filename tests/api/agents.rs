use serde_json::{Value, json};

use crate::helpers::TestApi;

fn header(response: &reqwest::Response, name: &str) -> String {
    response.headers()[name].to_str().unwrap().to_owned()
}

#[tokio::test]
async fn agents_are_created_read_listed_changed_and_deleted_by_their_owner_only() {
    let api = TestApi::new();
    let owner = api.new_user("agents").await;
    let other = api.new_user("stranger").await;

    let created = api
        .create_agent(
            owner.token(),
            &json!({"name": "Runner", "config": {"model": "m1"}}),
        )
        .await;
    assert_eq!(created.status(), 201);
    assert_eq!(header(&created, "etag"), "\"1\"");
    let agent: Value = created.json().await.unwrap();
    let id = agent["id"].as_str().unwrap().to_owned();
    assert_eq!(
        api.create_agent(owner.token(), &json!({"name": "runner"}))
            .await
            .status(),
        409
    );

    assert_eq!(api.get_agent(owner.token(), &id).await.status(), 200);
    assert_eq!(api.get_agent(other.token(), &id).await.status(), 404);
    let patch = json!({"name": "mine now"});
    assert_eq!(
        api.update_agent(other.token(), &id, &patch, None)
            .await
            .status(),
        404
    );
    assert_eq!(
        api.delete_agent(other.token(), &id, None).await.status(),
        404
    );
    let theirs: Value = api
        .list_agents(other.token(), "")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(theirs["items"], json!([]));

    let changed = api
        .update_agent(
            owner.token(),
            &id,
            &json!({"is_active": false}),
            Some("\"1\""),
        )
        .await;
    assert_eq!(changed.status(), 200);
    assert_eq!(header(&changed, "etag"), "\"2\"");
    let stale = api
        .update_agent(owner.token(), &id, &patch, Some("\"1\""))
        .await;
    assert_eq!(stale.status(), 412);
    let listed: Value = api
        .list_agents(owner.token(), "limit=5")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(listed["items"][0]["is_active"], false);

    assert_eq!(
        api.delete_agent(owner.token(), &id, Some("\"2\""))
            .await
            .status(),
        204
    );
    assert_eq!(api.get_agent(owner.token(), &id).await.status(), 404);
    api.remove(&owner).await;
    api.remove(&other).await;
}

#[tokio::test]
async fn tasks_name_only_their_owners_agents_and_a_running_task_keeps_its_agent() {
    let api = TestApi::new();
    let owner = api.new_user("taskagent").await;
    let other = api.new_user("otheragent").await;
    let mine: Value = api
        .create_agent(owner.token(), &json!({"name": "worker"}))
        .await
        .json()
        .await
        .unwrap();
    let theirs: Value = api
        .create_agent(other.token(), &json!({"name": "worker"}))
        .await
        .json()
        .await
        .unwrap();

    let foreign = api
        .create_task(
            owner.token(),
            &json!({"title": "t", "agent_id": theirs["id"]}),
        )
        .await;
    assert_eq!(foreign.status(), 422);
    let problem: Value = foreign.json().await.unwrap();
    assert!(problem["errors"]["agent_id"].is_array());

    let task: Value = api
        .create_task(
            owner.token(),
            &json!({"title": "t", "agent_id": mine["id"], "status": "in_progress"}),
        )
        .await
        .json()
        .await
        .unwrap();
    let agent = mine["id"].as_str().unwrap();
    let refused = api.delete_agent(owner.token(), agent, None).await;
    assert_eq!(refused.status(), 409);
    let id = task["id"].as_str().unwrap();
    let done = json!({"status": "completed"});
    assert_eq!(
        api.update_task(owner.token(), id, &done, None)
            .await
            .status(),
        200
    );
    assert_eq!(
        api.delete_agent(owner.token(), agent, None).await.status(),
        204
    );
    let kept: Value = api.get_task(owner.token(), id).await.json().await.unwrap();
    assert_eq!(
        (&kept["agent_id"], &kept["status"]),
        (&Value::Null, &json!("completed"))
    );
    api.remove(&owner).await;
    api.remove(&other).await;
}
