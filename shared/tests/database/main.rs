//! Tests against real services: PostgreSQL (each `#[sqlx::test]` gets a fresh database with the
//! migrations applied) and a local Secrets Manager emulator.

mod lifecycle;
mod migrations;
mod schema;
mod secrets;
