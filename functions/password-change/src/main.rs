#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    let state: password_change::State = shared::runtime::start().await?;
    shared::http::serve(|request| password_change::handle(&state, request)).await
}
