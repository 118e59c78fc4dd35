#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    let state: agents_update::State = shared::runtime::start().await?;
    shared::http::serve(|request| agents_update::handle(&state, request)).await
}
