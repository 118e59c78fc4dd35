//! Every authenticated route refuses a session that has ended, one that was revoked, and the
//! token of a deleted account: 401 with the ended-session problem, and nothing changes. The
//! routes come from the workspace's `cargo lambda watch` router (which `check_routes.py` holds
//! to the template), so a route added there is tried here too; a route that needs no session
//! must be named in `PUBLIC`, and one that takes a body must have a valid sample in `body_for`
//! (a body that fails validation would be refused before its session is checked).

use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{PASSWORD, TestApi, TestUser};

/// The routes that need no session.
const PUBLIC: &[&str] = &[
    "GET /api/health",
    "GET /api/openapi.json",
    "GET /api/docs",
    "GET /api/docs/{asset}",
    "POST /api/users/register",
    "POST /api/auth/login",
    "POST /api/auth/refresh",
];

/// The routes agents call with their keys, not with a session (`work.rs` tries them).
const AGENT_ROUTES: &str = "/api/agent/";

/// What `shared::auth::session_ended` answers with.
const ENDED: &str = "the session of this access token has ended (logged out, revoked or expired)";

/// Every (method, path template) of the router.
fn routes() -> Vec<(Method, String)> {
    let manifest = include_str!("../../Cargo.toml");
    let manifest: toml::Table = toml::from_str(manifest).expect("the workspace manifest parses");
    let router = manifest["workspace"]["metadata"]["lambda"]["watch"]["router"]
        .as_table()
        .expect("the cargo lambda watch router");
    let mut routes = Vec::new();
    for (path, handlers) in router {
        for handler in handlers.as_array().expect("a list of handlers") {
            let method = handler["method"].as_str().expect("a method");
            routes.push((method.parse().expect("an HTTP method"), path.clone()));
        }
    }
    assert!(
        routes.len() >= 20,
        "the router lists {} routes",
        routes.len()
    );
    routes
}

/// A valid body for a route that takes one.
fn body_for(method: &Method, path: &str) -> Option<Value> {
    match (method.as_str(), path) {
        ("DELETE", "/api/users/me") => Some(json!({"password": PASSWORD})),
        ("GET" | "DELETE", _) => None,
        ("POST", "/api/auth/logout") => None,
        ("PUT", "/api/users/me/password") => Some(json!({
            "current_password": PASSWORD,
            "new_password": "amber kites drift over quiet harbours",
        })),
        ("POST", "/api/tasks") => Some(json!({"title": "never written", "steps": [{"name": "a"}]})),
        ("PATCH", "/api/tasks/{id}") => Some(json!({"title": "never changed"})),
        ("PATCH", "/api/tasks/{id}/steps/{step_id}") => Some(json!({"status": "in_progress"})),
        ("POST", "/api/agents") => Some(json!({"name": "never-written"})),
        ("PATCH", "/api/agents/{id}") => Some(json!({"name": "never-changed"})),
        ("POST", "/api/agents/{id}/keys") => Some(json!({"name": "never-minted"})),
        (method, path) => panic!("{method} {path} takes a body: add a valid sample to body_for"),
    }
}

/// A user's resources, for the routes' path parameters.
struct Owned {
    task: String,
    step: String,
    agent: String,
}

async fn owned(api: &TestApi, user: &TestUser) -> Owned {
    let task = api
        .create_task(
            user.token(),
            &json!({"title": "kept", "steps": [{"name": "one"}]}),
        )
        .await;
    assert_eq!(task.status(), 201);
    let task: Value = task.json().await.unwrap();
    let agent = api
        .create_agent(user.token(), &json!({"name": "kept"}))
        .await;
    assert_eq!(agent.status(), 201);
    let agent: Value = agent.json().await.unwrap();
    Owned {
        task: task["id"].as_str().unwrap().to_owned(),
        step: task["steps"][0]["id"].as_str().unwrap().to_owned(),
        agent: agent["id"].as_str().unwrap().to_owned(),
    }
}

fn concrete(path: &str, owned: &Owned) -> String {
    let id = if path.starts_with("/api/agents/") {
        &owned.agent
    } else {
        &owned.task
    };
    path.replace("{id}", id)
        .replace("{step_id}", &owned.step)
        .replace("{key_id}", &owned.task)
}

/// Tries every authenticated route with `token`, whose session is over.
async fn every_route_refuses(api: &TestApi, token: &str, owned: &Owned, case: &str) {
    let mut tried = 0;
    for (method, template) in routes() {
        if PUBLIC.contains(&format!("{method} {template}").as_str())
            || template.starts_with(AGENT_ROUTES)
        {
            continue;
        }
        let path = concrete(&template, owned);
        let body = body_for(&method, &template);
        let response = api
            .call(method.clone(), &path, token, body.as_ref(), None)
            .await;

        let status = response.status();
        let problem: Value = response.json().await.unwrap_or(Value::Null);
        assert_eq!(status, 401, "{case}: {method} {template}: {problem}");
        assert_eq!(problem["detail"], ENDED, "{case}: {method} {template}");
        tried += 1;
    }
    assert!(tried >= 15, "{case}: tried {tried} routes");
}

/// What the owner sees of their task and agent, to prove nothing changed.
async fn versions(api: &TestApi, token: &str, owned: &Owned) -> (Value, Value) {
    let task: Value = api.get_task(token, &owned.task).await.json().await.unwrap();
    let agent: Value = api
        .get_agent(token, &owned.agent)
        .await
        .json()
        .await
        .unwrap();
    (task["version"].clone(), agent["version"].clone())
}

#[tokio::test]
async fn a_logged_out_session_is_refused_by_every_authenticated_route() {
    let api = TestApi::new();
    let user = api.new_user("ended").await;
    let owned = owned(&api, &user).await;
    let other = api.session(&user.name, &user.password).await;
    let before = versions(&api, &other.access, &owned).await;
    assert_eq!(api.logout(user.token(), "scope=local").await.status(), 204);

    every_route_refuses(&api, user.token(), &owned, "logged out").await;

    assert_eq!(versions(&api, &other.access, &owned).await, before);
    api.remove(&user).await;
}

#[tokio::test]
async fn a_revoked_session_is_refused_by_every_authenticated_route() {
    let api = TestApi::new();
    let user = api.new_user("revoked").await;
    let owned = owned(&api, &user).await;
    let other = api.session(&user.name, &user.password).await;
    let before = versions(&api, &other.access, &owned).await;
    // Another session ends every other one: this one is revoked, not logged out.
    assert_eq!(
        api.logout(&other.access, "scope=others").await.status(),
        204
    );

    every_route_refuses(&api, user.token(), &owned, "revoked").await;

    assert_eq!(versions(&api, &other.access, &owned).await, before);
    api.remove(&user).await;
}

#[tokio::test]
async fn the_token_of_a_deleted_account_is_refused_by_every_authenticated_route() {
    let api = TestApi::new();
    let user = api.new_user("deleted").await;
    let owned = owned(&api, &user).await;
    let other = api.session(&user.name, &user.password).await;
    assert_eq!(
        api.delete_account(&other.access, &user.password)
            .await
            .status(),
        204
    );

    every_route_refuses(&api, user.token(), &owned, "account deleted").await;

    // Nothing came back: the name is free and logging in fails.
    let login = api
        .login(&json!({"login": user.name, "password": user.password}))
        .await;
    assert_eq!(login.status(), 401);
}
