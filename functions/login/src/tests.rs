use lambda_http::Body;
use lambda_http::http::header;
use serde_json::{Value, json};
use shared::testing::{self, TestRequest, body_json};
use sqlx::PgPool;

use super::*;

const PASSWORD: &str = "correct horse battery staple";
const WRONG: &str = "guessing, guessing, guessing";
const ATTACKER: &str = "198.51.100.66";
const OWNER: &str = "203.0.113.10";

async fn login_from(state: &State, ip: &str, body: Value) -> lambda_http::Response<Body> {
    let request = TestRequest::post("/api/auth/login")
        .source_ip(ip)
        .json(&body)
        .build();
    http::respond(handle(state, request).await)
}

async fn login(state: &State, body: Value) -> lambda_http::Response<Body> {
    login_from(state, OWNER, body).await
}

async fn audit_actions(db: &PgPool) -> Vec<String> {
    sqlx::query_scalar("select action from audit_logs order by id")
        .fetch_all(db)
        .await
        .unwrap()
}

fn count(actions: &[String], action: &str) -> usize {
    actions.iter().filter(|a| *a == action).count()
}

#[sqlx::test(migrator = "shared::db::MIGRATOR")]
async fn login_opens_a_session_with_an_access_and_a_refresh_token(db: PgPool) {
    let state = testing::password_check_state(db.clone());
    let user = testing::create_user(&db, "Ada", PASSWORD).await;

    let response = login(&state, json!({"login": "ada", "password": PASSWORD})).await;

    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()[header::CACHE_CONTROL], "no-store");
    let body = body_json(&response);
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 900);
    let refresh_expires_in = body["refresh_expires_in"].as_i64().unwrap();
    assert!((7 * 86400 - 5..=7 * 86400).contains(&refresh_expires_in));
    let refresh = body["refresh_token"].as_str().unwrap();
    assert_eq!(refresh.len(), 43);
    let claims = testing::token_keys()
        .verify(body["access_token"].as_str().unwrap())
        .unwrap();
    assert_eq!(claims.sub, user.id);
    let (owner, source_ip, stored_hash): (uuid::Uuid, String, Vec<u8>) = sqlx::query_as(
        "select s.user_id, host(s.source_ip), t.token_hash \
         from sessions s join refresh_tokens t on t.session_id = s.id where s.id = $1",
    )
    .bind(claims.sid)
    .fetch_one(&db)
    .await
    .unwrap();
    assert_eq!((owner, source_ip.as_str()), (user.id, OWNER));
    assert_eq!(stored_hash, shared::sessions::hash(refresh));
    assert_eq!(audit_actions(&db).await, ["auth.login_success"]);
}

#[sqlx::test(migrator = "shared::db::MIGRATOR")]
async fn login_by_email_in_another_case_or_normal_form_and_by_each_key_works(db: PgPool) {
    let state = testing::password_check_state(db.clone());
    let password = "caf\u{e9} au lait, violet rivers";
    sqlx::query(
        "insert into users (username, email, password_hash) values ('jose', 'jos\u{e9}@example.com', $1)",
    )
    .bind(bcrypt::hash(password, 10).unwrap())
    .execute(&db)
    .await
    .unwrap();

    for body in [
        json!({"login": "JOSE\u{301}@Example.COM", "password": password}),
        json!({"email": "jos\u{e9}@example.com", "password": "cafe\u{301} au lait, violet rivers"}),
        json!({"username": "Jose", "password": password}),
    ] {
        let response = login(&state, body.clone()).await;
        assert_eq!(response.status(), 200, "{body}");
    }
}

#[sqlx::test(migrator = "shared::db::MIGRATOR")]
async fn wrong_password_and_unknown_user_get_the_same_401(db: PgPool) {
    let state = testing::password_check_state(db.clone());
    testing::create_user(&db, "ada", PASSWORD).await;

    let wrong_password = login(&state, json!({"login": "ada", "password": WRONG})).await;
    let unknown_user = login(&state, json!({"login": "nobody", "password": WRONG})).await;

    assert_eq!(wrong_password.status(), 401);
    assert_eq!(unknown_user.status(), 401);
    assert_eq!(wrong_password.body().as_ref(), unknown_user.body().as_ref());
    assert_eq!(body_json(&unknown_user)["detail"], "invalid credentials");
    assert_eq!(
        audit_actions(&db).await,
        ["auth.login_failure", "auth.login_failure"]
    );
}

#[sqlx::test(migrator = "shared::db::MIGRATOR")]
async fn five_failures_lock_the_account_at_that_address_and_a_success_resets(db: PgPool) {
    let state = testing::password_check_state(db.clone());
    let user = testing::create_user(&db, "ada", PASSWORD).await;
    let wrong = json!({"login": "ada", "password": WRONG});

    for attempt in 1..=state.throttle.free_failures {
        let status = login(&state, wrong.clone()).await.status();
        assert_eq!(status, 401, "attempt {attempt}");
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
    let success = login(&state, json!({"login": "ada", "password": PASSWORD})).await;
    assert_eq!(success.status(), 200);

    let (count, rows): (i32, i64) = sqlx::query_as(
        "select failed_login_count, (select count(*) from login_throttles) from users where id = $1",
    )
    .bind(user.id)
    .fetch_one(&db)
    .await
    .unwrap();
    assert_eq!((count, rows), (0, 0));
    assert_eq!(login(&state, wrong).await.status(), 401, "a fresh count");

    let actions = audit_actions(&db).await;
    assert_eq!(count_of(&actions), (6, 1, 1));
}

fn count_of(actions: &[String]) -> (usize, usize, usize) {
    (
        count(actions, "auth.login_failure"),
        count(actions, "auth.login_throttled"),
        count(actions, "auth.login_success"),
    )
}

#[sqlx::test(migrator = "shared::db::MIGRATOR")]
async fn a_burst_of_concurrent_wrong_guesses_gets_exactly_the_allowance(db: PgPool) {
    let state = testing::password_check_state(db.clone());
    testing::create_user(&db, "ada", PASSWORD).await;

    // Sixteen handler invocations at once, as sixteen Lambda instances would run them.
    let attempts: Vec<_> = (0..16)
        .map(|_| login_from(&state, ATTACKER, json!({"login": "ada", "password": WRONG})))
        .collect();
    let statuses: Vec<u16> = testing::join_all(attempts)
        .await
        .iter()
        .map(|response| response.status().as_u16())
        .collect();

    let reached_bcrypt = statuses.iter().filter(|s| **s == 401).count();
    let refused = statuses.iter().filter(|s| **s == 429).count();
    assert_eq!(
        (reached_bcrypt, refused),
        (
            state.throttle.free_failures as usize,
            16 - state.throttle.free_failures as usize
        ),
        "{statuses:?}"
    );
}

#[sqlx::test(migrator = "shared::db::MIGRATOR")]
async fn the_owner_gets_in_from_another_address_during_an_attackers_lock(db: PgPool) {
    let state = testing::password_check_state(db.clone());
    testing::create_user(&db, "ada", PASSWORD).await;
    for _ in 0..=state.throttle.free_failures {
        login_from(&state, ATTACKER, json!({"login": "ada", "password": WRONG})).await;
    }
    let attacker = login_from(
        &state,
        ATTACKER,
        json!({"login": "ada", "password": PASSWORD}),
    )
    .await;
    assert_eq!(attacker.status(), 429, "the attacker's address is locked");

    let owner = login_from(&state, OWNER, json!({"login": "ada", "password": PASSWORD})).await;

    assert_eq!(owner.status(), 200);
}

#[sqlx::test(migrator = "shared::db::MIGRATOR")]
async fn after_many_failures_only_known_addresses_may_try(db: PgPool) {
    let state = testing::password_check_state(db.clone());
    let user = testing::create_user(&db, "ada", PASSWORD).await;
    sqlx::query(
        "insert into login_known_addresses (user_id, source_ip, last_success_at) values ($1, $2::inet, now())",
    )
    .bind(user.id)
    .bind(OWNER)
    .execute(&db)
    .await
    .unwrap();
    sqlx::query(
        "update users set failed_login_count = $2, last_failed_login_at = now() where id = $1",
    )
    .bind(user.id)
    .bind(state.throttle.lockdown_failures)
    .execute(&db)
    .await
    .unwrap();

    let stranger = login_from(
        &state,
        "192.0.2.1",
        json!({"login": "ada", "password": PASSWORD}),
    )
    .await;
    let owner = login(&state, json!({"login": "ada", "password": PASSWORD})).await;

    assert_eq!(stranger.status(), 429);
    assert_eq!(owner.status(), 200);
    let count: i32 = sqlx::query_scalar("select failed_login_count from users where id = $1")
        .bind(user.id)
        .fetch_one(&db)
        .await
        .unwrap();
    assert_eq!(count, 0, "a success ends the lockdown");
}

#[sqlx::test(migrator = "shared::db::MIGRATOR")]
async fn one_address_has_a_budget_of_failures_across_accounts(db: PgPool) {
    let mut state = testing::password_check_state(db.clone());
    state.throttle.address_budget = 3;
    for name in ["ada", "grace", "linus", "barbara"] {
        testing::create_user(&db, name, PASSWORD).await;
    }

    let mut statuses = Vec::new();
    for name in ["ada", "grace", "linus", "barbara", "nobody"] {
        let response =
            login_from(&state, ATTACKER, json!({"login": name, "password": WRONG})).await;
        statuses.push(response.status().as_u16());
    }
    let elsewhere = login(&state, json!({"login": "barbara", "password": PASSWORD})).await;

    assert_eq!(statuses, [401, 401, 401, 429, 429]);
    assert_eq!(elsewhere.status(), 200, "other addresses are not affected");
}

#[sqlx::test(migrator = "shared::db::MIGRATOR")]
async fn the_lock_doubles_with_each_failure_up_to_fifteen_minutes(db: PgPool) {
    let state = testing::password_check_state(db.clone());
    let user = testing::create_user(&db, "ada", PASSWORD).await;
    let lock_after_failure = |previous_failures: i32| {
        let db = db.clone();
        let state = &state;
        async move {
            sqlx::query(
                "insert into login_throttles (subject, source_ip, failures) values ($1::text, $2::inet, $3) \
                 on conflict (subject, source_ip) do update set failures = $3, locked_until = null",
            )
            .bind(user.id)
            .bind(OWNER)
            .bind(previous_failures)
            .execute(&db)
            .await
            .unwrap();
            let response = login(state, json!({"login": "ada", "password": WRONG})).await;
            assert_eq!(response.status(), 401);
            let seconds: f64 = sqlx::query_scalar(
                "select extract(epoch from locked_until - now())::float8 from login_throttles",
            )
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
async fn refused_attempts_do_not_extend_the_lock(db: PgPool) {
    let state = testing::password_check_state(db.clone());
    let user = testing::create_user(&db, "ada", PASSWORD).await;
    sqlx::query(
        "insert into login_throttles (subject, source_ip, failures, locked_until) \
         values ($1::text, $2::inet, 7, now() + interval '60 seconds')",
    )
    .bind(user.id)
    .bind(OWNER)
    .execute(&db)
    .await
    .unwrap();

    for _ in 0..3 {
        let status = login(&state, json!({"login": "ada", "password": WRONG}))
            .await
            .status();
        assert_eq!(status, 429);
    }

    let (failures, seconds): (i32, f64) = sqlx::query_as(
        "select failures, extract(epoch from locked_until - now())::float8 from login_throttles",
    )
    .fetch_one(&db)
    .await
    .unwrap();
    assert_eq!(failures, 7);
    assert!(seconds <= 60.0, "{seconds}");
}

#[sqlx::test(migrator = "shared::db::MIGRATOR")]
async fn a_hash_of_another_cost_is_rehashed_at_a_successful_login(db: PgPool) {
    let mut state = testing::password_check_state(db.clone());
    let user = testing::create_user(&db, "ada", PASSWORD).await; // cost 10
    state.passwords.bcrypt_cost = 11;

    assert_eq!(
        login(&state, json!({"login": "ada", "password": PASSWORD}))
            .await
            .status(),
        200
    );

    let hash: String = sqlx::query_scalar("select password_hash from users where id = $1")
        .bind(user.id)
        .fetch_one(&db)
        .await
        .unwrap();
    assert!(hash.starts_with("$2b$11$"), "{hash}");
    assert_eq!(
        login(&state, json!({"login": "ada", "password": PASSWORD}))
            .await
            .status(),
        200
    );
}

#[sqlx::test(migrator = "shared::db::MIGRATOR")]
async fn invalid_login_bodies_are_422_or_400(db: PgPool) {
    let state = testing::password_check_state(db.clone());
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
async fn no_audit_row_or_response_carries_the_password_or_a_token(db: PgPool) {
    let state = testing::password_check_state(db.clone());
    testing::create_user(&db, "ada", PASSWORD).await;
    login(&state, json!({"login": "ada", "password": WRONG})).await;
    let success = login(&state, json!({"login": "ada", "password": PASSWORD})).await;
    let body = body_json(&success);

    let metadata: Vec<Value> = sqlx::query_scalar("select metadata from audit_logs")
        .fetch_all(&db)
        .await
        .unwrap();
    let all = serde_json::to_string(&metadata).unwrap();
    for secret in [
        PASSWORD,
        WRONG,
        body["access_token"].as_str().unwrap(),
        body["refresh_token"].as_str().unwrap(),
    ] {
        assert!(!all.contains(secret));
    }
    assert!(!String::from_utf8_lossy(success.body()).contains("password_hash"));
}

/// Many logins with the old password race one password change; stored at `stored_cost`, each
/// successful login also re-hashes when that differs from the configured cost. Returns (logins,
/// successes, logins refused after checking the old hash, sessions left standing but the
/// changer's).
async fn logins_racing_a_password_change(
    db: &PgPool,
    stored_cost: u32,
) -> (usize, usize, i64, i64) {
    use secrecy::SecretString;
    use shared::auth::password::{MIN_COST, hash_password};
    const NEW: &str = "violet rivers hum beneath paper lanterns";
    const LOGINS: usize = 16;

    let state = testing::password_check_state(db.clone());
    let name = format!("racer{stored_cost}");
    let user = testing::create_user(db, &name, PASSWORD).await;
    let old_hash = hash_password(SecretString::from(PASSWORD), stored_cost)
        .await
        .unwrap();
    sqlx::query("update users set password_hash = $2 where id = $1")
        .bind(user.id)
        .bind(&old_hash)
        .execute(db)
        .await
        .unwrap();
    let changer = testing::open_session(db, user.id).await;
    let new_hash = hash_password(SecretString::from(NEW), MIN_COST)
        .await
        .unwrap();

    // The logins start a few milliseconds apart, as many Lambda instances would.
    let logins: Vec<_> = (0..LOGINS)
        .map(|i| {
            let (state, name) = (&state, name.clone());
            async move {
                tokio::time::sleep(std::time::Duration::from_millis(8 * i as u64)).await;
                login_from(
                    state,
                    &format!("198.51.100.{}", 100 + i),
                    json!({"login": name, "password": PASSWORD}),
                )
                .await
            }
        })
        .collect();
    // The change comes once a few logins have opened their sessions, while the rest are still
    // checking the old password.
    let change = async {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        while std::time::Instant::now() < deadline {
            let opened: i64 =
                sqlx::query_scalar("select count(*) from sessions where user_id = $1 and id <> $2")
                    .bind(user.id)
                    .bind(changer.session_id)
                    .fetch_one(db)
                    .await
                    .unwrap();
            if opened >= 3 {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(2)).await;
        }
        shared::users::store::change_password(&state.db, changer, &new_hash, None, &json!({}))
            .await
            .unwrap()
    };
    let (responses, changed) = tokio::join!(testing::join_all(logins), change);
    assert!(changed);
    let statuses: Vec<u16> = responses.iter().map(|r| r.status().as_u16()).collect();

    let successes: Vec<uuid::Uuid> = responses
        .iter()
        .filter(|r| r.status() == 200)
        .map(|r| {
            let token = body_json(r)["access_token"].as_str().unwrap().to_owned();
            testing::token_keys().verify(&token).unwrap().sid
        })
        .collect();
    for status in &statuses {
        assert!([200, 401, 429].contains(status), "{statuses:?}");
    }
    for sid in &successes {
        let live: bool = sqlx::query_scalar("select session_is_live($1, $2)")
            .bind(sid)
            .bind(user.id)
            .fetch_one(db)
            .await
            .unwrap();
        assert!(
            !live,
            "a session opened with the old password survived the change"
        );
    }
    let standing: i64 = sqlx::query_scalar(
        "select count(*) from sessions s where s.user_id = $1 and s.id <> $2 \
         and session_is_live(s.id, s.user_id)",
    )
    .bind(user.id)
    .bind(changer.session_id)
    .fetch_one(db)
    .await
    .unwrap();
    let changer_live: bool = sqlx::query_scalar("select session_is_live($1, $2)")
        .bind(changer.session_id)
        .bind(user.id)
        .fetch_one(db)
        .await
        .unwrap();
    assert!(changer_live, "the changer keeps their session");
    // No login's re-hash wrote the old password back over the new one.
    let stored: String = sqlx::query_scalar("select password_hash from users where id = $1")
        .bind(user.id)
        .fetch_one(db)
        .await
        .unwrap();
    assert!(
        bcrypt::verify(NEW, &stored).unwrap(),
        "the new password stands"
    );
    let after = login_from(&state, "192.0.2.1", json!({"login": name, "password": NEW})).await;
    assert_eq!(after.status(), 200);
    let overtaken: i64 = sqlx::query_scalar(
        "select count(*) from audit_logs where entity_id = $1 and action = 'auth.login_failure' \
         and metadata->>'reason' = 'password_changed'",
    )
    .bind(user.id)
    .fetch_one(db)
    .await
    .unwrap();
    (LOGINS, successes.len(), overtaken, standing)
}

#[sqlx::test(migrator = "shared::db::MIGRATOR")]
async fn a_password_change_wins_against_every_racing_login(db: PgPool) {
    use shared::auth::password::MIN_COST;
    // The same cost as configured (no re-hash), then another cost (every success re-hashes).
    for stored_cost in [MIN_COST, MIN_COST + 1] {
        let (logins, successes, overtaken, standing) =
            logins_racing_a_password_change(&db, stored_cost).await;
        eprintln!(
            "cost {stored_cost}: {logins} logins raced one password change: {successes} opened a \
             session, {overtaken} checked the old hash and were refused, {standing} of the \
             sessions still stand"
        );
        assert!(
            successes >= 3,
            "the change came after some logins: {successes}"
        );
        assert_eq!(standing, 0);
    }
}

#[sqlx::test(migrator = "shared::db::MIGRATOR")]
async fn the_lockdown_answers_alike_for_a_real_and_an_unknown_name(db: PgPool) {
    let mut state = testing::password_check_state(db.clone());
    state.throttle.lockdown_failures = 3;
    testing::create_user(&db, "ada", PASSWORD).await;

    let mut answers = Vec::new();
    for (name, block) in [("ada", 1), ("nobody", 2)] {
        // Each failure from another address: no per-address lock, only the account-wide count.
        for host in 1..=3 {
            let ip = format!("198.51.{block}.{host}");
            let response = login_from(&state, &ip, json!({"login": name, "password": WRONG})).await;
            assert_eq!(response.status(), 401, "{name}, failure {host}");
        }
        let stranger = format!("192.0.{block}.99");
        let locked = login_from(&state, &stranger, json!({"login": name, "password": WRONG})).await;
        let retry_after: u64 = locked.headers()[header::RETRY_AFTER]
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        answers.push((locked.status(), body_json(&locked), retry_after));
    }

    let (real, unknown) = (&answers[0], &answers[1]);
    assert_eq!(real.0, 429);
    assert_eq!((real.0, &real.1), (unknown.0, &unknown.1));
    assert!(
        real.2.abs_diff(unknown.2) <= 1,
        "{} against {}",
        real.2,
        unknown.2
    );
    assert!((86_390..=86_400).contains(&real.2), "{}", real.2);
    let owner_elsewhere = login_from(
        &state,
        "192.0.3.99",
        json!({"login": "ada", "password": PASSWORD}),
    )
    .await;
    assert_eq!(
        owner_elsewhere.status(),
        429,
        "even the right password waits"
    );
}
