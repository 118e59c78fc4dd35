use lambda_http::Body;
use serde_json::{Value, json};
use shared::testing::{self, TestRequest, body_json};
use sqlx::PgPool;

use super::*;

const PASSWORD: &str = "correct horse battery staple";

async fn refresh(state: &State, token: &str) -> lambda_http::Response<Body> {
    let request = TestRequest::post("/api/auth/refresh")
        .json(&json!({ "refresh_token": token }))
        .build();
    http::respond(handle(state, request).await)
}

/// A login through the login function's own store statement: a session and its refresh token.
async fn logged_in(db: &PgPool) -> (shared::auth::Caller, String) {
    let user = testing::create_user(db, "ada", PASSWORD).await;
    let first = RefreshToken::generate().unwrap();
    let opened = sessions::open_after_login(
        db,
        user.id,
        1,
        &sessions::Origin {
            source_ip: Some("203.0.113.7".into()),
            user_agent: None,
        },
        &first.hash,
        &testing::refresh_state(db.clone()).sessions,
        &shared::config::ThrottleConfig::from_env(&shared::Env::default()).unwrap(),
        None,
        &json!({}),
    )
    .await
    .unwrap()
    .unwrap();
    let caller = shared::auth::Caller {
        user_id: user.id,
        session_id: opened.session_id,
    };
    (caller, sessions::expose(&first).to_owned())
}

async fn revoked_reason(db: &PgPool, caller: shared::auth::Caller) -> Option<String> {
    sqlx::query_scalar("select revoked_reason from sessions where id = $1")
        .bind(caller.session_id)
        .fetch_one(db)
        .await
        .unwrap()
}

#[sqlx::test(migrator = "shared::db::MIGRATOR")]
async fn a_refresh_rotates_the_pair_and_keeps_the_session(db: PgPool) {
    let state = testing::refresh_state(db.clone());
    let (caller, first) = logged_in(&db).await;

    let response = refresh(&state, &first).await;

    assert_eq!(response.status(), 200);
    let body = body_json(&response);
    let next = body["refresh_token"].as_str().unwrap();
    assert_ne!(next, first);
    let claims = testing::token_keys()
        .verify(body["access_token"].as_str().unwrap())
        .unwrap();
    assert_eq!(
        (claims.sub, claims.sid),
        (caller.user_id, caller.session_id)
    );
    assert!(body["refresh_expires_in"].as_i64().unwrap() > 0);
    assert_eq!(
        refresh(&state, next).await.status(),
        200,
        "the new one works once"
    );
}

#[sqlx::test(migrator = "shared::db::MIGRATOR")]
async fn a_reused_refresh_token_revokes_the_whole_session_and_its_access_tokens(db: PgPool) {
    let state = testing::refresh_state(db.clone());
    let (caller, first) = logged_in(&db).await;
    let rotated = body_json(&refresh(&state, &first).await);
    let next = rotated["refresh_token"].as_str().unwrap().to_owned();

    let reused = refresh(&state, &first).await;

    assert_eq!(reused.status(), 401);
    assert!(
        body_json(&reused)["detail"]
            .as_str()
            .unwrap()
            .contains("already used")
    );
    assert_eq!(
        revoked_reason(&db, caller).await.as_deref(),
        Some("refresh_token_reused")
    );
    assert_eq!(
        refresh(&state, &next).await.status(),
        401,
        "the successor dies with it"
    );
    let me = shared::users::store::find_for_caller(&db, caller)
        .await
        .unwrap();
    assert!(
        me.is_none(),
        "the session's access tokens are refused at once"
    );
}

#[sqlx::test(migrator = "shared::db::MIGRATOR")]
async fn two_concurrent_refreshes_with_one_token_cannot_both_win(db: PgPool) {
    let state = testing::refresh_state(db.clone());
    let (caller, first) = logged_in(&db).await;

    let (a, b) = tokio::join!(refresh(&state, &first), refresh(&state, &first));

    let mut statuses = [a.status().as_u16(), b.status().as_u16()];
    statuses.sort();
    assert_eq!(statuses, [200, 401]);
    assert_eq!(
        revoked_reason(&db, caller).await.as_deref(),
        Some("refresh_token_reused")
    );
}

#[sqlx::test(migrator = "shared::db::MIGRATOR")]
async fn unknown_malformed_idle_or_expired_tokens_are_401_and_bad_bodies_422(db: PgPool) {
    let state = testing::refresh_state(db.clone());
    let (caller, first) = logged_in(&db).await;

    let unknown = sessions::expose(&RefreshToken::generate().unwrap()).to_owned();
    assert_eq!(refresh(&state, &unknown).await.status(), 401);
    assert_eq!(refresh(&state, "not-a-token").await.status(), 401);

    sqlx::query("update sessions set last_used_at = now() - interval '8 days' where id = $1")
        .bind(caller.session_id)
        .execute(&db)
        .await
        .unwrap();
    assert_eq!(
        refresh(&state, &first).await.status(),
        401,
        "idle for longer than 7 days"
    );

    for body in [
        json!({}),
        json!({"refresh_token": 5}),
        json!({"token": "x"}),
    ] {
        let request = TestRequest::post("/api/auth/refresh").json(&body).build();
        let response = http::respond(handle(&state, request).await);
        assert_eq!(response.status(), 422, "{body}");
    }
    let audit: Vec<Value> = sqlx::query_scalar("select metadata from audit_logs")
        .fetch_all(&db)
        .await
        .unwrap();
    assert!(!serde_json::to_string(&audit).unwrap().contains(&first));
}
