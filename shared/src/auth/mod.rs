//! Authentication: password hashing, access tokens, and the Bearer guard.

pub mod guard;
pub mod password;
pub mod token;

pub use guard::authenticate;
pub use token::TokenKeys;
