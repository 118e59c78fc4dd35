use serde_json::{Value, json};

use crate::helpers::TestApi;

#[tokio::test]
async fn steps_drive_their_task_from_pending_to_completed_or_failed() {
    let api = TestApi::new();
    let user = api.new_user("steps").await;
    let token = user.token();
    let task: Value = api
        .create_task(
            token,
            &json!({"title": "pipeline", "steps": [{"name": "fetch"}, {"name": "store"}]}),
        )
        .await
        .json()
        .await
        .unwrap();
    let id = task["id"].as_str().unwrap();
    let step = |i: usize| task["steps"][i]["id"].as_str().unwrap().to_owned();

    let started = api
        .update_step(
            token,
            id,
            &step(0),
            &json!({"status": "in_progress"}),
            Some("\"1\""),
        )
        .await;
    assert_eq!(started.status(), 200);
    assert_eq!(started.headers()["etag"], "\"2\"");
    let started: Value = started.json().await.unwrap();
    assert_eq!(started["status"], "in_progress");

    let stale = api
        .update_step(
            token,
            id,
            &step(1),
            &json!({"status": "in_progress"}),
            Some("\"1\""),
        )
        .await;
    assert_eq!(stale.status(), 412, "If-Match on the task guards its steps");
    let done = json!({"status": "completed", "output": {"ok": true}});
    api.update_step(token, id, &step(0), &done, None).await;
    let finished: Value = api
        .update_step(token, id, &step(1), &done, None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(finished["status"], "completed");
    assert_eq!(finished["steps"][1]["output"]["ok"], true);

    let failing: Value = api
        .create_task(
            token,
            &json!({"title": "flaky", "steps": [{"name": "call"}]}),
        )
        .await
        .json()
        .await
        .unwrap();
    let (fid, fstep) = (
        failing["id"].as_str().unwrap(),
        failing["steps"][0]["id"].as_str().unwrap(),
    );
    api.update_step(token, fid, fstep, &json!({"status": "in_progress"}), None)
        .await;
    let failed: Value = api
        .update_step(token, fid, fstep, &json!({"status": "failed"}), None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(failed["status"], "failed");

    let other = api.new_user("stepper").await;
    let foreign = api
        .update_step(
            other.token(),
            fid,
            fstep,
            &json!({"status": "in_progress"}),
            None,
        )
        .await;
    assert_eq!(foreign.status(), 404);
    api.remove(&user).await;
    api.remove(&other).await;
}
