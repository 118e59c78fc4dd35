//! Authentication: password hashing, access tokens, the Bearer guard, and the login throttle.

pub mod guard;
pub mod password;
pub mod throttle;
pub mod token;

pub use guard::{authenticate, authenticate_token, ensure_user_exists, not_found, unknown_user};
pub use token::TokenKeys;
