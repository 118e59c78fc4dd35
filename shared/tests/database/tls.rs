//! Verified TLS against the local cluster, whose certificate a test CA made by the harness
//! signed for "localhost" only (`postgres.sh tls`: DATABASE_TEST_TLS_URL, DATABASE_TEST_CA,
//! DATABASE_TEST_OTHER_CA).

use shared::config::{ConfigError, DatabaseConfig};
use shared::secrets::Secrets;

use crate::secrets::{create_secret, emulator_client, lambda_env};

fn setting(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| panic!("{name}: run through `make test`"))
}

/// Connects as the functions would with `pairs` as their environment; whether the connection
/// is encrypted, or the error.
async fn connect(pairs: &[(&str, &str)]) -> Result<bool, String> {
    let env = lambda_env(pairs);
    let config = DatabaseConfig::load(&env, &Secrets::new(&env))
        .await
        .map_err(|err| err.to_string())?;
    let pool = shared::db::pool(&config);
    let encrypted = sqlx::query_scalar("select ssl from pg_stat_ssl where pid = pg_backend_pid()")
        .fetch_one(&pool)
        .await
        .map_err(|err| err.to_string());
    pool.close().await;
    encrypted
}

#[tokio::test]
async fn verify_full_with_the_servers_ca_connects_encrypted() {
    let (url, ca) = (
        setting("DATABASE_TEST_TLS_URL"),
        setting("DATABASE_TEST_CA"),
    );
    let encrypted = connect(&[
        ("DATABASE_URL", &url),
        ("DATABASE_SSLMODE", "verify-full"),
        ("DATABASE_SSLROOTCERT", &ca),
    ])
    .await
    .unwrap();
    assert!(encrypted);
}

#[tokio::test]
async fn verify_full_with_another_ca_is_refused_naming_the_certificate() {
    let (url, other) = (
        setting("DATABASE_TEST_TLS_URL"),
        setting("DATABASE_TEST_OTHER_CA"),
    );
    let err = connect(&[
        ("DATABASE_URL", &url),
        ("DATABASE_SSLMODE", "verify-full"),
        ("DATABASE_SSLROOTCERT", &other),
    ])
    .await
    .unwrap_err();
    assert!(err.contains("certificate"), "{err}");
}

#[tokio::test]
async fn verify_full_to_a_host_the_certificate_does_not_name_is_refused() {
    let url = setting("DATABASE_TEST_TLS_URL").replace("localhost", "127.0.0.1");
    let ca = setting("DATABASE_TEST_CA");
    let err = connect(&[
        ("DATABASE_URL", &url),
        ("DATABASE_SSLMODE", "verify-full"),
        ("DATABASE_SSLROOTCERT", &ca),
    ])
    .await
    .unwrap_err();
    assert!(err.contains("certificate") && err.contains("Name"), "{err}");
}

#[tokio::test]
async fn the_ca_bundle_can_come_from_a_secret() {
    let (url, ca) = (
        setting("DATABASE_TEST_TLS_URL"),
        setting("DATABASE_TEST_CA"),
    );
    let pem = std::fs::read_to_string(ca).unwrap();
    let arn = create_secret(&emulator_client(), &pem).await;
    let encrypted = connect(&[
        ("DATABASE_URL", &url),
        ("DATABASE_SSLMODE", "verify-full"),
        ("DATABASE_SSLROOTCERT_SECRET_ARN", &arn),
    ])
    .await
    .unwrap();
    assert!(encrypted);
}

#[tokio::test]
async fn a_ca_bundle_that_is_missing_or_not_pem_is_a_configuration_error() {
    let url = setting("DATABASE_TEST_TLS_URL");
    let env = lambda_env(&[
        ("DATABASE_URL", &url),
        ("DATABASE_SSLROOTCERT", "/nonexistent/ca.pem"),
    ]);
    let err = DatabaseConfig::load(&env, &Secrets::new(&env))
        .await
        .err()
        .unwrap();
    assert!(
        matches!(&err, ConfigError::Invalid { name, .. } if name == "DATABASE_SSLROOTCERT"),
        "{err}"
    );

    let arn = create_secret(&emulator_client(), "not a certificate").await;
    let env = lambda_env(&[
        ("DATABASE_URL", &url),
        ("DATABASE_SSLROOTCERT_SECRET_ARN", &arn),
    ]);
    let err = DatabaseConfig::load(&env, &Secrets::new(&env))
        .await
        .err()
        .unwrap();
    assert!(err.to_string().contains("no PEM certificate"), "{err}");
}
