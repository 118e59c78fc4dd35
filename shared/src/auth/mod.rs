//! Authentication: password hashing, access tokens, and the Bearer guard.

pub mod guard;
pub mod password;
pub mod token;

pub use guard::{authenticate, authenticate_token, ensure_user_exists, unknown_user};
pub use token::TokenKeys;
