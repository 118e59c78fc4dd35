#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    let state: tasks_get::State = shared::runtime::start().await?;
    shared::http::serve(|request| tasks_get::handle(&state, request)).await
}
