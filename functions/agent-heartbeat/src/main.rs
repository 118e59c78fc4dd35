#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    let state: agent_heartbeat::State = shared::runtime::start().await?;
    shared::http::serve(|request| agent_heartbeat::handle(&state, request)).await
}
