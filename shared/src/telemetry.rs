//! Logging, set up once per process.

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
        builder.json().with_current_span(false).try_init()
    } else {
        builder.try_init()
    };
    // A subscriber installed earlier (a test harness, say) stays in place.
    drop(installed);
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
