//! The process environment, read once, and the error of a setting that is missing or wrong.

use std::collections::HashMap;
use std::str::FromStr;
use std::time::Duration;

/// A snapshot of environment variables. Tests build one from pairs instead of touching the
/// process environment.
#[derive(Debug, Clone, Default)]
pub struct Env {
    vars: HashMap<String, String>,
}

impl Env {
    pub fn from_process() -> Self {
        Self {
            vars: std::env::vars().collect(),
        }
    }

    pub fn from_pairs<K: Into<String>, V: Into<String>>(
        pairs: impl IntoIterator<Item = (K, V)>,
    ) -> Self {
        Self {
            vars: pairs
                .into_iter()
                .map(|(k, v)| (k.into(), v.into()))
                .collect(),
        }
    }

    /// The variable's value; unset and empty are the same.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.vars
            .get(name)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    }

    /// The variable parsed as `T`, or `default` when it is unset.
    pub fn parse_or<T>(&self, name: &str, default: T) -> Result<T, ConfigError>
    where
        T: FromStr,
        T::Err: std::fmt::Display,
    {
        match self.get(name) {
            None => Ok(default),
            Some(raw) => raw.parse().map_err(|e: T::Err| ConfigError::Invalid {
                name: name.to_owned(),
                reason: e.to_string(),
            }),
        }
    }

    pub(crate) fn duration_ms_or(
        &self,
        name: &str,
        default: Duration,
    ) -> Result<Duration, ConfigError> {
        let ms = self.parse_or(name, default.as_millis() as u64)?;
        Ok(Duration::from_millis(ms))
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{0}")]
    Missing(&'static str),
    #[error("{name} is invalid: {reason}")]
    Invalid { name: String, reason: String },
    #[error("the JWT secret is {0} bytes long; it must be at least 32 bytes")]
    JwtSecretTooShort(usize),
    #[error("reading secret {arn} from Secrets Manager failed: {reason}")]
    SecretUnavailable { arn: String, reason: String },
}
