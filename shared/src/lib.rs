//! The library every function links. A route's function crate is an HTTP adapter; the rules it
//! applies live here, one home each:
//!
//! - `runtime`, `state`, `config`, `secrets`, `telemetry`: the one start-up;
//! - `metrics`: what an operator counts, as CloudWatch embedded-metric-format lines;
//! - `http`, `error`: JSON in, RFC 9457 problems out, entity tags, query parameters;
//! - `db`: the pool, the migrations, and what each named constraint means to a client;
//! - `auth`: passwords, tokens, the Bearer guard, the login throttle;
//! - `users`, `sessions`, `tasks`, `agents`, `audit`: each domain's types and SQL (`store`);
//! - `pagination`: keyset pages and their signed cursors.

pub mod agents;
pub mod audit;
pub mod auth;
pub mod caller;
pub mod config;
pub mod db;
pub mod env;
pub mod error;
pub mod http;
pub mod input;
pub mod metrics;
pub mod pagination;
pub mod responses;
pub mod retention;
pub mod runtime;
pub mod secrets;
pub mod sessions;
pub mod state;
pub mod tasks;
pub mod telemetry;
#[cfg(any(test, feature = "testing"))]
pub mod testing;
pub mod users;
pub mod work;
pub mod written;

pub use env::Env;
pub use error::{ApiError, FieldErrors};
