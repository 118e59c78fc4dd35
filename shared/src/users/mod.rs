//! User accounts: the account as clients see it, the input rules, and every SQL statement on
//! the users table.

pub mod store;
pub mod types;

use chrono::{DateTime, Utc};
use serde::Serialize;
use uuid::Uuid;

pub use types::{
    AccountDeletionRequest, Credentials, Email, LoginRequest, NewPassword, NewUser, PasswordChange,
    PasswordChangeRequest, RegisterRequest, Username,
};

/// A user account as clients see it. The password hash is not a field here, so it cannot reach
/// a response by accident.
#[derive(Debug, Clone, PartialEq, Serialize, sqlx::FromRow)]
pub struct User {
    pub id: Uuid,
    pub username: String,
    pub email: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_json_never_has_a_password_hash() {
        let user = User {
            id: Uuid::nil(),
            username: "ada".into(),
            email: "ada@example.com".into(),
            created_at: Utc::now(),
            updated_at: Utc::now(),
        };
        let json = serde_json::to_value(&user).unwrap();
        let keys: Vec<_> = json.as_object().unwrap().keys().cloned().collect();
        assert_eq!(
            keys,
            ["created_at", "email", "id", "updated_at", "username"]
        );
    }
}
