use std::sync::Arc;

use lambda_http::Body;
use lambda_http::http::header;
use serde_json::{Value, json};
use shared::testing::{self, TestRequest, body_json};
use sqlx::PgPool;

use super::*;

const PASSWORD: &str = "correct horse battery staple";

async fn register(state: &State, body: Value) -> lambda_http::Response<Body> {
    let request = TestRequest::post("/api/users/register").json(&body).build();
    http::respond(handle(state, request).await)
}

async fn users(db: &PgPool) -> i64 {
    sqlx::query_scalar("select count(*) from users")
        .fetch_one(db)
        .await
        .unwrap()
}

fn field_errors(response: &lambda_http::Response<Body>, field: &str) -> Vec<String> {
    let body = body_json(response);
    serde_json::from_value(body["errors"][field].clone()).unwrap_or_default()
}

#[sqlx::test(migrator = "shared::db::MIGRATOR")]
async fn creates_the_account_and_answers_201_with_the_user(db: PgPool) {
    let state = testing::signup_state(db.clone());

    let response = register(
        &state,
        json!({"username": "Ada.L", "email": "Ada@Example.com", "password": PASSWORD}),
    )
    .await;

    assert_eq!(response.status(), 201);
    assert_eq!(response.headers()[header::LOCATION], "/api/users/me");
    let body = body_json(&response);
    let keys: Vec<&str> = body
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        keys,
        ["created_at", "email", "id", "updated_at", "username"]
    );
    assert_eq!(body["username"], "Ada.L");
    assert_eq!(body["email"], "ada@example.com");

    let (hash, id): (String, uuid::Uuid) = sqlx::query_as("select password_hash, id from users")
        .fetch_one(&db)
        .await
        .unwrap();
    assert_eq!(body["id"], id.to_string());
    assert!(hash.starts_with("$2b$10$"), "bcrypt at the configured cost");
    assert!(!String::from_utf8_lossy(response.body()).contains(&hash));
}

#[sqlx::test(migrator = "shared::db::MIGRATOR")]
async fn records_the_registration_in_the_audit_log(db: PgPool) {
    let state = testing::signup_state(db.clone());

    let response = register(
        &state,
        json!({"username": "ada", "email": "ada@example.com", "password": PASSWORD}),
    )
    .await;

    let id = body_json(&response)["id"]
        .as_str()
        .unwrap()
        .parse::<uuid::Uuid>()
        .unwrap();
    let (actor, entity, metadata): (Option<uuid::Uuid>, Option<uuid::Uuid>, Value) =
        sqlx::query_as(
            "select actor_id, entity_id, metadata from audit_logs where action = 'user.register'",
        )
        .fetch_one(&db)
        .await
        .unwrap();
    assert_eq!((actor, entity), (Some(id), Some(id)));
    assert_eq!(metadata["source_ip"], "203.0.113.7");
    assert!(!metadata.to_string().contains(PASSWORD));
}

#[sqlx::test(migrator = "shared::db::MIGRATOR")]
async fn each_invalid_field_is_422_with_its_reason_and_nothing_is_stored(db: PgPool) {
    let state = testing::signup_state(db.clone());
    let multibyte_64 = "ü".repeat(30) + &"zebra quilt moon ".repeat(2);
    let cases: Vec<(Value, &str, &str)> = vec![
        (
            json!({"username": "ab", "email": "a@example.com", "password": PASSWORD}),
            "username",
            "3 to 32",
        ),
        (
            json!({"username": "x".repeat(33), "email": "a@example.com", "password": PASSWORD}),
            "username",
            "3 to 32",
        ),
        (
            json!({"username": "ada lovelace", "email": "a@example.com", "password": PASSWORD}),
            "username",
            "may only contain",
        ),
        (
            json!({"username": "ada", "email": "not-an-address", "password": PASSWORD}),
            "email",
            "valid email",
        ),
        (
            json!({"username": "ada", "email": format!("{}@example.com", "a".repeat(250)), "password": PASSWORD}),
            "email",
            "254",
        ),
        (
            json!({"username": "ada", "email": "a@example.com", "password": "too short pw"}),
            "password",
            "at least 15",
        ),
        (
            json!({"username": "ada", "email": "a@example.com", "password": "ab1 ".repeat(17)}),
            "password",
            "at most 64",
        ),
        (
            json!({"username": "ada", "email": "a@example.com", "password": "p".repeat(39) + &"é".repeat(17)}),
            "password",
            "73 bytes",
        ),
        (
            json!({"username": "ada", "email": "a@example.com", "password": multibyte_64}),
            "password",
            "bytes",
        ),
        (
            json!({"username": "lovelace", "email": "a@example.com", "password": "I am LoveLace the engineer"}),
            "password",
            "username",
        ),
        (
            json!({"username": "ada", "email": "countess.ada@example.com", "password": "countess.ada rides again"}),
            "password",
            "email",
        ),
        (
            json!({"username": "ada", "email": "a@example.com", "password": "x".repeat(20)}),
            "password",
            "single character",
        ),
        (
            json!({"username": "ada", "email": "a@example.com", "password": "passwordpassword"}),
            "password",
            "too easy to guess",
        ),
        (
            json!({"username": "ada", "email": "a@example.com"}),
            "password",
            "is required",
        ),
    ];
    for (body, field, reason) in cases {
        let response = register(&state, body.clone()).await;

        assert_eq!(response.status(), 422, "{body}");
        assert_eq!(testing::content_type(&response), "application/problem+json");
        let messages = field_errors(&response, field);
        assert!(
            messages.iter().any(|m| m.contains(reason)),
            "{body}: {field} {messages:?}"
        );
    }
    assert_eq!(users(&db).await, 0);
}

#[sqlx::test(migrator = "shared::db::MIGRATOR")]
async fn every_invalid_field_is_reported_at_once(db: PgPool) {
    let state = testing::signup_state(db.clone());

    let response = register(
        &state,
        json!({"username": "a", "email": "nope", "password": "short"}),
    )
    .await;

    assert_eq!(response.status(), 422);
    for field in ["username", "email", "password"] {
        assert!(!field_errors(&response, field).is_empty(), "{field}");
    }
}

#[sqlx::test(migrator = "shared::db::MIGRATOR")]
async fn a_password_of_exactly_72_bytes_is_accepted(db: PgPool) {
    let state = testing::signup_state(db.clone());
    let password =
        "ééé quiet violet rivers hum beneath paper lanterns".to_owned() + &"é".repeat(9) + "!";
    assert_eq!(password.len(), 72);

    let response = register(
        &state,
        json!({"username": "ada", "email": "ada@example.com", "password": password}),
    )
    .await;

    assert_eq!(response.status(), 201, "{:?}", body_json(&response));
}

#[sqlx::test(migrator = "shared::db::MIGRATOR")]
async fn a_taken_username_or_email_in_another_case_is_409_naming_it(db: PgPool) {
    let state = testing::signup_state(db.clone());
    let first = register(
        &state,
        json!({"username": "Ada", "email": "ada@example.com", "password": PASSWORD}),
    )
    .await;
    assert_eq!(first.status(), 201);

    let same_name = register(
        &state,
        json!({"username": "aDA", "email": "other@example.com", "password": PASSWORD}),
    )
    .await;
    assert_eq!(same_name.status(), 409);
    assert_eq!(field_errors(&same_name, "username"), ["is already taken"]);

    let same_email = register(
        &state,
        json!({"username": "grace", "email": "ADA@EXAMPLE.COM", "password": PASSWORD}),
    )
    .await;
    assert_eq!(same_email.status(), 409);
    assert_eq!(
        field_errors(&same_email, "email"),
        ["is already registered"]
    );

    assert_eq!(users(&db).await, 1);
    let audits: i64 = sqlx::query_scalar("select count(*) from audit_logs")
        .fetch_one(&db)
        .await
        .unwrap();
    assert_eq!(
        audits, 1,
        "a refused registration leaves no audit row behind"
    );
}

#[sqlx::test(migrator = "shared::db::MIGRATOR")]
async fn concurrent_registrations_of_one_username_give_one_201_and_the_rest_409(db: PgPool) {
    let state = Arc::new(testing::signup_state(db.clone()));
    let mut requests = tokio::task::JoinSet::new();
    for i in 0..12 {
        let state = Arc::clone(&state);
        requests.spawn(async move {
            let body = json!({"username": "contested", "email": format!("racer{i}@example.com"), "password": PASSWORD});
            register(&state, body).await.status().as_u16()
        });
    }

    let mut statuses = requests.join_all().await;
    statuses.sort_unstable();

    assert_eq!(
        statuses.iter().filter(|s| **s == 201).count(),
        1,
        "{statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|s| **s == 409).count(),
        11,
        "{statuses:?}"
    );
    assert_eq!(users(&db).await, 1);
}

#[sqlx::test(migrator = "shared::db::MIGRATOR")]
async fn unreadable_bodies_get_400_415_and_422(db: PgPool) {
    let state = testing::signup_state(db.clone());
    let send = |content_type: &str, body: &str| {
        TestRequest::post("/api/users/register")
            .raw_body(content_type, body)
            .build()
    };

    let malformed =
        http::respond(handle(&state, send("application/json", r#"{"username": "#)).await);
    assert_eq!(malformed.status(), 400);

    let form = http::respond(
        handle(
            &state,
            send("application/x-www-form-urlencoded", "username=ada"),
        )
        .await,
    );
    assert_eq!(form.status(), 415);

    let wrong_type = http::respond(
        handle(
            &state,
            send(
                "application/json",
                r#"{"username": 42, "email": "a@example.com", "password": "x"}"#,
            ),
        )
        .await,
    );
    assert_eq!(wrong_type.status(), 422);
    assert!(!field_errors(&wrong_type, "username").is_empty());

    let extra = http::respond(
        handle(&state, send("application/json", &json!({"username": "ada", "email": "a@example.com", "password": PASSWORD, "is_admin": true}).to_string())).await,
    );
    assert_eq!(extra.status(), 422);
    assert!(!field_errors(&extra, "is_admin").is_empty());

    assert_eq!(users(&db).await, 0);
}

#[sqlx::test(migrator = "shared::db::MIGRATOR")]
async fn an_address_past_its_hourly_budget_gets_429_and_creates_nothing(db: PgPool) {
    let mut state = testing::signup_state(db.clone());
    state.throttle.register_budget = 2;
    let from = |ip: &str, name: &str| {
        TestRequest::post("/api/users/register")
            .source_ip(ip)
            .json(&json!({"username": name, "email": format!("{name}@example.com"), "password": PASSWORD}))
            .build()
    };

    let mut statuses = Vec::new();
    for name in ["ada", "grace", "linus"] {
        let response = http::respond(handle(&state, from("198.51.100.7", name)).await);
        statuses.push(response.status().as_u16());
        if name == "linus" {
            let retry_after: u64 = response.headers()[header::RETRY_AFTER]
                .to_str()
                .unwrap()
                .parse()
                .unwrap();
            assert!((1..=3600).contains(&retry_after), "{retry_after}");
        }
    }
    let elsewhere = http::respond(handle(&state, from("203.0.113.5", "barbara")).await);
    let invalid = http::respond(
        handle(
            &state,
            TestRequest::post("/api/users/register")
                .source_ip("192.0.2.8")
                .json(&json!({"username": "", "email": "nope", "password": "x"}))
                .build(),
        )
        .await,
    );

    assert_eq!(statuses, [201, 201, 429]);
    assert_eq!(elsewhere.status(), 201, "other addresses keep their budget");
    assert_eq!(
        users(&db).await,
        3,
        "the refused registration created nothing"
    );
    assert_eq!(invalid.status(), 422);
    let charged: i64 = sqlx::query_scalar(
        "select count(*) from register_address_budgets where source_ip = '192.0.2.8'",
    )
    .fetch_one(&db)
    .await
    .unwrap();
    assert_eq!(charged, 0, "an invalid body is refused before any charge");
}
