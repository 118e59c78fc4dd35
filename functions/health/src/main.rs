#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    let state: health::State = shared::runtime::start().await?;
    shared::http::serve(|request| health::handle(&state, request)).await
}
