#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), migrate::BoxError> {
    let state: migrate::State = shared::runtime::start().await?;
    migrate::run(&state).await
}
