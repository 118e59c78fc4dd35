#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    let state: register::State = shared::runtime::start().await?;
    shared::http::serve(|request| register::handle(&state, request)).await
}
