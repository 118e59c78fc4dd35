#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    let state: refresh::State = shared::runtime::start().await?;
    shared::http::serve(|request| refresh::handle(&state, request)).await
}
