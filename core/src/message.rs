//! Messages that cross the broker. Each carries a version field `v`; consumers
//! refuse versions they do not know. Stage messages carry ids only, never pixels.

use serde::{Deserialize, Serialize};

use crate::job::JobId;
use crate::stage::Stage;

/// The only message version this build reads and writes.
pub const VERSION: u32 = 1;

/// Work for one stage of one job, on `drawpipe.stage.<stage>`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StageMessage {
    pub v: u32,
    pub job_id: JobId,
    pub stage: Stage,
    /// 1 for the first publish; retries publish `attempt + 1`.
    pub attempt: u32,
}

impl StageMessage {
    pub fn new(job_id: JobId, stage: Stage, attempt: u32) -> Self {
        StageMessage {
            v: VERSION,
            job_id,
            stage,
            attempt,
        }
    }
}

/// A job submitted by a queue producer on the intake queue (`drawpipe.intake`),
/// when the AMQP message's content type is `application/json`.
///
/// Alternatively a producer may publish the drawing's raw bytes as the body with any
/// other content type and put the fields below in headers: `x-drawpipe-stages`,
/// `x-drawpipe-priority`, `x-idempotency-key`, `x-drawpipe-filename`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IntakeMessage {
    pub v: u32,
    /// The drawing, base64 (standard alphabet, padding optional).
    pub drawing_base64: String,
    #[serde(default)]
    pub filename: Option<String>,
    /// Comma-separated stage list, as in HTTP; empty or absent means every available stage.
    #[serde(default)]
    pub stages: Option<String>,
    /// 0 (lowest) to 9.
    #[serde(default)]
    pub priority: Option<i16>,
    #[serde(default)]
    pub options: Option<serde_json::Value>,
    #[serde(default)]
    pub idempotency_key: Option<String>,
}

/// The answer to an intake message, sent to its `reply_to` queue (with its
/// `correlation_id`) when it has one.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IntakeReply {
    pub v: u32,
    pub job_id: Option<JobId>,
    pub status: Option<String>,
    pub error: Option<String>,
}

/// A job event on the `drawpipe.events` topic exchange, routing key
/// `job.<job_id>.<kind>` (kinds: `completed`, `partial`, `failed`, `cancelled`,
/// `rejected`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobEvent {
    pub v: u32,
    pub job_id: JobId,
    pub kind: String,
    pub status: String,
    #[serde(default)]
    pub error: Option<String>,
    pub at: chrono::DateTime<chrono::Utc>,
}
