//! Logging, set up once per process, and the span every request's lines are logged in.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use lambda_http::request::RequestContext;
use lambda_http::{Request, RequestExt};
use tracing_subscriber::EnvFilter;
use tracing_subscriber::filter::Directive;

use crate::config::LogConfig;

/// Targets that log whole request or response payloads (passwords and tokens included) at
/// DEBUG or TRACE: capped at INFO whatever level is asked for.
const PAYLOAD_LOGGING_TARGETS: &[&str] = &[
    "lambda_runtime",
    "lambda_runtime_api_client",
    "lambda_http",
    "hyper",
    "h2",
];

/// Installs the tracing subscriber, at the level and in the format `config` gives.
pub fn init(config: &LogConfig) {
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter(&config.level))
        .with_ansi(false)
        .with_target(true);
    let installed = if config.json {
        // Each line carries the request's span (`request_span`): its ids, route and cold start.
        builder
            .json()
            .with_current_span(true)
            .with_span_list(false)
            .try_init()
    } else {
        builder.try_init()
    };
    // A subscriber installed earlier (a test harness, say) stays in place.
    drop(installed);
}

/// How long this process took to start (logging, settings, secrets), once it has.
static INIT: OnceLock<Duration> = OnceLock::new();
/// Whether this process has had a request yet: the first is its cold start.
static WARM: AtomicBool = AtomicBool::new(false);

/// Records the end of the process's start-up, which began at `began`.
pub fn init_finished(began: Instant) {
    let _ = INIT.set(began.elapsed());
}

/// The span a request is handled in: every line logged while handling it carries the Lambda
/// request id, API Gateway's request id, the route, the function version and whether this is
/// the instance's first request (`cold_start`). The first request also logs the start-up time.
pub fn request_span(request: &Request) -> tracing::Span {
    let cold_start = !WARM.swap(true, Ordering::Relaxed);
    let lambda = request.lambda_context_ref();
    let (api_request_id, route) = match request.request_context_ref() {
        Some(RequestContext::ApiGatewayV2(context)) => {
            (context.request_id.as_deref(), context.route_key.as_deref())
        }
        _ => (None, None),
    };
    let span = tracing::info_span!(
        "request",
        request_id = lambda.map_or("", |context| context.request_id.as_str()),
        api_request_id = api_request_id.unwrap_or(""),
        route = route.unwrap_or(""),
        function_version = lambda.map_or("", |context| context.env_config.version.as_str()),
        cold_start,
    );
    if cold_start {
        let init_ms = INIT.get().map(|took| took.as_secs_f64() * 1000.0);
        span.in_scope(|| tracing::info!(init_ms, "first request of this instance"));
    }
    span
}

const LEVELS: &[&str] = &["trace", "debug", "info", "warn", "error", "off"];

/// A level (`debug`) or a target with a level (`shared=debug`).
fn is_directive(directive: &str) -> bool {
    let level = match directive.rsplit_once('=') {
        Some((target, level)) if !target.is_empty() => level,
        Some(_) => return false,
        None => directive,
    };
    LEVELS.contains(&level)
}

/// The filter for `level`. Anything unreadable means INFO: a typo must not silence the logs
/// (tracing would read `warning` as a target name and log nothing else). Targets named without
/// a level for everything else get INFO for the rest.
fn filter(level: &str) -> EnvFilter {
    let level = level.trim().to_ascii_lowercase();
    let directives: Vec<&str> = level.split(',').map(str::trim).collect();
    let readable = !level.is_empty() && directives.iter().all(|d| is_directive(d));
    let mut filter = readable
        .then(|| EnvFilter::try_new(&level).ok())
        .flatten()
        .unwrap_or_else(|| EnvFilter::new("info"));
    if readable && !directives.iter().any(|d| LEVELS.contains(d)) {
        filter = filter.add_directive(tracing::level_filters::LevelFilter::INFO.into());
    }
    for target in PAYLOAD_LOGGING_TARGETS {
        if let Ok(directive) = format!("{target}=info").parse::<Directive>() {
            filter = filter.add_directive(directive);
        }
    }
    filter
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payload_logging_targets_stay_at_info_even_when_trace_is_asked_for() {
        for level in ["trace", "TRACE", "lambda_runtime=trace,trace", ""] {
            let text = filter(level).to_string();
            for target in PAYLOAD_LOGGING_TARGETS {
                assert!(
                    text.contains(&format!("{target}=info")),
                    "{level:?}: {text}"
                );
                assert!(
                    !text.contains(&format!("{target}=trace")),
                    "{level:?}: {text}"
                );
            }
        }
    }

    /// The filter's directive for every target not named, e.g. `debug`.
    fn default_directive(filter: &EnvFilter) -> Vec<String> {
        filter
            .to_string()
            .split(',')
            .filter(|directive| !directive.contains('='))
            .map(str::to_owned)
            .collect()
    }

    #[test]
    fn the_requested_level_applies_to_everything_else() {
        assert_eq!(default_directive(&filter("debug")), ["debug"]);
        assert_eq!(default_directive(&filter("WARN")), ["warn"]);
    }

    #[test]
    fn an_empty_or_unreadable_level_means_info() {
        for level in ["", "not a level!!", "warning", "=debug", "shared=loud"] {
            assert_eq!(default_directive(&filter(level)), ["info"], "{level:?}");
        }
    }

    #[test]
    fn targets_named_alone_leave_info_for_everything_else() {
        let filter = filter("shared=debug");
        assert_eq!(default_directive(&filter), ["info"]);
        assert!(filter.to_string().contains("shared=debug"), "{filter}");
    }
}
