use serde_json::{Value, json};

use crate::helpers::{TestApi, unique_name};

const PASSWORD: &str = "violet rivers hum beneath lanterns";

#[tokio::test]
async fn register_login_by_username_and_email_then_read_me() {
    let api = TestApi::new();
    let name = unique_name("ada");
    let email = format!("{name}@Example.com");

    let registered = api
        .register(&json!({"username": name, "email": email, "password": PASSWORD}))
        .await;
    assert_eq!(registered.status(), 201);
    assert_eq!(registered.headers()["location"], "/api/users/me");
    let user: Value = registered.json().await.unwrap();
    assert_eq!(user["email"], email.to_lowercase());
    assert!(user.get("password_hash").is_none());

    for body in [
        json!({"login": name.to_uppercase(), "password": PASSWORD}),
        json!({"login": email.to_uppercase(), "password": PASSWORD}),
    ] {
        let login = api.login(&body).await;
        assert_eq!(login.status(), 200, "{body}");
        let token: Value = login.json().await.unwrap();
        assert_eq!(token["token_type"], "Bearer");
        assert_eq!(token["expires_in"], 900);

        let me = api.me(token["access_token"].as_str().unwrap()).await;
        assert_eq!(me.status(), 200);
        let me: Value = me.json().await.unwrap();
        assert_eq!(me["id"], user["id"]);
        assert!(!me.to_string().contains("password_hash"));
    }
    api.remove_account(&name, PASSWORD).await;
}

#[tokio::test]
async fn duplicate_registration_is_409_and_invalid_fields_422() {
    let api = TestApi::new();
    let name = unique_name("grace");
    let body =
        json!({"username": name, "email": format!("{name}@example.com"), "password": PASSWORD});
    assert_eq!(api.register(&body).await.status(), 201);

    let again = api
        .register(&json!({"username": name.to_uppercase(), "email": format!("x{name}@example.com"), "password": PASSWORD}))
        .await;
    assert_eq!(again.status(), 409);
    assert_eq!(again.headers()["content-type"], "application/problem+json");
    let problem: Value = again.json().await.unwrap();
    assert!(problem["errors"]["username"].is_array());

    let invalid = api
        .register(&json!({"username": "x", "email": "nope", "password": "password"}))
        .await;
    assert_eq!(invalid.status(), 422);
    let problem: Value = invalid.json().await.unwrap();
    for field in ["username", "email", "password"] {
        assert!(problem["errors"][field].is_array(), "{field}: {problem}");
    }
    api.remove_account(&name, PASSWORD).await;
}

#[tokio::test]
async fn wrong_password_and_unknown_user_look_the_same() {
    let api = TestApi::new();
    let name = unique_name("hedy");
    api.register(
        &json!({"username": name, "email": format!("{name}@example.com"), "password": PASSWORD}),
    )
    .await;

    let wrong = api
        .login(&json!({"login": name, "password": "not it, not it at all"}))
        .await;
    let unknown = api
        .login(&json!({"login": unique_name("nobody"), "password": "not it, not it at all"}))
        .await;

    assert_eq!(wrong.status(), 401);
    assert_eq!(unknown.status(), 401);
    assert_eq!(wrong.text().await.unwrap(), unknown.text().await.unwrap());
    api.remove_account(&name, PASSWORD).await;
}

#[tokio::test]
async fn me_without_or_with_a_bad_token_is_401_with_a_challenge() {
    let api = TestApi::new();

    let missing = api.get("/api/users/me").await;
    assert_eq!(missing.status(), 401);
    assert_eq!(missing.headers()["www-authenticate"], "Bearer");

    let bad = api.me("not.a.token").await;
    assert_eq!(bad.status(), 401);
    assert_eq!(
        bad.headers()["www-authenticate"],
        r#"Bearer error="invalid_token""#
    );
}

#[tokio::test]
async fn unreadable_bodies_are_refused_with_problems() {
    let api = TestApi::new();

    let form = api
        .post_raw(
            "/api/users/register",
            "application/x-www-form-urlencoded",
            "username=ada",
        )
        .await;
    assert_eq!(form.status(), 415);

    let malformed = api
        .post_raw("/api/auth/login", "application/json", "{\"login\":")
        .await;
    assert_eq!(malformed.status(), 400);
    assert_eq!(
        malformed.headers()["content-type"],
        "application/problem+json"
    );
}
