#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    let state: audit_list::State = shared::runtime::start().await?;
    shared::http::serve(|request| audit_list::handle(&state, request)).await
}
