#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    let state: account_delete::State = shared::runtime::start().await?;
    shared::http::serve(|request| account_delete::handle(&state, request)).await
}
