//! What every function does once at start-up: logging, then its state from the process
//! environment (values locally, Secrets Manager in AWS).

use crate::auth::TokenKeys;
use crate::config::{ConfigError, Env};
use crate::secrets::Secrets;
use crate::state::AppState;
use crate::telemetry;

/// For a function that needs the database and settings.
pub async fn start() -> Result<AppState, ConfigError> {
    telemetry::init();
    let env = Env::from_process();
    AppState::from_env(&env, &Secrets::new(&env)).await
}

/// For a function that also issues or checks access tokens.
pub async fn start_with_token_keys() -> Result<(AppState, TokenKeys), ConfigError> {
    telemetry::init();
    let env = Env::from_process();
    let secrets = Secrets::new(&env);
    let state = AppState::from_env(&env, &secrets).await?;
    let keys = TokenKeys::from_env(&env, &secrets).await?;
    Ok((state, keys))
}
