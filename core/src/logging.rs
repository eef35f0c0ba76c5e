//! The processes' logs: stderr, filtered by `DRAWPIPE_LOG` (default `info`), as
//! text for people or as one JSON object per line for a log pipeline
//! (`--log-format json`, `DRAWPIPE_LOG_FORMAT=json`): `timestamp`, `level`,
//! `target`, `fields` (`message` and the event's fields) and the `span`s it ran in
//! (a job's `job_id`, a stage).

use std::str::FromStr;

use tracing_subscriber::EnvFilter;

/// How log lines are written.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum LogFormat {
    #[default]
    Text,
    Json,
}

impl FromStr for LogFormat {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s.trim().to_ascii_lowercase().as_str() {
            "text" => Ok(LogFormat::Text),
            "json" => Ok(LogFormat::Json),
            other => Err(format!("log format {other:?}: expected text or json")),
        }
    }
}

/// Installs the process's subscriber; `default` is the filter when `DRAWPIPE_LOG`
/// is unset.
pub fn init(format: LogFormat, default: &str) {
    let filter =
        EnvFilter::try_from_env("DRAWPIPE_LOG").unwrap_or_else(|_| EnvFilter::new(default));
    let b = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Text => b.init(),
        LogFormat::Json => b.json().with_current_span(false).init(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_parse_and_errors_name_the_choices() {
        assert_eq!("JSON".parse::<LogFormat>(), Ok(LogFormat::Json));
        assert_eq!("text".parse::<LogFormat>(), Ok(LogFormat::Text));
        assert!("xml"
            .parse::<LogFormat>()
            .unwrap_err()
            .contains("text or json"));
    }
}
