use shared::auth::TokenKeys;
use shared::config::JwtSecret;
use shared::secrets::Secrets;
use shared::{AppState, Env, http, telemetry};
use tasks_list::CursorKey;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    telemetry::init();
    let env = Env::from_process();
    let secrets = Secrets::new(&env);
    let state = AppState::from_env(&env, &secrets).await?;
    let secret = JwtSecret::load(&env, &secrets).await?;
    let cursors = CursorKey::derive(&secret);
    let keys = TokenKeys::new(&secret, shared::auth::token::TokenSettings::from_env(&env)?);
    http::serve(|request| tasks_list::handle(&state, &keys, &cursors, request)).await
}
