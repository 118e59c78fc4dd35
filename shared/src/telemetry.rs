//! Logging, set up once per process.

use tracing_subscriber::EnvFilter;
use tracing_subscriber::filter::Directive;

/// Targets that log whole request or response payloads (passwords and tokens included) at
/// DEBUG or TRACE: capped at INFO whatever level is asked for.
const PAYLOAD_LOGGING_TARGETS: &[&str] = &[
    "lambda_runtime",
    "lambda_runtime_api_client",
    "lambda_http",
    "hyper",
    "h2",
];

/// Installs the tracing subscriber. The level comes from `AWS_LAMBDA_LOG_LEVEL` (set by Lambda's
/// logging configuration) or `RUST_LOG`, default INFO. Output is JSON when the function's log
/// format is JSON (`AWS_LAMBDA_LOG_FORMAT=JSON`), text otherwise.
pub fn init() {
    let json = std::env::var("AWS_LAMBDA_LOG_FORMAT").is_ok_and(|f| f.eq_ignore_ascii_case("json"));
    let level = std::env::var("AWS_LAMBDA_LOG_LEVEL")
        .or_else(|_| std::env::var("RUST_LOG"))
        .unwrap_or_default();
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter(&level))
        .with_ansi(false)
        .with_target(true);
    let installed = if json {
        builder.json().with_current_span(false).try_init()
    } else {
        builder.try_init()
    };
    // A subscriber installed earlier (a test harness, say) stays in place.
    drop(installed);
}

fn filter(level: &str) -> EnvFilter {
    let mut filter = EnvFilter::try_new(level.to_ascii_lowercase())
        .ok()
        .filter(|_| !level.trim().is_empty())
        .unwrap_or_else(|| EnvFilter::new("info"));
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

    #[test]
    fn the_requested_level_applies_to_everything_else() {
        assert!(filter("debug").to_string().contains("debug"));
        assert!(filter("not a level!!").to_string().contains("info"));
    }
}
