//! The scheduled maintenance (EventBridge, hourly by default): prunes every table that grows with
//! use, as `shared::retention` says, in bounded batches, stopping a while before the invocation's
//! deadline, and fails the tasks whose lease ended on their last attempt (no claim takes them
//! again). It connects as the app role, like the API functions: the audit trail stays
//! append-only for it, and is pruned only as far as migrate's policy allows. Its answer (and log)
//! says how many rows of each kind went.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use lambda_runtime::LambdaEvent;
use serde_json::{Map, Value};
use shared::error::ErrorChain;
use shared::retention::{self, Pruned};
use shared::work;

pub use shared::state::Maintenance as State;

pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The time left for the last batch and the answer.
const MARGIN: Duration = Duration::from_secs(10);

/// One scheduled invocation: the event itself carries nothing the run needs.
pub async fn serve(state: &State, event: LambdaEvent<Value>) -> Result<Value, BoxError> {
    let now_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis())
        .unwrap_or_default();
    let left = Duration::from_millis(
        u64::try_from(u128::from(event.context.deadline).saturating_sub(now_ms)).unwrap_or(0),
    );
    run(state, Instant::now() + left.saturating_sub(MARGIN)).await
}

/// Prunes until nothing expired is left or `until` has passed.
pub async fn run(state: &State, until: Instant) -> Result<Value, BoxError> {
    let started = Instant::now();
    let pruned = retention::prune_expired(&state.db, &state.retention, &state.throttle, until)
        .await
        .inspect_err(|err| tracing::error!(error = %ErrorChain(err), "maintenance failed"))?;
    let mut counts = Map::new();
    for Pruned { kind, rows } in &pruned {
        counts.insert((*kind).to_owned(), Value::from(*rows));
    }
    let summary = Value::Object(counts);
    // Tasks whose lease ended on their last attempt: no claim takes them again.
    let failed = work::store::fail_exhausted(&state.db, state.retention.batch_rows)
        .await
        .inspect_err(|err| tracing::error!(error = %ErrorChain(err), "maintenance failed"))?;
    tracing::info!(
        pruned = %summary,
        tasks_failed = failed,
        took_ms = started.elapsed().as_millis() as u64,
        "maintenance: expired rows deleted"
    );
    Ok(serde_json::json!({ "pruned": summary, "tasks_failed": failed }))
}

#[cfg(test)]
mod tests;
