//! Job submission, shared by HTTP and AMQP: [`Submitter::submit`] validates a
//! [`Submission`] (size, media type, stage list, priority, options, idempotency
//! key), stores the job with its root stages' outbox rows, and wakes the relay.
//! Both transports only turn their request into a `Submission`.
//!
//! The intake consumer ([`consume`]) reads `drawpipe.intake`: a JSON
//! [`IntakeMessage`] when the content type is `application/json`, otherwise the raw
//! drawing with its fields in `x-drawpipe-*` headers. Invalid messages are answered
//! (when they have `reply_to`), announced as `intake.rejected` on `drawpipe.events`,
//! and acked: poison is never requeued. Database failures are requeued.

use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use bytes::Bytes;
use drawpipe_core::limits::Limits;
use drawpipe_core::media::{self, SniffError};
use drawpipe_core::message::{IntakeMessage, IntakeReply, VERSION};
use drawpipe_core::trace::{self, TraceParent};
use drawpipe_core::{db, mq, topology, JobId, StagePlan, StagePlanError};
use lapin::options::{BasicAckOptions, BasicNackOptions, BasicPublishOptions};
use lapin::types::{FieldTable, ShortString};
use lapin::Channel;
use serde_json::Value;
use sha2::{Digest, Sha256};
use sqlx::PgPool;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use crate::metrics::Metrics;

/// Longest accepted idempotency key, in characters.
pub const MAX_IDEMPOTENCY_KEY: usize = 200;
/// Longest accepted file name, in characters.
pub const MAX_FILENAME: usize = 255;
/// Unacknowledged intake messages per consumer.
const INTAKE_PREFETCH: u16 = 32;
/// Pause before requeueing a message the database could not take.
const REQUEUE_DELAY: Duration = Duration::from_secs(1);

/// A job as a transport received it, before validation.
#[derive(Debug, Clone, Default)]
pub struct Submission {
    pub content: Bytes,
    pub filename: Option<String>,
    /// Comma-separated stage names; `None` or empty means every available stage.
    pub stages: Option<String>,
    /// 0 (lowest) to 9; `None` means 0.
    pub priority: Option<i64>,
    /// A JSON object passed to the stages.
    pub options: Option<Value>,
    pub idempotency_key: Option<String>,
    /// The client's W3C `traceparent`, when it sent a valid one: logged as a link
    /// to the job's own trace ([`drawpipe_core::trace`]).
    pub link: Option<TraceParent>,
}

/// Why a submission was refused.
#[derive(Debug, thiserror::Error)]
pub enum SubmitError {
    #[error("{}", SniffError::Empty)]
    Empty,
    #[error("the upload is {size} bytes, over the limit of {max} bytes")]
    TooLarge { size: usize, max: usize },
    #[error("{0}")]
    UnsupportedMedia(String),
    #[error("{0}")]
    Stages(#[from] StagePlanError),
    /// A malformed field: priority, options, key, file name, or the message itself.
    #[error("{0}")]
    Invalid(String),
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
}

impl SubmitError {
    pub fn is_retryable(&self) -> bool {
        matches!(self, SubmitError::Database(_))
    }
}

/// A submission that passed validation.
#[derive(Debug)]
pub struct Validated {
    pub media_type: &'static str,
    pub sha256: String,
    pub requested: Vec<String>,
    pub plan: StagePlan,
    pub priority: i16,
    pub options: Value,
    /// The file name as stored: see [`media::clean_filename`].
    pub filename: Option<String>,
}

/// A stored (or found, by idempotency key) job.
#[derive(Debug, Clone)]
pub struct Submitted {
    pub id: JobId,
    /// False when the idempotency key was used before; `id` is that job's.
    pub created: bool,
    pub stages: Vec<String>,
}

/// Checks a submission without touching the database.
///
/// # Errors
/// The first problem found, in the order: size, emptiness, media type, stages,
/// priority, options (an object; each bounded option within `limits`), idempotency
/// key, file name.
pub fn validate(
    sub: &Submission,
    max_bytes: usize,
    limits: &Limits,
) -> Result<Validated, SubmitError> {
    if sub.content.len() > max_bytes {
        return Err(SubmitError::TooLarge {
            size: sub.content.len(),
            max: max_bytes,
        });
    }
    let media = media::sniff(&sub.content).map_err(|e| match e {
        SniffError::Empty => SubmitError::Empty,
        SniffError::Unknown(_) => SubmitError::UnsupportedMedia(e.to_string()),
    })?;
    let list = sub.stages.as_deref().unwrap_or("");
    let plan = StagePlan::parse(list)?;
    let requested = list
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_ascii_lowercase)
        .collect();
    let priority = match sub.priority {
        None => 0,
        Some(p @ 0..=9) => p as i16,
        Some(p) => {
            return Err(SubmitError::Invalid(format!(
                "priority {p} is out of range; use 0 (lowest) to 9"
            )))
        }
    };
    let options = match &sub.options {
        None => Value::Object(Default::default()),
        Some(v @ Value::Object(_)) => v.clone(),
        Some(v) => {
            return Err(SubmitError::Invalid(format!(
                "options must be a JSON object, not {}",
                json_kind(v)
            )))
        }
    };
    limits
        .check_options(&options)
        .map_err(|e| SubmitError::Invalid(e.to_string()))?;
    if holds_nul(&options) {
        return Err(SubmitError::Invalid(
            "options hold a NUL character (\\u0000), which cannot be stored; remove it".into(),
        ));
    }
    if let Some(key) = &sub.idempotency_key {
        if key.trim().is_empty() || key.chars().count() > MAX_IDEMPOTENCY_KEY {
            return Err(SubmitError::Invalid(format!(
                "idempotency key {key:?} must be 1 to {MAX_IDEMPOTENCY_KEY} characters"
            )));
        }
    }
    if let Some(name) = &sub.filename {
        if name.chars().count() > MAX_FILENAME || name.contains('\0') {
            return Err(SubmitError::Invalid(format!(
                "file name {name:?} must be at most {MAX_FILENAME} characters without NUL bytes"
            )));
        }
    }
    Ok(Validated {
        filename: sub.filename.as_deref().and_then(media::clean_filename),
        media_type: media.mime(),
        sha256: hex::encode(Sha256::digest(&sub.content)),
        requested,
        plan,
        priority,
        options,
    })
}

/// Parses a priority given as text (form field, query parameter, header).
pub fn parse_priority(text: &str) -> Result<i64, SubmitError> {
    text.trim().parse::<i64>().map_err(|_| {
        SubmitError::Invalid(format!(
            "priority {text:?} is not a whole number; use 0 (lowest) to 9"
        ))
    })
}

/// Parses options given as text: a JSON object.
pub fn parse_options(text: &str) -> Result<Value, SubmitError> {
    serde_json::from_str(text)
        .map_err(|e| SubmitError::Invalid(format!("options are not valid JSON: {e}")))
}

/// Whether a key or string anywhere in `v` holds U+0000, which PostgreSQL's
/// `jsonb` refuses.
fn holds_nul(v: &Value) -> bool {
    match v {
        Value::String(s) => s.contains('\0'),
        Value::Array(a) => a.iter().any(holds_nul),
        Value::Object(o) => o.iter().any(|(k, v)| k.contains('\0') || holds_nul(v)),
        _ => false,
    }
}

fn json_kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// Everything a transport needs to submit jobs.
#[derive(Clone)]
pub struct Submitter {
    pub pool: PgPool,
    /// Stores jobs without an idempotency key in batches (group commit).
    pub inserter: crate::batch::Inserter,
    /// The outbox relay's waker.
    pub wake: Arc<Notify>,
    pub metrics: Arc<Metrics>,
    pub max_upload_bytes: usize,
    /// Server-side maxima of per-job options.
    pub limits: Limits,
}

impl Submitter {
    /// Validates and stores a job; `source` is `http` or `amqp`.
    ///
    /// # Errors
    /// See [`validate`]; [`SubmitError::Database`] when the insert fails.
    pub async fn submit(
        &self,
        sub: &Submission,
        source: &str,
        api_key_id: Option<i64>,
    ) -> Result<Submitted, SubmitError> {
        let v = validate(sub, self.max_upload_bytes, &self.limits)?;
        let stages = v.plan.names();
        let job = crate::batch::Job {
            id: JobId::new(),
            sha256: v.sha256,
            media_type: v.media_type,
            content: sub.content.clone(),
            filename: v.filename,
            requested: v.requested,
            plan: v.plan,
            options: v.options,
            priority: v.priority,
            idempotency_key: sub.idempotency_key.clone(),
            api_key_id,
            source: source.to_string(),
        };
        let (id, created) = if job.idempotency_key.is_some() {
            db::insert_job(&self.pool, &job.row()).await?
        } else {
            let id = job.id;
            self.inserter.insert(job).await?;
            (id, true)
        };
        if created {
            self.wake.notify_one();
            self.metrics.job_submitted(source);
            tracing::debug!(
                job_id = %id,
                trace_id = %trace::trace_id(id),
                link = sub.link.map(|l| l.to_string()),
                source,
                bytes = sub.content.len(),
                stages = ?stages,
                "job queued"
            );
        }
        Ok(Submitted {
            id,
            created,
            stages,
        })
    }
}

/// Turns an intake delivery into a submission.
pub fn submission_from_message(
    content_type: Option<&str>,
    headers: Option<&FieldTable>,
    body: &[u8],
) -> Result<Submission, SubmitError> {
    let is_json = content_type.is_some_and(|c| {
        c.split(';')
            .next()
            .unwrap_or("")
            .trim()
            .eq_ignore_ascii_case("application/json")
    });
    if is_json {
        let invalid = |e: serde_json::Error| {
            SubmitError::Invalid(format!(
                "the intake message is not a valid v{VERSION} IntakeMessage: {e}"
            ))
        };
        // The version first, so that a newer producer hears why.
        let value: Value = serde_json::from_slice(body).map_err(invalid)?;
        match value.get("v") {
            Some(v) if v.as_u64() == Some(u64::from(VERSION)) => {}
            Some(v) => {
                return Err(SubmitError::Invalid(format!(
                    "intake message version {v} is not supported; this dispatcher reads v{VERSION}"
                )))
            }
            None => {
                return Err(SubmitError::Invalid(format!(
                    "the intake message has no version field 'v'; send \"v\": {VERSION}"
                )))
            }
        }
        let msg: IntakeMessage = serde_json::from_value(value).map_err(invalid)?;
        let content = decode_base64(&msg.drawing_base64)?;
        return Ok(Submission {
            content: content.into(),
            filename: msg.filename,
            stages: msg.stages,
            priority: msg.priority.map(i64::from),
            options: msg.options,
            idempotency_key: msg.idempotency_key,
            link: link(headers),
        });
    }
    let header = |name: &str| mq::header_text(headers, name);
    Ok(Submission {
        content: Bytes::copy_from_slice(body),
        filename: header("x-drawpipe-filename"),
        stages: header("x-drawpipe-stages"),
        priority: header("x-drawpipe-priority")
            .map(|p| parse_priority(&p))
            .transpose()?,
        options: None,
        idempotency_key: header("x-idempotency-key"),
        link: link(headers),
    })
}

/// The producer's `traceparent` header, when valid.
fn link(headers: Option<&FieldTable>) -> Option<TraceParent> {
    mq::header_text(headers, trace::HEADER).and_then(|t| TraceParent::parse(&t))
}

fn decode_base64(text: &str) -> Result<Vec<u8>, SubmitError> {
    let trimmed = text.trim().trim_end_matches('=');
    base64::engine::general_purpose::STANDARD_NO_PAD
        .decode(trimmed)
        .map_err(|e| SubmitError::Invalid(format!("drawing_base64 is not valid base64: {e}")))
}

/// Consumes `drawpipe.intake` until `shutdown`.
///
/// # Errors
/// Only when the channel is gone (the broker connection was lost).
pub async fn consume(
    channel: Channel,
    submitter: Submitter,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    let queue = topology::INTAKE_QUEUE;
    let mut consumer = mq::consume(
        &channel,
        queue,
        "drawpipe-dispatcher-intake",
        INTAKE_PREFETCH,
    )
    .await?;
    while let Some(delivery) = mq::next_delivery(&mut consumer, queue, &shutdown).await? {
        let props = &delivery.properties;
        let correlation = props
            .correlation_id()
            .as_ref()
            .map(|c| c.as_str().to_string());
        let reply_to = props.reply_to().as_ref().map(|r| r.as_str().to_string());
        let outcome = match submission_from_message(
            props.content_type().as_ref().map(ShortString::as_str),
            props.headers().as_ref(),
            &delivery.data,
        ) {
            Ok(sub) => submitter.submit(&sub, "amqp", None).await,
            Err(e) => Err(e),
        };
        let reply = match outcome {
            Ok(s) => {
                let status = if s.created { "queued" } else { "duplicate" };
                IntakeReply {
                    v: VERSION,
                    job_id: Some(s.id),
                    status: Some(status.into()),
                    error: None,
                }
            }
            Err(e) if e.is_retryable() => {
                tracing::warn!(error = %e, "intake: cannot store the job; requeueing");
                tokio::time::sleep(REQUEUE_DELAY).await;
                delivery
                    .nack(BasicNackOptions {
                        requeue: true,
                        ..Default::default()
                    })
                    .await?;
                continue;
            }
            Err(e) => {
                tracing::warn!(error = %e, correlation_id = ?correlation, "intake: message rejected");
                let event = serde_json::json!({
                    "v": VERSION,
                    "kind": "rejected",
                    "error": e.to_string(),
                    "correlation_id": correlation,
                    "at": chrono::Utc::now(),
                });
                publish_json(
                    &channel,
                    topology::EVENTS_EXCHANGE,
                    "intake.rejected",
                    &event,
                    None,
                )
                .await?;
                IntakeReply {
                    v: VERSION,
                    job_id: None,
                    status: Some("rejected".into()),
                    error: Some(e.to_string()),
                }
            }
        };
        if let Some(to) = &reply_to {
            let body = serde_json::to_value(&reply).expect("reply serialises");
            publish_json(&channel, "", to, &body, correlation.as_deref()).await?;
        }
        delivery.ack(BasicAckOptions::default()).await?;
    }
    let _ = channel.close(200, "dispatcher shutting down").await;
    Ok(())
}

async fn publish_json(
    channel: &Channel,
    exchange: &str,
    key: &str,
    body: &Value,
    correlation: Option<&str>,
) -> lapin::Result<()> {
    let mut props = mq::json_properties();
    if let Some(c) = correlation {
        props = props.with_correlation_id(c.into());
    }
    channel
        .basic_publish(
            exchange,
            key,
            BasicPublishOptions::default(),
            body.to_string().as_bytes(),
            props,
        )
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use lapin::types::AMQPValue;

    const PNG: &[u8] = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01\0\0\0\x01";

    fn sub(content: &[u8]) -> Submission {
        Submission {
            content: Bytes::copy_from_slice(content),
            ..Default::default()
        }
    }

    #[test]
    fn validation_refuses_bad_fields() {
        struct Case {
            name: &'static str,
            sub: Submission,
            want: Result<(), &'static str>,
        }
        let cases = [
            Case {
                name: "ok",
                sub: sub(PNG),
                want: Ok(()),
            },
            Case {
                name: "empty",
                sub: sub(b""),
                want: Err("the upload is empty (0 bytes)"),
            },
            Case {
                name: "text",
                sub: sub(b"hello world"),
                want: Err("unsupported file type"),
            },
            Case {
                name: "too large",
                sub: sub(&[0u8; 2000]),
                want: Err("over the limit of 1024 bytes"),
            },
            Case {
                name: "unknown stage",
                sub: Submission {
                    stages: Some("preprocess,bogus".into()),
                    ..sub(PNG)
                },
                want: Err("unknown stage(s): bogus"),
            },
            Case {
                name: "priority",
                sub: Submission {
                    priority: Some(10),
                    ..sub(PNG)
                },
                want: Err("priority 10 is out of range"),
            },
            Case {
                name: "options array",
                sub: Submission {
                    options: Some(serde_json::json!([1])),
                    ..sub(PNG)
                },
                want: Err("options must be a JSON object, not an array"),
            },
            Case {
                name: "option over its limit",
                sub: Submission {
                    options: Some(serde_json::json!({"preprocess": {"pdf_memory_mib": 1u64 << 60}})),
                    ..sub(PNG)
                },
                want: Err("options.preprocess.pdf_memory_mib: 1152921504606847000 is over this server's limit 8192"),
            },
            Case {
                name: "NUL in an option string",
                sub: Submission {
                    options: Some(serde_json::json!({"vl": {"prompt": ["a\u{0}b"]}})),
                    ..sub(PNG)
                },
                want: Err("options hold a NUL character"),
            },
            Case {
                name: "blank key",
                sub: Submission {
                    idempotency_key: Some(" ".into()),
                    ..sub(PNG)
                },
                want: Err("idempotency key"),
            },
        ];
        for c in cases {
            let got = validate(&c.sub, 1024, &Limits::default())
                .map(|_| ())
                .map_err(|e| e.to_string());
            match (got, c.want) {
                (Ok(()), Ok(())) => {}
                (Err(g), Err(w)) => assert!(g.contains(w), "{}: {g:?} lacks {w:?}", c.name),
                (g, w) => panic!("{}: got {g:?}, want {w:?}", c.name),
            }
        }
    }

    #[test]
    fn validated_fields() {
        let v = validate(
            &Submission {
                stages: Some(" Preprocess ".into()),
                priority: Some(9),
                ..sub(PNG)
            },
            1024,
            &Limits::default(),
        )
        .unwrap();
        assert_eq!(v.media_type, "image/png");
        assert_eq!(v.requested, vec!["preprocess"]);
        assert_eq!(v.plan.names(), vec!["preprocess", "report"]);
        assert_eq!(v.priority, 9);
        assert_eq!(v.sha256.len(), 64);
        assert_eq!(v.options, serde_json::json!({}));
    }

    #[test]
    fn text_fields_parse() {
        assert_eq!(parse_priority(" 7 ").unwrap(), 7);
        assert!(parse_priority("high")
            .unwrap_err()
            .to_string()
            .contains("\"high\" is not a whole number"));
        assert_eq!(
            parse_options(r#"{"dpi": 300}"#).unwrap(),
            serde_json::json!({"dpi": 300})
        );
        assert!(parse_options("{")
            .unwrap_err()
            .to_string()
            .starts_with("options are not valid JSON"));
    }

    #[test]
    fn messages_become_submissions() {
        let b64 = base64::engine::general_purpose::STANDARD.encode(PNG);
        let json = serde_json::json!({"v": 1, "drawing_base64": b64, "stages": "preprocess", "priority": 3}).to_string();
        let s = submission_from_message(Some("application/json"), None, json.as_bytes()).unwrap();
        assert_eq!(&s.content[..], PNG);
        assert_eq!(s.priority, Some(3));

        let v2 = serde_json::json!({"v": 2, "drawing_base64": b64}).to_string();
        let err =
            submission_from_message(Some("application/json"), None, v2.as_bytes()).unwrap_err();
        assert!(
            err.to_string().contains("version 2 is not supported"),
            "{err}"
        );

        let bad =
            submission_from_message(Some("application/json"), None, b"{\"v\":1}").unwrap_err();
        assert!(bad.to_string().contains("drawing_base64"), "{bad}");

        let mut headers = FieldTable::default();
        headers.insert(
            "x-drawpipe-stages".into(),
            AMQPValue::LongString("preprocess".into()),
        );
        headers.insert("x-drawpipe-priority".into(), AMQPValue::LongInt(5));
        headers.insert(
            "x-idempotency-key".into(),
            AMQPValue::LongString("k1".into()),
        );
        let raw = submission_from_message(Some("image/png"), Some(&headers), PNG).unwrap();
        assert_eq!(raw.stages.as_deref(), Some("preprocess"));
        assert_eq!(raw.priority, Some(5));
        assert_eq!(raw.idempotency_key.as_deref(), Some("k1"));
        assert_eq!(raw.filename, None);
    }
}
