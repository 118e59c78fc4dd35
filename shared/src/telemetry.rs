//! Logging, set up once per process.

/// Installs the tracing subscriber. In Lambda it writes JSON when the function's log format is
/// JSON (`AWS_LAMBDA_LOG_FORMAT`) at the level of `AWS_LAMBDA_LOG_LEVEL` or `RUST_LOG`;
/// locally it writes text.
pub fn init() {
    lambda_http::tracing::init_default_subscriber();
}
