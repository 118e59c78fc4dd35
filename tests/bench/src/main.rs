//! `make bench`: runs each release-built function binary as Lambda does (a fresh process that
//! talks to a local Runtime API), against a real PostgreSQL seeded with a user who has 1,000
//! tasks, and prints init time, first-invocation and warm latencies, peak RSS and zipped size,
//! with each function's warm p50 as a ratio to the floor of the work it must do.
//!
//! The cold columns start each function once more as it starts in AWS: its secrets from Secrets
//! Manager (a local emulator) and a password (SCRAM) login to PostgreSQL, over TLS and without.
//!
//! Environment: DATABASE_URL (a role that may create databases), BENCH_SECRETS_ENDPOINT (the
//! Secrets Manager emulator), BENCH_TLS_HOST (a host name the server's certificate holds),
//! BENCH_BIN_DIR (default target/lambda, with <name>/bootstrap and <name>/bootstrap.zip),
//! BENCH_INVOCATIONS (default 1000), BENCH_FUNCTIONS (default all).

// The benchmark harness, not a function: a failed set-up stops the run.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod cold;
mod work;
mod workload;

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use local_runtime::{Outcome, RuntimeApi, lambda_command};
use secrecy::SecretString;
use shared::auth::TokenKeys;
use shared::config::{JwtSecret, TokenSettings};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{ConnectOptions, Executor};
use workload::{Data, percentile};

pub(crate) type Error = Box<dyn std::error::Error + Send + Sync>;

const FUNCTIONS: &[&str] = &[
    "health",
    "docs",
    "register",
    "login",
    "me",
    "tasks-create",
    "tasks-list",
    "tasks-get",
    "tasks-update",
    "tasks-delete",
    "refresh",
    "agents-create",
    "agents-list",
    "agents-get",
    "agents-update",
    "agents-delete",
    "steps-update",
    "audit-list",
];
const JWT_SECRET: &str = "benchmark-signing-secret-0123456789abcdef";
const BCRYPT_COST: u32 = 12;

struct Row {
    function: String,
    init: Duration,
    first: Duration,
    cold_tls: Duration,
    cold_plain: Duration,
    p50: Duration,
    p90: Duration,
    p99: Duration,
    invocations: usize,
    floor: Duration,
    floor_what: &'static str,
    zip_bytes: Option<u64>,
    peak_rss_kib: Option<u64>,
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    let admin: PgConnectOptions = std::env::var("DATABASE_URL")
        .map_err(|_| "set DATABASE_URL to a PostgreSQL role that may create databases")?
        .parse()?;
    let bin_dir =
        PathBuf::from(std::env::var("BENCH_BIN_DIR").unwrap_or_else(|_| "target/lambda".into()));
    let invocations: usize = std::env::var("BENCH_INVOCATIONS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1000);
    let all = || {
        FUNCTIONS
            .iter()
            .chain(&work::FUNCTIONS)
            .map(|f| (*f).to_owned())
    };
    let selected: Vec<String> = std::env::var("BENCH_FUNCTIONS")
        .map(|list| list.split(',').map(str::to_owned).collect())
        .unwrap_or_else(|_| all().collect());
    // The work queue's rows need its three functions: a worker calls them in turn.
    let work_queue = work::FUNCTIONS
        .iter()
        .all(|f| selected.iter().any(|s| s == f));

    let (db, options, database_url) = fresh_database(&admin, "taskapi_bench").await?;
    let keys = TokenKeys::new(
        &JwtSecret::new(SecretString::from(JWT_SECRET))?,
        TokenSettings::from_env(&shared::Env::default())?,
    );
    // One event more than the warm runs use, for each of the two cold starts.
    let data = workload::seed(&db, BCRYPT_COST, &keys, invocations + 3).await?;
    let aws = cold::Aws::prepare(&db, &options, JWT_SECRET).await?;

    let mut rows = Vec::new();
    for function in selected.iter().filter(|f| FUNCTIONS.contains(&f.as_str())) {
        let binary = binary_path(&bin_dir, function);
        eprintln!("bench: {function} ({})", binary.display());
        let n = if function == "register" || function == "login" {
            invocations.min(200)
        } else {
            invocations
        };
        let mut row = run_function(function, &binary, &database_url, &data, n).await?;
        row.cold_tls = cold::start(function, &binary, &aws, &data, n + 1, true).await?;
        row.cold_plain = cold::start(function, &binary, &aws, &data, n + 2, false).await?;
        let (floor, what) = workload::floor(function, &db, &data, invocations).await?;
        row.floor = floor;
        row.floor_what = what;
        row.zip_bytes = std::fs::metadata(bin_dir.join(function).join("bootstrap.zip"))
            .ok()
            .map(|m| m.len());
        rows.push(row);
    }
    print_report(&rows);

    if work_queue {
        // A database of its own: the shallow queue is the worker's 1,000 tasks alone.
        let (db, _, database_url) = fresh_database(&admin, "taskapi_bench_work").await?;
        let report = work::measure(&db, &bin_dir, &database_url, JWT_SECRET, invocations).await?;
        work::print_report(&report);
    }
    Ok(())
}

/// A database created afresh for this run and migrated: a pool on it (as the admin), its
/// options, and the URL the functions use.
async fn fresh_database(
    admin: &PgConnectOptions,
    name: &str,
) -> Result<(sqlx::PgPool, PgConnectOptions, String), Error> {
    let mut admin_conn = admin.clone().database("postgres").connect().await?;
    admin_conn
        .execute(format!("drop database if exists {name} with (force)").as_str())
        .await?;
    admin_conn
        .execute(format!("create database {name}").as_str())
        .await?;
    let options = admin.clone().database(name);
    let database_url = format!(
        "postgres://{}@{}:{}/{name}?sslmode=disable",
        options.get_username(),
        options.get_host(),
        options.get_port()
    );
    let db = PgPoolOptions::new()
        .max_connections(1)
        .connect_with(options.clone())
        .await?;
    shared::db::MIGRATOR.run(&db).await?;
    Ok((db, options, database_url))
}

pub(crate) fn binary_path(bin_dir: &Path, function: &str) -> PathBuf {
    let lambda_layout = bin_dir.join(function).join("bootstrap");
    if lambda_layout.exists() {
        lambda_layout
    } else {
        bin_dir.join(function)
    }
}

async fn run_function(
    function: &str,
    binary: &Path,
    database_url: &str,
    data: &Data,
    n: usize,
) -> Result<Row, Error> {
    let api = RuntimeApi::start().await?;
    let started = std::time::Instant::now();
    let mut command = lambda_process(function, binary, &api);
    command
        .env("DATABASE_URL", database_url)
        .env("JWT_SECRET", JWT_SECRET);
    let (mut child, ready) = spawn_ready(function, binary, command, &api).await?;
    let init = ready - started;

    let mut latencies = Vec::with_capacity(n);
    let mut first = Duration::ZERO;
    for i in 0..=n {
        let (event, expected) = workload::event(function, data, i);
        let (took, outcome) = api.invoke(event.to_string().into_bytes()).await?;
        check(function, i, &outcome, expected)?;
        if i == 0 {
            first = took
        } else {
            latencies.push(took)
        }
    }
    let peak_rss_kib = child.id().and_then(peak_rss_kib);
    child.kill().await?;

    Ok(Row {
        function: function.to_owned(),
        init,
        first,
        cold_tls: Duration::ZERO,
        cold_plain: Duration::ZERO,
        p50: percentile(&mut latencies, 50.0),
        p90: percentile(&mut latencies, 90.0),
        p99: percentile(&mut latencies, 99.0),
        invocations: n,
        floor: Duration::ZERO,
        floor_what: "",
        zip_bytes: None,
        peak_rss_kib,
    })
}

/// The function's process with the environment Lambda gives it (`local_runtime`) and the
/// bench's settings; the caller adds the rest.
pub(crate) fn lambda_process(
    function: &str,
    binary: &Path,
    api: &RuntimeApi,
) -> tokio::process::Command {
    let memory = if function == "register" || function == "login" {
        1769
    } else {
        256
    };
    let mut command = lambda_command(binary, function, memory, &api.address());
    command
        .env("BCRYPT_COST", BCRYPT_COST.to_string())
        // Straight to PostgreSQL, as in the template's default mode.
        .env("DATABASE_POOLER", "none")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    let mut command = tokio::process::Command::from(command);
    command.kill_on_drop(true);
    command
}

/// Starts a function's process and waits until it asks its Runtime API for the first event:
/// the process, and when it asked.
pub(crate) async fn spawn_ready(
    function: &str,
    binary: &Path,
    mut command: tokio::process::Command,
    api: &RuntimeApi,
) -> Result<(tokio::process::Child, std::time::Instant), Error> {
    let child = command
        .spawn()
        .map_err(|e| format!("starting {}: {e}", binary.display()))?;
    let ready = api
        .first_next(Duration::from_secs(10))
        .await
        .ok_or_else(|| {
            format!(
                "{function} never asked for an event: {:?}",
                api.init_error()
            )
        })?;
    Ok((child, ready))
}

/// The answer must be the API Gateway response with the expected status: a benchmark of
/// error answers would measure the wrong thing.
pub(crate) fn check(
    function: &str,
    i: usize,
    outcome: &Outcome,
    expected: u16,
) -> Result<(), Error> {
    let body = match outcome {
        Outcome::Response(body) => body,
        Outcome::Error(body) => {
            return Err(format!("{function} #{i}: error {}", String::from_utf8_lossy(body)).into());
        }
    };
    let response: serde_json::Value = serde_json::from_slice(body)?;
    if response["statusCode"] != expected {
        return Err(format!("{function} #{i}: expected {expected}, got {response}").into());
    }
    Ok(())
}

/// The process's peak resident set size (VmHWM), in KiB.
pub(crate) fn peak_rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|line| line.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

fn ms(d: Duration) -> String {
    format!("{:.2}", d.as_secs_f64() * 1000.0)
}

fn print_report(rows: &[Row]) {
    println!(
        "| function | init ms | first ms | cold TLS ms | cold plain ms | p50 ms | p90 ms | p99 ms | n | floor p50 ms | floor | p50 / floor | zip KiB | peak RSS MiB |"
    );
    println!(
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- | ---: | ---: | ---: |"
    );
    for row in rows {
        let ratio = if row.floor.is_zero() {
            "–".into()
        } else {
            format!("{:.2}", row.p50.as_secs_f64() / row.floor.as_secs_f64())
        };
        println!(
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            row.function,
            ms(row.init),
            ms(row.first),
            ms(row.cold_tls),
            ms(row.cold_plain),
            ms(row.p50),
            ms(row.p90),
            ms(row.p99),
            row.invocations,
            ms(row.floor),
            row.floor_what,
            ratio,
            row.zip_bytes
                .map_or("–".into(), |b| format!("{:.0}", b as f64 / 1024.0)),
            row.peak_rss_kib
                .map_or("–".into(), |k| format!("{:.1}", k as f64 / 1024.0)),
        );
    }
}
