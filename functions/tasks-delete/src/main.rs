#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    let (state, keys) = shared::runtime::start_with_token_keys().await?;
    shared::http::serve(|request| tasks_delete::handle(&state, &keys, request)).await
}
