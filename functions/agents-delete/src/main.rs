#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    let state: agents_delete::State = shared::runtime::start().await?;
    shared::http::serve(|request| agents_delete::handle(&state, request)).await
}
