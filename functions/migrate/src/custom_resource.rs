//! The CloudFormation custom-resource protocol: CloudFormation invokes the function with a
//! Create, Update or Delete request, and the function reports the outcome by PUTting a JSON
//! document to the request's pre-signed `ResponseURL`. A failed migration is reported as FAILED,
//! which fails the deploy and rolls the stack back. Delete never touches the database: removing
//! the stack must not depend on it, and the schema outlives the resource.

use std::future::Future;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::BoxError;

/// The physical id of the migrations resource: stable, so an update never replaces it.
pub const PHYSICAL_RESOURCE_ID: &str = "taskapi-database-migrations";
/// CloudFormation shows at most this much of a failure reason.
const MAX_REASON_CHARS: usize = 1000;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub enum RequestType {
    Create,
    Update,
    Delete,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct CustomResourceEvent {
    pub request_type: RequestType,
    #[serde(rename = "ResponseURL")]
    pub response_url: String,
    pub stack_id: String,
    pub request_id: String,
    pub logical_resource_id: String,
    #[serde(default)]
    pub physical_resource_id: Option<String>,
    #[serde(default)]
    pub resource_properties: Value,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
struct CustomResourceResponse<'a> {
    status: &'static str,
    reason: String,
    physical_resource_id: &'a str,
    stack_id: &'a str,
    request_id: &'a str,
    logical_resource_id: &'a str,
    data: Value,
}

pub fn response_client() -> Result<reqwest::Client, BoxError> {
    Ok(reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(30))
        .build()?)
}

/// Handles one event: runs `migrate` for Create and Update, nothing for Delete, and reports
/// the outcome to CloudFormation. Returns an error only when the report itself cannot be sent.
pub async fn handle<M, F>(
    event: CustomResourceEvent,
    client: &reqwest::Client,
    migrate: M,
) -> Result<(), BoxError>
where
    M: FnOnce() -> F,
    F: Future<Output = Result<usize, BoxError>>,
{
    let physical_id = event
        .physical_resource_id
        .as_deref()
        .unwrap_or(PHYSICAL_RESOURCE_ID);
    let (status, reason, data) = match event.request_type {
        RequestType::Delete => ("SUCCESS", "nothing to do on delete".to_owned(), json!({})),
        RequestType::Create | RequestType::Update => match migrate().await {
            Ok(applied) => {
                tracing::info!(applied, request = ?event.request_type, "migrations applied");
                (
                    "SUCCESS",
                    format!("{applied} migrations applied"),
                    json!({ "Applied": applied }),
                )
            }
            Err(err) => {
                let reason = shared::error::ErrorChain(err.as_ref()).to_string();
                tracing::error!(error = %reason, "migrations failed");
                let reason: String = format!("migrations failed: {reason}")
                    .chars()
                    .take(MAX_REASON_CHARS)
                    .collect();
                ("FAILED", reason, json!({}))
            }
        },
    };
    let response = CustomResourceResponse {
        status,
        reason,
        physical_resource_id: physical_id,
        stack_id: &event.stack_id,
        request_id: &event.request_id,
        logical_resource_id: &event.logical_resource_id,
        data,
    };
    // The pre-signed URL is signed for an empty content type.
    client
        .put(&event.response_url)
        .header("content-type", "")
        .body(serde_json::to_vec(&response)?)
        .send()
        .await?
        .error_for_status()?;
    Ok(())
}

#[cfg(test)]
mod tests;
