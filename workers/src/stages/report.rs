//! `report`: merges the stage outputs into the job report and decides the job's
//! final status. Pure: the runtime loads the stage runs and persists the result.
//!
//! Status rule: any required stage that did not succeed → `failed`; else any
//! optional stage (`vl`, `segment`) that did not succeed → `partial`; else
//! `completed`.

use std::collections::BTreeMap;

use drawpipe_core::report::{DrawingInfo, PageInfo, Report, StageSummary};
use drawpipe_core::{JobId, JobStatus, Stage, StageError, StageStatus};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::sync::Arc;

use super::contract::{Engines, JobData, Needs, Produced, StageDef, Validate};

/// One stage run as the report sees it.
#[derive(Debug, Clone)]
pub struct StageRun {
    pub stage: Stage,
    pub status: StageStatus,
    pub device: Option<String>,
    pub attempts: u32,
    pub duration_ms: Option<f64>,
    pub error: Option<String>,
    pub output: Option<Value>,
}

#[derive(Debug, Clone)]
pub struct Input {
    pub job_id: JobId,
    pub drawing: DrawingInfo,
    /// Every stage of the plan except `report` itself.
    pub runs: Vec<StageRun>,
    /// `report`'s own attempt count.
    pub attempts: u32,
}

/// `report` takes no options.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Params {}

impl Validate for Params {}

/// The stage: every other run of the job in, the job's report out. The driver
/// stores the report on the job (and an empty `stage_runs.output`), with the
/// result rows of every stage that succeeded.
pub struct ReportStage;

impl StageDef for ReportStage {
    const STAGE: Stage = Stage::Report;
    const NEEDS: Needs = Needs {
        content: false,
        pages: false,
        runs: true,
    };
    type Params = Params;
    type Input = Input;
    type Output = Report;
    type Engine = ();

    fn load(_: &Engines) -> Result<Arc<()>, StageError> {
        Ok(Arc::new(()))
    }

    fn input(data: JobData) -> Result<Input, StageError> {
        Ok(Input {
            job_id: data.job_id,
            drawing: data.drawing,
            runs: data.runs,
            attempts: data.attempts,
        })
    }

    fn run(_: &(), jobs: Vec<(Params, Input)>) -> Vec<Result<Produced<Report>, StageError>> {
        jobs.into_iter()
            .map(|(params, input)| run(&params, input).map(Produced::from))
            .collect()
    }
}

/// Builds the report.
///
/// # Errors
/// `Invalid` when a stage output is not a JSON object (a contract breach that a
/// retry cannot fix).
pub fn run(_params: &Params, input: Input) -> Result<Report, StageError> {
    let mut stages = BTreeMap::new();
    let mut extra = serde_json::Map::new();
    let mut pages: Vec<PageInfo> = Vec::new();
    let mut status = JobStatus::Completed;
    let mut first_error: Option<String> = None;
    for run in &input.runs {
        stages.insert(
            run.stage.name().to_string(),
            StageSummary {
                status: run.status.as_str().to_string(),
                device: run.device.clone(),
                attempts: run.attempts,
                duration_ms: run.duration_ms,
                error: run.error.clone(),
            },
        );
        // A stage that skipped itself (it does not apply as the worker is configured:
        // `vl` with no provider) while everything it needs succeeded costs the job
        // nothing; one skipped because a dependency failed does.
        let skipped_itself = run.status == StageStatus::Skipped
            && run.stage.deps().iter().all(|d| {
                input
                    .runs
                    .iter()
                    .all(|r| r.stage != *d || r.status == StageStatus::Succeeded)
            });
        if run.status != StageStatus::Succeeded && !skipped_itself {
            let demoted = if run.stage.is_optional() {
                JobStatus::Partial
            } else {
                JobStatus::Failed
            };
            if status != JobStatus::Failed {
                status = demoted;
            }
            if first_error.is_none() && run.status == StageStatus::Failed {
                first_error = Some(format!(
                    "{}: {}",
                    run.stage,
                    run.error.as_deref().unwrap_or("failed")
                ));
            }
            continue;
        }
        let Some(output) = &run.output else { continue };
        let Value::Object(map) = output else {
            return Err(StageError::invalid(format!(
                "stage {} output is not a JSON object",
                run.stage
            )));
        };
        for (k, v) in map {
            match k.as_str() {
                "pages" => {
                    pages = serde_json::from_value(v.clone()).map_err(|e| {
                        StageError::invalid(format!(
                            "stage {} output has malformed pages: {e}",
                            run.stage
                        ))
                    })?
                }
                // Stage metadata (`_timings`, …) stays in stage_runs.output only.
                k if k == "media_type" || k.starts_with('_') => {}
                _ => {
                    extra.insert(k.clone(), v.clone());
                }
            }
        }
    }
    if input
        .runs
        .iter()
        .all(|r| r.status == StageStatus::Cancelled)
        && !input.runs.is_empty()
    {
        status = JobStatus::Cancelled;
    }
    stages.insert(
        Stage::Report.name().to_string(),
        StageSummary {
            status: "succeeded".into(),
            device: Some("cpu".into()),
            attempts: input.attempts,
            duration_ms: None,
            error: None,
        },
    );
    let page1 = pages
        .iter()
        .find(|p| p.index == 0)
        .map(|p| (f64::from(p.width), f64::from(p.height)));
    super::vl::crosscheck::annotate(&mut extra, page1);
    super::vl::crosscheck::merge_checklist(&mut extra);
    if let Some(e) = first_error {
        extra.insert("error".into(), Value::String(e));
    }
    Ok(Report {
        job_id: input.job_id,
        status,
        drawing: input.drawing,
        pages,
        stages,
        extra,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run_of(stage: Stage, status: StageStatus, output: Option<Value>) -> StageRun {
        StageRun {
            stage,
            status,
            device: Some("cpu".into()),
            attempts: 1,
            duration_ms: Some(1.0),
            error: None,
            output,
        }
    }

    fn input(runs: Vec<StageRun>) -> Input {
        Input {
            job_id: JobId::new(),
            drawing: DrawingInfo {
                sha256: "ab".repeat(32),
                media_type: "image/png".into(),
                bytes: 10,
            },
            runs,
            attempts: 1,
        }
    }

    #[test]
    fn decides_status_and_merges_outputs() {
        use StageStatus::*;
        struct Case {
            runs: Vec<StageRun>,
            want: JobStatus,
        }
        let pages = serde_json::json!({"media_type": "image/png", "pages": [{"index": 0, "width": 3, "height": 2, "dpi": null}]});
        let cases = [
            Case {
                runs: vec![run_of(Stage::Preprocess, Succeeded, Some(pages.clone()))],
                want: JobStatus::Completed,
            },
            Case {
                runs: vec![run_of(Stage::Preprocess, Failed, None)],
                want: JobStatus::Failed,
            },
            Case {
                runs: vec![
                    run_of(Stage::Preprocess, Succeeded, Some(pages.clone())),
                    run_of(Stage::Vl, Failed, None),
                ],
                want: JobStatus::Partial,
            },
            Case {
                runs: vec![
                    run_of(Stage::Vl, Failed, None),
                    run_of(Stage::Preprocess, Failed, None),
                ],
                want: JobStatus::Failed,
            },
        ];
        for c in cases {
            let r = run(&Params::default(), input(c.runs)).unwrap();
            assert_eq!(r.status, c.want);
        }
        let r = run(
            &Params::default(),
            input(vec![run_of(Stage::Preprocess, Succeeded, Some(pages))]),
        )
        .unwrap();
        assert_eq!(
            r.pages,
            vec![PageInfo {
                index: 0,
                width: 3,
                height: 2,
                dpi: None,
                skew_deg: None
            }]
        );
        assert_eq!(r.stages["report"].status, "succeeded");
        let json = serde_json::to_value(&r).unwrap();
        assert_eq!(json["drawing"]["bytes"], 10);
        assert!(json.get("media_type").is_none());
    }
}
