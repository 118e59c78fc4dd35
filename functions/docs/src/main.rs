#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    let state: docs::State = shared::runtime::start().await?;
    shared::http::serve(|request| docs::handle(&state, request)).await
}
