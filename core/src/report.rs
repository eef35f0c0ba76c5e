//! The job report: one JSON document per job, the same from `drawpipe analyze` and
//! from `GET /v1/jobs/{id}/result`. A stage that did not run leaves its key out.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::job::{JobId, JobStatus};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    pub job_id: JobId,
    pub status: JobStatus,
    pub drawing: DrawingInfo,
    #[serde(default)]
    pub pages: Vec<PageInfo>,
    /// Per stage, keyed by stage name.
    pub stages: BTreeMap<String, StageSummary>,
    /// Stage-specific top-level keys (`text`, `detections`, `dimensions`, …).
    #[serde(flatten)]
    pub extra: serde_json::Map<String, serde_json::Value>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DrawingInfo {
    pub sha256: String,
    pub media_type: String,
    pub bytes: u64,
}

/// One page as the pipeline sees it: pixels of the image as submitted, or of the PDF
/// page rendered at `dpi` (turned upright where the scan was skewed: `skew_deg`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PageInfo {
    pub index: u32,
    pub width: u32,
    pub height: u32,
    /// From the image's metadata, or the PDF render resolution; `null` when unknown.
    pub dpi: Option<f32>,
    /// The skew the page was turned back by, degrees (positive: its lines ran down
    /// to the right); absent where the page was level. Every box is in the turned
    /// page's pixels.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub skew_deg: Option<f32>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StageSummary {
    pub status: String,
    pub device: Option<String>,
    pub attempts: u32,
    pub duration_ms: Option<f64>,
    pub error: Option<String>,
}
