//! The one start-up of every function: logging, then the state the function names, from the
//! process environment (values locally, Secrets Manager in AWS).

use std::future::Future;

use crate::config::{ConfigError, Env, LogConfig};
use crate::secrets::Secrets;
use crate::{metrics, telemetry};

/// A state a function can build at start-up from its environment.
pub trait Load: Sized {
    fn load(env: &Env, secrets: &Secrets) -> impl Future<Output = Result<Self, ConfigError>>;
}

/// Reads the environment once, starts logging, and loads the state `S`.
pub async fn start<S: Load>() -> Result<S, ConfigError> {
    let began = std::time::Instant::now();
    let env = Env::from_process();
    let log = LogConfig::from_env(&env);
    telemetry::init(&log);
    metrics::init(&log.metrics_namespace, &log.function_name);
    let state = S::load(&env, &Secrets::new(&env)).await?;
    telemetry::init_finished(began);
    Ok(state)
}
