//! Reading secret values from AWS Secrets Manager, once per Lambda instance.

use aws_sdk_secretsmanager::Client;
use secrecy::SecretString;
use tokio::sync::OnceCell;

use crate::config::ConfigError;

/// Fetches secrets by ARN. The AWS client is built from the default credential chain the
/// first time a secret is needed, so a function configured only by environment variables
/// (local development) never loads AWS configuration at all.
#[derive(Default)]
pub struct Secrets {
    client: OnceCell<Client>,
}

impl Secrets {
    pub fn new() -> Self {
        Self::default()
    }

    /// Uses the given client, for example one pointed at a local emulator.
    pub fn with_client(client: Client) -> Self {
        Self {
            client: OnceCell::new_with(Some(client)),
        }
    }

    async fn client(&self) -> &Client {
        self.client
            .get_or_init(|| async {
                let config = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
                Client::new(&config)
            })
            .await
    }

    /// The secret's string value. The error names the ARN and the service's reason, never
    /// any part of the value.
    pub async fn fetch(&self, arn: &str) -> Result<SecretString, ConfigError> {
        let unavailable = |reason: String| ConfigError::SecretUnavailable {
            arn: arn.to_owned(),
            reason,
        };
        let output = self
            .client()
            .await
            .get_secret_value()
            .secret_id(arn)
            .send()
            .await
            .map_err(|e| {
                unavailable(aws_sdk_secretsmanager::error::DisplayErrorContext(e).to_string())
            })?;
        output
            .secret_string
            .map(SecretString::from)
            .ok_or_else(|| unavailable("the secret has no string value".into()))
    }
}
