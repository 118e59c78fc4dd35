//! The library every function links: configuration and secrets, the database pool and
//! migrations, JSON request parsing and RFC 9457 problem responses, the models, and logging.

pub mod config;
pub mod db;
pub mod error;
pub mod http;
pub mod models;
pub mod secrets;
pub mod telemetry;

pub use config::Env;
pub use error::{ApiError, FieldErrors};
