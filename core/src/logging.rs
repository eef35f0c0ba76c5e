//! The processes' logs: stderr, filtered by `DRAWPIPE_LOG` (default `info`), as
//! text for people or as one JSON object per line for a log pipeline
//! (`--log-format json`, `DRAWPIPE_LOG_FORMAT=json`): `timestamp`, `level`,
//! `target`, `fields` (`message` and the event's fields) and the `span`s it ran in
//! (a job's `job_id`, a stage).

//!
//! Built with the `otel` feature, and when `OTEL_EXPORTER_OTLP_ENDPOINT` (or
//! `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`) is set, spans also go to an OpenTelemetry
//! collector over OTLP/HTTP (`OTEL_EXPORTER_OTLP_PROTOCOL`: `http/protobuf`, the
//! default, or `http/json`), under `OTEL_SERVICE_NAME` (default the process's name);
//! a worker's span for a stage message is parented on the message's `traceparent`
//! ([`crate::trace`]), so a job's spans form one trace.

use std::str::FromStr;

use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};

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
/// is unset. Keep the returned guard until the process ends: dropping it flushes
/// spans not yet exported.
pub fn init(format: LogFormat, default: &str, service: &str) -> Telemetry {
    let filter =
        EnvFilter::try_from_env("DRAWPIPE_LOG").unwrap_or_else(|_| EnvFilter::new(default));
    let fmt = tracing_subscriber::fmt::layer().with_writer(std::io::stderr);
    let fmt = match format {
        LogFormat::Text => fmt.boxed(),
        LogFormat::Json => fmt.json().with_current_span(false).boxed(),
    };
    let (otel, telemetry) = otel::layer(service);
    tracing_subscriber::registry()
        .with(filter)
        .with(fmt)
        .with(otel)
        .init();
    telemetry
}

/// What [`init`] set up that must be shut down: the span exporter, with `otel`.
#[must_use = "dropping it stops span export"]
#[derive(Default)]
pub struct Telemetry {
    #[cfg(feature = "otel")]
    provider: Option<opentelemetry_sdk::trace::SdkTracerProvider>,
}

impl Drop for Telemetry {
    fn drop(&mut self) {
        #[cfg(feature = "otel")]
        if let Some(p) = self.provider.take() {
            if let Err(e) = p.shutdown() {
                eprintln!("OpenTelemetry: could not flush spans: {e}");
            }
        }
    }
}

#[cfg(feature = "otel")]
pub mod otel {
    //! The OpenTelemetry layer and a stage message's remote parent.
    use opentelemetry::trace::{
        SpanContext, SpanId, TraceContextExt, TraceFlags, TraceId, TraceState, TracerProvider as _,
    };
    use opentelemetry_otlp::{Protocol, SpanExporter, WithExportConfig};
    use opentelemetry_sdk::trace::SdkTracerProvider;
    use opentelemetry_sdk::Resource;
    use tracing::Subscriber;
    use tracing_opentelemetry::OpenTelemetrySpanExt;
    use tracing_subscriber::registry::LookupSpan;
    use tracing_subscriber::Layer;

    use super::Telemetry;
    use crate::trace::TraceParent;

    /// The export layer when a collector is configured, with its guard.
    pub fn layer<S>(service: &str) -> (Option<Box<dyn Layer<S> + Send + Sync>>, Telemetry)
    where
        S: Subscriber + for<'a> LookupSpan<'a> + Send + Sync,
    {
        let configured = [
            "OTEL_EXPORTER_OTLP_ENDPOINT",
            "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
        ]
        .iter()
        .any(|v| std::env::var(v).is_ok_and(|e| !e.trim().is_empty()));
        if !configured {
            return (None, Telemetry::default());
        }
        let json = std::env::var("OTEL_EXPORTER_OTLP_PROTOCOL").is_ok_and(|p| p == "http/json");
        let exporter = SpanExporter::builder()
            .with_http()
            .with_protocol(if json {
                Protocol::HttpJson
            } else {
                Protocol::HttpBinary
            })
            .build();
        let exporter = match exporter {
            Ok(e) => e,
            Err(e) => {
                eprintln!("OpenTelemetry: no span export: {e}");
                return (None, Telemetry::default());
            }
        };
        let name = std::env::var("OTEL_SERVICE_NAME").unwrap_or_else(|_| service.to_string());
        let provider = SdkTracerProvider::builder()
            .with_batch_exporter(exporter)
            .with_resource(Resource::builder().with_service_name(name).build())
            .build();
        let tracer = provider.tracer("drawpipe");
        EXPORTING.store(true, std::sync::atomic::Ordering::Relaxed);
        let layer = tracing_opentelemetry::layer().with_tracer(tracer).boxed();
        (
            Some(layer),
            Telemetry {
                provider: Some(provider),
            },
        )
    }

    /// Whether spans are exported (a collector is configured).
    static EXPORTING: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

    /// The span of publishing a message whose derived context is `tp`: while spans
    /// are exported, a `publish` span in the job's trace, and the context naming it;
    /// otherwise `tp` itself and no span.
    pub fn publish_span(tp: TraceParent) -> (TraceParent, Option<tracing::Span>) {
        if !EXPORTING.load(std::sync::atomic::Ordering::Relaxed) {
            return (tp, None);
        }
        let span = tracing::info_span!("publish");
        set_remote_parent(&span, &tp);
        let ctx = span.context();
        let sc = ctx.span().span_context().clone();
        if !sc.is_valid() {
            return (tp, None);
        }
        let own = TraceParent {
            trace_id: sc.trace_id().to_bytes(),
            span_id: sc.span_id().to_bytes(),
            sampled: sc.is_sampled(),
        };
        (own, Some(span))
    }

    /// Makes `span` a child of the publisher's span that `tp` names, in its trace.
    pub fn set_remote_parent(span: &tracing::Span, tp: &TraceParent) {
        let flags = if tp.sampled {
            TraceFlags::SAMPLED
        } else {
            TraceFlags::default()
        };
        let parent = SpanContext::new(
            TraceId::from_bytes(tp.trace_id),
            SpanId::from_bytes(tp.span_id),
            flags,
            true,
            TraceState::default(),
        );
        let _ = span.set_parent(opentelemetry::Context::new().with_remote_span_context(parent));
    }
}

#[cfg(not(feature = "otel"))]
pub mod otel {
    //! Without the `otel` feature: no layer, and a span keeps its local parent.
    use tracing::Subscriber;
    use tracing_subscriber::registry::LookupSpan;
    use tracing_subscriber::Layer;

    use super::Telemetry;
    use crate::trace::TraceParent;

    pub fn layer<S>(_service: &str) -> (Option<Box<dyn Layer<S> + Send + Sync>>, Telemetry)
    where
        S: Subscriber + for<'a> LookupSpan<'a> + Send + Sync,
    {
        (None, Telemetry::default())
    }

    pub fn set_remote_parent(_span: &tracing::Span, _tp: &TraceParent) {}

    pub fn publish_span(tp: TraceParent) -> (TraceParent, Option<tracing::Span>) {
        (tp, None)
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

/// The export itself, against a local OTLP/HTTP (JSON) receiver: run with
/// `cargo test -p drawpipe-core --features otel --lib logging`.
#[cfg(all(test, feature = "otel"))]
mod otel_tests {
    use std::io::{BufRead, BufReader, Read, Write};
    use std::net::TcpListener;
    use std::time::Duration;

    use tracing_subscriber::layer::SubscriberExt;

    use super::otel;
    use crate::trace::TraceParent;
    use crate::JobId;

    /// Answers every POST with 200 and hands its body over.
    fn receiver() -> (u16, std::sync::mpsc::Receiver<String>) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let mut r = BufReader::new(stream);
                let mut len = 0;
                loop {
                    let mut line = String::new();
                    if r.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                        break;
                    }
                    if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                        len = v.trim().parse().unwrap_or(0);
                    }
                }
                let mut body = vec![0; len];
                let _ = r.read_exact(&mut body);
                let _ = r.get_mut().write_all(
                    b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 2\r\n\r\n{}",
                );
                let _ = tx.send(String::from_utf8_lossy(&body).into_owned());
            }
        });
        (port, rx)
    }

    #[test]
    fn a_stage_span_is_exported_in_its_jobs_trace_under_the_publishers_span() {
        let (port, bodies) = receiver();
        std::env::set_var(
            "OTEL_EXPORTER_OTLP_ENDPOINT",
            format!("http://127.0.0.1:{port}"),
        );
        std::env::set_var("OTEL_EXPORTER_OTLP_PROTOCOL", "http/json");
        let (layer, telemetry) = otel::layer("drawpipe-test");
        assert!(layer.is_some(), "a collector is configured");
        let subscriber = tracing_subscriber::registry().with(layer);
        let job = JobId::new();
        let derived = TraceParent::for_message(job, "ocr", 1);
        let published = tracing::subscriber::with_default(subscriber, || {
            // The relay's publish span, in the job's trace; the header names it.
            let (published, span) = otel::publish_span(derived);
            assert!(span.is_some());
            drop(span);
            // The worker's span, parented on the header.
            let span = tracing::info_span!("stage_message", stage = "ocr");
            otel::set_remote_parent(&span, &published);
            span.in_scope(|| tracing::info!("read"));
            published
        });
        drop(telemetry);
        assert_eq!(published.trace_id, derived.trace_id);
        assert_ne!(published.span_id, derived.span_id);
        let mut spans = vec![];
        let mut all = String::new();
        while let Ok(body) =
            bodies.recv_timeout(Duration::from_secs(if spans.is_empty() { 20 } else { 1 }))
        {
            let v: serde_json::Value = serde_json::from_str(&body).expect(&body);
            for rs in v["resourceSpans"].as_array().into_iter().flatten() {
                for ss in rs["scopeSpans"].as_array().into_iter().flatten() {
                    spans.extend(ss["spans"].as_array().into_iter().flatten().cloned());
                }
            }
            all.push_str(&body);
        }
        let named = |n: &str| {
            spans
                .iter()
                .find(|s| s["name"] == n)
                .unwrap_or_else(|| panic!("no {n} span: {all}"))
                .clone()
        };
        let (publish, stage) = (named("publish"), named("stage_message"));
        for s in [&publish, &stage] {
            assert_eq!(s["traceId"], job.0.simple().to_string(), "{all}");
        }
        assert_eq!(publish["spanId"], published.span_hex(), "{all}");
        assert_eq!(publish["parentSpanId"], derived.span_hex(), "{all}");
        assert_eq!(stage["parentSpanId"], published.span_hex(), "{all}");
        assert!(all.contains("drawpipe-test"), "service name: {all}");
    }
}
