//! Tasks and their ordered steps: the rows as clients see them, the input rules (`types`), the
//! status names (`status`; the transition table itself lives in the database), and every SQL
//! statement on tasks (`store`).

pub mod status;
pub mod store;
pub mod types;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sqlx::types::Json;
use uuid::Uuid;

pub use status::TaskStatus;
pub use types::{NewTask, StepChanges, TaskChanges};

/// A task owned by a user, optionally run by one of the user's agents.
#[derive(Debug, Clone, PartialEq, Serialize, sqlx::FromRow)]
pub struct Task {
    pub id: Uuid,
    pub owner_id: Uuid,
    pub agent_id: Option<Uuid>,
    pub title: String,
    pub description: Option<String>,
    pub status: TaskStatus,
    pub priority: i32,
    pub input: Value,
    pub result: Option<Value>,
    pub version: i64,
    pub started_at: Option<DateTime<Utc>>,
    pub completed_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// How many times agents have claimed it, and may before a failure is final.
    pub attempt: i32,
    pub max_attempts: i32,
    /// A failed attempt's retry waits until then.
    pub not_before: Option<DateTime<Utc>>,
    /// The agent holding (or last holding) its lease, and when the lease ends.
    pub lease_holder: Option<Uuid>,
    pub lease_expires_at: Option<DateTime<Utc>>,
    /// The error document of the last failed attempt.
    pub last_error: Option<Value>,
}

/// One step of a task, at its position in the task's order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, sqlx::FromRow)]
pub struct TaskStep {
    pub id: Uuid,
    pub task_id: Uuid,
    pub position: i32,
    pub name: String,
    pub status: TaskStatus,
    pub input: Value,
    pub output: Option<Value>,
    pub started_at: Option<DateTime<Utc>>,
    pub completed_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A task with its steps in order, as single-task responses show it: the task's fields in the
/// order a list shows them, then `steps`.
#[derive(Debug, Serialize)]
pub struct TaskWithSteps {
    #[serde(flatten)]
    pub task: Task,
    pub steps: Vec<TaskStep>,
}

/// A row of a task's columns plus a `steps` column holding its steps as a JSON array, so one
/// statement returns the task with its steps (the store's statements select into it).
pub(crate) struct TaskRow {
    pub id: Uuid,
    pub owner_id: Uuid,
    pub agent_id: Option<Uuid>,
    pub title: String,
    pub description: Option<String>,
    pub status: TaskStatus,
    pub priority: i32,
    pub input: Value,
    pub result: Option<Value>,
    pub version: i64,
    pub started_at: Option<DateTime<Utc>>,
    pub completed_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub attempt: i32,
    pub max_attempts: i32,
    pub not_before: Option<DateTime<Utc>>,
    pub lease_holder: Option<Uuid>,
    pub lease_expires_at: Option<DateTime<Utc>>,
    pub last_error: Option<Value>,
    pub steps: Json<Vec<TaskStep>>,
    /// The task's status before the statement, when it was one that may change it.
    pub previous_status: Option<TaskStatus>,
    /// The changed step's status before the statement (a step update only).
    pub previous_step_status: Option<TaskStatus>,
}

impl TaskRow {
    /// The row, once the status changes it shows are counted (`metrics`): the task's, and the
    /// step `step_id`'s when a step was changed.
    pub(crate) fn counted(self, step_id: Option<Uuid>) -> Self {
        if let Some(previous) = self.previous_status {
            crate::metrics::task_status(previous.as_str(), self.status.as_str());
        }
        let step = step_id.and_then(|id| self.steps.0.iter().find(|step| step.id == id));
        if let (Some(previous), Some(step)) = (self.previous_step_status, step) {
            crate::metrics::step_status(previous.as_str(), step.status.as_str());
        }
        self
    }
}

impl From<TaskRow> for TaskWithSteps {
    fn from(row: TaskRow) -> Self {
        let Json(mut steps) = row.steps;
        steps.sort_by_key(|step| step.position);
        Self {
            task: Task {
                id: row.id,
                owner_id: row.owner_id,
                agent_id: row.agent_id,
                title: row.title,
                description: row.description,
                status: row.status,
                priority: row.priority,
                input: row.input,
                result: row.result,
                version: row.version,
                started_at: row.started_at,
                completed_at: row.completed_at,
                created_at: row.created_at,
                updated_at: row.updated_at,
                attempt: row.attempt,
                max_attempts: row.max_attempts,
                not_before: row.not_before,
                lease_holder: row.lease_holder,
                lease_expires_at: row.lease_expires_at,
                last_error: row.last_error,
            },
            steps,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn task() -> Task {
        Task {
            id: Uuid::new_v4(),
            owner_id: Uuid::new_v4(),
            agent_id: None,
            title: "write".into(),
            description: None,
            status: TaskStatus::Pending,
            priority: 0,
            input: serde_json::json!({}),
            result: None,
            version: 1,
            started_at: None,
            completed_at: None,
            created_at: Utc::now(),
            updated_at: Utc::now(),
            attempt: 0,
            max_attempts: 3,
            not_before: None,
            lease_holder: None,
            lease_expires_at: None,
            last_error: None,
        }
    }

    fn keys_in_order(text: &str) -> Vec<String> {
        let value: serde_json::Map<String, Value> = serde_json::from_str(text).unwrap();
        let mut keys: Vec<(usize, String)> = value
            .keys()
            .map(|key| (text.find(&format!("\"{key}\":")).unwrap(), key.clone()))
            .collect();
        keys.sort();
        keys.into_iter().map(|(_, key)| key).collect()
    }

    #[test]
    fn a_single_task_lists_its_fields_in_the_order_of_a_list_item_then_steps() {
        let task = task();
        let item = serde_json::to_string(&task).unwrap();
        let single = serde_json::to_string(&TaskWithSteps {
            task,
            steps: Vec::new(),
        })
        .unwrap();

        let mut expected = keys_in_order(&item);
        expected.push("steps".into());
        assert_eq!(keys_in_order(&single), expected);
        assert_eq!(keys_in_order(&item)[..3], ["id", "owner_id", "agent_id"]);
    }
}
