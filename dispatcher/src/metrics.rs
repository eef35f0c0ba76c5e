//! The dispatcher's Prometheus metrics, through `prometheus-client`.
//!
//! Counters live in memory (per process, reset on restart): jobs accepted by source,
//! HTTP requests, dead-lettered stage messages. Gauges (outbox depth, jobs by status,
//! stage runs queued or running) are queried from the database at scrape time so
//! every dispatcher reports the same numbers; the broker connection's state is read
//! from the broker handle.

use drawpipe_core::metrics::{self as m, registered, BrokerMetrics};
use drawpipe_core::mq::Broker;
use drawpipe_core::JobStatus;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;
use sqlx::{PgPool, Row};

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct SourceLabel {
    source: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct HttpLabels {
    method: String,
    route: String,
    status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StatusLabel {
    status: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StageLabel {
    stage: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StageStatusLabels {
    stage: String,
    status: String,
}

pub struct Metrics {
    registry: Registry,
    submitted: Family<SourceLabel, Counter>,
    http: Family<HttpLabels, Counter>,
    dead_letters: Family<StageLabel, Counter>,
    outbox: Gauge,
    jobs: Family<StatusLabel, Gauge>,
    active: Family<StageStatusLabels, Gauge>,
    broker: BrokerMetrics,
}

impl Default for Metrics {
    fn default() -> Self {
        let mut r = Registry::default();
        let submitted: Family<SourceLabel, Counter> = registered(
            &mut r,
            "drawpipe_jobs_submitted",
            "Jobs accepted by this process, by source",
            Family::default(),
        );
        for source in ["http", "amqp"] {
            // Both sources from the start, at 0.
            drop(submitted.get_or_create(&SourceLabel {
                source: source.to_string(),
            }));
        }
        Metrics {
            submitted,
            http: registered(
                &mut r,
                "drawpipe_http_requests",
                "HTTP requests served, by method, route and status",
                Family::default(),
            ),
            dead_letters: registered(
                &mut r,
                "drawpipe_dead_letters",
                "Stage messages dead-lettered after repeated deliveries, by stage",
                Family::default(),
            ),
            outbox: registered(
                &mut r,
                "drawpipe_outbox_depth",
                "Outbox rows not yet published",
                Gauge::default(),
            ),
            jobs: registered(
                &mut r,
                "drawpipe_jobs",
                "Jobs in the database, by status",
                Family::default(),
            ),
            active: registered(
                &mut r,
                "drawpipe_stage_runs_active",
                "Stage runs queued or running, by stage and status (the depth of each stage's work)",
                Family::default(),
            ),
            broker: BrokerMetrics::register(&mut r),
            registry: r,
        }
    }
}

impl Metrics {
    pub fn job_submitted(&self, source: &str) {
        self.submitted
            .get_or_create(&SourceLabel {
                source: source.to_string(),
            })
            .inc();
    }

    pub fn http_request(&self, method: &str, route: &str, status: u16) {
        self.http
            .get_or_create(&HttpLabels {
                method: method.to_string(),
                route: route.to_string(),
                status,
            })
            .inc();
    }

    pub fn dead_letter(&self, stage: &str) {
        self.dead_letters
            .get_or_create(&StageLabel {
                stage: stage.to_string(),
            })
            .inc();
    }

    /// The exposition text: the gauges read from `pool` (and `broker`) now.
    ///
    /// # Errors
    /// When the gauge queries fail.
    pub async fn render(
        &self,
        pool: &PgPool,
        broker: Option<&Broker>,
    ) -> Result<String, sqlx::Error> {
        let outbox: i64 = sqlx::query_scalar("SELECT count(*) FROM outbox")
            .fetch_one(pool)
            .await?;
        let rows = sqlx::query("SELECT status, count(*) FROM jobs GROUP BY status")
            .fetch_all(pool)
            .await?;
        let active = sqlx::query(
            "SELECT stage, status, count(*) FROM stage_runs WHERE status IN ('queued', 'running') GROUP BY 1, 2",
        )
        .fetch_all(pool)
        .await?;
        self.outbox.set(outbox);
        for s in JobStatus::ALL {
            self.jobs
                .get_or_create(&StatusLabel {
                    status: s.as_str().to_string(),
                })
                .set(0);
        }
        for r in rows {
            self.jobs
                .get_or_create(&StatusLabel { status: r.get(0) })
                .set(r.get(1));
        }
        // Only the stages with work now: a drained stage disappears.
        self.active.clear();
        for r in active {
            self.active
                .get_or_create(&StageStatusLabels {
                    stage: r.get(0),
                    status: r.get(1),
                })
                .set(r.get(2));
        }
        if let Some(b) = broker {
            self.broker.refresh(b);
        }
        Ok(m::encode(&self.registry))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_escape_their_labels() {
        let m = Metrics::default();
        m.http_request("GET", "/v1/jobs/{id}", 200);
        m.http_request("GET", "a\"b\\c\nd", 404);
        m.job_submitted("http");
        m.dead_letter("ocr");
        let text = m::encode(&m.registry);
        for want in [
            "drawpipe_http_requests_total{method=\"GET\",route=\"/v1/jobs/{id}\",status=\"200\"} 1",
            "route=\"a\\\"b\\\\c\\nd\",status=\"404\"} 1",
            "drawpipe_jobs_submitted_total{source=\"http\"} 1",
            "drawpipe_jobs_submitted_total{source=\"amqp\"} 0",
            "drawpipe_dead_letters_total{stage=\"ocr\"} 1",
        ] {
            assert!(text.contains(want), "{want} not in:\n{text}");
        }
    }
}
