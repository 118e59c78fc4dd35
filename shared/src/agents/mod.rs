//! Agents: what runs a user's tasks. The agent as clients see it, its input rules (`types`),
//! and every SQL statement on agents (`store`).

pub mod keys;
pub mod store;
pub mod types;

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;
use uuid::Uuid;

pub use types::{AgentChanges, NewAgent};

/// An agent a user can assign tasks to.
#[derive(Debug, Clone, PartialEq, Serialize, sqlx::FromRow)]
pub struct Agent {
    pub id: Uuid,
    pub owner_id: Uuid,
    pub name: String,
    pub description: Option<String>,
    pub config: Value,
    pub is_active: bool,
    pub version: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}
