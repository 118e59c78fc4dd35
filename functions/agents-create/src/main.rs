#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    let state: agents_create::State = shared::runtime::start().await?;
    shared::http::serve(|request| agents_create::handle(&state, request)).await
}
