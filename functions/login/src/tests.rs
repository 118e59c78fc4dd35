use lambda_http::Body;
use lambda_http::http::header;
use serde_json::{Value, json};
use shared::testing::{self, TestRequest, body_json};
use sqlx::PgPool;

use super::*;
use shared::auth::throttle::FREE_FAILURES;

const PASSWORD: &str = "correct horse battery staple";

async fn login(state: &State, body: Value) -> lambda_http::Response<Body> {
    let request = TestRequest::post("/api/auth/login").json(&body).build();
    http::respond(handle(state, request).await)
}

async fn audit_actions(db: &PgPool) -> Vec<String> {
    sqlx::query_scalar("select action from audit_logs order by id")
        .fetch_all(db)
        .await
        .unwrap()
}

#[sqlx::test(migrator = "shared::db::MIGRATOR")]
async fn login_by_username_returns_a_bearer_token_for_the_user(db: PgPool) {
    let state = testing::credentials_state(db.clone());
    let user = testing::create_user(&db, "Ada", PASSWORD).await;

    let response = login(&state, json!({"login": "ada", "password": PASSWORD})).await;

    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()[header::CACHE_CONTROL], "no-store");
    let body = body_json(&response);
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 900);
    let claims = testing::token_keys()
        .verify(body["access_token"].as_str().unwrap())
        .unwrap();
    assert_eq!(claims.sub, user.id);
    assert_eq!(audit_actions(&db).await, ["auth.login_success"]);
}

#[sqlx::test(migrator = "shared::db::MIGRATOR")]
async fn login_by_email_in_another_case_and_by_each_key_works(db: PgPool) {
    let state = testing::credentials_state(db.clone());
    testing::create_user(&db, "grace", PASSWORD).await;

    for body in [
        json!({"login": "GRACE@Example.COM", "password": PASSWORD}),
        json!({"email": "grace@example.com", "password": PASSWORD}),
        json!({"username": "Grace", "password": PASSWORD}),
    ] {
        let response = login(&state, body.clone()).await;
        assert_eq!(response.status(), 200, "{body}");
    }
}

#[sqlx::test(migrator = "shared::db::MIGRATOR")]
async fn wrong_password_and_unknown_user_get_the_same_401(db: PgPool) {
    let state = testing::credentials_state(db.clone());
    testing::create_user(&db, "ada", PASSWORD).await;

    let wrong_password = login(
        &state,
        json!({"login": "ada", "password": "not the right one at all"}),
    )
    .await;
    let unknown_user = login(
        &state,
        json!({"login": "nobody", "password": "not the right one at all"}),
    )
    .await;

    assert_eq!(wrong_password.status(), 401);
    assert_eq!(unknown_user.status(), 401);
    assert_eq!(wrong_password.body().as_ref(), unknown_user.body().as_ref());
    assert_eq!(
        wrong_password.headers()[header::WWW_AUTHENTICATE],
        unknown_user.headers()[header::WWW_AUTHENTICATE]
    );
    assert_eq!(body_json(&unknown_user)["detail"], "invalid credentials");
    assert_eq!(
        audit_actions(&db).await,
        ["auth.login_failure", "auth.login_failure"]
    );
}

#[sqlx::test(migrator = "shared::db::MIGRATOR")]
async fn repeated_failures_are_throttled_and_a_success_resets_the_count(db: PgPool) {
    let state = testing::credentials_state(db.clone());
    let user = testing::create_user(&db, "ada", PASSWORD).await;
    let wrong = json!({"login": "ada", "password": "guessing, guessing, guessing"});

    for attempt in 1..=FREE_FAILURES {
        assert_eq!(
            login(&state, wrong.clone()).await.status(),
            401,
            "attempt {attempt}"
        );
    }
    // Locked now: even the right password is refused until the lock expires.
    let throttled = login(&state, json!({"login": "ada", "password": PASSWORD})).await;
    assert_eq!(throttled.status(), 429);
    assert_eq!(throttled.headers()[header::RETRY_AFTER], "1");
    assert_eq!(
        testing::content_type(&throttled),
        "application/problem+json"
    );

    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    assert_eq!(
        login(&state, json!({"login": "ada", "password": PASSWORD}))
            .await
            .status(),
        200
    );

    let (count, locked): (i32, Option<chrono::DateTime<chrono::Utc>>) =
        sqlx::query_as("select failed_login_count, locked_until from users where id = $1")
            .bind(user.id)
            .fetch_one(&db)
            .await
            .unwrap();
    assert_eq!((count, locked), (0, None));
    assert_eq!(
        login(&state, wrong).await.status(),
        401,
        "a fresh count after success"
    );

    let actions = audit_actions(&db).await;
    assert_eq!(
        actions
            .iter()
            .filter(|a| *a == "auth.login_failure")
            .count(),
        6
    );
    assert_eq!(
        actions
            .iter()
            .filter(|a| *a == "auth.login_throttled")
            .count(),
        1
    );
    assert_eq!(
        actions
            .iter()
            .filter(|a| *a == "auth.login_success")
            .count(),
        1
    );
}

#[sqlx::test(migrator = "shared::db::MIGRATOR")]
async fn the_lock_doubles_with_each_failure_up_to_fifteen_minutes(db: PgPool) {
    let state = testing::credentials_state(db.clone());
    let user = testing::create_user(&db, "ada", PASSWORD).await;
    let lock_after_failure = |previous_failures: i32| {
        let db = db.clone();
        let state = &state;
        async move {
            sqlx::query(
                "update users set failed_login_count = $2, locked_until = null where id = $1",
            )
            .bind(user.id)
            .bind(previous_failures)
            .execute(&db)
            .await
            .unwrap();
            let response = login(
                state,
                json!({"login": "ada", "password": "wrong wrong wrong wrong"}),
            )
            .await;
            assert_eq!(response.status(), 401);
            let seconds: f64 = sqlx::query_scalar(
                "select extract(epoch from locked_until - now())::float8 from users where id = $1",
            )
            .bind(user.id)
            .fetch_one(&db)
            .await
            .unwrap();
            seconds
        }
    };

    let after_sixth = lock_after_failure(5).await;
    assert!((1.0..=2.0).contains(&after_sixth), "{after_sixth}");
    let after_tenth = lock_after_failure(9).await;
    assert!((31.0..=32.0).contains(&after_tenth), "{after_tenth}");
    let after_hundredth = lock_after_failure(99).await;
    assert!(
        (899.0..=900.0).contains(&after_hundredth),
        "{after_hundredth}"
    );

    let throttled = login(&state, json!({"login": "ada", "password": PASSWORD})).await;
    assert_eq!(throttled.status(), 429);
    let retry_after: u64 = throttled.headers()[header::RETRY_AFTER]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((899..=900).contains(&retry_after), "{retry_after}");
}

#[sqlx::test(migrator = "shared::db::MIGRATOR")]
async fn throttled_attempts_do_not_extend_the_lock(db: PgPool) {
    let state = testing::credentials_state(db.clone());
    let user = testing::create_user(&db, "ada", PASSWORD).await;
    sqlx::query("update users set failed_login_count = 7, locked_until = now() + interval '60 seconds' where id = $1")
        .bind(user.id)
        .execute(&db)
        .await
        .unwrap();

    for _ in 0..3 {
        assert_eq!(
            login(
                &state,
                json!({"login": "ada", "password": "wrong wrong wrong"})
            )
            .await
            .status(),
            429
        );
    }

    let count: i32 = sqlx::query_scalar("select failed_login_count from users where id = $1")
        .bind(user.id)
        .fetch_one(&db)
        .await
        .unwrap();
    assert_eq!(count, 7);
}

#[sqlx::test(migrator = "shared::db::MIGRATOR")]
async fn invalid_login_bodies_are_422_or_400(db: PgPool) {
    let state = testing::credentials_state(db.clone());
    for (body, field) in [
        (json!({"password": PASSWORD}), "login"),
        (json!({"login": "ada"}), "password"),
        (json!({"login": "", "password": PASSWORD}), "login"),
        (
            json!({"login": "ada", "email": "ada@example.com", "password": PASSWORD}),
            "login",
        ),
        (json!({"login": "ada", "password": ""}), "password"),
        (json!({"login": "ada", "password": 12345}), "password"),
        (json!({"login": "ada\u{0}", "password": PASSWORD}), "login"),
    ] {
        let response = login(&state, body.clone()).await;
        assert_eq!(response.status(), 422, "{body}");
        assert!(body_json(&response)["errors"][field].is_array(), "{body}");
    }

    let request = TestRequest::post("/api/auth/login")
        .raw_body("application/json", "{")
        .build();
    let malformed = http::respond(handle(&state, request).await);
    assert_eq!(malformed.status(), 400);
    assert!(audit_actions(&db).await.is_empty());
}

#[sqlx::test(migrator = "shared::db::MIGRATOR")]
async fn no_audit_row_or_response_carries_the_password_or_token(db: PgPool) {
    let state = testing::credentials_state(db.clone());
    testing::create_user(&db, "ada", PASSWORD).await;
    let wrong = "a wrong password that is long";
    login(&state, json!({"login": "ada", "password": wrong})).await;
    let success = login(&state, json!({"login": "ada", "password": PASSWORD})).await;
    let token = body_json(&success)["access_token"]
        .as_str()
        .unwrap()
        .to_owned();

    let metadata: Vec<Value> = sqlx::query_scalar("select metadata from audit_logs")
        .fetch_all(&db)
        .await
        .unwrap();
    let all = serde_json::to_string(&metadata).unwrap();
    for secret in [PASSWORD, wrong, token.as_str()] {
        assert!(!all.contains(secret));
    }
    assert!(!String::from_utf8_lossy(success.body()).contains("password_hash"));
}
