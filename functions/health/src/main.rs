use shared::config::DatabaseConfig;
use shared::secrets::Secrets;
use shared::{Env, db, http, telemetry};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    telemetry::init();
    let env = Env::from_process();
    let pool = db::pool(&DatabaseConfig::load(&env, &Secrets::new(&env)).await?);
    http::serve(|request| health::handle(&pool, request)).await
}
