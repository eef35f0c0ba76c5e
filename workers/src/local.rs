//! The embedded default: `drawpipe analyze` runs the same stages in-process, in plan
//! order, with no broker and no database, and builds the same report. Stages are
//! driven only through the [`Registry`], as the worker runtime drives them.

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Mutex, OnceLock};
use std::time::Instant;

use anyhow::Context;
use drawpipe_core::limits::Limits;
use drawpipe_core::report::{DrawingInfo, Report};
use drawpipe_core::{JobId, Stage, StageError, StagePlan, StageStatus};
use sha2::{Digest, Sha256};

use crate::stages::contract::{AnyStage, Engines, JobData, LoadedEngine};
use crate::stages::registry::Registry;
use crate::stages::report::StageRun;
use crate::stages::{preprocess, PageRaster};

/// Runs plans in-process: a registry, the load-time settings, and the engines
/// loaded so far (each on first use, kept for the runner's life).
pub struct Analyzer {
    registry: Registry,
    engines: Engines,
    limits: Limits,
    loaded: Mutex<HashMap<Stage, Result<LoadedEngine, String>>>,
}

impl Analyzer {
    pub fn new(registry: Registry, engines: Engines, limits: Limits) -> Analyzer {
        Analyzer {
            registry,
            engines,
            limits,
            loaded: Mutex::new(HashMap::new()),
        }
    }

    /// The process's runner over the built-in stages, default settings.
    pub fn shared() -> &'static Analyzer {
        static SHARED: OnceLock<Analyzer> = OnceLock::new();
        SHARED.get_or_init(|| {
            Analyzer::new(
                Registry::builtin().clone(),
                Engines::default(),
                Limits::default(),
            )
        })
    }

    /// The stage's registry entry and its engine, loaded on first use.
    fn stage(&self, stage: Stage) -> Result<(&'static dyn AnyStage, LoadedEngine), StageError> {
        let def = self.registry.get(stage).ok_or_else(|| {
            StageError::invalid(format!("stage {stage} is not available in this build"))
        })?;
        let mut loaded = self.loaded.lock().unwrap_or_else(|p| p.into_inner());
        let engine = loaded
            .entry(stage)
            .or_insert_with(|| def.load(&self.engines).map_err(|e| e.to_string()))
            .clone()
            .map_err(|e| StageError::Other(e.into()))?;
        Ok((def, engine))
    }

    /// Analyses `bytes` with `plan`; `options` holds per-stage options as a job's
    /// `options` object would (`{"preprocess": {...}}`).
    ///
    /// A stage failure is not an error here: it is recorded in the report, as the
    /// pipeline would (the report says `failed` and why).
    pub fn analyze(&self, bytes: &[u8], plan: &StagePlan, options: &serde_json::Value) -> Report {
        self.analyze_in_full(bytes, plan, options).report
    }

    /// [`Analyzer::analyze`], with every stage's run (its full output, `_`-keys
    /// included) and the page rasters beside the report.
    pub fn analyze_in_full(
        &self,
        bytes: &[u8],
        plan: &StagePlan,
        options: &serde_json::Value,
    ) -> Analysis {
        let drawing = DrawingInfo {
            sha256: hex::encode(Sha256::digest(bytes)),
            media_type: drawpipe_core::media::sniff(bytes)
                .map(|m| m.mime().to_string())
                .unwrap_or_else(|_| "application/octet-stream".into()),
            bytes: bytes.len() as u64,
        };
        let job_id = JobId::new();
        let mut runs: Vec<StageRun> = Vec::new();
        let mut pages: Vec<PageRaster> = Vec::new();
        let mut report: Option<Report> = None;
        let mut peaks = Vec::new();
        let mut loads = Vec::new();
        let started = Instant::now();
        for &stage in plan.stages() {
            let blocked = stage != Stage::Report
                && plan.deps_of(stage).iter().any(|d| {
                    runs.iter()
                        .any(|r| r.stage == *d && r.status != StageStatus::Succeeded)
                });
            if blocked {
                runs.push(StageRun {
                    stage,
                    status: StageStatus::Skipped,
                    device: Some("cpu".into()),
                    attempts: 1,
                    duration_ms: Some(0.0),
                    error: Some("skipped: a dependency did not succeed".to_string()),
                    output: None,
                });
                continue;
            }
            // The engine is loaded (first use in this process) before the clock
            // starts: a stage's `duration_ms` is its run alone, the load is in `loads`.
            let fresh = !self
                .loaded
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .contains_key(&stage);
            let load_start = Instant::now();
            let loaded = self.stage(stage);
            if fresh {
                loads.push((stage, load_start.elapsed().as_secs_f64() * 1000.0));
            }
            let start = Instant::now();
            let mut data = JobData::new(job_id, drawing.clone());
            let result = loaded.and_then(|(def, engine)| {
                let needs = def.needs();
                if needs.content {
                    data.content = Some(bytes.to_vec());
                }
                if needs.pages && !pages.is_empty() {
                    data.pages = Some(
                        pages
                            .iter()
                            .map(|p| (p.info.index, p.png.clone()))
                            .collect(),
                    );
                }
                if needs.runs {
                    data.runs = runs.clone();
                }
                for input in def.inputs() {
                    if let Some(out) = runs
                        .iter()
                        .find(|r| r.stage == *input)
                        .and_then(|r| r.output.clone())
                    {
                        data.outputs.insert(*input, out);
                    }
                }
                let opts = options.get(stage.name()).cloned();
                let device = engine.device.clone();
                def.run(&engine, &self.limits, vec![(opts, data)])
                    .pop()
                    .unwrap_or_else(|| Err(StageError::Other("no result".into())))
                    .map(|done| (done, device))
            });
            let ms = start.elapsed().as_secs_f64() * 1000.0;
            if let Some(mib) = peak_rss_mib() {
                peaks.push((stage, mib));
            }
            if stage == Stage::Report {
                report = Some(match result {
                    Ok((done, _)) => {
                        let mut r: Report = serde_json::from_value(done.output)
                            .expect("the report stage's output is a report");
                        if let Some(s) = r.stages.get_mut("report") {
                            s.duration_ms = Some(ms);
                        }
                        r
                    }
                    Err(e) => panic!("the report stage failed on outputs built here: {e}"),
                });
                continue;
            }
            let (status, output, error, device) = match result {
                Ok((done, device)) => {
                    pages.extend(done.pages);
                    (StageStatus::Succeeded, Some(done.output), None, device)
                }
                Err(StageError::Skipped(why)) => {
                    (StageStatus::Skipped, None, Some(why), "cpu".into())
                }
                Err(e) => (StageStatus::Failed, None, Some(e.to_string()), "cpu".into()),
            };
            runs.push(StageRun {
                stage,
                status,
                device: Some(device),
                attempts: 1,
                duration_ms: Some(ms),
                error,
                output,
            });
        }
        let loaded_ms: f64 = loads.iter().map(|(_, ms)| ms).sum();
        Analysis {
            report: report.expect("every plan ends with report"),
            runs,
            pages,
            peak_rss_mib: peaks,
            load_ms: loads,
            wall_ms: started.elapsed().as_secs_f64() * 1000.0 - loaded_ms,
        }
    }
}

/// The process's peak resident set so far (`VmHWM`), MiB; `None` off Linux.
pub fn peak_rss_mib() -> Option<f64> {
    crate::metrics::own_memory().map(|(_, peak)| peak as f64 / (1024.0 * 1024.0))
}

/// What one in-process analysis produced.
pub struct Analysis {
    pub report: Report,
    /// Every stage's run, its full output included.
    pub runs: Vec<StageRun>,
    /// The page rasters `preprocess` made (grayscale PNG).
    pub pages: Vec<PageRaster>,
    /// The process's peak RSS (MiB) after each stage ran: it only grows, so a
    /// stage's own need shows as the step from the one before (models included when
    /// a stage loads them first).
    pub peak_rss_mib: Vec<(Stage, f64)>,
    /// Milliseconds each stage's engine took to load, for the stages that loaded one
    /// in this call (first use in the process); not in the stages' `duration_ms`.
    pub load_ms: Vec<(Stage, f64)>,
    /// Wall-clock milliseconds of the whole analysis, the loads in `load_ms` left
    /// out (the stages' `duration_ms` and what passes between them).
    pub wall_ms: f64,
}

/// Analyses one file with `plan` and the built-in stages.
///
/// A stage failure is not an error here: it is recorded in the report.
///
/// # Errors
/// When the file cannot be read.
pub fn analyze_file(
    path: &Path,
    plan: &StagePlan,
    params: &preprocess::Params,
) -> anyhow::Result<Report> {
    let bytes = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    Ok(analyze_bytes(&bytes, plan, params))
}

/// [`analyze_file`] on bytes.
pub fn analyze_bytes(bytes: &[u8], plan: &StagePlan, params: &preprocess::Params) -> Report {
    analyze_bytes_in_full(bytes, plan, params).report
}

/// [`analyze_bytes`], with the stage runs and page rasters beside the report.
pub fn analyze_bytes_in_full(
    bytes: &[u8],
    plan: &StagePlan,
    params: &preprocess::Params,
) -> Analysis {
    let options = serde_json::json!({
        "preprocess": serde_json::to_value(params).expect("preprocess params serialise"),
    });
    Analyzer::shared().analyze_in_full(bytes, plan, &options)
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

    /// The worker-side check of bounded options: the same table as at submission,
    /// read from the typed options.
    #[test]
    fn an_option_over_its_limit_fails_its_stage() {
        let limits = Limits {
            max_pdf_pages: 7,
            ..Limits::default()
        };
        let analyzer = Analyzer::new(Registry::builtin().clone(), Engines::default(), limits);
        let bytes = std::fs::read(
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../tests/fixtures/drawings/Candle_holder.jpg"),
        )
        .unwrap();
        let plan = StagePlan::parse("preprocess").unwrap();
        let over = serde_json::json!({"preprocess": {"max_pdf_pages": 8}});
        let r = analyzer.analyze(&bytes, &plan, &over);
        assert_eq!(r.status, drawpipe_core::JobStatus::Failed);
        let err = r.stages["preprocess"].error.clone().unwrap();
        assert!(
            err.starts_with("options.preprocess.max_pdf_pages: 8 is over this server's limit 7"),
            "{err}"
        );
        let within = serde_json::json!({"preprocess": {"max_pdf_pages": 7}});
        let r = analyzer.analyze(&bytes, &plan, &within);
        assert_eq!(r.status, drawpipe_core::JobStatus::Completed);
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
