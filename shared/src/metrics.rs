//! What an operator counts, written as CloudWatch embedded-metric-format (EMF) lines on stdout
//! (crate `metrics_cloudwatch_embedded` behind the `metrics` facade), flushed after each
//! request with its Lambda request id. CloudWatch Logs turns each line into metric data in the
//! namespace `METRICS_NAMESPACE`; no API call is made.
//!
//! | metric | unit | dimensions | counts |
//! | --- | --- | --- | --- |
//! | `Login` | Count | `Outcome` | logins: `success`, `wrong_password` (or no such account), `throttled`, `locked` |
//! | `Refresh` | Count | `Outcome` | refreshes: `success`, `reuse` (a spent token: its session is revoked), `refused` |
//! | `Registration` | Count | – | accounts created |
//! | `TaskStatusChange` | Count | `Status` | tasks entering a status |
//! | `StepStatusChange` | Count | `Status` | steps entering a status |
//! | `DatabaseAcquireTime` | Milliseconds | `FunctionName` | taking a connection from the pool (a new connection's handshake, or the wait for a busy pool, included) |
//! | `DatabaseUnavailable` | Count | `FunctionName` | requests answered 503 because the database did not answer |
//!
//! `METRICS` is that table as data; `tests/harness/check_metrics.py` holds the lines a
//! `make dev` run writes to it.

use std::future::Future;
use std::sync::OnceLock;
use std::time::Duration;

use ::metrics::{Unit, counter, describe_counter, describe_histogram, histogram};
use metrics_cloudwatch_embedded::Collector;

/// Every metric: its name, unit, dimension (if any) and what it counts.
pub const METRICS: &[(&str, Unit, Option<&str>, &str)] = &[
    ("Login", Unit::Count, Some("Outcome"), "logins by outcome"),
    (
        "Refresh",
        Unit::Count,
        Some("Outcome"),
        "refreshes by outcome",
    ),
    ("Registration", Unit::Count, None, "accounts created"),
    (
        "TaskStatusChange",
        Unit::Count,
        Some("Status"),
        "tasks entering a status",
    ),
    (
        "StepStatusChange",
        Unit::Count,
        Some("Status"),
        "steps entering a status",
    ),
    (
        "DatabaseAcquireTime",
        Unit::Milliseconds,
        Some("FunctionName"),
        "taking a connection from the pool",
    ),
    (
        "DatabaseUnavailable",
        Unit::Count,
        Some("FunctionName"),
        "503s because the database did not answer",
    ),
];

/// The collector, once `init` installed it; `None` in tests and tools that never call it.
static COLLECTOR: OnceLock<&'static Collector> = OnceLock::new();
/// This function's name (`AWS_LAMBDA_FUNCTION_NAME`), the database metrics' dimension.
static FUNCTION: OnceLock<String> = OnceLock::new();

/// Installs the EMF recorder for the namespace, once per process.
pub fn init(namespace: &str, function_name: &str) {
    let installed = metrics_cloudwatch_embedded::Builder::new()
        .cloudwatch_namespace(namespace.to_owned())
        .init();
    match installed {
        Ok(collector) => {
            let _ = COLLECTOR.set(collector);
            let _ = FUNCTION.set(function_name.to_owned());
            for &(name, unit, _, description) in METRICS {
                if unit == Unit::Milliseconds {
                    describe_histogram!(name, unit, description);
                } else {
                    describe_counter!(name, unit, description);
                }
            }
        }
        Err(err) => tracing::warn!(error = %err, "metrics are off"),
    }
}

/// Handles one request, then writes the metrics it counted, with its Lambda request id, as EMF
/// lines on stdout.
pub async fn measured<T>(request_id: &str, handling: impl Future<Output = T>) -> T {
    let result = handling.await;
    if let Some(collector) = COLLECTOR.get() {
        let flushed = collector
            .set_property("RequestId", request_id.to_owned())
            .flush(std::io::stdout().lock());
        if let Err(err) = flushed {
            tracing::warn!(error = %err, "writing the metrics failed");
        }
    }
    result
}

/// A connection was taken from the pool (`Db::acquire`) in `took`.
pub fn database_acquired(took: Duration) {
    histogram!("DatabaseAcquireTime", "FunctionName" => function())
        .record(took.as_secs_f64() * 1000.0);
}

/// A request answered 503: the database did not answer.
pub fn database_unavailable() {
    counter!("DatabaseUnavailable", "FunctionName" => function()).increment(1);
}

fn function() -> String {
    FUNCTION.get().cloned().unwrap_or_default()
}

/// How a login ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Login {
    Success,
    /// A wrong password, or a name no account has (the client cannot tell them apart).
    WrongPassword,
    /// Refused by the address budget.
    Throttled,
    /// Refused because the account (or the account from this address) is locked down.
    Locked,
}

pub fn login(outcome: Login) {
    let outcome = match outcome {
        Login::Success => "success",
        Login::WrongPassword => "wrong_password",
        Login::Throttled => "throttled",
        Login::Locked => "locked",
    };
    counter!("Login", "Outcome" => outcome).increment(1);
}

/// How a refresh ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refresh {
    Success,
    /// A spent refresh token was presented; its session is revoked.
    Reuse,
    /// An unknown, expired, idle or revoked refresh token.
    Refused,
}

pub fn refresh(outcome: Refresh) {
    let outcome = match outcome {
        Refresh::Success => "success",
        Refresh::Reuse => "reuse",
        Refresh::Refused => "refused",
    };
    counter!("Refresh", "Outcome" => outcome).increment(1);
}

pub fn registration() {
    counter!("Registration").increment(1);
}

/// A task went from the status `from` to `to` (as stored); nothing is counted when they are
/// the same.
pub fn task_status(from: &'static str, to: &'static str) {
    if from != to {
        counter!("TaskStatusChange", "Status" => to).increment(1);
    }
}

/// A step went from the status `from` to `to` (as stored); nothing is counted when they are
/// the same.
pub fn step_status(from: &'static str, to: &'static str) {
    if from != to {
        counter!("StepStatusChange", "Status" => to).increment(1);
    }
}
