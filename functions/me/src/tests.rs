use lambda_http::Body;
use lambda_http::http::header;
use serde_json::{Value, json};
use shared::testing::{
    self, Algorithm, TEST_JWT_SECRET, TestRequest, body_json, sign, valid_claims,
};
use shared::testing::{with_claim as with, without_claim as without};
use sqlx::PgPool;

use super::*;

async fn me(state: &State, request: TestRequest) -> lambda_http::Response<Body> {
    http::respond(handle(state, request.build()).await)
}

fn get_me() -> TestRequest {
    TestRequest::get("/api/users/me")
}

fn challenge(response: &lambda_http::Response<Body>) -> &str {
    response.headers()[header::WWW_AUTHENTICATE]
        .to_str()
        .unwrap()
}

#[sqlx::test(migrator = "shared::db::MIGRATOR")]
async fn a_valid_token_gets_the_user_without_secrets(db: PgPool) {
    let state = testing::api_state(db.clone());
    let user = testing::create_user(&db, "ada", "correct horse battery staple").await;

    let response = me(
        &state,
        get_me().bearer(&testing::token_for(&db, user.id).await),
    )
    .await;

    assert_eq!(response.status(), 200);
    let body = body_json(&response);
    assert_eq!(body["id"], user.id.to_string());
    assert_eq!(body["username"], "ada");
    assert_eq!(body["email"], "ada@example.com");
    let text = String::from_utf8_lossy(response.body()).into_owned();
    assert!(
        !text.contains("password") && !text.contains("$2b$"),
        "{text}"
    );
}

#[sqlx::test(migrator = "shared::db::MIGRATOR")]
async fn a_hand_signed_token_with_the_right_secret_and_claims_is_accepted(db: PgPool) {
    let state = testing::api_state(db.clone());
    let user = testing::create_user(&db, "ada", "correct horse battery staple").await;
    let token = sign(
        &valid_claims(testing::open_session(&db, user.id).await),
        Algorithm::HS256,
        TEST_JWT_SECRET,
    );

    assert_eq!(me(&state, get_me().bearer(&token)).await.status(), 200);
}

#[sqlx::test(migrator = "shared::db::MIGRATOR")]
async fn hostile_tokens_get_401_invalid_token(db: PgPool) {
    let state = testing::api_state(db.clone());
    let user = testing::create_user(&db, "ada", "correct horse battery staple").await;
    let good = valid_claims(testing::open_session(&db, user.id).await);
    let now = chrono::Utc::now().timestamp();
    let hs256 = |claims: &Value| sign(claims, Algorithm::HS256, TEST_JWT_SECRET);
    let good_token = hs256(&good);
    let parts: Vec<&str> = good_token.split('.').collect();
    let encode = |value: &Value| {
        use base64::Engine;
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(value.to_string())
    };
    let other_payload = encode(&with(good.clone(), "sub", json!(uuid::Uuid::new_v4())));
    let mut signature = parts[2].to_owned();
    let flipped = if signature.starts_with('A') { "B" } else { "A" };
    signature.replace_range(0..1, flipped);

    let cases = [
        (
            "alg none",
            format!(
                "{}.{}.",
                encode(&json!({"alg": "none", "typ": "JWT"})),
                parts[1]
            ),
        ),
        ("HS512", sign(&good, Algorithm::HS512, TEST_JWT_SECRET)),
        (
            "tampered signature",
            format!("{}.{}.{}", parts[0], parts[1], signature),
        ),
        (
            "tampered payload",
            format!("{}.{}.{}", parts[0], other_payload, parts[2]),
        ),
        (
            "expired",
            hs256(&with(good.clone(), "exp", json!(now - 120))),
        ),
        (
            "nbf in the future",
            hs256(&with(good.clone(), "nbf", json!(now + 120))),
        ),
        (
            "wrong iss",
            hs256(&with(good.clone(), "iss", json!("evil"))),
        ),
        (
            "wrong aud",
            hs256(&with(good.clone(), "aud", json!("other-service"))),
        ),
        ("missing exp", hs256(&without(good.clone(), "exp"))),
        (
            "sub not a uuid",
            hs256(&with(good.clone(), "sub", json!("ada"))),
        ),
        (
            "user that does not exist",
            hs256(&with(good.clone(), "sub", json!(uuid::Uuid::new_v4()))),
        ),
        (
            "wrong secret",
            sign(
                &good,
                Algorithm::HS256,
                "some-other-secret-that-is-long-enough",
            ),
        ),
    ];
    for (name, token) in cases {
        let response = me(&state, get_me().bearer(&token)).await;

        assert_eq!(response.status(), 401, "{name}");
        assert_eq!(
            challenge(&response),
            r#"Bearer error="invalid_token""#,
            "{name}"
        );
        assert_eq!(
            testing::content_type(&response),
            "application/problem+json",
            "{name}"
        );
    }
}

#[sqlx::test(migrator = "shared::db::MIGRATOR")]
async fn a_token_of_a_deleted_user_is_refused(db: PgPool) {
    let state = testing::api_state(db.clone());
    let user = testing::create_user(&db, "ada", "correct horse battery staple").await;
    let token = testing::token_for(&db, user.id).await;
    sqlx::query("delete from users where id = $1")
        .bind(user.id)
        .execute(&db)
        .await
        .unwrap();

    let response = me(&state, get_me().bearer(&token)).await;

    assert_eq!(response.status(), 401);
    assert_eq!(challenge(&response), r#"Bearer error="invalid_token""#);
}

#[sqlx::test(migrator = "shared::db::MIGRATOR")]
async fn authorization_header_variants(db: PgPool) {
    let state = testing::api_state(db.clone());
    let user = testing::create_user(&db, "ada", "correct horse battery staple").await;
    let token = testing::token_for(&db, user.id).await;

    let missing = me(&state, get_me()).await;
    assert_eq!(
        (missing.status().as_u16(), challenge(&missing)),
        (401, "Bearer")
    );

    let basic = me(&state, get_me().header("authorization", "Basic YWRhOnB3")).await;
    assert_eq!(
        (basic.status().as_u16(), challenge(&basic)),
        (401, "Bearer")
    );

    let empty = me(&state, get_me().header("authorization", "Bearer ")).await;
    assert_eq!(empty.status(), 401);

    let lower = me(
        &state,
        get_me().header("authorization", &format!("bearer {token}")),
    )
    .await;
    assert_eq!(lower.status(), 200);

    let spaced = me(
        &state,
        get_me().header("authorization", &format!("Bearer    {token}  ")),
    )
    .await;
    assert_eq!(spaced.status(), 200);

    let split = me(
        &state,
        get_me().header("authorization", &format!("Bearer {token} extra")),
    )
    .await;
    assert_eq!(
        (split.status().as_u16(), challenge(&split)),
        (401, r#"Bearer error="invalid_token""#)
    );
}
