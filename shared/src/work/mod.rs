//! Tasks as a work queue that agents drive: a claim takes the most urgent task an agent may run
//! and leases it with a fencing token; the holder heartbeats, moves steps, and completes or
//! fails it, every write carrying the token, so a holder whose lease ended is refused. The input
//! rules are here; every statement is in `store`.

pub mod store;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::error::{ApiError, FieldErrors};
use crate::input::{Document, present, report_other_fields};
use crate::tasks::TaskWithSteps;

/// The lease a claim or heartbeat may ask for, in seconds, and the default.
pub const LEASE_SECONDS: std::ops::RangeInclusive<i64> = 1..=900;
pub const DEFAULT_LEASE_SECONDS: i64 = 60;

/// A task an agent just claimed: the task with its steps, the lease, and the fencing token every
/// write of this attempt must carry.
#[derive(Debug, Serialize)]
pub struct Claimed {
    #[serde(flatten)]
    pub task: TaskWithSteps,
    pub fencing_token: i64,
}

/// The body of a claim, heartbeat, completion or failure, before validation: each takes some of
/// these fields, and reports any other.
#[derive(Deserialize, Default)]
pub struct WorkRequest {
    #[serde(default, deserialize_with = "present")]
    lease_seconds: Option<Value>,
    #[serde(default, deserialize_with = "present")]
    fencing_token: Option<Value>,
    #[serde(default, deserialize_with = "present")]
    result: Option<Value>,
    #[serde(default, deserialize_with = "present")]
    error: Option<Value>,
    #[serde(flatten)]
    other: Map<String, Value>,
}

/// The fields of a `WorkRequest`, each kind taking its own.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Field {
    LeaseSeconds,
    FencingToken,
    Result,
    Error,
}

impl WorkRequest {
    fn reject_others(&self, allowed: &[Field], errors: &mut FieldErrors) {
        let sent = [
            (Field::LeaseSeconds, "lease_seconds", &self.lease_seconds),
            (Field::FencingToken, "fencing_token", &self.fencing_token),
            (Field::Result, "result", &self.result),
            (Field::Error, "error", &self.error),
        ];
        for (field, name, value) in sent {
            if value.is_some() && !allowed.contains(&field) {
                errors.add(name, "is not a field this request can set");
            }
        }
        report_other_fields(&self.other, &[], errors);
    }

    fn lease(&self, errors: &mut FieldErrors) -> Option<i64> {
        match &self.lease_seconds {
            None => Some(DEFAULT_LEASE_SECONDS),
            Some(value) => errors.check(
                "lease_seconds",
                value
                    .as_i64()
                    .filter(|n| LEASE_SECONDS.contains(n))
                    .ok_or_else(|| {
                        format!(
                            "must be a whole number of seconds from {} to {}",
                            LEASE_SECONDS.start(),
                            LEASE_SECONDS.end()
                        )
                    }),
            ),
        }
    }

    fn token(&self, errors: &mut FieldErrors) -> Option<i64> {
        let message = "is required: the fencing_token of this task's claim";
        match &self.fencing_token {
            None | Some(Value::Null) => errors.check("fencing_token", Err(message.into())),
            Some(value) => errors.check(
                "fencing_token",
                value
                    .as_i64()
                    .filter(|n| *n > 0)
                    .ok_or_else(|| message.to_owned()),
            ),
        }
    }
}

/// A claim: how long the lease should last.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Claim {
    pub lease_seconds: i64,
}

impl Claim {
    pub fn parse(body: WorkRequest) -> Result<Self, ApiError> {
        let mut errors = FieldErrors::new();
        body.reject_others(&[Field::LeaseSeconds], &mut errors);
        match body.lease(&mut errors) {
            Some(lease_seconds) if errors.is_empty() => Ok(Self { lease_seconds }),
            _ => Err(ApiError::Unprocessable(errors)),
        }
    }
}

/// A heartbeat: the claim's fencing token, and how long the lease should last from now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Heartbeat {
    pub fencing_token: i64,
    pub lease_seconds: i64,
}

impl Heartbeat {
    pub fn parse(body: WorkRequest) -> Result<Self, ApiError> {
        let mut errors = FieldErrors::new();
        body.reject_others(&[Field::LeaseSeconds, Field::FencingToken], &mut errors);
        match (body.token(&mut errors), body.lease(&mut errors)) {
            (Some(fencing_token), Some(lease_seconds)) if errors.is_empty() => Ok(Self {
                fencing_token,
                lease_seconds,
            }),
            _ => Err(ApiError::Unprocessable(errors)),
        }
    }
}

/// A completion: the claim's fencing token and, optionally, the task's result.
#[derive(Debug)]
pub struct Completion {
    pub fencing_token: i64,
    pub result: Option<Document>,
}

impl Completion {
    pub fn parse(body: WorkRequest) -> Result<Self, ApiError> {
        let mut errors = FieldErrors::new();
        body.reject_others(&[Field::FencingToken, Field::Result], &mut errors);
        let token = body.token(&mut errors);
        let result = match &body.result {
            None | Some(Value::Null) => Some(None),
            Some(value) => errors.check("result", Document::parse(value)).map(Some),
        };
        match (token, result) {
            (Some(fencing_token), Some(result)) if errors.is_empty() => Ok(Self {
                fencing_token,
                result,
            }),
            _ => Err(ApiError::Unprocessable(errors)),
        }
    }
}

/// A failed attempt: the claim's fencing token and an error document (a JSON object).
#[derive(Debug)]
pub struct Failure {
    pub fencing_token: i64,
    pub error: Document,
}

impl Failure {
    pub fn parse(body: WorkRequest) -> Result<Self, ApiError> {
        let mut errors = FieldErrors::new();
        body.reject_others(&[Field::FencingToken, Field::Error], &mut errors);
        let token = body.token(&mut errors);
        let error = match &body.error {
            None | Some(Value::Null) => errors.check(
                "error",
                Err("is required: a JSON object saying what went wrong".into()),
            ),
            Some(value) => errors.check("error", Document::parse(value)),
        };
        match (token, error) {
            (Some(fencing_token), Some(error)) if errors.is_empty() => Ok(Self {
                fencing_token,
                error,
            }),
            _ => Err(ApiError::Unprocessable(errors)),
        }
    }
}

/// The outcome of a write only the lease holder may make.
#[derive(Debug)]
pub enum Leased<T> {
    Done(T),
    /// The key is unknown, expired or revoked, or its agent is inactive or deleted: 401.
    Unauthenticated,
    /// No such task of the agent's owner: 404.
    Missing,
    /// The lease ended, or a later claim holds the task (the token is stale): 409.
    LeaseLost,
}

/// A heartbeat's answer: when the lease now ends.
#[derive(Debug, Serialize)]
pub struct Lease {
    pub lease_expires_at: DateTime<Utc>,
}

impl<T> Leased<T> {
    /// The answer to a lease-guarded write: `done` with what was written, else the problem.
    pub fn into_result(self) -> Result<T, ApiError> {
        match self {
            Leased::Done(value) => Ok(value),
            Leased::Unauthenticated => Err(agent_key_refused()),
            Leased::Missing => Err(ApiError::NotFound),
            Leased::LeaseLost => Err(lease_lost()),
        }
    }
}

/// The 401 of an agent key that is not valid: unknown, expired, revoked, or its agent inactive
/// or deleted.
pub fn agent_key_refused() -> ApiError {
    ApiError::Unauthorized {
        detail: "the agent key is invalid, expired or revoked, or its agent is inactive",
        invalid_token: true,
    }
}

/// The 409 of a write whose lease is gone.
pub fn lease_lost() -> ApiError {
    ApiError::InUse(
        "the lease on this task is lost: it ended, or a later claim holds the task (its fencing token is newer); nothing was written",
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn body(value: Value) -> WorkRequest {
        serde_json::from_value(value).unwrap()
    }

    #[test]
    fn a_claim_takes_a_lease_of_1_to_900_seconds_defaulting_to_60() {
        assert_eq!(Claim::parse(body(json!({}))).unwrap().lease_seconds, 60);
        assert_eq!(
            Claim::parse(body(json!({"lease_seconds": 900})))
                .unwrap()
                .lease_seconds,
            900
        );
        for bad in [
            json!({"lease_seconds": 0}),
            json!({"lease_seconds": 901}),
            json!({"lease_seconds": null}),
            json!({"lease_seconds": "60"}),
            json!({"fencing_token": 1}),
        ] {
            assert!(Claim::parse(body(bad.clone())).is_err(), "{bad}");
        }
    }

    #[test]
    fn every_write_needs_the_fencing_token() {
        assert!(Heartbeat::parse(body(json!({}))).is_err());
        assert!(Completion::parse(body(json!({"result": {}}))).is_err());
        assert!(Failure::parse(body(json!({"error": {"why": "x"}}))).is_err());
        assert!(
            Failure::parse(body(json!({"fencing_token": 3}))).is_err(),
            "an error document"
        );
        assert!(Failure::parse(body(json!({"fencing_token": 3, "error": "x"}))).is_err());
        let done =
            Completion::parse(body(json!({"fencing_token": 3, "result": {"n": 1}}))).unwrap();
        assert_eq!((done.fencing_token, done.result.is_some()), (3, true));
        assert!(Completion::parse(body(json!({"fencing_token": 3, "error": {}}))).is_err());
    }
}
