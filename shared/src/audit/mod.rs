//! The audit log: who did what to which entity. The statements that change an entity write its
//! audit row themselves (in the same statement); `store::record` writes an event on its own.

pub mod store;

use lambda_http::Request;
use lambda_http::RequestExt;
use lambda_http::request::RequestContext;
use serde_json::{Map, Value};
use uuid::Uuid;

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
