//! Black-box tests: HTTP against `API_BASE_URL` (the local `cargo lambda watch` that `make test`
//! starts, or a deployed stack). They never touch the database directly.

// A test suite: a failed step should stop the test loudly.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod accounts;
mod agents;
mod audit;
mod docs;
mod ended_sessions;
mod health;
mod helpers;
mod limits;
mod sessions;
mod steps;
mod tasks;
mod work;
