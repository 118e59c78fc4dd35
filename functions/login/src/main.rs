use shared::auth::TokenKeys;
use shared::secrets::Secrets;
use shared::{AppState, Env, http, telemetry};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    telemetry::init();
    let env = Env::from_process();
    let secrets = Secrets::new(&env);
    let state = AppState::from_env(&env, &secrets).await?;
    let keys = TokenKeys::from_env(&env, &secrets).await?;
    http::serve(|request| login::handle(&state, &keys, request)).await
}
