//! The names of the statuses a task or step can have. Which status may follow which, and what a
//! change does to `started_at`/`completed_at`, is one table in the database
//! (`task_status_transitions`, enforced by a trigger; see migration 0005), so every statement
//! that changes a status obeys it; the database tests check it against the table docs/api.md documents.

use serde::{Deserialize, Serialize};
use sqlx::encode::IsNull;
use sqlx::error::BoxDynError;
use sqlx::postgres::{PgArgumentBuffer, PgTypeInfo, PgValueRef};
use sqlx::{Decode, Encode, Postgres, Type};

/// Where a task or step is in its life; the database CHECKs hold the same set. In SQL it is
/// `text` (the impls below say so by the type's id: a type named by name would make sqlx look
/// its id up with a named statement, which a transaction-mode pooler cannot carry).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TaskStatus {
    Pending,
    InProgress,
    Completed,
    Failed,
    Cancelled,
}

impl TaskStatus {
    pub const ALL: [TaskStatus; 5] = [
        Self::Pending,
        Self::InProgress,
        Self::Completed,
        Self::Failed,
        Self::Cancelled,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::InProgress => "in_progress",
            Self::Completed => "completed",
            Self::Failed => "failed",
            Self::Cancelled => "cancelled",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|status| status.as_str() == raw)
    }

    /// The valid names, for messages: `pending, in_progress, ...`.
    pub fn names() -> String {
        Self::ALL.map(Self::as_str).join(", ")
    }
}

impl Type<Postgres> for TaskStatus {
    fn type_info() -> PgTypeInfo {
        <&str as Type<Postgres>>::type_info()
    }

    fn compatible(ty: &PgTypeInfo) -> bool {
        <&str as Type<Postgres>>::compatible(ty)
    }
}

impl Encode<'_, Postgres> for TaskStatus {
    fn encode_by_ref(&self, buf: &mut PgArgumentBuffer) -> Result<IsNull, BoxDynError> {
        <&str as Encode<Postgres>>::encode(self.as_str(), buf)
    }
}

impl<'r> Decode<'r, Postgres> for TaskStatus {
    fn decode(value: PgValueRef<'r>) -> Result<Self, BoxDynError> {
        let name = <&str as Decode<Postgres>>::decode(value)?;
        Self::parse(name).ok_or_else(|| format!("unknown status {name:?}").into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_names_parse_back_and_serialise_as_the_database_spells_them() {
        for status in TaskStatus::ALL {
            assert_eq!(TaskStatus::parse(status.as_str()), Some(status));
            assert_eq!(serde_json::to_value(status).unwrap(), status.as_str());
        }
        assert_eq!(TaskStatus::parse("done"), None);
        assert_eq!(TaskStatus::parse("PENDING"), None);
    }
}
