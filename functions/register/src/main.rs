use shared::secrets::Secrets;
use shared::{AppState, Env, http, telemetry};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    telemetry::init();
    let state = AppState::from_env(&Env::from_process(), &Secrets::new()).await?;
    http::serve(|request| register::handle(&state, request)).await
}
