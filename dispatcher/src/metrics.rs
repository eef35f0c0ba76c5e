//! Prometheus metrics in the text exposition format, written by hand.
//!
//! Counters live in memory (per process, reset on restart); gauges (outbox depth,
//! jobs by status) are queried from the database at scrape time so every dispatcher
//! reports the same numbers.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;

use drawpipe_core::JobStatus;
use sqlx::{PgPool, Row};

#[derive(Default)]
pub struct Metrics {
    submitted: Mutex<BTreeMap<String, u64>>,
    /// (method, route, status) → requests.
    http: Mutex<BTreeMap<(String, String, u16), u64>>,
}

impl Metrics {
    pub fn job_submitted(&self, source: &str) {
        *self
            .submitted
            .lock()
            .unwrap()
            .entry(source.to_string())
            .or_default() += 1;
    }

    pub fn http_request(&self, method: &str, route: &str, status: u16) {
        *self
            .http
            .lock()
            .unwrap()
            .entry((method.to_string(), route.to_string(), status))
            .or_default() += 1;
    }

    /// The exposition text: counters, then gauges read from `pool`.
    ///
    /// # Errors
    /// When the gauge queries fail.
    pub async fn render(&self, pool: &PgPool) -> Result<String, sqlx::Error> {
        let outbox: i64 = sqlx::query_scalar("SELECT count(*) FROM outbox")
            .fetch_one(pool)
            .await?;
        let rows = sqlx::query("SELECT status, count(*) FROM jobs GROUP BY status")
            .fetch_all(pool)
            .await?;
        let mut jobs: BTreeMap<String, i64> = JobStatus::ALL
            .iter()
            .map(|s| (s.as_str().to_string(), 0))
            .collect();
        for r in rows {
            jobs.insert(r.get(0), r.get(1));
        }
        let active = sqlx::query(
            "SELECT stage, status, count(*) FROM stage_runs WHERE status IN ('queued', 'running') GROUP BY 1, 2 ORDER BY 1, 2",
        )
        .fetch_all(pool)
        .await?;

        let mut out = String::new();
        header(
            &mut out,
            "drawpipe_jobs_submitted_total",
            "counter",
            "Jobs accepted by this process, by source.",
        );
        let submitted = self.submitted.lock().unwrap().clone();
        for source in ["http", "amqp"] {
            let n = submitted.get(source).copied().unwrap_or(0);
            let _ = writeln!(
                out,
                "drawpipe_jobs_submitted_total{{source=\"{source}\"}} {n}"
            );
        }
        header(
            &mut out,
            "drawpipe_http_requests_total",
            "counter",
            "HTTP requests served, by method, route and status.",
        );
        for ((method, route, status), n) in self.http.lock().unwrap().iter() {
            let _ = writeln!(
                out,
                "drawpipe_http_requests_total{{method=\"{}\",route=\"{}\",status=\"{status}\"}} {n}",
                escape(method),
                escape(route)
            );
        }
        header(
            &mut out,
            "drawpipe_outbox_depth",
            "gauge",
            "Outbox rows not yet published.",
        );
        let _ = writeln!(out, "drawpipe_outbox_depth {outbox}");
        header(
            &mut out,
            "drawpipe_jobs",
            "gauge",
            "Jobs in the database, by status.",
        );
        for (status, n) in jobs {
            let _ = writeln!(out, "drawpipe_jobs{{status=\"{}\"}} {n}", escape(&status));
        }
        header(
            &mut out,
            "drawpipe_stage_runs_active",
            "gauge",
            "Stage runs queued or running, by stage and status.",
        );
        for r in active {
            let (stage, status, n): (String, String, i64) = (r.get(0), r.get(1), r.get(2));
            let _ = writeln!(
                out,
                "drawpipe_stage_runs_active{{stage=\"{}\",status=\"{}\"}} {n}",
                escape(&stage),
                escape(&status)
            );
        }
        Ok(out)
    }
}

fn header(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
}

/// A label value escaped for the text format: backslash, double quote, newline.
pub fn escape(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_label_values() {
        struct Case {
            input: &'static str,
            want: &'static str,
        }
        let cases = [
            Case {
                input: "/v1/jobs/{id}",
                want: "/v1/jobs/{id}",
            },
            Case {
                input: "a\"b",
                want: "a\\\"b",
            },
            Case {
                input: "a\\b\nc",
                want: "a\\\\b\\nc",
            },
        ];
        for c in cases {
            assert_eq!(escape(c.input), c.want);
        }
    }
}
