//! What Lambda can carry: a page of a full account stays under its 6 MB response limit, and a
//! body over the function's limit is a clear 413.

use std::collections::HashSet;

use serde_json::{Value, json};

use crate::helpers::TestApi;

/// Lambda refuses a synchronous response larger than this (the whole invocation response).
const LAMBDA_RESPONSE_LIMIT: usize = 6_291_556;

/// The size of a body once written as a JSON string in Lambda's response envelope.
fn escaped_len(body: &str) -> usize {
    serde_json::to_string(body).unwrap().len()
}

#[tokio::test]
async fn a_full_account_pages_through_limit_100_under_the_lambda_limit() {
    let api = TestApi::new();
    let user = api.new_user("full").await;
    // The largest documents the API accepts, of quotes: each doubles once escaped.
    let document = json!({ "q": "\"".repeat(32_000) });
    let mut created = HashSet::new();
    for i in 0..100 {
        let task: Value = api
            .create_task(
                user.token(),
                &json!({"title": format!("full {i}"), "input": document}),
            )
            .await
            .json()
            .await
            .unwrap();
        let id = task["id"].as_str().unwrap().to_owned();
        let result = api
            .update_task(user.token(), &id, &json!({"result": document}), None)
            .await;
        assert_eq!(result.status(), 200);
        created.insert(id);
    }

    let mut seen = HashSet::new();
    let mut query = "limit=100".to_owned();
    let mut pages = 0;
    loop {
        let response = api.list_tasks(user.token(), &query).await;
        assert_eq!(response.status(), 200, "page {pages}");
        let body = response.text().await.unwrap();
        let size = escaped_len(&body);
        assert!(
            size < LAMBDA_RESPONSE_LIMIT - 100_000,
            "page {pages}: {size} bytes"
        );
        let page: Value = serde_json::from_str(&body).unwrap();
        for item in page["items"].as_array().unwrap() {
            assert!(
                seen.insert(item["id"].as_str().unwrap().to_owned()),
                "seen twice"
            );
        }
        pages += 1;
        match page["next_cursor"].as_str() {
            Some(cursor) => query = format!("limit=100&cursor={cursor}"),
            None => break,
        }
    }
    assert_eq!(seen, created, "every task once");
    assert!(pages > 1, "a page of 100 full tasks would not fit");
    api.remove(&user).await;
}

#[tokio::test]
async fn a_body_over_the_functions_limit_is_a_413_problem() {
    let api = TestApi::new();
    let user = api.new_user("bigbody").await;
    let big = json!({"title": "big", "input": {"blob": "x".repeat(300 * 1024)}});

    let response = api.create_task(user.token(), &big).await;

    assert_eq!(response.status(), 413);
    assert_eq!(
        response.headers()["content-type"],
        "application/problem+json"
    );
    api.remove(&user).await;
}
