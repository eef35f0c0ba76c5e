//! What the dispatcher's and the workers' `/metrics` share: the `prometheus-client`
//! registry encoded in the Prometheus text format (0.0.4), and the broker
//! connection's metrics (up, reconnects), read from [`Broker`] at scrape time.

use prometheus_client::encoding::prometheus_text;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::{Metric, Registry};

use crate::mq::Broker;

/// The `Content-Type` of what [`encode`] writes.
pub const CONTENT_TYPE: &str = prometheus_text::CONTENT_TYPE;

/// The registry's metrics as Prometheus text.
pub fn encode(registry: &Registry) -> String {
    let mut out = String::new();
    // Writing to a String cannot fail.
    let _ = prometheus_text::encode(&mut out, registry);
    out
}

/// Registers `metric` under `name` and returns it (a handle sharing its values).
pub fn registered<M: Metric + Clone>(
    registry: &mut Registry,
    name: &str,
    help: &str,
    metric: M,
) -> M {
    registry.register(name, help, metric.clone());
    metric
}

/// A histogram with buckets `start`, `start·factor`, … (`n` of them).
pub fn exponential(start: f64, factor: f64, n: u16) -> Histogram {
    Histogram::new(prometheus_client::metrics::histogram::exponential_buckets(
        start, factor, n,
    ))
}

/// `drawpipe_broker_up` and `drawpipe_broker_reconnects_total`, registered once and
/// brought up to date from the broker by [`BrokerMetrics::refresh`] before each
/// encoding.
#[derive(Clone, Default)]
pub struct BrokerMetrics {
    up: Gauge,
    reconnects: Counter,
}

impl BrokerMetrics {
    pub fn register(registry: &mut Registry) -> Self {
        BrokerMetrics {
            up: registered(
                registry,
                "drawpipe_broker_up",
                "Whether a broker session is running now",
                Gauge::default(),
            ),
            reconnects: registered(
                registry,
                "drawpipe_broker_reconnects",
                "Broker connections reopened after a loss",
                Counter::default(),
            ),
        }
    }

    /// Copies the broker's state into the metrics.
    pub fn refresh(&self, broker: &Broker) {
        self.up.set(i64::from(broker.is_up()));
        let seen = self.reconnects.get();
        let now = broker.reconnects();
        if now > seen {
            self.reconnects.inc_by(now - seen);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn encodes_prometheus_text_with_the_broker_state() {
        let mut registry = Registry::default();
        let m = BrokerMetrics::register(&mut registry);
        let broker = Broker::new("amqp://guest:secret@127.0.0.1:1/%2f", "test").unwrap();
        m.refresh(&broker);
        let text = encode(&registry);
        assert!(
            text.contains("# TYPE drawpipe_broker_up gauge\ndrawpipe_broker_up 0\n"),
            "{text}"
        );
        assert!(
            text.contains("drawpipe_broker_reconnects_total 0\n"),
            "{text}"
        );
        assert!(
            !text.contains("# EOF"),
            "Prometheus text has no EOF marker: {text}"
        );
    }
}
