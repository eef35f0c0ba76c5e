//! Loads what each job of a batch needs (options, drawing, pages, input stages'
//! outputs, other runs), as the stage declares, and runs the stage through its
//! registry entry on the blocking pool.

use std::collections::HashMap;
use std::time::Instant;

use drawpipe_core::report::DrawingInfo;
use drawpipe_core::{JobId, JobStatus, Stage, StageError, StageStatus};
use serde_json::Value;
use sqlx::Row;
use uuid::Uuid;

use super::{with_retries, Ctx};
use crate::stages::contract::{AnyStage, Batch, Done, JobData, JobIn};
use crate::stages::report::StageRun;
use crate::stages::PageRaster;

/// What one stage computation produced.
pub(super) enum Outcome {
    Done {
        output: Value,
        device: String,
        pages: Vec<PageRaster>,
        /// `report` only: the job's final status, report and error, and the result
        /// rows of its stages.
        report: Option<Finished>,
    },
    Invalid(String),
    /// The stage does not apply (`StageError::Skipped`): ends `skipped`, not retried.
    Skipped(String),
    Retry(String),
}

/// A job's end, from its report.
pub(super) struct Finished {
    pub status: JobStatus,
    pub report: Value,
    pub error: Option<String>,
    pub rows: Vec<crate::stages::contract::TableRows>,
}

pub(super) fn stage_error(e: StageError) -> Outcome {
    match e {
        StageError::Invalid(m) => Outcome::Invalid(m),
        StageError::Skipped(m) => Outcome::Skipped(m),
        other => Outcome::Retry(other.to_string()),
    }
}

/// Runs `stage` for the claimed jobs `ids`. `Err` means infrastructure failed.
pub(super) async fn compute(
    stage: Stage,
    ids: &[JobId],
    attempts: &HashMap<JobId, u32>,
    ctx: &Ctx,
) -> anyhow::Result<Vec<(JobId, Outcome, f64)>> {
    let Some(def) = ctx.registry.get(stage) else {
        let why = format!("stage {stage} is not available in this worker build");
        return Ok(ids
            .iter()
            .map(|j| (*j, Outcome::Invalid(why.clone()), 0.0))
            .collect());
    };
    let engine = ctx.engines.get(&stage).cloned().ok_or_else(|| {
        anyhow::anyhow!("this worker consumes {stage} but has not loaded its model")
    })?;
    let jobs = load_jobs(def, ids, attempts, ctx).await?;
    // The result rows a report writes come from each succeeded stage's own output.
    let rows: Vec<Result<Vec<_>, StageError>> = if stage == Stage::Report {
        jobs.iter()
            .map(|(_, data)| rows_of(ctx, &data.runs))
            .collect()
    } else {
        Vec::new()
    };
    let limits = ctx.limits.clone();
    let mut out: Vec<(JobId, Outcome, f64)> = match def.batch() {
        Batch::Fused => {
            let ids: Vec<JobId> = jobs.iter().map(|(_, d)| d.job_id).collect();
            let _permit = ctx.compute.clone().acquire_owned().await;
            let start = Instant::now();
            let res = tokio::task::spawn_blocking(move || def.run(&engine, &limits, jobs)).await;
            let ms = start.elapsed().as_secs_f64() * 1000.0;
            match res {
                Ok(results) => ids
                    .into_iter()
                    .zip(results)
                    .map(|(job, r)| (job, outcome(r), ms))
                    .collect(),
                Err(e) => ids
                    .into_iter()
                    .map(|job| (job, Outcome::Retry(format!("stage panicked: {e}")), ms))
                    .collect(),
            }
        }
        Batch::PerJob => {
            let tasks = jobs.into_iter().map(|job| {
                let (engine, compute, limits) =
                    (engine.clone(), ctx.compute.clone(), limits.clone());
                async move {
                    let id = job.1.job_id;
                    let _permit = compute.acquire_owned().await;
                    let start = Instant::now();
                    let res = tokio::task::spawn_blocking(move || {
                        def.run(&engine, &limits, vec![job]).pop()
                    })
                    .await;
                    let ms = start.elapsed().as_secs_f64() * 1000.0;
                    let outcome = match res {
                        Ok(Some(r)) => outcome(r),
                        Ok(None) => Outcome::Retry("stage returned no result".into()),
                        Err(e) => Outcome::Retry(format!("stage panicked: {e}")),
                    };
                    (id, outcome, ms)
                }
            });
            futures::future::join_all(tasks).await
        }
    };
    if stage == Stage::Report {
        out = out
            .into_iter()
            .zip(rows)
            .map(|((job, o, ms), rows)| (job, finish(o, rows, ms), ms))
            .collect();
    }
    Ok(out)
}

fn outcome(r: Result<Done, StageError>) -> Outcome {
    match r {
        Ok(done) => Outcome::Done {
            output: done.output,
            device: done.device,
            pages: done.pages,
            report: None,
        },
        Err(e) => stage_error(e),
    }
}

/// Turns `report`'s output into the job's end: the report (its own duration set)
/// goes on the job, `stage_runs.output` gets `{}`.
fn finish(
    o: Outcome,
    rows: Result<Vec<crate::stages::contract::TableRows>, StageError>,
    ms: f64,
) -> Outcome {
    let Outcome::Done {
        mut output, device, ..
    } = o
    else {
        return o;
    };
    let rows = match rows {
        Ok(rows) => rows,
        Err(e) => return stage_error(e),
    };
    if let Some(s) = output.pointer_mut("/stages/report") {
        s["duration_ms"] = ms.into();
    }
    let status = output
        .get("status")
        .cloned()
        .and_then(|s| serde_json::from_value::<JobStatus>(s).ok())
        .unwrap_or(JobStatus::Failed);
    let error = output
        .get("error")
        .and_then(Value::as_str)
        .map(str::to_string);
    Outcome::Done {
        output: serde_json::json!({}),
        device,
        pages: Vec::new(),
        report: Some(Finished {
            status,
            report: output,
            error,
            rows,
        }),
    }
}

/// The result rows of a job's succeeded stage runs.
fn rows_of(
    ctx: &Ctx,
    runs: &[StageRun],
) -> Result<Vec<crate::stages::contract::TableRows>, StageError> {
    let mut rows = Vec::new();
    for run in runs.iter().filter(|r| r.status == StageStatus::Succeeded) {
        if let (Some(def), Some(output)) = (ctx.registry.get(run.stage), &run.output) {
            rows.extend(def.rows(output)?);
        }
    }
    Ok(rows)
}

/// Loads each job's data as `def` declares: options and drawing description
/// always; the file, the pages, input stages' outputs and other runs when asked.
async fn load_jobs(
    def: &dyn AnyStage,
    ids: &[JobId],
    attempts: &HashMap<JobId, u32>,
    ctx: &Ctx,
) -> anyhow::Result<Vec<JobIn>> {
    let stage = def.stage();
    let needs = def.needs();
    let uuids: Vec<Uuid> = ids.iter().map(|j| j.0).collect();
    let rows = with_retries(|| {
        sqlx::query(
            "SELECT j.id, j.options -> $2, d.sha256, d.media_type, d.size_bytes, \
             CASE WHEN $3 THEN d.content END FROM jobs j \
             JOIN drawings d ON d.sha256 = j.drawing_sha256 WHERE j.id = ANY($1)",
        )
        .bind(&uuids)
        .bind(stage.name())
        .bind(needs.content)
        .fetch_all(&ctx.pool)
    })
    .await?;
    let mut pages_of: HashMap<Uuid, Vec<(u32, Vec<u8>)>> = HashMap::new();
    if needs.pages {
        // Every job's pages in one query.
        let page_rows = with_retries(|| {
            sqlx::query(
                "SELECT job_id, page_index, raster_png FROM pages WHERE job_id = ANY($1) \
                 ORDER BY job_id, page_index",
            )
            .bind(&uuids)
            .fetch_all(&ctx.pool)
        })
        .await?;
        for r in page_rows {
            pages_of
                .entry(r.get(0))
                .or_default()
                .push((r.get::<i32, _>(1) as u32, r.get(2)));
        }
    }
    let mut outputs_of: HashMap<Uuid, Vec<(Stage, Value)>> = HashMap::new();
    if !def.inputs().is_empty() {
        let names: Vec<&str> = def.inputs().iter().map(|s| s.name()).collect();
        let out_rows = with_retries(|| {
            sqlx::query(
                "SELECT job_id, stage, output FROM stage_runs \
                 WHERE job_id = ANY($1) AND stage = ANY($2) AND output IS NOT NULL",
            )
            .bind(&uuids)
            .bind(&names)
            .fetch_all(&ctx.pool)
        })
        .await?;
        for r in out_rows {
            if let Ok(s) = r.get::<String, _>(1).parse::<Stage>() {
                outputs_of.entry(r.get(0)).or_default().push((s, r.get(2)));
            }
        }
    }
    let mut runs_of: HashMap<Uuid, Vec<StageRun>> = HashMap::new();
    if needs.runs {
        let runs = with_retries(|| {
            sqlx::query(
                "SELECT job_id, stage, status, device, attempts, duration_ms, error, output \
                 FROM stage_runs WHERE job_id = ANY($1) AND stage <> 'report'",
            )
            .bind(&uuids)
            .fetch_all(&ctx.pool)
        })
        .await?;
        for r in runs {
            let (Ok(stage), Ok(status)) = (
                r.get::<String, _>(1).parse::<Stage>(),
                r.get::<String, _>(2).parse::<StageStatus>(),
            ) else {
                continue;
            };
            runs_of.entry(r.get(0)).or_default().push(StageRun {
                stage,
                status,
                device: r.get(3),
                attempts: r.get::<i32, _>(4) as u32,
                duration_ms: r.get(5),
                error: r.get(6),
                output: r.get(7),
            });
        }
    }
    Ok(rows
        .into_iter()
        .map(|row| {
            let id: Uuid = row.get(0);
            let job = JobId(id);
            let mut data = JobData::new(
                job,
                DrawingInfo {
                    sha256: row.get(2),
                    media_type: row.get(3),
                    bytes: row.get::<i64, _>(4) as u64,
                },
            );
            data.content = row.get(5);
            data.pages = pages_of.remove(&id);
            data.outputs = outputs_of
                .remove(&id)
                .unwrap_or_default()
                .into_iter()
                .collect();
            let mut runs = runs_of.remove(&id).unwrap_or_default();
            runs.sort_by_key(|r| r.stage);
            data.runs = runs;
            data.attempts = attempts.get(&job).copied().unwrap_or(1);
            (row.get::<Option<Value>, _>(1), data)
        })
        .collect())
}
