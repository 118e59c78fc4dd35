//! GET /api/health: 200 when the database answers, 503 (a problem response of the same shape)
//! when it does not. The pool reconnects by itself, so the same instance recovers.

use std::time::Duration;

use lambda_http::Request;
use lambda_http::http::{HeaderValue, StatusCode, header};
use serde_json::json;
use shared::db;
use shared::error::Problem;
use shared::http::{self, ApiResult};

pub use shared::state::Database as State;

/// The longest a health check waits for the database, whatever the pool's own timeouts.
pub const PING_TIMEOUT: Duration = Duration::from_secs(3);

const VERSION: &str = env!("CARGO_PKG_VERSION");

pub async fn handle(state: &State, _request: Request) -> ApiResult {
    let ping = tokio::time::timeout(PING_TIMEOUT, db::ping(&state.db)).await;
    match ping {
        Ok(Ok(_)) => http::json(
            StatusCode::OK,
            &json!({ "status": "ok", "database": "ok", "version": VERSION }),
        ),
        Ok(Err(err)) => {
            tracing::warn!(error = %shared::error::ErrorChain(&err), "health check: database unreachable");
            Ok(unavailable())
        }
        Err(_) => {
            tracing::warn!(
                timeout_ms = PING_TIMEOUT.as_millis() as u64,
                "health check: database timed out"
            );
            Ok(unavailable())
        }
    }
}

fn unavailable() -> lambda_http::Response<lambda_http::Body> {
    db::note_failure();
    shared::metrics::database_unavailable();
    let mut response = Problem::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "the database is unreachable",
    )
    .with("database", "unreachable")
    .with("version", VERSION)
    .into_response();
    response
        .headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
    response
}

#[cfg(test)]
mod tests {
    use super::*;
    use lambda_http::Body;
    use serde_json::Value;
    use sqlx::PgPool;
    use sqlx::postgres::PgPoolOptions;

    fn get_health() -> Request {
        lambda_http::http::Request::builder()
            .method("GET")
            .uri("/api/health")
            .body(Body::Empty)
            .unwrap()
    }

    fn body(response: &lambda_http::Response<Body>) -> Value {
        serde_json::from_slice(response.body()).unwrap()
    }

    #[sqlx::test(migrator = "shared::db::MIGRATOR")]
    async fn reports_ok_when_the_database_answers(db: PgPool) {
        let response = http::respond(handle(&State { db: db.into() }, get_health()).await);

        assert_eq!(response.status(), 200);
        assert_eq!(response.headers()[header::CONTENT_TYPE], "application/json");
        let body = body(&response);
        assert_eq!(body["status"], "ok");
        assert_eq!(body["database"], "ok");
        assert_eq!(body["version"], VERSION);
    }

    #[tokio::test]
    async fn reports_503_problem_when_the_database_is_unreachable() {
        // Port 1 on loopback: nothing listens there, so every connection is refused.
        let dead = PgPoolOptions::new()
            .acquire_timeout(Duration::from_millis(500))
            .connect_lazy("postgres://nobody@127.0.0.1:1/none")
            .unwrap();

        let started = std::time::Instant::now();
        let response = http::respond(handle(&State { db: dead.into() }, get_health()).await);

        assert_eq!(response.status(), 503);
        assert_eq!(
            response.headers()[header::CONTENT_TYPE],
            "application/problem+json"
        );
        let body = body(&response);
        assert_eq!(response.headers()[header::RETRY_AFTER], "1");
        assert_eq!(body["status"], 503);
        assert_eq!(body["title"], "Service Unavailable");
        assert_eq!(body["database"], "unreachable");
        assert_eq!(body["version"], VERSION);
        assert!(started.elapsed() <= PING_TIMEOUT + Duration::from_secs(1));
    }
}
