#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    let state: logout::State = shared::runtime::start().await?;
    shared::http::serve(|request| logout::handle(&state, request)).await
}
