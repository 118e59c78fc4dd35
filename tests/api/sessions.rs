use serde_json::Value;

use crate::helpers::{PASSWORD, TestApi};

#[tokio::test]
async fn a_refresh_rotates_the_pair_and_a_reused_token_ends_the_session() {
    let api = TestApi::new();
    let user = api.new_user("refresh").await;

    let rotated = api.refresh(&user.tokens.refresh).await;
    assert_eq!(rotated.status(), 200);
    assert_eq!(rotated.headers()["cache-control"], "no-store");
    let rotated: Value = rotated.json().await.unwrap();
    let access = rotated["access_token"].as_str().unwrap();
    let next = rotated["refresh_token"].as_str().unwrap();
    assert_ne!(next, user.tokens.refresh);
    assert_eq!(api.me(access).await.status(), 200);

    let reused = api.refresh(&user.tokens.refresh).await;
    assert_eq!(reused.status(), 401);
    assert_eq!(api.me(access).await.status(), 401, "revoked at once");
    assert_eq!(api.me(user.token()).await.status(), 401);
    assert_eq!(api.refresh(next).await.status(), 401);
    assert_eq!(api.refresh("not-a-refresh-token").await.status(), 401);
    api.remove(&user).await;
}

#[tokio::test]
async fn logout_ends_this_session_all_of_them_or_all_others() {
    let api = TestApi::new();
    let user = api.new_user("logout").await;
    let second = api.session(&user.name, &user.password).await;
    let third = api.session(&user.name, &user.password).await;

    assert_eq!(api.logout(user.token(), "scope=others").await.status(), 204);
    assert_eq!(api.me(user.token()).await.status(), 200);
    assert_eq!(api.me(&second.access).await.status(), 401);
    assert_eq!(api.refresh(&third.refresh).await.status(), 401);

    assert_eq!(
        api.logout(user.token(), "scope=sideways").await.status(),
        400
    );
    assert_eq!(api.logout(user.token(), "").await.status(), 204);
    assert_eq!(api.me(user.token()).await.status(), 401);
    assert_eq!(api.logout(user.token(), "").await.status(), 401);

    let fourth = api.session(&user.name, &user.password).await;
    let fifth = api.session(&user.name, &user.password).await;
    assert_eq!(
        api.logout(&fourth.access, "scope=global").await.status(),
        204
    );
    assert_eq!(api.me(&fifth.access).await.status(), 401);
    api.remove(&user).await;
}

#[tokio::test]
async fn a_password_change_needs_the_current_one_and_ends_the_other_sessions() {
    let api = TestApi::new();
    let mut user = api.new_user("passwd").await;
    let other = api.session(&user.name, &user.password).await;
    let new = "quiet harbours keep their lanterns lit";

    let wrong = api
        .change_password(user.token(), "not it, not it, not it", new)
        .await;
    assert_eq!(wrong.status(), 403);
    let weak = api
        .change_password(user.token(), PASSWORD, "password")
        .await;
    assert_eq!(weak.status(), 422);

    let changed = api.change_password(user.token(), PASSWORD, new).await;
    assert_eq!(changed.status(), 204);
    assert_eq!(
        api.me(user.token()).await.status(),
        200,
        "this session goes on"
    );
    assert_eq!(api.me(&other.access).await.status(), 401);
    let old = api
        .login(&serde_json::json!({"login": user.name, "password": PASSWORD}))
        .await;
    assert_eq!(old.status(), 401);
    user.password = new.to_owned();
    api.remove(&user).await;
}

#[tokio::test]
async fn deleting_the_account_needs_the_password_and_frees_the_name() {
    let api = TestApi::new();
    let user = api.new_user("leaver").await;
    let task = api
        .create_task(user.token(), &serde_json::json!({"title": "mine"}))
        .await;
    assert_eq!(task.status(), 201);

    let wrong = api
        .delete_account(user.token(), "not it, not it, not it")
        .await;
    assert_eq!(wrong.status(), 403);
    let deleted = api.delete_account(user.token(), PASSWORD).await;
    assert_eq!(deleted.status(), 204);

    assert_eq!(api.me(user.token()).await.status(), 401);
    let again = serde_json::json!({"username": user.name, "email": format!("{}@example.com", user.name), "password": PASSWORD});
    assert_eq!(
        api.register(&again).await.status(),
        201,
        "the name is free again"
    );
    let tokens = api.session(&user.name, PASSWORD).await;
    assert_eq!(
        api.delete_account(&tokens.access, PASSWORD).await.status(),
        204
    );
}

#[tokio::test]
async fn a_burst_of_wrong_passwords_gets_only_the_allowance() {
    let api = TestApi::new();
    let user = api.new_user("burst").await;
    let wrong = serde_json::json!({"login": user.name, "password": "guess, guess, guess, guess"});

    // TEST_BURST (make test-remote CONCURRENCY=...) keeps the burst within an account's
    // concurrency quota; it must exceed the allowance of 5 to show the refusals.
    let burst: usize = std::env::var("TEST_BURST")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(16)
        .max(6);
    let mut attempts = tokio::task::JoinSet::new();
    for _ in 0..burst {
        let (api, wrong) = (api.clone(), wrong.clone());
        attempts.spawn(async move { api.login(&wrong).await.status().as_u16() });
    }
    let statuses: Vec<u16> = attempts.join_all().await;

    let reached_the_check = statuses.iter().filter(|s| **s == 401).count();
    assert_eq!(reached_the_check, 5, "{statuses:?}");
    assert_eq!(
        statuses.iter().filter(|s| **s == 429).count(),
        burst - 5,
        "{statuses:?}"
    );
    // The lock of 1 s after the fifth failure passes; the owner then gets in.
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    api.remove(&user).await;
}
