#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    let state: agent_keys_create::State = shared::runtime::start().await?;
    shared::http::serve(|request| agent_keys_create::handle(&state, request)).await
}
