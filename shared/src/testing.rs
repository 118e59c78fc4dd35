//! Helpers for handler tests in the function crates (feature `testing`): API Gateway HTTP API
//! (payload 2.0) requests, response bodies, an application state on a test database, and
//! users with tokens.

// Test helpers: a failed set-up should stop the test loudly.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use lambda_http::http::header;
use lambda_http::{Body, Request, Response};
use secrecy::{ExposeSecret, SecretString};
use serde_json::{Value, json};
use sqlx::PgPool;
use uuid::Uuid;

use crate::auth::Caller;
use crate::auth::password;
use crate::auth::token::TokenKeys;
use crate::config::{
    Env, HttpConfig, JwtSecret, PasswordConfig, SessionConfig, ThrottleConfig, TokenSettings,
};
use crate::state;
use crate::tasks::Task;
use crate::users::User;

pub const TEST_JWT_SECRET: &str = "handler-tests-signing-secret-0123456789";

/// A request as API Gateway (HTTP API, payload 2.0) delivers it to a function.
pub struct TestRequest {
    method: &'static str,
    path: String,
    headers: serde_json::Map<String, Value>,
    query: String,
    path_parameters: serde_json::Map<String, Value>,
    body: Option<String>,
    source_ip: String,
}

impl TestRequest {
    pub fn new(method: &'static str, path: &str) -> Self {
        Self {
            method,
            path: path.to_owned(),
            headers: serde_json::Map::new(),
            query: String::new(),
            path_parameters: serde_json::Map::new(),
            body: None,
            source_ip: "203.0.113.7".into(),
        }
    }

    pub fn get(path: &str) -> Self {
        Self::new("GET", path)
    }

    pub fn post(path: &str) -> Self {
        Self::new("POST", path)
    }

    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.insert(name.to_ascii_lowercase(), value.into());
        self
    }

    pub fn bearer(self, token: &str) -> Self {
        self.header("authorization", &format!("Bearer {token}"))
    }

    /// A JSON body with its content type.
    pub fn json(self, body: &Value) -> Self {
        self.raw_body("application/json", &body.to_string())
    }

    pub fn raw_body(mut self, content_type: &str, body: &str) -> Self {
        self.headers
            .insert("content-type".into(), content_type.into());
        self.body = Some(body.to_owned());
        self
    }

    pub fn query(mut self, raw: &str) -> Self {
        self.query = raw.to_owned();
        self
    }

    /// The address API Gateway reports as the caller's (`requestContext.http.sourceIp`).
    pub fn source_ip(mut self, ip: &str) -> Self {
        self.source_ip = ip.to_owned();
        self
    }

    pub fn path_parameter(mut self, name: &str, value: &str) -> Self {
        self.path_parameters.insert(name.into(), value.into());
        self
    }

    pub fn build(self) -> Request {
        lambda_http::request::from_str(&self.event().to_string())
            .expect("a valid API Gateway v2 event")
    }

    /// The request as the JSON event API Gateway sends to the function.
    pub fn event(self) -> Value {
        let query_parameters: serde_json::Map<String, Value> = self
            .query
            .split('&')
            .filter(|pair| !pair.is_empty())
            .map(|pair| {
                let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
                (key.to_owned(), Value::from(value))
            })
            .collect();
        json!({
            "version": "2.0",
            "routeKey": format!("{} {}", self.method, self.path),
            "rawPath": self.path,
            "rawQueryString": self.query,
            "headers": self.headers,
            "queryStringParameters": query_parameters,
            "pathParameters": self.path_parameters,
            "requestContext": {
                "accountId": "123456789012",
                "apiId": "api",
                "domainName": "api.example.com",
                "domainPrefix": "api",
                "http": {
                    "method": self.method,
                    "path": self.path,
                    "protocol": "HTTP/1.1",
                    "sourceIp": self.source_ip,
                    "userAgent": "handler-tests"
                },
                "requestId": Uuid::new_v4().to_string(),
                "routeKey": format!("{} {}", self.method, self.path),
                "stage": "$default",
                "time": "26/Nov/2026:00:00:00 +0000",
                "timeEpoch": 1_795_000_000_000_i64
            },
            "body": self.body,
            "isBase64Encoded": false
        })
    }
}

/// The response body as JSON.
pub fn body_json(response: &Response<Body>) -> Value {
    serde_json::from_slice(response.body()).unwrap_or_else(|e| {
        panic!(
            "response body is not JSON ({e}): {}",
            String::from_utf8_lossy(response.body())
        )
    })
}

pub fn content_type(response: &Response<Body>) -> &str {
    response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
}

fn test_secret() -> JwtSecret {
    JwtSecret::new(SecretString::from(TEST_JWT_SECRET)).expect("a long secret")
}

fn test_http() -> HttpConfig {
    HttpConfig::from_env(&Env::default()).expect("defaults")
}

/// Passwords hashed at the lowest allowed cost, for speed.
fn test_passwords() -> PasswordConfig {
    PasswordConfig {
        bcrypt_cost: password::MIN_COST,
    }
}

pub fn token_keys() -> TokenKeys {
    TokenKeys::new(
        &test_secret(),
        TokenSettings::from_env(&Env::default()).expect("defaults"),
    )
}

/// The state of a function that acts for a signed-in caller, on the test database.
pub fn api_state(db: PgPool) -> state::Api {
    state::Api::new(
        db.into(),
        test_http(),
        &test_secret(),
        TokenSettings::from_env(&Env::default()).expect("defaults"),
    )
}

/// The state of `register`, on the test database.
pub fn signup_state(db: PgPool) -> state::Signup {
    state::Signup {
        db: db.into(),
        http: test_http(),
        passwords: test_passwords(),
        throttle: ThrottleConfig::from_env(&Env::default()).expect("defaults"),
    }
}

/// The state of `login`, `password-change` and `account-delete`, on the test database.
pub fn password_check_state(db: PgPool) -> state::PasswordCheck {
    state::PasswordCheck {
        db: db.into(),
        http: test_http(),
        passwords: test_passwords(),
        sessions: SessionConfig::from_env(&Env::default()).expect("defaults"),
        throttle: ThrottleConfig::from_env(&Env::default()).expect("defaults"),
        keys: token_keys(),
    }
}

/// The state of `refresh`, on the test database.
pub fn refresh_state(db: PgPool) -> state::Refresh {
    state::Refresh {
        db: db.into(),
        http: test_http(),
        sessions: SessionConfig::from_env(&Env::default()).expect("defaults"),
        keys: token_keys(),
    }
}

/// Inserts a user with the given password, hashed at the lowest allowed cost.
pub async fn create_user(db: &PgPool, username: &str, password: &str) -> User {
    let hash = password::hash_password(SecretString::from(password), password::MIN_COST)
        .await
        .expect("hashing works");
    sqlx::query_as(
        "insert into users (username, email, password_hash) values ($1, $2, $3) \
         returning id, username, email, created_at, updated_at",
    )
    .bind(username)
    .bind(format!("{}@example.com", username.to_lowercase()))
    .bind(hash)
    .fetch_one(db)
    .await
    .expect("the user is inserted")
}

/// Opens a session of `user_id` (as a login would) and returns it.
pub async fn open_session(db: &PgPool, user_id: Uuid) -> Caller {
    let session_id = sqlx::query_scalar(
        "insert into sessions (user_id, expires_at) values ($1, now() + interval '1 day') returning id",
    )
    .bind(user_id)
    .fetch_one(db)
    .await
    .expect("the session is opened");
    Caller {
        user_id,
        session_id,
    }
}

/// A valid access token of a caller, signed with `token_keys()`.
pub fn token_of(caller: Caller) -> String {
    token_keys()
        .issue(caller)
        .expect("a token")
        .token
        .expose_secret()
        .to_owned()
}

/// A valid access token of a new session of `user_id`.
pub async fn token_for(db: &PgPool, user_id: Uuid) -> String {
    token_of(open_session(db, user_id).await)
}

pub use jsonwebtoken::Algorithm;

/// Signs arbitrary claims, for tests of hostile tokens.
pub fn sign(claims: &Value, algorithm: Algorithm, secret: &str) -> String {
    jsonwebtoken::encode(
        &jsonwebtoken::Header::new(algorithm),
        claims,
        &jsonwebtoken::EncodingKey::from_secret(secret.as_bytes()),
    )
    .expect("claims encode")
}

/// The claims `token_keys()` would accept for the caller, valid from now for ten minutes.
pub fn valid_claims(caller: Caller) -> Value {
    let now = chrono::Utc::now().timestamp();
    json!({
        "sub": caller.user_id, "sid": caller.session_id, "iat": now, "nbf": now, "exp": now + 600,
        "iss": "taskapi", "aud": "taskapi", "jti": Uuid::new_v4(),
    })
}

/// Inserts a pending task of `owner_id` with the given step names.
pub async fn insert_task(db: &PgPool, owner_id: Uuid, title: &str, steps: &[&str]) -> Task {
    let task: Task =
        sqlx::query_as("insert into tasks (owner_id, title) values ($1, $2) returning *")
            .bind(owner_id)
            .bind(title)
            .fetch_one(db)
            .await
            .expect("the task is inserted");
    for (position, name) in steps.iter().enumerate() {
        sqlx::query("insert into task_steps (task_id, position, name) values ($1, $2, $3)")
            .bind(task.id)
            .bind(position as i32)
            .bind(name)
            .execute(db)
            .await
            .expect("the step is inserted");
    }
    task
}

/// The state of the functions agents call (`agent-claim`, ...), on the test database.
pub fn work_state(db: PgPool) -> state::Work {
    state::Work {
        db: db.into(),
        http: test_http(),
        work: crate::config::WorkConfig::from_env(&Env::default()).expect("defaults"),
    }
}

/// Mints a key for the agent `agent_id` of `owner_id` and returns it.
pub async fn agent_key(db: &PgPool, owner_id: Uuid, agent_id: Uuid) -> String {
    let minted = crate::agents::keys::MintedKey::generate().expect("a key");
    sqlx::query(
        "insert into agent_keys (agent_id, owner_id, name, prefix, key_hash) \
         values ($1, $2, 'test', $3, $4)",
    )
    .bind(agent_id)
    .bind(owner_id)
    .bind(&minted.prefix)
    .bind(&minted.hash[..])
    .execute(db)
    .await
    .expect("the key is inserted");
    minted.expose().to_owned()
}

/// A fresh owner's task with one step, claimed by its agent at `attempt` with a 60 s lease: the
/// agent's key, the task, and the claim's fencing token.
pub async fn claimed_task(db: &PgPool, attempt: i32) -> (String, Uuid, i64) {
    let owner = create_user(db, "ada", "correct horse battery staple").await;
    let agent = insert_agent(db, owner.id, "runner").await;
    let key = agent_key(db, owner.id, agent).await;
    let task = insert_task(db, owner.id, "work", &["a"]).await;
    let token = sqlx::query_scalar(
        "update tasks set status = 'in_progress', lease_holder = $2, attempt = $3, \
         lease_expires_at = now() + interval '60 seconds', \
         fencing_token = nextval('task_fencing_tokens') where id = $1 returning fencing_token",
    )
    .bind(task.id)
    .bind(agent)
    .bind(attempt)
    .fetch_one(db)
    .await
    .expect("the task is claimed");
    (key, task.id, token)
}

/// Inserts an agent of `owner_id`.
pub async fn insert_agent(db: &PgPool, owner_id: Uuid, name: &str) -> Uuid {
    sqlx::query_scalar("insert into agents (owner_id, name) values ($1, $2) returning id")
        .bind(owner_id)
        .bind(name)
        .fetch_one(db)
        .await
        .expect("the agent is inserted")
}

/// Counts the rows of a query such as `select count(*) from tasks`.
pub async fn count(db: &PgPool, sql: &'static str) -> i64 {
    sqlx::query_scalar(sql)
        .fetch_one(db)
        .await
        .expect("a count")
}

/// The claims with `key` set to `value`.
pub fn with_claim(mut claims: Value, key: &str, value: Value) -> Value {
    claims[key] = value;
    claims
}

/// The claims without `key`.
pub fn without_claim(mut claims: Value, key: &str) -> Value {
    if let Some(map) = claims.as_object_mut() {
        map.remove(key);
    }
    claims
}

/// A user who had a task and a session and was then deleted: the session's token must be
/// refused. Returns that token and the task.
pub async fn deleted_user_with_a_task(db: &PgPool) -> (String, Task) {
    let user = create_user(db, "ada", "correct horse battery staple").await;
    let task = insert_task(db, user.id, "t", &[]).await;
    let token = token_for(db, user.id).await;
    sqlx::query("delete from users where id = $1")
        .bind(user.id)
        .execute(db)
        .await
        .expect("the user is deleted");
    (token, task)
}

/// The string `field` of every object in the JSON array `items`.
pub fn each<'a>(items: &'a Value, field: &str) -> Vec<&'a str> {
    items
        .as_array()
        .map(|items| {
            items
                .iter()
                .filter_map(|item| item[field].as_str())
                .collect()
        })
        .unwrap_or_default()
}

/// Runs the futures at once on this task and returns their outputs in order: concurrent handler
/// invocations, as many Lambda instances would make them, for race tests.
pub use futures_util::future::join_all;
