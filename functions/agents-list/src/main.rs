#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    let state: agents_list::State = shared::runtime::start().await?;
    shared::http::serve(|request| agents_list::handle(&state, request)).await
}
