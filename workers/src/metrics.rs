//! The worker's Prometheus metrics (`prometheus-client`): batch sizes per stage (the
//! dynamic batcher's output), stage runs by outcome, stage compute time by stage and
//! device, the process's memory after each stage's batches, and the broker connection
//! (up, reconnects). Served, when asked for, on the metrics
//! address with the probes: `/metrics` (and `/`) the exposition text, `/healthz` 200
//! while the process runs, `/readyz` 200 while the broker is connected and 503 naming
//! what is down otherwise.

use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;
use drawpipe_core::metrics::{self as m, registered, BrokerMetrics};
use drawpipe_core::mq::Broker;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;
use tokio_util::sync::CancellationToken;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StageLabel {
    stage: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OutcomeLabels {
    stage: &'static str,
    /// succeeded, failed or retried.
    outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct DeviceLabels {
    stage: &'static str,
    device: String,
}

type Histograms<L> = Family<L, Histogram, fn() -> Histogram>;

pub struct WorkerMetrics {
    registry: Registry,
    batches: Histograms<StageLabel>,
    runs: Family<OutcomeLabels, Counter>,
    durations: Histograms<DeviceLabels>,
    rss: Family<StageLabel, Gauge>,
    peak_rss: Gauge,
    broker: BrokerMetrics,
}

/// This process's resident set now and its peak so far (`VmRSS`, `VmHWM`), bytes;
/// `None` off Linux.
pub fn own_memory() -> Option<(u64, u64)> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let field = |name: &str| -> Option<u64> {
        let line = status.lines().find(|l| l.starts_with(name))?;
        let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
        Some(kib * 1024)
    };
    Some((field("VmRSS:")?, field("VmHWM:")?))
}

impl Default for WorkerMetrics {
    fn default() -> Self {
        let mut r = Registry::default();
        WorkerMetrics {
            batches: registered(
                &mut r,
                "drawpipe_worker_batch_size",
                "Messages per batch the worker ran together",
                Family::new_with_constructor(|| m::exponential(1.0, 2.0, 9)),
            ),
            runs: registered(
                &mut r,
                "drawpipe_worker_stage_runs",
                "Stage runs settled by this worker, by outcome (succeeded, failed, retried)",
                Family::default(),
            ),
            durations: registered(
                &mut r,
                "drawpipe_worker_stage_duration_seconds",
                "Compute time of one settled stage run, by stage and device",
                Family::new_with_constructor(|| m::exponential(0.001, 2.0, 18)),
            ),
            rss: registered(
                &mut r,
                "drawpipe_worker_rss_bytes",
                "The worker's resident set (VmRSS) right after its last batch of this stage",
                Family::default(),
            ),
            peak_rss: registered(
                &mut r,
                "drawpipe_worker_peak_rss_bytes",
                "The worker's peak resident set so far (VmHWM), read after each batch",
                Gauge::default(),
            ),
            broker: BrokerMetrics::register(&mut r),
            registry: r,
        }
    }
}

impl WorkerMetrics {
    pub fn batch(&self, stage: &'static str, size: usize) {
        self.batches
            .get_or_create(&StageLabel { stage })
            .observe(size as f64);
    }

    /// The process's memory after a batch of `stage`.
    pub fn memory(&self, stage: &'static str) {
        if let Some((rss, peak)) = own_memory() {
            self.rss
                .get_or_create(&StageLabel { stage })
                .set(rss as i64);
            self.peak_rss.set(peak as i64);
        }
    }

    /// One settled run; `device` and `compute_ms` for runs that computed.
    pub fn outcome(
        &self,
        stage: &'static str,
        outcome: &'static str,
        device: Option<&str>,
        compute_ms: Option<f64>,
    ) {
        self.runs
            .get_or_create(&OutcomeLabels { stage, outcome })
            .inc();
        if let Some(ms) = compute_ms {
            let device = device.unwrap_or("cpu").to_string();
            self.durations
                .get_or_create(&DeviceLabels { stage, device })
                .observe(ms / 1000.0);
        }
    }

    /// The exposition text, the broker's state read now.
    pub fn render(&self, broker: Option<&Broker>) -> String {
        if let Some(b) = broker {
            self.broker.refresh(b);
        }
        m::encode(&self.registry)
    }

    /// Serves the metrics and the probes on `addr` until `shutdown`; `/readyz` asks
    /// `broker`.
    ///
    /// # Errors
    /// When the address cannot be bound.
    pub async fn serve(
        self: std::sync::Arc<Self>,
        addr: String,
        broker: Broker,
        shutdown: CancellationToken,
    ) -> std::io::Result<()> {
        let listener = tokio::net::TcpListener::bind(&addr).await?;
        tracing::info!(addr = %listener.local_addr()?, "worker metrics listening");
        let scraped = broker.clone();
        let metrics = move || {
            let me = self.clone();
            let broker = scraped.clone();
            async move {
                (
                    [(axum::http::header::CONTENT_TYPE, m::CONTENT_TYPE)],
                    me.render(Some(&broker)),
                )
            }
        };
        let app = Router::new()
            .route("/", get(metrics.clone()))
            .route("/metrics", get(metrics))
            .route("/healthz", get(|| async { "ok" }))
            .route(
                "/readyz",
                get(move || async move {
                    match broker.down_reason() {
                        None => (StatusCode::OK, "ready".to_string()).into_response(),
                        Some(why) => (StatusCode::SERVICE_UNAVAILABLE, why).into_response(),
                    }
                }),
            );
        axum::serve(listener, app)
            .with_graceful_shutdown(shutdown.cancelled_owned())
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histograms_are_cumulative_and_durations_by_device() {
        let m = WorkerMetrics::default();
        m.batch("ocr", 3);
        m.batch("ocr", 1);
        m.outcome("ocr", "succeeded", Some("cuda:0"), Some(1500.0));
        m.outcome("ocr", "retried", None, None);
        m.memory("ocr");
        let text = m.render(None);
        // This test process holds some MiB: the gauges carry its real memory.
        let gauge = |prefix: &str| -> f64 {
            let line = text
                .lines()
                .find(|l| l.starts_with(prefix))
                .unwrap_or_else(|| panic!("{prefix} not in:\n{text}"));
            line[prefix.len()..].parse().unwrap()
        };
        let (rss, peak) = (
            gauge("drawpipe_worker_rss_bytes{stage=\"ocr\"} "),
            gauge("drawpipe_worker_peak_rss_bytes "),
        );
        assert!(rss > 1e6 && peak >= rss, "rss {rss}, peak {peak}");
        for want in [
            "drawpipe_worker_batch_size_bucket{stage=\"ocr\",le=\"1\"} 1",
            "drawpipe_worker_batch_size_bucket{stage=\"ocr\",le=\"4\"} 2",
            "drawpipe_worker_batch_size_sum{stage=\"ocr\"} 4.0",
            "drawpipe_worker_stage_runs_total{stage=\"ocr\",outcome=\"succeeded\"} 1",
            "drawpipe_worker_stage_runs_total{stage=\"ocr\",outcome=\"retried\"} 1",
            "drawpipe_worker_stage_duration_seconds_bucket{stage=\"ocr\",device=\"cuda:0\",le=\"1.024\"} 0",
            "drawpipe_worker_stage_duration_seconds_bucket{stage=\"ocr\",device=\"cuda:0\",le=\"2.048\"} 1",
            "drawpipe_worker_stage_duration_seconds_count{stage=\"ocr\",device=\"cuda:0\"} 1",
            "# TYPE drawpipe_broker_up gauge",
        ] {
            assert!(text.contains(want), "{want} not in:\n{text}");
        }
    }
}
