//! Rotation of the app role's password, as Secrets Manager drives it: one invocation per step,
//! all with the same `ClientRequestToken` (the id of the new version).
//!
//! 1. `createSecret`: a new password, written as the pending version (`AWSPENDING`).
//! 2. `setSecret`: the role's password in PostgreSQL becomes the pending one (as the master).
//! 3. `testSecret`: the role logs in with it.
//! 4. `finishSecret`: the pending version becomes `AWSCURRENT`.
//!
//! Between steps 2 and 4 new connections with the current password are refused; the API
//! functions then read the secret again (`db::Db`) until step 4 lands, seconds later. Every
//! step may run again (Secrets Manager retries), and does nothing twice.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use shared::config::{AppRoleConfig, DatabaseConfig, MigrationConfig};
use sqlx::Connection;

use crate::{BoxError, State, migration_pool, roles};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Step {
    CreateSecret,
    SetSecret,
    TestSecret,
    FinishSecret,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct RotationEvent {
    pub step: Step,
    pub secret_id: String,
    pub client_request_token: String,
}

const CURRENT: &str = "AWSCURRENT";
const PENDING: &str = "AWSPENDING";

/// Carries out one step for the app role's secret; any other secret is refused.
pub async fn handle(state: &State, event: RotationEvent) -> Result<(), BoxError> {
    let app_arn = state
        .env
        .get("APP_DATABASE_SECRET_ARN")
        .ok_or("no APP_DATABASE_SECRET_ARN: this function rotates only the app role's secret")?;
    // Secrets Manager names the secret by ARN; a name or partial ARN is not ours.
    if event.secret_id != app_arn {
        return Err(format!(
            "refusing to rotate {}: not the app role's secret",
            event.secret_id
        )
        .into());
    }
    let secrets = &state.secrets;
    let token = event.client_request_token.as_str();
    let stages = secrets.stages(app_arn).await?;
    let labels = stages.get(token);
    if labels.is_some_and(|l| l.iter().any(|s| s == CURRENT)) {
        tracing::info!(step = ?event.step, "rotation: the version is current already");
        return Ok(());
    }
    tracing::info!(step = ?event.step, "rotation");
    match event.step {
        Step::CreateSecret => {
            let current =
                AppRoleConfig::from_secret(&state.env, app_arn, &secrets.fetch(app_arn).await?)?;
            // A retry finds its pending version written; a new password only once per token.
            if let Some(pending) = secrets.fetch_version(app_arn, token).await? {
                let pending = AppRoleConfig::from_secret(&state.env, app_arn, &pending)?;
                if pending.password.expose_secret() != current.password.expose_secret() {
                    return Ok(());
                }
            }
            let next = serde_json::json!({
                "username": current.username,
                "password": new_password()?.expose_secret(),
            });
            secrets
                .put_pending(app_arn, token, &SecretString::from(next.to_string()))
                .await?;
        }
        Step::SetSecret => {
            let pending = pending(state, app_arn, token, labels).await?;
            let master = DatabaseConfig::load(&state.env, secrets).await?;
            let migration = MigrationConfig::from_env(&state.env)?;
            let pool = migration_pool(
                master.connect,
                migration.statement_timeout,
                migration.connect_timeout,
            )
            .await?;
            roles::provision(&pool, &pending).await?;
            pool.close().await;
        }
        Step::TestSecret => {
            let pending = pending(state, app_arn, token, labels).await?;
            let master = DatabaseConfig::load(&state.env, secrets).await?;
            let options = master
                .connect
                .username(&pending.username)
                .password(pending.password.expose_secret());
            let mut connection = sqlx::PgConnection::connect_with(&options).await?;
            sqlx::query("select 1").execute(&mut connection).await?;
            connection.close().await?;
        }
        Step::FinishSecret => {
            let current = stages
                .iter()
                .find(|(_, labels)| labels.iter().any(|s| s == CURRENT))
                .map(|(id, _)| id.clone())
                .ok_or("the secret has no current version")?;
            secrets.make_current(app_arn, token, &current).await?;
        }
    }
    Ok(())
}

/// The pending version of the rotation `token`, as the role to provision.
/// `labels`: the version's staging labels, as the step read them.
async fn pending(
    state: &State,
    arn: &str,
    token: &str,
    labels: Option<&Vec<String>>,
) -> Result<AppRoleConfig, BoxError> {
    if !labels.is_some_and(|l| l.iter().any(|s| s == PENDING)) {
        return Err(format!("version {token} is not pending").into());
    }
    let value = state
        .secrets
        .fetch_version(arn, token)
        .await?
        .ok_or("the pending version has no value")?;
    Ok(AppRoleConfig::from_secret(&state.env, arn, &value)?)
}

/// 240 random bits, base64url: 40 characters any client library passes unquoted.
fn new_password() -> Result<SecretString, BoxError> {
    use aws_lc_rs::rand::{SecureRandom, SystemRandom};
    let mut bytes = [0u8; 30];
    SystemRandom::new()
        .fill(&mut bytes)
        .map_err(|_| "the system random generator failed")?;
    Ok(SecretString::from(URL_SAFE_NO_PAD.encode(bytes)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_manager_events_parse_into_steps() {
        for (name, step) in [
            ("createSecret", Step::CreateSecret),
            ("setSecret", Step::SetSecret),
            ("testSecret", Step::TestSecret),
            ("finishSecret", Step::FinishSecret),
        ] {
            let event: RotationEvent = serde_json::from_value(serde_json::json!({
                "Step": name, "SecretId": "arn:x", "ClientRequestToken": "t",
                "RotationToken": "ignored"
            }))
            .unwrap();
            assert_eq!(event.step, step);
        }
        assert!(serde_json::from_value::<RotationEvent>(serde_json::json!({"Step": "dropSecret", "SecretId": "a", "ClientRequestToken": "t"})).is_err());
    }

    #[test]
    fn new_passwords_are_long_and_differ() {
        let (a, b) = (new_password().unwrap(), new_password().unwrap());
        assert_eq!(a.expose_secret().len(), 40);
        assert_ne!(a.expose_secret(), b.expose_secret());
        assert!(
            a.expose_secret()
                .bytes()
                .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_')
        );
    }
}
