//! Agent input, parsed into types that can only hold valid values; every problem of every field
//! is reported in one 422.

use serde::Deserialize;
use serde_json::{Map, Value};

use crate::error::{ApiError, FieldErrors};
use crate::input::{
    Document, Name, Text, clearable, present, report_other_fields, required_if_sent,
};

/// Fields that only the server sets.
pub const SERVER_FIELDS: &[&str] = &["id", "owner_id", "version", "created_at", "updated_at"];

/// An agent's name: 1 to 100 characters, trimmed; unique per owner ignoring case (the
/// database's `agents_owner_name_unique` settles it: 409).
pub type AgentName = Name<100>;

/// An agent's description: at most 10,000 characters.
pub type AgentDescription = Text<10_000>;

fn flag(value: &Value) -> Result<bool, String> {
    value
        .as_bool()
        .ok_or_else(|| "must be true or false".into())
}

/// The body of POST /api/agents, before validation.
#[derive(Deserialize)]
pub struct CreateAgentRequest {
    #[serde(default, deserialize_with = "present")]
    name: Option<Value>,
    #[serde(default, deserialize_with = "present")]
    description: Option<Value>,
    #[serde(default, deserialize_with = "present")]
    config: Option<Value>,
    #[serde(default, deserialize_with = "present")]
    is_active: Option<Value>,
    #[serde(flatten)]
    other: Map<String, Value>,
}

/// A valid new agent.
#[derive(Debug)]
pub struct NewAgent {
    pub name: AgentName,
    pub description: Option<AgentDescription>,
    pub config: Document,
    pub is_active: bool,
}

impl NewAgent {
    pub fn parse(body: CreateAgentRequest) -> Result<Self, ApiError> {
        let mut errors = FieldErrors::new();
        let name = match &body.name {
            None | Some(Value::Null) => errors.check("name", Err("is required".into())),
            Some(value) => errors.check("name", AgentName::parse(value)),
        };
        let description = match &body.description {
            None => Some(None),
            Some(_) => clearable(
                &mut errors,
                "description",
                &body.description,
                AgentDescription::parse,
            ),
        };
        let config = match &body.config {
            None => Some(Document::empty()),
            Some(value) => errors.check("config", Document::parse(value)),
        };
        let is_active = match &body.is_active {
            None => Some(true),
            Some(value) => errors.check("is_active", flag(value)),
        };
        report_other_fields(&body.other, SERVER_FIELDS, &mut errors);
        match (name, description, config, is_active) {
            (Some(name), Some(description), Some(config), Some(is_active)) if errors.is_empty() => {
                Ok(Self {
                    name,
                    description,
                    config,
                    is_active,
                })
            }
            _ => Err(ApiError::Unprocessable(errors)),
        }
    }
}

/// The body of PATCH /api/agents/{id}, before validation.
#[derive(Deserialize)]
pub struct UpdateAgentRequest {
    #[serde(default, deserialize_with = "present")]
    name: Option<Value>,
    #[serde(default, deserialize_with = "present")]
    description: Option<Value>,
    #[serde(default, deserialize_with = "present")]
    config: Option<Value>,
    #[serde(default, deserialize_with = "present")]
    is_active: Option<Value>,
    #[serde(flatten)]
    other: Map<String, Value>,
}

/// A valid partial update: `None` leaves a field as it is; `description: Some(None)` clears it.
#[derive(Debug, Default)]
pub struct AgentChanges {
    pub name: Option<AgentName>,
    pub description: Option<Option<AgentDescription>>,
    pub config: Option<Document>,
    pub is_active: Option<bool>,
}

impl AgentChanges {
    pub fn parse(body: UpdateAgentRequest) -> Result<Self, ApiError> {
        let mut errors = FieldErrors::new();
        let changes = Self {
            name: required_if_sent(&mut errors, "name", &body.name, AgentName::parse),
            description: clearable(
                &mut errors,
                "description",
                &body.description,
                AgentDescription::parse,
            ),
            config: required_if_sent(&mut errors, "config", &body.config, Document::parse),
            is_active: required_if_sent(&mut errors, "is_active", &body.is_active, flag),
        };
        report_other_fields(&body.other, SERVER_FIELDS, &mut errors);
        if errors.is_empty() && changes.fields().is_empty() {
            errors.add(
                "body",
                "name at least one field to change: name, description, config, is_active",
            );
        }
        errors.into_result(changes)
    }

    /// The names of the fields this changes, for the audit log.
    pub fn fields(&self) -> Vec<&'static str> {
        [
            ("name", self.name.is_some()),
            ("description", self.description.is_some()),
            ("config", self.config.is_some()),
            ("is_active", self.is_active.is_some()),
        ]
        .into_iter()
        .filter_map(|(name, changed)| changed.then_some(name))
        .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn create(body: Value) -> Result<NewAgent, FieldErrors> {
        NewAgent::parse(serde_json::from_value(body).unwrap()).map_err(|err| match err {
            ApiError::Unprocessable(errors) => errors,
            other => panic!("expected 422, got {other:?}"),
        })
    }

    #[test]
    fn a_new_agent_has_defaults_and_a_trimmed_name() {
        let agent = create(json!({"name": "  runner  "})).unwrap();
        assert_eq!(agent.name.as_str(), "runner");
        assert!(agent.is_active);
        assert_eq!(agent.config.as_value(), &json!({}));
    }

    #[test]
    fn every_invalid_field_is_reported_at_once() {
        let errors = create(json!({
            "name": "x".repeat(101), "config": [1], "is_active": "yes", "version": 2, "colour": 1
        }))
        .unwrap_err();
        for field in ["name", "config", "is_active", "version", "colour"] {
            assert!(errors.get(field).is_some(), "{field}: {errors:?}");
        }
        let big = json!({"name": "a", "config": {"blob": "x".repeat(Document::MAX_BYTES)}});
        assert!(create(big).unwrap_err().get("config").is_some());
    }

    #[test]
    fn changes_need_a_field_and_refuse_null_for_required_ones() {
        let parse = |body: Value| AgentChanges::parse(serde_json::from_value(body).unwrap());
        assert!(parse(json!({})).is_err());
        assert!(parse(json!({"name": null})).is_err());
        let changes = parse(json!({"description": null, "is_active": false})).unwrap();
        assert_eq!(changes.fields(), ["description", "is_active"]);
    }
}
