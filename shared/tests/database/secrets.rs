//! The Secrets Manager path of the configuration loader, against a local emulator that
//! `make test` starts (SECRETS_MANAGER_TEST_ENDPOINT), with fake credentials.

use aws_sdk_secretsmanager::Client;
use aws_sdk_secretsmanager::config::{BehaviorVersion, Credentials, Region};
use shared::Env;
use shared::config::{ConfigError, DatabaseConfig, JwtSecret};
use shared::secrets::Secrets;
use sqlx::postgres::PgConnectOptions;
use uuid::Uuid;

pub(crate) fn emulator_client() -> Client {
    let endpoint = std::env::var("SECRETS_MANAGER_TEST_ENDPOINT").expect(
        "SECRETS_MANAGER_TEST_ENDPOINT: run through `make test`, which starts the emulator",
    );
    let config = aws_sdk_secretsmanager::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .endpoint_url(endpoint)
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new("testing", "testing", None, None, "tests"))
        .build();
    Client::from_conf(config)
}

pub(crate) async fn create_secret(client: &Client, value: &str) -> String {
    client
        .create_secret()
        .name(format!("test/{}", Uuid::new_v4()))
        .secret_string(value)
        .send()
        .await
        .expect("the emulator creates the secret")
        .arn
        .expect("an ARN")
}

/// The environment Lambda would give a function, pointed at the emulator.
pub(crate) fn lambda_env(pairs: &[(&str, &str)]) -> Env {
    let endpoint = std::env::var("SECRETS_MANAGER_TEST_ENDPOINT").expect(
        "SECRETS_MANAGER_TEST_ENDPOINT: run through `make test`, which starts the emulator",
    );
    let mut all = vec![
        ("AWS_REGION".to_owned(), "us-east-1".to_owned()),
        ("AWS_ACCESS_KEY_ID".to_owned(), "testing".to_owned()),
        ("AWS_SECRET_ACCESS_KEY".to_owned(), "testing".to_owned()),
        ("AWS_SESSION_TOKEN".to_owned(), "testing-session".to_owned()),
        ("AWS_ENDPOINT_URL_SECRETS_MANAGER".to_owned(), endpoint),
    ];
    all.extend(
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned())),
    );
    Env::from_pairs(all)
}

/// Where the test database lives, from DATABASE_URL.
fn local_database() -> PgConnectOptions {
    std::env::var("DATABASE_URL")
        .expect("DATABASE_URL: run through `make test`")
        .parse()
        .expect("a valid DATABASE_URL")
}

#[tokio::test]
async fn database_config_from_an_rds_secret_reaches_the_database() {
    let client = emulator_client();
    let local = local_database();
    let rds_secret = serde_json::json!({
        "engine": "postgres",
        "username": local.get_username(),
        "password": "not-checked-by-the-local-cluster",
        "host": local.get_host(),
        "port": local.get_port(),
        "dbname": local.get_database().unwrap_or("postgres"),
    });
    let arn = create_secret(&client, &rds_secret.to_string()).await;
    let env = lambda_env(&[
        ("DATABASE_SECRET_ARN", arn.as_str()),
        ("DATABASE_SSLMODE", "disable"),
    ]);

    let config = DatabaseConfig::load(&env, &Secrets::new(&env))
        .await
        .unwrap();
    let pool = shared::db::pool(&config);
    let one: i32 = sqlx::query_scalar("select 1")
        .fetch_one(&pool)
        .await
        .unwrap();

    assert_eq!(one, 1);
    assert_eq!(config.connect.get_host(), local.get_host());
}

#[tokio::test]
async fn rds_managed_secret_with_only_credentials_uses_host_from_the_environment() {
    let client = emulator_client();
    let local = local_database();
    let secret = serde_json::json!({ "username": local.get_username(), "password": "pw" });
    let arn = create_secret(&client, &secret.to_string()).await;
    let port = local.get_port().to_string();
    let env = lambda_env(&[
        ("DATABASE_SECRET_ARN", arn.as_str()),
        ("DATABASE_HOST", local.get_host()),
        ("DATABASE_PORT", port.as_str()),
        ("DATABASE_NAME", local.get_database().unwrap_or("postgres")),
        ("DATABASE_SSLMODE", "disable"),
    ]);

    let config = DatabaseConfig::load(&env, &Secrets::new(&env))
        .await
        .unwrap();
    let pool = shared::db::pool(&config);
    let one: i32 = sqlx::query_scalar("select 1")
        .fetch_one(&pool)
        .await
        .unwrap();

    assert_eq!(one, 1);
}

#[tokio::test]
async fn jwt_secret_is_read_from_secrets_manager() {
    let client = emulator_client();
    let value = "a-generated-signing-secret-of-48-characters-xxxx";
    let arn = create_secret(&client, value).await;
    let env = lambda_env(&[("JWT_SECRET_ARN", arn.as_str())]);

    let secret = JwtSecret::load(&env, &Secrets::new(&env)).await.unwrap();

    assert_eq!(secret.as_bytes(), value.as_bytes());
}

#[tokio::test]
async fn a_short_jwt_secret_in_secrets_manager_is_refused() {
    let client = emulator_client();
    let arn = create_secret(&client, "short").await;
    let env = lambda_env(&[("JWT_SECRET_ARN", arn.as_str())]);

    let err = JwtSecret::load(&env, &Secrets::new(&env))
        .await
        .unwrap_err();

    assert!(matches!(err, ConfigError::JwtSecretTooShort(5)), "{err}");
}

#[tokio::test]
async fn a_missing_secret_is_an_error_naming_the_arn() {
    let arn = "arn:aws:secretsmanager:us-east-1:123456789012:secret:absent-AbCdEf";
    let env = lambda_env(&[("DATABASE_SECRET_ARN", arn)]);

    let err = DatabaseConfig::load(&env, &Secrets::new(&env))
        .await
        .err()
        .unwrap();

    assert!(
        matches!(err, ConfigError::SecretUnavailable { .. }),
        "{err}"
    );
    assert!(err.to_string().contains(arn), "{err}");
}

#[tokio::test]
async fn a_secret_that_is_not_rds_json_is_refused_without_echoing_it() {
    let client = emulator_client();
    let arn = create_secret(&client, "plain-password-value").await;
    let env = lambda_env(&[("DATABASE_SECRET_ARN", arn.as_str())]);

    let err = DatabaseConfig::load(&env, &Secrets::new(&env))
        .await
        .err()
        .unwrap();

    assert!(!err.to_string().contains("plain-password-value"), "{err}");
}

/// A role that must log in with its password (the local cluster trusts loopback otherwise),
/// and an RDS-shaped secret holding that password.
async fn role_with_secret(
    client: &Client,
    admin: &sqlx::PgPool,
    password: &str,
) -> (String, String) {
    let local = local_database();
    let role = format!("rotation_{}", Uuid::new_v4().simple());
    sqlx::query(&format!(
        "create role {role} login password '{password}' in role taskapi_password_login"
    ))
    .execute(admin)
    .await
    .unwrap();
    let secret = serde_json::json!({
        "username": role,
        "password": password,
        "host": local.get_host(),
        "port": local.get_port(),
        "dbname": local.get_database().unwrap_or("postgres"),
    });
    (role, create_secret(client, &secret.to_string()).await)
}

/// Rotates the role's password as RDS does: the database first, then the secret's current
/// version (the old one becomes AWSPREVIOUS).
async fn rotate(client: &Client, admin: &sqlx::PgPool, role: &str, arn: &str, rotate_secret: bool) {
    let local = local_database();
    sqlx::query(&format!("alter role {role} password 'second-password'"))
        .execute(admin)
        .await
        .unwrap();
    if rotate_secret {
        let secret = serde_json::json!({
            "username": role,
            "password": "second-password",
            "host": local.get_host(),
            "port": local.get_port(),
            "dbname": local.get_database().unwrap_or("postgres"),
        });
        client
            .put_secret_value()
            .secret_id(arn)
            .secret_string(secret.to_string())
            .send()
            .await
            .unwrap();
    }
}

/// A warm instance (its pool holds a connection opened with the old password) needs a new
/// connection after the rotation: the answer of the request that needs it.
async fn new_connection_after_rotation(rotate_secret: bool) -> Result<(), String> {
    use shared::runtime::Load;

    let client = emulator_client();
    let admin = sqlx::PgPool::connect_with(local_database()).await.unwrap();
    let (role, arn) = role_with_secret(&client, &admin, "first-password").await;
    let env = lambda_env(&[
        ("DATABASE_SECRET_ARN", arn.as_str()),
        ("DATABASE_SSLMODE", "disable"),
    ]);
    let state = shared::state::Database::load(&env, &Secrets::new(&env))
        .await
        .unwrap();
    // The instance is warm: it holds a connection opened with the first password, busy, so the
    // next request needs a second one.
    let warm = state.db.acquire().await.unwrap();

    rotate(&client, &admin, &role, &arn, rotate_secret).await;
    let outcome = shared::db::ping(&state.db)
        .await
        .map_err(|err| format!("{:?}", err.source));

    drop(warm);
    state.db.pool().close().await;
    sqlx::query(&format!("drop role {role}"))
        .execute(&admin)
        .await
        .unwrap();
    outcome
}

#[tokio::test]
async fn a_warm_instance_reads_a_rotated_database_password_and_keeps_working() {
    new_connection_after_rotation(true).await.unwrap();
}

#[tokio::test]
async fn a_refused_password_that_the_secret_does_not_fix_is_still_refused() {
    let err = new_connection_after_rotation(false).await.unwrap_err();
    assert!(err.contains("28P01"), "{err}");
}

fn kid(token: &secrecy::SecretString) -> Option<String> {
    use secrecy::ExposeSecret;
    jsonwebtoken::decode_header(token.expose_secret())
        .unwrap()
        .kid
}

#[tokio::test]
async fn token_keys_rotate_without_a_cold_start() {
    use secrecy::ExposeSecret;
    use shared::auth::{Caller, TokenKeys, token::TokenRejected};

    let client = emulator_client();
    let put = |value: String, arn: String| {
        let client = client.clone();
        async move {
            client
                .put_secret_value()
                .secret_id(arn)
                .secret_string(value)
                .send()
                .await
                .unwrap();
        }
    };
    let arn = create_secret(&client, &"first-key-".repeat(4)).await;
    let env = lambda_env(&[("JWT_SECRET_ARN", arn.as_str())]);
    let caller = Caller {
        user_id: Uuid::new_v4(),
        session_id: Uuid::new_v4(),
    };
    let warm = TokenKeys::load(&env, &Secrets::new(&env)).await.unwrap();
    let before = warm.issue(caller).unwrap().token;

    // Rotation: the new version becomes AWSCURRENT, the old one AWSPREVIOUS.
    put("second-key-".repeat(4), arn.clone()).await;
    let cold = TokenKeys::load(&env, &Secrets::new(&env)).await.unwrap();
    let after = cold.issue(caller).unwrap().token;
    assert_ne!(kid(&before), kid(&after));
    // A new instance signs with the new key and still accepts the previous one's tokens.
    assert_eq!(
        cold.verify(before.expose_secret()).unwrap().sub,
        caller.user_id
    );
    // The warm instance does not know the new key: the token makes it read the keys again,
    // and from then on it signs with the new key too.
    assert!(matches!(
        warm.verify(after.expose_secret()),
        Err(TokenRejected::UnknownKey(_))
    ));
    assert_eq!(
        warm.verify_fresh(after.expose_secret()).await.unwrap().sub,
        caller.user_id
    );
    assert_eq!(kid(&warm.issue(caller).unwrap().token), kid(&after));

    // Another rotation within the minute: the warm instance does not read the keys again yet.
    put("third-key-".repeat(4), arn.clone()).await;
    let newest = TokenKeys::load(&env, &Secrets::new(&env)).await.unwrap();
    let third = newest.issue(caller).unwrap().token;
    assert!(matches!(
        warm.verify_fresh(third.expose_secret()).await,
        Err(TokenRejected::UnknownKey(_))
    ));
    // Two rotations on, the first key is no longer accepted anywhere.
    assert!(matches!(
        newest.verify_fresh(before.expose_secret()).await,
        Err(TokenRejected::UnknownKey(_))
    ));
}
