//! Reading secret values from AWS Secrets Manager, once per Lambda instance.

use std::sync::OnceLock;

use aws_sdk_secretsmanager::Client;
use aws_sdk_secretsmanager::config::{BehaviorVersion, Credentials, Region};
use secrecy::SecretString;

use crate::env::{ConfigError, Env};

/// Fetches secrets by ARN. The client is built the first time a secret is needed, so a
/// function configured only by values (local development) never builds one.
///
/// It takes its region and credentials from the environment variables Lambda sets for the
/// function's role (`AWS_REGION`, `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`,
/// `AWS_SESSION_TOKEN`), and honours `AWS_ENDPOINT_URL_SECRETS_MANAGER` / `AWS_ENDPOINT_URL`.
/// Secrets are read only while the instance initialises, when those credentials are fresh, so
/// the SDK's full provider chain (profiles, SSO, STS, instance metadata) is not needed; leaving
/// it out keeps every function about half a megabyte smaller.
pub struct Secrets {
    env: Env,
    client: OnceLock<Client>,
}

impl Secrets {
    pub fn new(env: &Env) -> Self {
        Self {
            env: env.clone(),
            client: OnceLock::new(),
        }
    }

    fn client(&self) -> Result<&Client, ConfigError> {
        if let Some(client) = self.client.get() {
            return Ok(client);
        }
        let config = sdk_config(&self.env)?;
        Ok(self.client.get_or_init(|| Client::from_conf(config)))
    }

    /// The secret's current string value. The error names the ARN and the service's reason,
    /// never any part of the value.
    pub async fn fetch(&self, arn: &str) -> Result<SecretString, ConfigError> {
        self.fetch_stage(arn, "AWSCURRENT")
            .await?
            .ok_or_else(|| ConfigError::SecretUnavailable {
                arn: arn.to_owned(),
                reason: "the secret has no current version".into(),
            })
    }

    /// The string value of the secret's version in `stage` (`AWSCURRENT`, `AWSPREVIOUS`), or
    /// `None` when no version is in that stage.
    pub async fn fetch_stage(
        &self,
        arn: &str,
        stage: &str,
    ) -> Result<Option<SecretString>, ConfigError> {
        let unavailable = |reason: String| ConfigError::SecretUnavailable {
            arn: arn.to_owned(),
            reason,
        };
        let output = self
            .client()?
            .get_secret_value()
            .secret_id(arn)
            .version_stage(stage)
            .send()
            .await;
        let output = match output {
            Ok(output) => output,
            Err(err)
                if stage != "AWSCURRENT"
                    && err
                        .as_service_error()
                        .is_some_and(|e| e.is_resource_not_found_exception()) =>
            {
                return Ok(None);
            }
            Err(err) => {
                return Err(unavailable(
                    aws_sdk_secretsmanager::error::DisplayErrorContext(err).to_string(),
                ));
            }
        };
        output
            .secret_string
            .map(|value| Some(SecretString::from(value)))
            .ok_or_else(|| unavailable("the secret has no string value".into()))
    }
}

fn sdk_config(env: &Env) -> Result<aws_sdk_secretsmanager::Config, ConfigError> {
    let missing = |name: &'static str| {
        ConfigError::Missing(match name {
            "region" => "set AWS_REGION to read secrets from Secrets Manager",
            _ => {
                "set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (Lambda sets them) to read secrets from Secrets Manager"
            }
        })
    };
    let region = env
        .get("AWS_REGION")
        .or_else(|| env.get("AWS_DEFAULT_REGION"))
        .ok_or_else(|| missing("region"))?;
    let credentials = Credentials::new(
        env.get("AWS_ACCESS_KEY_ID")
            .ok_or_else(|| missing("credentials"))?,
        env.get("AWS_SECRET_ACCESS_KEY")
            .ok_or_else(|| missing("credentials"))?,
        env.get("AWS_SESSION_TOKEN").map(str::to_owned),
        None,
        "environment",
    );
    let mut builder = aws_sdk_secretsmanager::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new(region.to_owned()))
        .credentials_provider(credentials);
    if let Some(endpoint) = env
        .get("AWS_ENDPOINT_URL_SECRETS_MANAGER")
        .or_else(|| env.get("AWS_ENDPOINT_URL"))
    {
        builder = builder.endpoint_url(endpoint);
    }
    Ok(builder.build())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn without_credentials_the_error_says_what_to_set() {
        let env = Env::from_pairs([("AWS_REGION", "us-east-1")]);
        let err = Secrets::new(&env)
            .fetch("arn:aws:secretsmanager:us-east-1:1:secret:x")
            .await
            .unwrap_err();
        assert!(err.to_string().contains("AWS_ACCESS_KEY_ID"), "{err}");
    }

    #[tokio::test]
    async fn without_a_region_the_error_says_what_to_set() {
        let env = Env::from_pairs([("AWS_ACCESS_KEY_ID", "a"), ("AWS_SECRET_ACCESS_KEY", "b")]);
        let err = Secrets::new(&env).fetch("arn").await.unwrap_err();
        assert!(err.to_string().contains("AWS_REGION"), "{err}");
    }
}
