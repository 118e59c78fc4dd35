//! Tests against real services: PostgreSQL (each `#[sqlx::test]` gets a fresh database with the
//! migrations applied) and a local Secrets Manager emulator.

// A test suite: a failed step should stop the test loudly.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod lifecycle;
mod migrations;
mod schema;
mod secrets;
mod tls;
