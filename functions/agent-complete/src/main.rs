#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    let state: agent_complete::State = shared::runtime::start().await?;
    shared::http::serve(|request| agent_complete::handle(&state, request)).await
}
