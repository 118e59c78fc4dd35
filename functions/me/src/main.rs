#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    let state: me::State = shared::runtime::start().await?;
    shared::http::serve(|request| me::handle(&state, request)).await
}
