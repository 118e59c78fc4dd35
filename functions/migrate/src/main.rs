use std::process::ExitCode;

use migrate::custom_resource::{self, CustomResourceEvent};
use shared::config::DatabaseConfig;
use shared::error::ErrorChain;
use shared::secrets::Secrets;
use shared::{Env, telemetry};

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    telemetry::init();
    let result = if std::env::var_os("AWS_LAMBDA_RUNTIME_API").is_some() {
        serve_custom_resource().await
    } else {
        run_once().await
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            tracing::error!(error = %ErrorChain(err.as_ref()), "migrate failed");
            ExitCode::FAILURE
        }
    }
}

/// Command line: apply the migrations to the configured database and exit.
async fn run_once() -> Result<(), migrate::BoxError> {
    let env = Env::from_process();
    let config = DatabaseConfig::load(&env, &Secrets::new(&env)).await?;
    let applied = migrate::apply(config.connect).await?;
    tracing::info!(applied, "migrations are up to date");
    Ok(())
}

/// Lambda: answer CloudFormation custom-resource events.
async fn serve_custom_resource() -> Result<(), migrate::BoxError> {
    let env = Env::from_process();
    let secrets = Secrets::new(&env);
    let client = custom_resource::response_client()?;
    lambda_runtime::run(lambda_runtime::service_fn(
        |event: lambda_runtime::LambdaEvent<CustomResourceEvent>| {
            let (env, secrets, client) = (&env, &secrets, &client);
            async move {
                custom_resource::handle(event.payload, client, || async {
                    let config = DatabaseConfig::load(env, secrets).await?;
                    migrate::apply(config.connect).await
                })
                .await
            }
        },
    ))
    .await
}
