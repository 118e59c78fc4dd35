use shared::secrets::Secrets;
use shared::{AppState, Env, http, telemetry};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    telemetry::init();
    let env = Env::from_process();
    let state = AppState::from_env(&env, &Secrets::new(&env)).await?;
    http::serve(|request| register::handle(&state, request)).await
}
