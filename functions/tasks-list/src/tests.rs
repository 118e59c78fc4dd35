use std::collections::HashSet;

use lambda_http::Body;
use serde_json::Value;
use shared::testing::{self, TestRequest, body_json};
use sqlx::PgPool;
use uuid::Uuid;

use super::*;
use shared::http;

async fn list(state: &State, token: &str, query: &str) -> lambda_http::Response<Body> {
    let request = TestRequest::get("/api/tasks")
        .bearer(token)
        .query(query)
        .build();
    http::respond(handle(state, request).await)
}

/// Inserts `n` tasks of `owner` whose creation times descend from now, three to a timestamp so
/// that ties are broken by id.
async fn insert_tasks(db: &PgPool, owner: Uuid, n: i32) {
    sqlx::query(
        "insert into tasks (owner_id, title, status, created_at) \
         select $1, 'task ' || i, case when i % 5 = 0 then 'completed' else 'pending' end, \
                now() - (i / 3) * interval '1 millisecond' \
         from generate_series(1, $2) as i",
    )
    .bind(owner)
    .bind(n)
    .execute(db)
    .await
    .unwrap();
}

/// The caller's task ids in newest-first order, straight from the database.
async fn expected_order(db: &PgPool, owner: Uuid) -> Vec<String> {
    sqlx::query_scalar::<_, Uuid>(
        "select id from tasks where owner_id = $1 order by created_at desc, id desc",
    )
    .bind(owner)
    .fetch_all(db)
    .await
    .unwrap()
    .into_iter()
    .map(|id| id.to_string())
    .collect()
}

fn ids(page: &Value) -> Vec<String> {
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["id"].as_str().unwrap().to_owned())
        .collect()
}

#[sqlx::test(migrator = "shared::db::MIGRATOR")]
async fn paging_with_limit_7_returns_250_tasks_once_each_in_order(db: PgPool) {
    let state = testing::api_state(db.clone());
    let user = testing::create_user(&db, "ada", "correct horse battery staple").await;
    insert_tasks(&db, user.id, 250).await;
    let token = testing::token_for(&db, user.id).await;

    let mut seen = Vec::new();
    let mut query = "limit=7".to_owned();
    let mut pages = 0;
    loop {
        let response = list(&state, &token, &query).await;
        assert_eq!(response.status(), 200);
        let page = body_json(&response);
        let page_ids = ids(&page);
        assert!(page_ids.len() <= 7);
        seen.extend(page_ids);
        pages += 1;
        match page["next_cursor"].as_str() {
            Some(cursor) => query = format!("limit=7&cursor={cursor}"),
            None => break,
        }
    }

    assert_eq!(pages, 36);
    assert_eq!(seen.len(), 250);
    assert_eq!(seen.iter().collect::<HashSet<_>>().len(), 250);
    assert_eq!(seen, expected_order(&db, user.id).await);
}

#[sqlx::test(migrator = "shared::db::MIGRATOR")]
async fn tasks_created_between_pages_do_not_shift_the_next_page(db: PgPool) {
    let state = testing::api_state(db.clone());
    let user = testing::create_user(&db, "ada", "correct horse battery staple").await;
    insert_tasks(&db, user.id, 30).await;
    let before = expected_order(&db, user.id).await;
    let token = testing::token_for(&db, user.id).await;

    let first = body_json(&list(&state, &token, "limit=10").await);
    for i in 0..5 {
        testing::insert_task(&db, user.id, &format!("new {i}"), &[]).await;
    }
    let cursor = first["next_cursor"].as_str().unwrap();
    let second = body_json(&list(&state, &token, &format!("limit=10&cursor={cursor}")).await);

    assert_eq!(ids(&first), before[..10]);
    assert_eq!(ids(&second), before[10..20]);
}

#[sqlx::test(migrator = "shared::db::MIGRATOR")]
async fn a_user_sees_only_their_own_tasks(db: PgPool) {
    let state = testing::api_state(db.clone());
    let ada = testing::create_user(&db, "ada", "correct horse battery staple").await;
    let grace = testing::create_user(&db, "grace", "correct horse battery staple").await;
    insert_tasks(&db, ada.id, 4).await;
    insert_tasks(&db, grace.id, 3).await;

    let page = body_json(&list(&state, &testing::token_for(&db, ada.id).await, "").await);

    let owners: HashSet<&str> = testing::each(&page["items"], "owner_id")
        .into_iter()
        .collect();
    assert_eq!(owners, HashSet::from([ada.id.to_string().as_str()]));
    assert_eq!(page["items"].as_array().unwrap().len(), 4);
    assert!(page["next_cursor"].is_null());
}

#[sqlx::test(migrator = "shared::db::MIGRATOR")]
async fn the_status_filter_pages_through_only_that_status(db: PgPool) {
    let state = testing::api_state(db.clone());
    let user = testing::create_user(&db, "ada", "correct horse battery staple").await;
    insert_tasks(&db, user.id, 50).await;
    let token = testing::token_for(&db, user.id).await;

    let first = body_json(&list(&state, &token, "status=completed&limit=6").await);
    let cursor = first["next_cursor"].as_str().unwrap();
    let second = body_json(
        &list(
            &state,
            &token,
            &format!("status=completed&limit=6&cursor={cursor}"),
        )
        .await,
    );

    let statuses: HashSet<&str> = [&first, &second]
        .iter()
        .flat_map(|page| {
            page["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|t| t["status"].as_str().unwrap())
        })
        .collect();
    assert_eq!(statuses, HashSet::from(["completed"]));
    assert_eq!(ids(&first).len() + ids(&second).len(), 10);
    assert!(second["next_cursor"].is_null());
}

#[sqlx::test(migrator = "shared::db::MIGRATOR")]
async fn the_default_page_is_20_and_the_last_page_has_no_cursor(db: PgPool) {
    let state = testing::api_state(db.clone());
    let user = testing::create_user(&db, "ada", "correct horse battery staple").await;
    insert_tasks(&db, user.id, 21).await;
    let token = testing::token_for(&db, user.id).await;

    let first = body_json(&list(&state, &token, "").await);
    assert_eq!(ids(&first).len(), 20);
    let cursor = first["next_cursor"].as_str().unwrap();
    let last = body_json(&list(&state, &token, &format!("cursor={cursor}")).await);
    assert_eq!(ids(&last).len(), 1);
    assert!(last["next_cursor"].is_null());
}

#[sqlx::test(migrator = "shared::db::MIGRATOR")]
async fn bad_parameters_and_tampered_or_borrowed_cursors_are_400(db: PgPool) {
    let state = testing::api_state(db.clone());
    let ada = testing::create_user(&db, "ada", "correct horse battery staple").await;
    let grace = testing::create_user(&db, "grace", "correct horse battery staple").await;
    insert_tasks(&db, ada.id, 5).await;
    let token = testing::token_for(&db, ada.id).await;
    let cursor = body_json(&list(&state, &token, "limit=2").await)["next_cursor"]
        .as_str()
        .unwrap()
        .to_owned();
    let mut tampered = cursor.clone().into_bytes();
    tampered[5] = if tampered[5] == b'A' { b'B' } else { b'A' };
    let tampered = String::from_utf8(tampered).unwrap();

    for query in [
        "limit=0".to_owned(),
        "limit=101".to_owned(),
        "limit=ten".to_owned(),
        "limit=1.5".to_owned(),
        "limit=5&limit=6".to_owned(),
        "status=done".to_owned(),
        "sort=title".to_owned(),
        "cursor=garbage".to_owned(),
        format!("cursor={tampered}"),
        format!("cursor={cursor}&status=pending"),
    ] {
        let response = list(&state, &token, &query).await;
        assert_eq!(response.status(), 400, "{query}");
        assert_eq!(testing::content_type(&response), "application/problem+json");
    }

    let borrowed = list(
        &state,
        &testing::token_for(&db, grace.id).await,
        &format!("cursor={cursor}"),
    )
    .await;
    assert_eq!(borrowed.status(), 400);
    assert_eq!(list(&state, &token, "limit=100").await.status(), 200);
    assert_eq!(list(&state, &token, "limit=1").await.status(), 200);
}

#[sqlx::test(migrator = "shared::db::MIGRATOR")]
async fn listing_needs_a_token(db: PgPool) {
    let state = testing::api_state(db.clone());
    let request = TestRequest::get("/api/tasks").build();
    let response = http::respond(handle(&state, request).await);
    assert_eq!(response.status(), 401);
}

#[sqlx::test(migrator = "shared::db::MIGRATOR")]
async fn a_token_of_a_deleted_user_is_401_while_a_user_without_tasks_gets_an_empty_page(
    db: PgPool,
) {
    let state = testing::api_state(db.clone());
    let gone = testing::create_user(&db, "ada", "correct horse battery staple").await;
    let idle = testing::create_user(&db, "grace", "correct horse battery staple").await;
    insert_tasks(&db, gone.id, 3).await;
    let gone_token = testing::token_for(&db, gone.id).await;
    sqlx::query("delete from users where id = $1")
        .bind(gone.id)
        .execute(&db)
        .await
        .unwrap();

    assert_eq!(list(&state, &gone_token, "").await.status(), 401);
    let empty = list(&state, &testing::token_for(&db, idle.id).await, "").await;
    assert_eq!(empty.status(), 200);
    assert_eq!(body_json(&empty)["items"], serde_json::json!([]));
}
