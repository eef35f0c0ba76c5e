//! The embedded default: `drawpipe analyze` runs the same stage code in-process, in
//! plan order, with no broker and no database, and builds the same report.

use std::path::Path;
use std::sync::OnceLock;
use std::time::Instant;

use anyhow::Context;
use drawpipe_core::report::{DrawingInfo, Report};
use drawpipe_core::{JobId, Stage, StageError, StagePlan, StageStatus};
use sha2::{Digest, Sha256};

use crate::stages::{detect, edocr, ocr, preprocess, report, segment, tolerance, PageRaster};

/// Analyses one file with `plan`.
///
/// A stage failure is not an error here: it is recorded in the report, as the
/// pipeline would (the report says `failed` and why).
pub fn analyze_file(
    path: &Path,
    plan: &StagePlan,
    params: &preprocess::Params,
) -> anyhow::Result<Report> {
    let bytes = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    Ok(analyze_bytes(&bytes, plan, params))
}

pub fn analyze_bytes(bytes: &[u8], plan: &StagePlan, params: &preprocess::Params) -> Report {
    let sha256 = hex::encode(Sha256::digest(bytes));
    let media_type = drawpipe_core::media::sniff(bytes)
        .map(|m| m.mime().to_string())
        .unwrap_or_else(|_| "application/octet-stream".into());
    let mut runs: Vec<report::StageRun> = Vec::new();
    let mut pages: Vec<PageRaster> = Vec::new();
    for &stage in plan.stages() {
        if stage == Stage::Report {
            continue;
        }
        let blocked = plan.deps_of(stage).iter().any(|d| {
            runs.iter()
                .any(|r| r.stage == *d && r.status != StageStatus::Succeeded)
        });
        let start = Instant::now();
        let mut device = "cpu".to_string();
        let result: Result<serde_json::Value, String> = if blocked {
            Err(String::new())
        } else {
            match stage {
                Stage::Preprocess => preprocess::run(params, bytes)
                    .map(|out| {
                        let summary = out.summary();
                        pages = out.pages;
                        summary
                    })
                    .map_err(|e| e.to_string()),
                Stage::Ocr => read_pages(&pages)
                    .map(|(out, used)| {
                        device = used;
                        out
                    })
                    .map_err(|e| e.to_string()),
                Stage::Edocr => read_dimensions(&pages, &runs)
                    .map(|(out, used)| {
                        device = used;
                        out
                    })
                    .map_err(|e| e.to_string()),
                Stage::Tolerance => predict_tolerances(&runs).map_err(|e| e.to_string()),
                Stage::Detect => detect_pages(&pages)
                    .map(|(out, used)| {
                        device = used;
                        out
                    })
                    .map_err(|e| e.to_string()),
                Stage::Segment => segment_pages(&pages)
                    .map(|(out, used)| {
                        device = used;
                        out
                    })
                    .map_err(|e| e.to_string()),
                other => Err(format!("stage {other} is not available in this build")),
            }
        };
        let (status, output, error) = match result {
            Ok(out) => (StageStatus::Succeeded, Some(out), None),
            Err(_) if blocked => (
                StageStatus::Skipped,
                None,
                Some("skipped: a dependency did not succeed".to_string()),
            ),
            Err(e) => (StageStatus::Failed, None, Some(e)),
        };
        runs.push(report::StageRun {
            stage,
            status,
            device: Some(device),
            attempts: 1,
            duration_ms: Some(start.elapsed().as_secs_f64() * 1000.0),
            error,
            output,
        });
    }
    let input = report::Input {
        job_id: JobId::new(),
        drawing: DrawingInfo {
            sha256,
            media_type,
            bytes: bytes.len() as u64,
        },
        runs,
        attempts: 1,
    };
    let start = Instant::now();
    let mut r =
        report::run(&report::Params, input).expect("stage outputs built here are JSON objects");
    if let Some(s) = r.stages.get_mut("report") {
        s.duration_ms = Some(start.elapsed().as_secs_f64() * 1000.0);
    }
    r
}

/// The OCR engine, loaded on first use and kept for the process.
fn ocr_engine() -> Result<&'static ocr::OcrEngine, StageError> {
    static ENGINE: OnceLock<Result<ocr::OcrEngine, String>> = OnceLock::new();
    ENGINE
        .get_or_init(|| ocr::OcrEngine::load(&ocr::Params::default()).map_err(|e| e.to_string()))
        .as_ref()
        .map_err(|e| StageError::Other(e.clone().into()))
}

/// Runs `edocr` over in-memory page rasters with the `ocr` run's lines.
fn read_dimensions(
    pages: &[PageRaster],
    runs: &[report::StageRun],
) -> Result<(serde_json::Value, String), StageError> {
    let lines: Vec<ocr::TextLine> = runs
        .iter()
        .find(|r| r.stage == Stage::Ocr)
        .and_then(|r| r.output.as_ref()?.get("text").cloned())
        .map(serde_json::from_value)
        .transpose()
        .map_err(|e| StageError::Other(format!("ocr output: {e}").into()))?
        .unwrap_or_default();
    let pages = pages.iter().map(|p| (p.info.index, p.png.as_slice()));
    crate::stages::edocr_pages(&edocr::Params::default(), ocr_engine()?, pages, &lines)
}

/// Runs `detect` over in-memory page rasters, loading the model on first use.
fn detect_pages(pages: &[PageRaster]) -> Result<(serde_json::Value, String), StageError> {
    static MODEL: OnceLock<Result<detect::DetectModel, String>> = OnceLock::new();
    let model = MODEL
        .get_or_init(|| {
            detect::DetectModel::load(&crate::ort_env::models_dir(), crate::ort_env::Device::Auto)
                .map_err(|e| e.to_string())
        })
        .as_ref()
        .map_err(|e| StageError::Other(e.clone().into()))?;
    let pages = pages.iter().map(|p| (p.info.index, p.png.as_slice()));
    crate::stages::detect_pages(&detect::Params::default(), model, pages)
}

/// Runs `segment` over in-memory page rasters, loading the model on first use.
fn segment_pages(pages: &[PageRaster]) -> Result<(serde_json::Value, String), StageError> {
    static MODEL: OnceLock<Result<segment::SegmentModel, String>> = OnceLock::new();
    let model = MODEL
        .get_or_init(|| {
            segment::SegmentModel::load(&crate::ort_env::models_dir(), crate::ort_env::Device::Auto)
                .map_err(|e| e.to_string())
        })
        .as_ref()
        .map_err(|e| StageError::Other(e.clone().into()))?;
    let pages = pages.iter().map(|p| (p.info.index, p.png.as_slice()));
    crate::stages::segment_pages(&segment::Params::default(), model, pages)
}

/// Runs `tolerance` on the `edocr` run's dimensions and title block, default options.
fn predict_tolerances(runs: &[report::StageRun]) -> Result<serde_json::Value, StageError> {
    static MODEL: OnceLock<Result<tolerance::ToleranceModel, String>> = OnceLock::new();
    let model = MODEL
        .get_or_init(|| {
            tolerance::ToleranceModel::load(
                &tolerance::model_dir(&crate::ort_env::models_dir()),
                "cpu",
            )
            .map_err(|e| e.to_string())
        })
        .as_ref()
        .map_err(|e| StageError::Other(e.clone().into()))?;
    let edocr_out = runs
        .iter()
        .find(|r| r.stage == Stage::Edocr)
        .and_then(|r| r.output.as_ref());
    let input = tolerance::Input::from_edocr_output(edocr_out);
    tolerance::run(model, &tolerance::Params::default(), &input)
}

/// Runs `ocr` over in-memory page rasters.
fn read_pages(pages: &[PageRaster]) -> Result<(serde_json::Value, String), StageError> {
    let pages = pages.iter().map(|p| (p.info.index, p.png.as_slice()));
    crate::stages::ocr_pages(&ocr::Params::default(), ocr_engine()?, pages)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn analyzes_the_sample_drawing() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../tests/fixtures/drawings/Candle_holder.jpg");
        let plan = StagePlan::parse("preprocess").unwrap();
        let r = analyze_file(&path, &plan, &preprocess::Params::default()).unwrap();
        assert_eq!(r.status, drawpipe_core::JobStatus::Completed);
        assert_eq!(r.pages.len(), 1);
        assert_eq!((r.pages[0].width, r.pages[0].height), (1653, 2339));
        assert_eq!(r.drawing.media_type, "image/jpeg");
    }

    #[test]
    fn a_bad_file_fails_its_report_with_the_reason() {
        let plan = StagePlan::parse("").unwrap();
        let r = analyze_bytes(b"plain text", &plan, &preprocess::Params::default());
        assert_eq!(r.status, drawpipe_core::JobStatus::Failed);
        assert!(r.stages["preprocess"]
            .error
            .as_deref()
            .unwrap()
            .contains("unsupported file type"));
    }
}
