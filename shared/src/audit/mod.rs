//! The audit log: who did what to which entity. The statements that change an entity write its
//! audit row themselves (in the same statement); `store::record` writes an event on its own.

pub mod store;

use chrono::{DateTime, Utc};
use lambda_http::Request;
use lambda_http::RequestExt;
use lambda_http::request::RequestContext;
use serde::Serialize;
use serde_json::{Map, Value};
use uuid::Uuid;

use crate::error::ApiError;
use crate::http::{QueryParameters, parse_uuid};
use crate::pagination::Position;

/// A recorded action as its actor reads it. Metadata holds what the action was about (fields,
/// statuses, versions, the source address), never a password, hash or token.
#[derive(Debug, Clone, PartialEq, Serialize, sqlx::FromRow)]
pub struct AuditEntry {
    pub id: i64,
    pub actor_id: Option<Uuid>,
    pub action: String,
    pub entity_type: String,
    pub entity_id: Option<Uuid>,
    pub metadata: Value,
    pub created_at: DateTime<Utc>,
}

impl AuditEntry {
    /// Its place in the newest-first order, for a page cursor (the row id stands in the uuid).
    pub fn position(&self) -> Position {
        Position {
            created_at: self.created_at,
            id: Uuid::from_u64_pair(0, self.id as u64),
        }
    }
}

/// The filters of the audit list: `entity_type`, `entity_id`, `action`.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct AuditFilter {
    pub entity_type: Option<String>,
    pub entity_id: Option<Uuid>,
    pub action: Option<String>,
}

impl AuditFilter {
    pub const PARAMETERS: &'static [&'static str] =
        &["entity_type", "entity_id", "action", "limit", "cursor"];

    pub fn parse(parameters: &QueryParameters) -> Result<Self, ApiError> {
        let bad = |message: &str| ApiError::BadRequest(message.to_owned());
        let entity_type = parameters.single("entity_type")?.map(str::to_owned);
        if entity_type.as_deref().is_some_and(|t| {
            t.is_empty() || t.len() > 64 || !t.bytes().all(|b| b.is_ascii_lowercase() || b == b'_')
        }) {
            return Err(bad(
                "entity_type must be lower-case letters and _, like task",
            ));
        }
        let action = parameters.single("action")?.map(str::to_owned);
        if action.as_deref().is_some_and(|a| {
            a.len() > 64
                || !a.contains('.')
                || !a.split('.').all(|part| {
                    !part.is_empty() && part.bytes().all(|b| b.is_ascii_lowercase() || b == b'_')
                })
        }) {
            return Err(bad("action must look like task.update"));
        }
        let entity_id = match parameters.single("entity_id")? {
            None => None,
            Some(raw) => Some(parse_uuid(raw).ok_or_else(|| bad("entity_id must be a UUID"))?),
        };
        Ok(Self {
            entity_type,
            entity_id,
            action,
        })
    }

    /// The filter as a cursor's scope binds it.
    pub fn key(&self) -> String {
        format!(
            "{}|{}|{}",
            self.entity_type.as_deref().unwrap_or(""),
            self.entity_id.map(|id| id.to_string()).unwrap_or_default(),
            self.action.as_deref().unwrap_or("")
        )
    }
}

/// One audit row to write.
#[derive(Debug, Clone)]
pub struct AuditEvent {
    pub actor_id: Option<Uuid>,
    /// `<entity>.<verb>`, e.g. `user.register`, `auth.login_failure`, `task.update`.
    pub action: &'static str,
    pub entity_type: &'static str,
    pub entity_id: Option<Uuid>,
    pub metadata: Map<String, Value>,
}

impl AuditEvent {
    pub fn new(action: &'static str, entity_type: &'static str, entity_id: Option<Uuid>) -> Self {
        Self {
            actor_id: None,
            action,
            entity_type,
            entity_id,
            metadata: Map::new(),
        }
    }

    pub fn by(mut self, actor_id: Uuid) -> Self {
        self.actor_id = Some(actor_id);
        self
    }

    pub fn with(mut self, key: &str, value: impl Into<Value>) -> Self {
        self.metadata.insert(key.to_owned(), value.into());
        self
    }

    /// Adds the caller's source IP address, when API Gateway reports one.
    pub fn from_request(self, request: &Request) -> Self {
        match source_ip(request) {
            Some(ip) => self.with("source_ip", ip),
            None => self,
        }
    }
}

/// The request's part of an audit row's metadata (`source_ip`), for statements that write the
/// audit row themselves.
pub fn request_metadata(request: &Request) -> Value {
    let mut metadata = Map::new();
    if let Some(ip) = source_ip(request) {
        metadata.insert("source_ip".into(), ip.into());
    }
    Value::Object(metadata)
}

/// The caller's address as API Gateway saw it (`requestContext.http.sourceIp`), never a header.
pub fn source_ip(request: &Request) -> Option<String> {
    match request.request_context_ref()? {
        RequestContext::ApiGatewayV2(context) => context.http.source_ip.clone(),
        #[allow(unreachable_patterns)]
        _ => None,
    }
}
