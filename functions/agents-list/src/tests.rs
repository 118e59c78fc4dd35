use std::collections::HashSet;

use shared::testing::{self, TestRequest, body_json};
use sqlx::PgPool;

use super::*;
use shared::http;

#[sqlx::test(migrator = "shared::db::MIGRATOR")]
async fn pages_visit_each_of_the_callers_agents_once_newest_first(db: PgPool) {
    let state = testing::api_state(db.clone());
    let ada = testing::create_user(&db, "ada", "correct horse battery staple").await;
    let grace = testing::create_user(&db, "grace", "correct horse battery staple").await;
    for i in 0..25 {
        testing::insert_agent(&db, ada.id, &format!("agent {i}")).await;
    }
    testing::insert_agent(&db, grace.id, "not yours").await;
    let token = testing::token_for(&db, ada.id).await;

    let mut seen = Vec::new();
    let mut query = "limit=10".to_owned();
    loop {
        let request = TestRequest::get("/api/agents")
            .bearer(&token)
            .query(&query)
            .build();
        let response = http::respond(handle(&state, request).await);
        assert_eq!(response.status(), 200);
        let page = body_json(&response);
        seen.extend(
            testing::each(&page["items"], "name")
                .into_iter()
                .map(str::to_owned),
        );
        match page["next_cursor"].as_str() {
            Some(cursor) => query = format!("limit=10&cursor={cursor}"),
            None => break,
        }
    }

    assert_eq!(seen.len(), 25);
    assert_eq!(seen.iter().collect::<HashSet<_>>().len(), 25);
    assert!(!seen.iter().any(|name| name == "not yours"));
    let bad = TestRequest::get("/api/agents")
        .bearer(&token)
        .query("status=x")
        .build();
    assert_eq!(http::respond(handle(&state, bad).await).status(), 400);
}
