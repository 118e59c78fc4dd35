//! The library every function links: configuration and secrets, the database pool and
//! migrations, JSON request parsing and RFC 9457 problem responses, authentication, input
//! validation, the audit log, the models, and logging.

pub mod audit;
pub mod auth;
pub mod config;
pub mod db;
pub mod error;
pub mod http;
pub mod models;
pub mod runtime;
pub mod secrets;
pub mod state;
pub mod tasks;
pub mod telemetry;
#[cfg(any(test, feature = "testing"))]
pub mod testing;
pub mod users;
pub mod validation;

pub use config::Env;
pub use error::{ApiError, FieldErrors};
pub use state::AppState;
