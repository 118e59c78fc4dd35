//! Cold starts as in AWS: the function reads its secrets from Secrets Manager (a local
//! emulator) and logs in to PostgreSQL with a password (SCRAM), over TLS or without, then serves
//! its first request. Measured from process start to that first answer.

use std::path::Path;
use std::time::{Duration, Instant};

use aws_sdk_secretsmanager::Client;
use aws_sdk_secretsmanager::config::{BehaviorVersion, Credentials, Region};
use local_runtime::RuntimeApi;
use sqlx::PgPool;
use sqlx::postgres::PgConnectOptions;
use uuid::Uuid;

use crate::workload::{self, Data};
use crate::{Error, check, lambda_process, spawn_ready};

/// A role that must log in with its password (the local cluster's `taskapi_password_login`
/// group), with the app role's rights.
const ROLE: &str = "taskapi_bench_scram";

/// Where a cold function finds its secrets.
pub struct Aws {
    endpoint: String,
    database_secret: String,
    jwt_secret: String,
}

impl Aws {
    pub async fn prepare(
        db: &PgPool,
        options: &PgConnectOptions,
        jwt_secret: &str,
    ) -> Result<Self, Error> {
        let endpoint = std::env::var("BENCH_SECRETS_ENDPOINT")
            .map_err(|_| "set BENCH_SECRETS_ENDPOINT to the Secrets Manager emulator")?;
        let password = Uuid::new_v4().simple().to_string();
        sqlx::query(&format!(
            "do $$ begin \
                 create role {ROLE} login password '{password}' in role taskapi_password_login; \
             exception when duplicate_object then \
                 alter role {ROLE} password '{password}'; \
             end $$"
        ))
        .execute(db)
        .await?;
        sqlx::query(&format!(
            "grant select, insert, update, delete on all tables in schema public to {ROLE}"
        ))
        .execute(db)
        .await?;

        let client = Client::from_conf(
            aws_sdk_secretsmanager::Config::builder()
                .behavior_version(BehaviorVersion::latest())
                .endpoint_url(&endpoint)
                .region(Region::new("us-east-1"))
                .credentials_provider(Credentials::new("bench", "bench", None, None, "bench"))
                .build(),
        );
        let database = serde_json::json!({
            "username": ROLE,
            "password": password,
            "host": options.get_host(),
            "port": options.get_port(),
            "dbname": options.get_database(),
        });
        Ok(Self {
            database_secret: create_secret(&client, &database.to_string()).await?,
            jwt_secret: create_secret(&client, jwt_secret).await?,
            endpoint,
        })
    }
}

async fn create_secret(client: &Client, value: &str) -> Result<String, Error> {
    Ok(client
        .create_secret()
        .name(format!("bench/{}", Uuid::new_v4()))
        .secret_string(value)
        .send()
        .await?
        .arn
        .ok_or("the emulator returned no ARN")?)
}

/// Starts `function` as in AWS and returns the time to its first answer (event `i`).
pub async fn start(
    function: &str,
    binary: &Path,
    aws: &Aws,
    data: &Data,
    i: usize,
    tls: bool,
) -> Result<Duration, Error> {
    let api = RuntimeApi::start().await?;
    let started = Instant::now();
    let mut command = lambda_process(function, binary, &api);
    command
        .env("AWS_ACCESS_KEY_ID", "bench")
        .env("AWS_SECRET_ACCESS_KEY", "bench")
        .env("AWS_SESSION_TOKEN", "bench")
        .env("AWS_ENDPOINT_URL_SECRETS_MANAGER", &aws.endpoint)
        .env("DATABASE_SECRET_ARN", &aws.database_secret)
        .env("DATABASE_SSLMODE", if tls { "require" } else { "disable" })
        .env("JWT_SECRET_ARN", &aws.jwt_secret);
    let (mut child, _) = spawn_ready(function, binary, command, &api).await?;
    let (event, expected) = workload::event(function, data, i);
    let (_, outcome) = api.invoke(event.to_string().into_bytes()).await?;
    let cold = started.elapsed();
    check(function, i, &outcome, expected)?;
    child.kill().await?;
    Ok(cold)
}
