#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    let state: login::State = shared::runtime::start().await?;
    shared::http::serve(|request| login::handle(&state, request)).await
}
