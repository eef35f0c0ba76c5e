//! The worker's Prometheus metrics: batch sizes per stage (the dynamic batcher's
//! output), stage outcomes and compute time. Served, when asked for, on the metrics
//! address with the probes: `/metrics` (and `/`) the exposition text, `/healthz` 200
//! while the process runs, `/readyz` 200 while the broker is connected and 503 naming
//! what is down otherwise.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;

use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;
use drawpipe_core::mq::Broker;
use tokio_util::sync::CancellationToken;

/// Upper bounds of the batch-size histogram buckets.
const BATCH_BUCKETS: [u64; 9] = [1, 2, 4, 8, 16, 32, 64, 128, 256];

#[derive(Default)]
struct Histogram {
    buckets: [u64; BATCH_BUCKETS.len()],
    count: u64,
    sum: u64,
}

#[derive(Default)]
pub struct WorkerMetrics {
    batches: Mutex<BTreeMap<&'static str, Histogram>>,
    /// (stage, outcome) → stage runs; outcome is succeeded, failed, retried or skipped.
    outcomes: Mutex<BTreeMap<(&'static str, &'static str), u64>>,
    /// stage → (compute milliseconds, runs).
    compute: Mutex<BTreeMap<&'static str, (f64, u64)>>,
}

impl WorkerMetrics {
    pub fn batch(&self, stage: &'static str, size: usize) {
        let mut m = self.batches.lock().unwrap();
        let h = m.entry(stage).or_default();
        h.count += 1;
        h.sum += size as u64;
        for (i, le) in BATCH_BUCKETS.iter().enumerate() {
            if size as u64 <= *le {
                h.buckets[i] += 1;
            }
        }
    }

    pub fn outcome(&self, stage: &'static str, outcome: &'static str, compute_ms: f64) {
        *self
            .outcomes
            .lock()
            .unwrap()
            .entry((stage, outcome))
            .or_default() += 1;
        let mut c = self.compute.lock().unwrap();
        let e = c.entry(stage).or_default();
        e.0 += compute_ms;
        e.1 += 1;
    }

    /// The exposition text.
    pub fn render(&self) -> String {
        let mut out = String::new();
        out.push_str(
            "# HELP drawpipe_worker_batch_size Messages per batch the worker ran together.\n",
        );
        out.push_str("# TYPE drawpipe_worker_batch_size histogram\n");
        for (stage, h) in self.batches.lock().unwrap().iter() {
            for (le, n) in BATCH_BUCKETS.iter().zip(h.buckets) {
                let _ = writeln!(
                    out,
                    "drawpipe_worker_batch_size_bucket{{stage=\"{stage}\",le=\"{le}\"}} {n}"
                );
            }
            let _ = writeln!(
                out,
                "drawpipe_worker_batch_size_bucket{{stage=\"{stage}\",le=\"+Inf\"}} {}",
                h.count
            );
            let _ = writeln!(
                out,
                "drawpipe_worker_batch_size_sum{{stage=\"{stage}\"}} {}",
                h.sum
            );
            let _ = writeln!(
                out,
                "drawpipe_worker_batch_size_count{{stage=\"{stage}\"}} {}",
                h.count
            );
        }
        out.push_str(
            "# HELP drawpipe_worker_stage_runs_total Stage runs settled by this worker.\n",
        );
        out.push_str("# TYPE drawpipe_worker_stage_runs_total counter\n");
        for ((stage, outcome), n) in self.outcomes.lock().unwrap().iter() {
            let _ = writeln!(
                out,
                "drawpipe_worker_stage_runs_total{{stage=\"{stage}\",outcome=\"{outcome}\"}} {n}"
            );
        }
        out.push_str("# HELP drawpipe_worker_compute_seconds_total Time spent computing stages.\n");
        out.push_str("# TYPE drawpipe_worker_compute_seconds_total counter\n");
        for (stage, (ms, _)) in self.compute.lock().unwrap().iter() {
            let _ = writeln!(
                out,
                "drawpipe_worker_compute_seconds_total{{stage=\"{stage}\"}} {:.3}",
                ms / 1000.0
            );
        }
        out
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
        let metrics = move || {
            let me = self.clone();
            async move {
                (
                    [(
                        axum::http::header::CONTENT_TYPE,
                        "text/plain; version=0.0.4",
                    )],
                    me.render(),
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
    fn batch_histogram_is_cumulative() {
        let m = WorkerMetrics::default();
        m.batch("ocr", 3);
        m.batch("ocr", 1);
        m.outcome("ocr", "succeeded", 1500.0);
        let text = m.render();
        assert!(
            text.contains("drawpipe_worker_batch_size_bucket{stage=\"ocr\",le=\"1\"} 1"),
            "{text}"
        );
        assert!(
            text.contains("drawpipe_worker_batch_size_bucket{stage=\"ocr\",le=\"4\"} 2"),
            "{text}"
        );
        assert!(
            text.contains("drawpipe_worker_batch_size_sum{stage=\"ocr\"} 4"),
            "{text}"
        );
        assert!(
            text.contains(
                "drawpipe_worker_stage_runs_total{stage=\"ocr\",outcome=\"succeeded\"} 1"
            ),
            "{text}"
        );
        assert!(
            text.contains("drawpipe_worker_compute_seconds_total{stage=\"ocr\"} 1.500"),
            "{text}"
        );
    }
}
