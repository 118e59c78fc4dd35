use lambda_http::Body;
use serde_json::{Value, json};
use shared::auth::Caller;
use shared::testing::{self, TestRequest, body_json};
use sqlx::PgPool;

use super::*;

const PASSWORD: &str = "correct horse battery staple";
const NEW: &str = "violet rivers hum beneath paper lanterns";

async fn change(state: &State, caller: Caller, body: Value) -> lambda_http::Response<Body> {
    let request = TestRequest::new("PUT", "/api/users/me/password")
        .bearer(&testing::token_of(caller))
        .json(&body)
        .build();
    http::respond(handle(state, request).await)
}

async fn live(db: &PgPool, caller: Caller) -> bool {
    shared::sessions::is_live(db, caller).await.unwrap()
}

#[sqlx::test(migrator = "shared::db::MIGRATOR")]
async fn a_change_keeps_this_session_ends_the_others_and_is_audited(db: PgPool) {
    let state = testing::password_check_state(db.clone());
    let user = testing::create_user(&db, "ada", PASSWORD).await;
    let this = testing::open_session(&db, user.id).await;
    let other = testing::open_session(&db, user.id).await;

    let response = change(
        &state,
        this,
        json!({"current_password": PASSWORD, "new_password": NEW}),
    )
    .await;

    assert_eq!(response.status(), 204);
    assert!(live(&db, this).await);
    assert!(!live(&db, other).await);
    let hash: String = sqlx::query_scalar("select password_hash from users where id = $1")
        .bind(user.id)
        .fetch_one(&db)
        .await
        .unwrap();
    assert!(bcrypt::verify(NEW, &hash).unwrap());
    let audit: Value =
        sqlx::query_scalar("select metadata from audit_logs where action = 'user.password_change'")
            .fetch_one(&db)
            .await
            .unwrap();
    assert_eq!(audit["sessions_ended"], 1);
    assert!(!audit.to_string().contains(NEW));
}

#[sqlx::test(migrator = "shared::db::MIGRATOR")]
async fn a_wrong_current_password_is_403_and_counts_toward_the_throttle(db: PgPool) {
    let state = testing::password_check_state(db.clone());
    let user = testing::create_user(&db, "ada", PASSWORD).await;
    let this = testing::open_session(&db, user.id).await;
    let wrong = json!({"current_password": "not it, not it, not it", "new_password": NEW});

    for _ in 0..state.throttle.free_failures {
        assert_eq!(change(&state, this, wrong.clone()).await.status(), 403);
    }
    let throttled = change(
        &state,
        this,
        json!({"current_password": PASSWORD, "new_password": NEW}),
    )
    .await;

    assert_eq!(throttled.status(), 429);
    assert!(throttled.headers().contains_key("retry-after"));
    let hash: String = sqlx::query_scalar("select password_hash from users where id = $1")
        .bind(user.id)
        .fetch_one(&db)
        .await
        .unwrap();
    assert!(bcrypt::verify(PASSWORD, &hash).unwrap(), "nothing changed");
}

#[sqlx::test(migrator = "shared::db::MIGRATOR")]
async fn the_new_password_follows_the_registration_policy(db: PgPool) {
    let state = testing::password_check_state(db.clone());
    let user = testing::create_user(&db, "ada", PASSWORD).await;
    let this = testing::open_session(&db, user.id).await;

    for (new, expected) in [
        ("short", "at least 15"),
        ("passwordpassword", "too easy to guess"),
        ("i am ada and this is long", "username"),
    ] {
        let response = change(
            &state,
            this,
            json!({"current_password": PASSWORD, "new_password": new}),
        )
        .await;
        assert_eq!(response.status(), 422, "{new}");
        let message = body_json(&response)["errors"]["new_password"][0].to_string();
        assert!(message.contains(expected), "{new}: {message}");
    }
    let missing = change(&state, this, json!({"new_password": NEW})).await;
    assert_eq!(
        body_json(&missing)["errors"]["current_password"][0],
        "is required"
    );
}

#[sqlx::test(migrator = "shared::db::MIGRATOR")]
async fn an_ended_session_cannot_change_the_password(db: PgPool) {
    let state = testing::password_check_state(db.clone());
    let user = testing::create_user(&db, "ada", PASSWORD).await;
    let this = testing::open_session(&db, user.id).await;
    sqlx::query("update sessions set revoked_at = now(), revoked_reason = 'logout'")
        .execute(&db)
        .await
        .unwrap();

    let response = change(
        &state,
        this,
        json!({"current_password": PASSWORD, "new_password": NEW}),
    )
    .await;

    assert_eq!(response.status(), 401);
}

#[sqlx::test(migrator = "shared::db::MIGRATOR")]
async fn a_change_forgets_every_known_address_but_the_current_one(db: PgPool) {
    let state = testing::password_check_state(db.clone());
    let user = testing::create_user(&db, "ada", PASSWORD).await;
    let caller = testing::open_session(&db, user.id).await;
    for ip in ["203.0.113.10", "198.51.100.66", "192.0.2.1"] {
        sqlx::query(
            "insert into login_known_addresses (user_id, source_ip, last_success_at) \
             values ($1, $2::inet, now())",
        )
        .bind(user.id)
        .bind(ip)
        .execute(&db)
        .await
        .unwrap();
    }
    let request = TestRequest::new("PUT", "/api/users/me/password")
        .bearer(&testing::token_of(caller))
        .source_ip("203.0.113.10")
        .json(&json!({"current_password": PASSWORD, "new_password": NEW}))
        .build();

    let response = http::respond(handle(&state, request).await);

    assert_eq!(response.status(), 204);
    let known: Vec<String> =
        sqlx::query_scalar("select host(source_ip) from login_known_addresses where user_id = $1")
            .bind(user.id)
            .fetch_all(&db)
            .await
            .unwrap();
    assert_eq!(known, ["203.0.113.10"]);
}

/// The throttle forgets the account at every address (`login_throttle_clear`): a new password
/// starts with no lock anywhere, and other accounts keep theirs.
#[sqlx::test(migrator = "shared::db::MIGRATOR")]
async fn a_change_lifts_the_accounts_locks_at_every_address(db: PgPool) {
    let state = testing::password_check_state(db.clone());
    let user = testing::create_user(&db, "ada", PASSWORD).await;
    let other = testing::create_user(&db, "bob", PASSWORD).await;
    let this = testing::open_session(&db, user.id).await;
    sqlx::query(
        "insert into login_throttles (subject, source_ip, failures, locked_until) values \
         ($1::text, '203.0.113.1', 9, now() + interval '1 hour'), \
         ($1::text, '203.0.113.2', 9, now() + interval '1 hour'), \
         ($2::text, '203.0.113.1', 9, now() + interval '1 hour')",
    )
    .bind(user.id)
    .bind(other.id)
    .execute(&db)
    .await
    .unwrap();

    let response = change(
        &state,
        this,
        json!({"current_password": PASSWORD, "new_password": NEW}),
    )
    .await;

    assert_eq!(response.status(), 204);
    let left: Vec<String> = sqlx::query_scalar("select subject from login_throttles")
        .fetch_all(&db)
        .await
        .unwrap();
    assert_eq!(left, vec![other.id.to_string()]);
    let audit: Value =
        sqlx::query_scalar("select metadata from audit_logs where action = 'user.password_change'")
            .fetch_one(&db)
            .await
            .unwrap();
    // The two planted, and the one this password check was charged to.
    assert_eq!(audit["locks_lifted"], 3);
}
