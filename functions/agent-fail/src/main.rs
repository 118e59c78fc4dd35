#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    let state: agent_fail::State = shared::runtime::start().await?;
    shared::http::serve(|request| agent_fail::handle(&state, request)).await
}
