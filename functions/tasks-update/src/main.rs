#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    let state: tasks_update::State = shared::runtime::start().await?;
    shared::http::serve(|request| tasks_update::handle(&state, request)).await
}
