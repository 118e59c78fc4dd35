//! Reading secret values from AWS Secrets Manager.

use std::sync::Arc;

use aws_config::environment::{
    EnvironmentVariableCredentialsProvider, EnvironmentVariableRegionProvider,
};
use aws_config::meta::credentials::CredentialsProviderChain;
use aws_config::meta::region::RegionProviderChain;
use aws_sdk_secretsmanager::Client;
use aws_sdk_secretsmanager::config::BehaviorVersion;
use secrecy::SecretString;
use tokio::sync::OnceCell;

use crate::env::{ConfigError, Env};

/// Fetches secrets by ARN. The client is built the first time a secret is needed, so a
/// function configured only by values (local development) never builds one.
///
/// aws-config resolves its region and credentials with only the providers a function needs: the
/// environment variables Lambda sets for the function's role (`AWS_REGION`,
/// `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`), and, with the
/// `aws-profile` feature (`make dev`), a profile of the AWS config files (`AWS_PROFILE`) for
/// local use against a real account. The default chain's other providers (instance metadata,
/// ECS, SSO, web identity) are left out: with the profile provider they cost about 260 KiB per
/// function. `AWS_ENDPOINT_URL_SECRETS_MANAGER` / `AWS_ENDPOINT_URL` point the client elsewhere.
///
/// Built once per instance (`runtime::start`); clones share the one client, so the database
/// handle and the token keys read secrets again (after a rotation) through it.
#[derive(Clone)]
pub struct Secrets {
    env: Env,
    client: Arc<OnceCell<Client>>,
}

impl Secrets {
    pub fn new(env: &Env) -> Self {
        Self {
            env: env.clone(),
            client: Arc::new(OnceCell::new()),
        }
    }

    async fn client(&self) -> Result<&Client, ConfigError> {
        self.client
            .get_or_try_init(|| async { Ok(Client::from_conf(sdk_config(&self.env).await?)) })
            .await
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
            .client()
            .await?
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

/// The writes of a rotation (Secrets Manager's protocol: a new version staged `AWSPENDING`,
/// then made `AWSCURRENT`). Only `migrate`, which rotates the app role's password, calls them.
impl Secrets {
    /// The staging labels of each version of the secret, by version id.
    pub async fn stages(
        &self,
        arn: &str,
    ) -> Result<std::collections::HashMap<String, Vec<String>>, ConfigError> {
        let output = self
            .client()
            .await?
            .describe_secret()
            .secret_id(arn)
            .send()
            .await
            .map_err(|err| unavailable(arn, err))?;
        Ok(output.version_ids_to_stages.unwrap_or_default())
    }

    /// The string value of one version of the secret, or `None` when it has no such version.
    pub async fn fetch_version(
        &self,
        arn: &str,
        version_id: &str,
    ) -> Result<Option<SecretString>, ConfigError> {
        let output = self
            .client()
            .await?
            .get_secret_value()
            .secret_id(arn)
            .version_id(version_id)
            .send()
            .await;
        match output {
            Ok(output) => Ok(output.secret_string.map(SecretString::from)),
            Err(err)
                if err
                    .as_service_error()
                    .is_some_and(|e| e.is_resource_not_found_exception()) =>
            {
                Ok(None)
            }
            Err(err) => Err(unavailable(arn, err)),
        }
    }

    /// Writes `value` as the version `version_id`, staged `AWSPENDING`.
    pub async fn put_pending(
        &self,
        arn: &str,
        version_id: &str,
        value: &SecretString,
    ) -> Result<(), ConfigError> {
        use secrecy::ExposeSecret;
        self.client()
            .await?
            .put_secret_value()
            .secret_id(arn)
            .client_request_token(version_id)
            .secret_string(value.expose_secret())
            .version_stages("AWSPENDING")
            .send()
            .await
            .map_err(|err| unavailable(arn, err))?;
        Ok(())
    }

    /// Moves `AWSCURRENT` from the version `from` to the version `to` (Secrets Manager then
    /// labels `from` `AWSPREVIOUS`).
    pub async fn make_current(&self, arn: &str, to: &str, from: &str) -> Result<(), ConfigError> {
        self.client()
            .await?
            .update_secret_version_stage()
            .secret_id(arn)
            .version_stage("AWSCURRENT")
            .move_to_version_id(to)
            .remove_from_version_id(from)
            .send()
            .await
            .map_err(|err| unavailable(arn, err))?;
        Ok(())
    }
}

/// A failed call to Secrets Manager, naming the secret and the service's reason (never a value).
fn unavailable<E: std::error::Error + 'static, R: std::fmt::Debug>(
    arn: &str,
    err: aws_sdk_secretsmanager::error::SdkError<E, R>,
) -> ConfigError {
    ConfigError::SecretUnavailable {
        arn: arn.to_owned(),
        reason: aws_sdk_secretsmanager::error::DisplayErrorContext(err).to_string(),
    }
}

async fn sdk_config(env: &Env) -> Result<aws_sdk_secretsmanager::Config, ConfigError> {
    let missing = |name: &'static str| {
        ConfigError::Missing(match name {
            "region" => "set AWS_REGION to read secrets from Secrets Manager",
            _ => {
                "set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (Lambda sets them) to read secrets from Secrets Manager"
            }
        })
    };
    // Say plainly what is missing before the providers look (they read the same variables).
    let from_profile = cfg!(feature = "aws-profile") && env.get("AWS_PROFILE").is_some();
    if !from_profile {
        if env
            .get("AWS_REGION")
            .or_else(|| env.get("AWS_DEFAULT_REGION"))
            .is_none()
        {
            return Err(missing("region"));
        }
        if env.get("AWS_ACCESS_KEY_ID").is_none() || env.get("AWS_SECRET_ACCESS_KEY").is_none() {
            return Err(missing("credentials"));
        }
    }

    let region = RegionProviderChain::first_try(EnvironmentVariableRegionProvider::new());
    #[cfg(feature = "aws-profile")]
    let region = region.or_else(aws_config::profile::ProfileFileRegionProvider::new());
    let region = region.region().await.ok_or_else(|| missing("region"))?;
    let credentials = CredentialsProviderChain::first_try(
        "environment",
        EnvironmentVariableCredentialsProvider::new(),
    );
    #[cfg(feature = "aws-profile")]
    let credentials = credentials.or_else(
        "profile",
        aws_config::profile::ProfileFileCredentialsProvider::builder().build(),
    );

    let mut builder = aws_sdk_secretsmanager::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(region)
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
