//! The worker runtime: consume stage queues, gather batches, claim, compute on the
//! blocking pool, settle in one transaction, then ack.
//!
//! Invariants:
//! - a message is acked only after the transaction holding its stage result and its
//!   downstream outbox rows has committed (or when there is nothing to do: the run
//!   is finished already or the job was cancelled);
//! - a bad input fails its stage at once; other errors retry through the delay
//!   queues with backoff until `max_attempts`, then fail the stage;
//! - an undecodable message is rejected without requeue, so it dead-letters;
//! - on shutdown the consumers stop, in-flight batches finish and ack within the
//!   grace period, and whatever is still unacked returns to the queue when the
//!   channel closes.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use drawpipe_core::db::{self, Settlement};
use drawpipe_core::message::{StageMessage, VERSION};
use drawpipe_core::mq::{self, OutboxRelay};
use drawpipe_core::report::DrawingInfo;
use drawpipe_core::{topology, JobId, Stage, StageError, StageStatus};
use futures::StreamExt;
use lapin::message::Delivery;
use lapin::options::{BasicAckOptions, BasicCancelOptions, BasicNackOptions, BasicRejectOptions};
use serde_json::Value;
use sqlx::{PgPool, Row};
use tokio::sync::{Notify, Semaphore};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use uuid::Uuid;

use crate::metrics::WorkerMetrics;
use crate::stages::{detect, edocr, ocr, preprocess, report, segment, tolerance, PageRaster};

/// How a worker runs; see `drawpipe worker --help` for defaults.
#[derive(Debug, Clone)]
pub struct WorkerConfig {
    pub database_url: String,
    pub amqp_url: String,
    pub stages: Vec<Stage>,
    /// Batches in flight per stage.
    pub concurrency: usize,
    pub batch_max: usize,
    pub batch_wait: Duration,
    /// Batch bounds for gpu-pool stages; `gpu_batch_max` 0 is chosen at start: 4 when
    /// a gpu-pool model runs on CUDA, else 1 (see the worker's `--gpu-batch-max`).
    pub gpu_batch_max: usize,
    pub gpu_batch_wait: Duration,
    pub prefetch: u16,
    pub max_attempts: u32,
    pub shutdown_grace: Duration,
    pub db_max_connections: u32,
    pub name: String,
    /// Where to serve Prometheus metrics; none when `None`.
    pub metrics_listen: Option<String>,
    /// XGBoost device for `tolerance` (`cpu`, `cuda:N`).
    pub tolerance_device: String,
    /// Arithmetic of the OCR recogniser and classifier ([`ocr::Params::precision`]).
    pub ocr_precision: ocr::Precision,
    /// Arithmetic of the OCR detector ([`ocr::Params::det_precision`]).
    pub ocr_det_precision: ocr::Precision,
}

struct Ctx {
    pool: PgPool,
    cfg: WorkerConfig,
    relay: Arc<Notify>,
    compute: Arc<Semaphore>,
    /// Loaded once at start when this worker runs `ocr`.
    ocr: Option<Arc<ocr::OcrEngine>>,
    /// Loaded once at start when this worker runs `detect`.
    detect: Option<Arc<detect::DetectModel>>,
    /// Loaded once at start when this worker runs `segment`.
    segment: Option<Arc<segment::SegmentModel>>,
    /// Loaded once at start when this worker runs `tolerance`.
    tolerance: Option<Arc<tolerance::ToleranceModel>>,
    metrics: Arc<WorkerMetrics>,
}

/// Runs the worker until `shutdown`, then drains in-flight work.
///
/// # Errors
/// When PostgreSQL or RabbitMQ cannot be reached at start, or a consumer's
/// connection is lost.
pub async fn run(cfg: WorkerConfig, shutdown: CancellationToken) -> anyhow::Result<()> {
    let pool = db::connect(&cfg.database_url, cfg.db_max_connections)
        .await
        .with_context(|| {
            format!(
                "cannot connect to PostgreSQL at {}",
                redact(&cfg.database_url)
            )
        })?;
    db::MIGRATOR
        .run(&pool)
        .await
        .context("cannot apply database migrations")?;
    let conn = mq::connect(&cfg.amqp_url, &cfg.name)
        .await
        .with_context(|| format!("cannot connect to RabbitMQ at {}", redact(&cfg.amqp_url)))?;
    mq::declare_topology(&conn.create_channel().await?)
        .await
        .context("cannot declare the queue topology")?;
    let relay = OutboxRelay::new(
        pool.clone(),
        conn.create_channel().await?,
        Duration::from_millis(500),
    )
    .await?;
    let relay_stop = CancellationToken::new();
    let relay_task = tokio::spawn(relay.clone().run(relay_stop.clone()));

    let ocr = if cfg
        .stages
        .iter()
        .any(|s| matches!(s, Stage::Ocr | Stage::Edocr))
    {
        let params = ocr::Params {
            precision: cfg.ocr_precision,
            det_precision: cfg.ocr_det_precision,
            ..ocr::Params::default()
        };
        let engine = tokio::task::spawn_blocking(move || ocr::OcrEngine::load(&params))
            .await?
            .map_err(|e| anyhow::anyhow!("cannot load the ocr models: {e}"))?;
        tracing::info!(
            device = engine.device(),
            reason = engine.device_reason(),
            "ocr engine ready"
        );
        Some(Arc::new(engine))
    } else {
        None
    };
    let detect = if cfg.stages.contains(&Stage::Detect) {
        let model = tokio::task::spawn_blocking(|| {
            detect::DetectModel::load(&crate::ort_env::models_dir(), crate::ort_env::Device::Auto)
        })
        .await?
        .map_err(|e| anyhow::anyhow!("cannot load the detect model: {e}"))?;
        tracing::info!(device = model.device(), reason = %model.device_reason, "detect model ready");
        Some(Arc::new(model))
    } else {
        None
    };
    let segment = if cfg.stages.contains(&Stage::Segment) {
        let model = tokio::task::spawn_blocking(|| {
            segment::SegmentModel::load(&crate::ort_env::models_dir(), crate::ort_env::Device::Auto)
        })
        .await?
        .map_err(|e| anyhow::anyhow!("cannot load the segment model: {e}"))?;
        tracing::info!(device = model.device(), reason = %model.device_reason, "segment model ready");
        Some(Arc::new(model))
    } else {
        None
    };
    let tolerance = if cfg.stages.contains(&Stage::Tolerance) {
        let device = cfg.tolerance_device.clone();
        let model = tokio::task::spawn_blocking(move || {
            tolerance::ToleranceModel::load(
                &tolerance::model_dir(&crate::ort_env::models_dir()),
                &device,
            )
        })
        .await?
        .map_err(|e| anyhow::anyhow!("cannot load the tolerance model: {e}"))?;
        tracing::info!(device = model.device(), version = %model.manifest.version, "tolerance model ready");
        Some(Arc::new(model))
    } else {
        None
    };
    let metrics = Arc::new(WorkerMetrics::default());
    if let Some(addr) = &cfg.metrics_listen {
        let listener = metrics.clone().serve(addr.clone(), shutdown.clone());
        let addr = addr.clone();
        tokio::spawn(async move {
            if let Err(e) = listener.await {
                tracing::error!(addr, error = %e, "cannot serve worker metrics");
            }
        });
    }
    let threads = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(2);
    let mut cfg = cfg;
    if cfg.gpu_batch_max == 0 {
        let on_cuda = [
            ocr.as_ref().map(|e| e.device()),
            detect.as_ref().map(|d| d.device()),
            segment.as_ref().map(|s| s.device()),
        ]
        .into_iter()
        .flatten()
        .any(|d| d.starts_with("cuda"));
        cfg.gpu_batch_max = if on_cuda { 4 } else { 1 };
        tracing::info!(
            gpu_batch_max = cfg.gpu_batch_max,
            on_cuda,
            "gpu-pool batch size chosen"
        );
    }
    let ctx = Arc::new(Ctx {
        pool: pool.clone(),
        cfg: cfg.clone(),
        relay: relay.waker(),
        compute: Arc::new(Semaphore::new(threads)),
        ocr,
        detect,
        segment,
        tolerance,
        metrics: metrics.clone(),
    });
    tracing::info!(worker = %cfg.name, stages = ?cfg.stages.iter().map(|s| s.name()).collect::<Vec<_>>(), "worker started");

    let mut consumers = tokio::task::JoinSet::new();
    for &stage in &cfg.stages {
        let ch = conn.create_channel().await?;
        consumers.spawn(consume_stage(stage, ch, ctx.clone(), shutdown.clone()));
    }
    let mut result = Ok(());
    while let Some(r) = consumers.join_next().await {
        match r {
            Ok(Ok(())) => {}
            Ok(Err(e)) => {
                tracing::error!(error = %format!("{e:#}"), "consumer stopped");
                shutdown.cancel();
                result = Err(e);
            }
            Err(e) => {
                shutdown.cancel();
                result = Err(anyhow::anyhow!("consumer task panicked: {e}"));
            }
        }
    }
    relay_stop.cancel();
    let _ = relay_task.await;
    let _ = conn.close(200, "worker shutdown").await;
    pool.close().await;
    tracing::info!(worker = %cfg.name, "worker stopped");
    result
}

async fn consume_stage(
    stage: Stage,
    ch: lapin::Channel,
    ctx: Arc<Ctx>,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    let cfg = &ctx.cfg;
    let (batch_max, batch_wait, prefetch) = match stage.pool() {
        drawpipe_core::Pool::Cpu => (cfg.batch_max, cfg.batch_wait, cfg.prefetch),
        drawpipe_core::Pool::Gpu => {
            let prefetch = (cfg.gpu_batch_max * (cfg.concurrency + 1)).min(u16::MAX as usize);
            (cfg.gpu_batch_max, cfg.gpu_batch_wait, prefetch as u16)
        }
    };
    let tag = format!("{}-{}", cfg.name, stage.name());
    let queue = topology::stage_queue(stage);
    let mut consumer = mq::consume(&ch, &queue, &tag, prefetch)
        .await
        .with_context(|| format!("cannot consume {queue}"))?;
    let tracker = TaskTracker::new();
    let inflight = Arc::new(Semaphore::new(cfg.concurrency.max(1)));
    let mut lost: Option<anyhow::Error> = None;
    loop {
        let first = match mq::next_delivery(&mut consumer, &queue, &shutdown).await {
            Ok(Some(d)) => d,
            Ok(None) => break,
            Err(e) => {
                lost = Some(e.into());
                break;
            }
        };
        let mut batch = vec![first];
        let deadline = tokio::time::Instant::now() + batch_wait;
        while batch.len() < batch_max {
            match tokio::time::timeout_at(deadline, consumer.next()).await {
                Ok(Some(Ok(d))) => batch.push(d),
                _ => break,
            }
        }
        let permit = inflight.clone().acquire_owned().await?;
        let ctx = ctx.clone();
        tracker.spawn(async move {
            process_batch(stage, batch, &ctx).await;
            drop(permit);
        });
    }
    let _ = ch.basic_cancel(&tag, BasicCancelOptions::default()).await;
    tracker.close();
    if tokio::time::timeout(cfg.shutdown_grace, tracker.wait())
        .await
        .is_err()
    {
        tracing::warn!(stage = %stage, "in-flight work did not finish within the grace period; it returns to the queue");
    }
    let _ = ch.close(200, "consumer stopped").await;
    match lost {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

/// What one stage computation produced.
enum Outcome {
    Done {
        output: Value,
        device: String,
        pages: Vec<PageRaster>,
        report: Option<(drawpipe_core::JobStatus, Value, Option<String>)>,
    },
    Invalid(String),
    Retry(String),
}

async fn process_batch(stage: Stage, deliveries: Vec<Delivery>, ctx: &Ctx) {
    let started = Instant::now();
    let mut msgs: Vec<(StageMessage, Delivery)> = Vec::with_capacity(deliveries.len());
    for d in deliveries {
        match serde_json::from_slice::<StageMessage>(&d.data) {
            Ok(m) if m.v == VERSION && m.stage == stage => msgs.push((m, d)),
            other => {
                tracing::warn!(stage = %stage, problem = ?other.err(), "undecodable or misrouted stage message; dead-lettering it");
                let _ = d.reject(BasicRejectOptions { requeue: false }).await;
            }
        }
    }
    if msgs.is_empty() {
        return;
    }
    ctx.metrics.batch(stage.name(), msgs.len());
    let mut ids: Vec<JobId> = msgs.iter().map(|(m, _)| m.job_id).collect();
    ids.sort();
    ids.dedup();

    match handle(stage, &ids, ctx).await {
        Ok(()) => {
            for (_, d) in msgs {
                if let Err(e) = d.ack(BasicAckOptions::default()).await {
                    tracing::warn!(error = %e, "ack failed; the message will be redelivered and acked without recompute");
                }
            }
            ctx.relay.notify_one();
            tracing::debug!(stage = %stage, jobs = ids.len(), ms = started.elapsed().as_millis() as u64, "batch done");
        }
        Err(e) => {
            tracing::error!(stage = %stage, error = %format!("{e:#}"), "batch failed on infrastructure; requeueing");
            tokio::time::sleep(Duration::from_secs(1)).await;
            for (_, d) in msgs {
                let _ = d
                    .nack(BasicNackOptions {
                        requeue: true,
                        ..Default::default()
                    })
                    .await;
            }
        }
    }
}

/// Claims, computes and settles; an `Err` means infrastructure failed and the
/// messages should be requeued.
async fn handle(stage: Stage, ids: &[JobId], ctx: &Ctx) -> anyhow::Result<()> {
    let claims = with_retries(|| db::claim(&ctx.pool, stage, ids, &ctx.cfg.name)).await?;
    if claims.is_empty() {
        return Ok(());
    }
    let (exhausted, live): (Vec<_>, Vec<_>) = claims
        .into_iter()
        .partition(|c| c.attempts as u32 > ctx.cfg.max_attempts);
    let attempts: HashMap<JobId, u32> =
        live.iter().map(|c| (c.job_id, c.attempts as u32)).collect();
    let live_ids: Vec<JobId> = live.iter().map(|c| c.job_id).collect();

    let outcomes: Vec<(JobId, Outcome, f64)> = match stage {
        Stage::Preprocess => compute_preprocess(&live_ids, ctx).await?,
        Stage::Ocr => compute_ocr(&live_ids, ctx).await?,
        Stage::Edocr => compute_edocr(&live_ids, ctx).await?,
        Stage::Tolerance => compute_tolerance(&live_ids, ctx).await?,
        Stage::Segment => compute_segment(&live_ids, ctx).await?,
        Stage::Detect => compute_detect(&live_ids, ctx).await?,
        Stage::Report => compute_report(&live_ids, &attempts, ctx).await?,
        other => live_ids
            .iter()
            .map(|j| {
                (
                    *j,
                    Outcome::Invalid(format!(
                        "stage {other} is not available in this worker build"
                    )),
                    0.0,
                )
            })
            .collect(),
    };

    let mut attempt = 0;
    loop {
        attempt += 1;
        match settle_all(stage, &outcomes, &exhausted, &attempts, ctx).await {
            Ok(()) => return Ok(()),
            Err(e) if attempt < 4 => {
                tracing::warn!(error = %format!("{e:#}"), attempt, "settle failed; retrying");
                tokio::time::sleep(Duration::from_millis(50 * (1 << attempt))).await;
            }
            Err(e) => return Err(e),
        }
    }
}

async fn settle_all(
    stage: Stage,
    outcomes: &[(JobId, Outcome, f64)],
    exhausted: &[db::Claim],
    attempts: &HashMap<JobId, u32>,
    ctx: &Ctx,
) -> anyhow::Result<()> {
    let mut settlements = Vec::new();
    let mut retries = Vec::new();
    for (job, outcome, ms) in outcomes {
        let mut used = "cpu".to_string();
        let (status, output, error) = match outcome {
            Outcome::Done { output, device, .. } => {
                used = device.clone();
                (StageStatus::Succeeded, Some(output.clone()), None)
            }
            Outcome::Invalid(msg) => (StageStatus::Failed, None, Some(msg.clone())),
            Outcome::Retry(msg) => {
                let next = attempts.get(job).copied().unwrap_or(1) + 1;
                if next > ctx.cfg.max_attempts {
                    let why = format!("gave up after {} attempts: {msg}", next - 1);
                    (StageStatus::Failed, None, Some(why))
                } else {
                    retries.push((*job, next, msg.clone()));
                    continue;
                }
            }
        };
        settlements.push(Settlement {
            job_id: *job,
            status,
            output,
            error,
            device: Some(used),
            duration_ms: Some(*ms),
        });
    }
    for c in exhausted {
        settlements.push(Settlement {
            job_id: c.job_id,
            status: StageStatus::Failed,
            output: None,
            error: Some(format!(
                "gave up after {} attempts (the worker kept dying or timing out on this input)",
                c.attempts - 1
            )),
            device: None,
            duration_ms: None,
        });
    }

    let mut tx = ctx.pool.begin().await?;
    let live = db::settle(&mut tx, stage, &settlements).await?;
    let live_set: std::collections::HashSet<JobId> = live.iter().copied().collect();
    let done = |j: &JobId| live_set.contains(j);
    match stage {
        Stage::Preprocess => {
            let pages: Vec<(JobId, &PageRaster)> = outcomes
                .iter()
                .filter(|(j, _, _)| done(j))
                .flat_map(|(j, o, _)| match o {
                    Outcome::Done { pages, .. } => pages.iter().map(|p| (*j, p)).collect(),
                    _ => vec![],
                })
                .collect();
            insert_pages(&mut tx, &pages).await?;
        }
        Stage::Report => {
            let reports: Vec<_> = outcomes
                .iter()
                .filter(|(j, _, _)| done(j))
                .filter_map(|(j, o, _)| match o {
                    Outcome::Done {
                        report: Some(r), ..
                    } => Some((*j, r)),
                    _ => None,
                })
                .collect();
            finish_jobs(&mut tx, &reports).await?;
            insert_result_rows(&mut tx, &reports).await?;
            // A report that itself failed still ends the job.
            let failed: Vec<JobId> = settlements
                .iter()
                .filter(|s| s.status == StageStatus::Failed && done(&s.job_id))
                .map(|s| s.job_id)
                .collect();
            fail_jobs(&mut tx, &failed).await?;
        }
        _ => {}
    }
    db::retry_later(&mut tx, stage, &retries).await?;
    db::advance(&mut tx, &live).await?;
    tx.commit().await?;
    for st in settlements.iter().filter(|st| done(&st.job_id)) {
        let outcome = if st.status == StageStatus::Succeeded {
            "succeeded"
        } else {
            "failed"
        };
        ctx.metrics
            .outcome(stage.name(), outcome, st.duration_ms.unwrap_or(0.0));
    }
    for _ in &retries {
        ctx.metrics.outcome(stage.name(), "retried", 0.0);
    }
    Ok(())
}

async fn compute_preprocess(
    ids: &[JobId],
    ctx: &Ctx,
) -> anyhow::Result<Vec<(JobId, Outcome, f64)>> {
    let uuids: Vec<Uuid> = ids.iter().map(|j| j.0).collect();
    let rows = with_retries(|| {
        sqlx::query(
            "SELECT j.id, d.content, j.options -> 'preprocess' FROM jobs j \
             JOIN drawings d ON d.sha256 = j.drawing_sha256 WHERE j.id = ANY($1)",
        )
        .bind(&uuids)
        .fetch_all(&ctx.pool)
    })
    .await?;
    let tasks = rows.into_iter().map(|row| {
        let job = JobId(row.get(0));
        let bytes: Vec<u8> = row.get(1);
        let opts: Option<Value> = row.get(2);
        let compute = ctx.compute.clone();
        async move {
            let params: preprocess::Params = match opts.map(serde_json::from_value).transpose() {
                Ok(p) => p.unwrap_or_default(),
                Err(e) => {
                    return (
                        job,
                        Outcome::Invalid(format!("options.preprocess: {e}")),
                        0.0,
                    )
                }
            };
            let _permit = compute.acquire_owned().await;
            let start = Instant::now();
            let res = tokio::task::spawn_blocking(move || preprocess::run(&params, &bytes)).await;
            let ms = start.elapsed().as_secs_f64() * 1000.0;
            let outcome = match res {
                Ok(Ok(out)) => Outcome::Done {
                    device: "cpu".into(),
                    output: out.summary(),
                    pages: out.pages,
                    report: None,
                },
                Ok(Err(e)) => stage_error(e),
                Err(e) => Outcome::Retry(format!("stage panicked: {e}")),
            };
            (job, outcome, ms)
        }
    });
    Ok(futures::future::join_all(tasks).await)
}

async fn compute_report(
    ids: &[JobId],
    attempts: &HashMap<JobId, u32>,
    ctx: &Ctx,
) -> anyhow::Result<Vec<(JobId, Outcome, f64)>> {
    let uuids: Vec<Uuid> = ids.iter().map(|j| j.0).collect();
    let jobs = with_retries(|| {
        sqlx::query(
            "SELECT j.id, d.sha256, d.media_type, d.size_bytes FROM jobs j \
             JOIN drawings d ON d.sha256 = j.drawing_sha256 WHERE j.id = ANY($1)",
        )
        .bind(&uuids)
        .fetch_all(&ctx.pool)
    })
    .await?;
    let runs = with_retries(|| {
        sqlx::query(
            "SELECT job_id, stage, status, device, attempts, duration_ms, error, output \
             FROM stage_runs WHERE job_id = ANY($1) AND stage <> 'report'",
        )
        .bind(&uuids)
        .fetch_all(&ctx.pool)
    })
    .await?;
    let mut by_job: HashMap<Uuid, Vec<report::StageRun>> = HashMap::new();
    for r in runs {
        let (Ok(stage), Ok(status)) = (
            r.get::<String, _>(1).parse::<Stage>(),
            r.get::<String, _>(2).parse::<StageStatus>(),
        ) else {
            continue;
        };
        by_job.entry(r.get(0)).or_default().push(report::StageRun {
            stage,
            status,
            device: r.get(3),
            attempts: r.get::<i32, _>(4) as u32,
            duration_ms: r.get(5),
            error: r.get(6),
            output: r.get(7),
        });
    }
    let mut out = Vec::with_capacity(jobs.len());
    for row in jobs {
        let id: Uuid = row.get(0);
        let start = Instant::now();
        let mut runs = by_job.remove(&id).unwrap_or_default();
        runs.sort_by_key(|r| r.stage);
        let input = report::Input {
            job_id: JobId(id),
            drawing: DrawingInfo {
                sha256: row.get(1),
                media_type: row.get(2),
                bytes: row.get::<i64, _>(3) as u64,
            },
            runs,
            attempts: attempts.get(&JobId(id)).copied().unwrap_or(1),
        };
        let outcome = match report::run(&report::Params, input) {
            Ok(mut r) => {
                let ms = start.elapsed().as_secs_f64() * 1000.0;
                if let Some(s) = r.stages.get_mut("report") {
                    s.duration_ms = Some(ms);
                }
                let error = r
                    .extra
                    .get("error")
                    .and_then(Value::as_str)
                    .map(str::to_string);
                let json = serde_json::to_value(&r)?;
                Outcome::Done {
                    device: "cpu".into(),
                    output: serde_json::json!({}),
                    pages: vec![],
                    report: Some((r.status, json, error)),
                }
            }
            Err(e) => stage_error(e),
        };
        out.push((JobId(id), outcome, start.elapsed().as_secs_f64() * 1000.0));
    }
    Ok(out)
}

/// Reads every page of the batch's jobs with the process's OCR engine in one fused
/// inference ([`crate::stages::ocr_jobs`]): the lines of all the jobs share the
/// classifier and recogniser batches. Each job is charged the batch's wall time.
async fn compute_ocr(ids: &[JobId], ctx: &Ctx) -> anyhow::Result<Vec<(JobId, Outcome, f64)>> {
    let engine = ctx
        .ocr
        .clone()
        .ok_or_else(|| anyhow::anyhow!("this worker consumes ocr but has not loaded its model"))?;
    let inputs = load_page_inputs::<ocr::Params>(ids, ctx, Stage::Ocr, None).await?;
    let (mut out, mut jobs, mut ready) = (Vec::new(), Vec::new(), Vec::new());
    for (job, input) in inputs {
        match input {
            Ok((params, pages, _)) => {
                jobs.push(job);
                ready.push((params, pages));
            }
            Err(outcome) => out.push((job, outcome, 0.0)),
        }
    }
    if ready.is_empty() {
        return Ok(out);
    }
    let _permit = ctx.compute.clone().acquire_owned().await;
    let start = Instant::now();
    let res = tokio::task::spawn_blocking(move || {
        let fused: Vec<(&ocr::Params, Vec<(u32, &[u8])>)> = ready
            .iter()
            .map(|(p, pages)| {
                (
                    p,
                    pages.iter().map(|(i, png)| (*i, png.as_slice())).collect(),
                )
            })
            .collect();
        crate::stages::ocr_jobs(&engine, &fused)
    })
    .await;
    let ms = start.elapsed().as_secs_f64() * 1000.0;
    match res {
        Ok(results) => out.extend(jobs.into_iter().zip(results).map(|(job, r)| {
            let outcome = match r {
                Ok((output, device)) => Outcome::Done {
                    output,
                    device,
                    pages: vec![],
                    report: None,
                },
                Err(e) => stage_error(e),
            };
            (job, outcome, ms)
        })),
        Err(e) => out.extend(
            jobs.into_iter()
                .map(|job| (job, Outcome::Retry(format!("stage panicked: {e}")), ms)),
        ),
    }
    Ok(out)
}

/// Reads dimensions, GD&T frames and the title block of each job's pages, from the
/// page rasters and the `ocr` stage's lines.
async fn compute_edocr(ids: &[JobId], ctx: &Ctx) -> anyhow::Result<Vec<(JobId, Outcome, f64)>> {
    compute_on_pages(
        ids,
        ctx,
        Stage::Edocr,
        Some(Stage::Ocr),
        ctx.ocr.clone(),
        |params: &edocr::Params, engine: &ocr::OcrEngine, pages, ocr_out| {
            let lines: Vec<ocr::TextLine> = ocr_out
                .and_then(|o| o.get("text").cloned())
                .map(serde_json::from_value)
                .transpose()
                .map_err(|e| StageError::invalid(format!("edocr: malformed ocr output: {e}")))?
                .unwrap_or_default();
            crate::stages::edocr_pages(
                params,
                engine,
                pages.iter().map(|(i, png)| (*i, png.as_slice())),
                &lines,
            )
        },
    )
    .await
}

/// Detects symbols on each job's pages.
async fn compute_detect(ids: &[JobId], ctx: &Ctx) -> anyhow::Result<Vec<(JobId, Outcome, f64)>> {
    compute_on_pages(
        ids,
        ctx,
        Stage::Detect,
        None,
        ctx.detect.clone(),
        |params: &detect::Params, model: &detect::DetectModel, pages, _| {
            crate::stages::detect_pages(
                params,
                model,
                pages.iter().map(|(i, png)| (*i, png.as_slice())),
            )
        },
    )
    .await
}

/// Segments the line work of each job's pages.
async fn compute_segment(ids: &[JobId], ctx: &Ctx) -> anyhow::Result<Vec<(JobId, Outcome, f64)>> {
    compute_on_pages(
        ids,
        ctx,
        Stage::Segment,
        None,
        ctx.segment.clone(),
        |params: &segment::Params, model: &segment::SegmentModel, pages, _| {
            crate::stages::segment_pages(
                params,
                model,
                pages.iter().map(|(i, png)| (*i, png.as_slice())),
            )
        },
    )
    .await
}

/// Predicts each job's tolerances from its `edocr` output and `options.tolerance`.
async fn compute_tolerance(ids: &[JobId], ctx: &Ctx) -> anyhow::Result<Vec<(JobId, Outcome, f64)>> {
    let model = ctx
        .tolerance
        .clone()
        .ok_or_else(|| anyhow::anyhow!("this worker consumes tolerance but has no model"))?;
    let uuids: Vec<Uuid> = ids.iter().map(|j| j.0).collect();
    let rows = with_retries(|| {
        sqlx::query(
            "SELECT j.id, j.options -> 'tolerance', s.output FROM jobs j \
             LEFT JOIN stage_runs s ON s.job_id = j.id AND s.stage = 'edocr' WHERE j.id = ANY($1)",
        )
        .bind(&uuids)
        .fetch_all(&ctx.pool)
    })
    .await?;
    let jobs: Vec<(JobId, Option<Value>, Option<Value>)> = rows
        .into_iter()
        .map(|r| (JobId(r.get(0)), r.get(1), r.get(2)))
        .collect();
    // One prediction is microseconds: the whole batch runs in one blocking task.
    let out = tokio::task::spawn_blocking(move || {
        jobs.into_iter()
            .map(|(job, opts, edocr_out)| {
                let start = Instant::now();
                let params: tolerance::Params = match opts.map(serde_json::from_value).transpose() {
                    Ok(p) => p.unwrap_or_default(),
                    Err(e) => {
                        return (
                            job,
                            Outcome::Invalid(format!("options.tolerance: {e}")),
                            0.0,
                        )
                    }
                };
                let input = tolerance::Input::from_edocr_output(edocr_out.as_ref());
                let outcome = match tolerance::run(&model, &params, &input) {
                    Ok(output) => Outcome::Done {
                        output,
                        device: model.device().to_string(),
                        pages: vec![],
                        report: None,
                    },
                    Err(e) => stage_error(e),
                };
                (job, outcome, start.elapsed().as_secs_f64() * 1000.0)
            })
            .collect::<Vec<_>>()
    })
    .await?;
    Ok(out)
}

/// Runs an inference stage per job over its page rasters with the process's OCR
/// engine: loads the job's `options.<stage>` as `P` and, when `input` is given, that
/// stage's output; then runs `f` on the blocking pool, jobs in parallel up to the
/// compute permits (each inference already uses the session's intra-op threads).
async fn compute_on_pages<P, E, F>(
    ids: &[JobId],
    ctx: &Ctx,
    stage: Stage,
    input: Option<Stage>,
    engine: Option<Arc<E>>,
    f: F,
) -> anyhow::Result<Vec<(JobId, Outcome, f64)>>
where
    P: serde::de::DeserializeOwned + Default + Send + 'static,
    E: Send + Sync + 'static,
    F: Fn(&P, &E, &[(u32, Vec<u8>)], Option<Value>) -> Result<(Value, String), StageError>
        + Clone
        + Send
        + 'static,
{
    let engine = engine.ok_or_else(|| {
        anyhow::anyhow!("this worker consumes {stage} but has not loaded its model")
    })?;
    let inputs = load_page_inputs::<P>(ids, ctx, stage, input).await?;
    let tasks = inputs.into_iter().map(|(job, input)| {
        let (engine, compute, f) = (engine.clone(), ctx.compute.clone(), f.clone());
        async move {
            let (params, pages, input_output) = match input {
                Ok(i) => i,
                Err(outcome) => return (job, outcome, 0.0),
            };
            let _permit = compute.acquire_owned().await;
            let start = Instant::now();
            let res =
                tokio::task::spawn_blocking(move || f(&params, &engine, &pages, input_output))
                    .await;
            let ms = start.elapsed().as_secs_f64() * 1000.0;
            let outcome = match res {
                Ok(Ok((output, device))) => Outcome::Done {
                    output,
                    device,
                    pages: vec![],
                    report: None,
                },
                Ok(Err(e)) => stage_error(e),
                Err(e) => Outcome::Retry(format!("stage panicked: {e}")),
            };
            (job, outcome, ms)
        }
    });
    Ok(futures::future::join_all(tasks).await)
}

/// A job's inputs for a page stage: its `options.<stage>` as `P`, its page rasters
/// (`(index, PNG)`) and, when asked, another stage's output; or the outcome that ends
/// the job without compute (bad options, no pages).
type PageInput<P> = Result<(P, Vec<(u32, Vec<u8>)>, Option<Value>), Outcome>;

/// Loads [`PageInput`]s for `ids` (`input`: the stage whose output comes along).
async fn load_page_inputs<P>(
    ids: &[JobId],
    ctx: &Ctx,
    stage: Stage,
    input: Option<Stage>,
) -> anyhow::Result<Vec<(JobId, PageInput<P>)>>
where
    P: serde::de::DeserializeOwned + Default,
{
    let uuids: Vec<Uuid> = ids.iter().map(|j| j.0).collect();
    let input_name = input.map(Stage::name).unwrap_or("");
    let rows = with_retries(|| {
        sqlx::query(
            "SELECT j.id, j.options -> $2, s.output FROM jobs j \
             LEFT JOIN stage_runs s ON s.job_id = j.id AND s.stage = $3 WHERE j.id = ANY($1)",
        )
        .bind(&uuids)
        .bind(stage.name())
        .bind(input_name)
        .fetch_all(&ctx.pool)
    })
    .await?;
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
    let mut pages_of: std::collections::HashMap<Uuid, Vec<(u32, Vec<u8>)>> = Default::default();
    for r in page_rows {
        pages_of
            .entry(r.get(0))
            .or_default()
            .push((r.get::<i32, _>(1) as u32, r.get(2)));
    }
    let mut out = Vec::with_capacity(rows.len());
    for row in rows {
        let job = JobId(row.get(0));
        let opts: Option<Value> = row.get(1);
        let input_output: Option<Value> = row.get(2);
        let params: P = match opts.map(serde_json::from_value).transpose() {
            Ok(p) => p.unwrap_or_default(),
            Err(e) => {
                out.push((job, Err(Outcome::Invalid(format!("options.{stage}: {e}")))));
                continue;
            }
        };
        let Some(pages) = pages_of.remove(&job.0) else {
            let why = format!("{stage}: the job has no page rasters (preprocess stored none)");
            out.push((job, Err(Outcome::Invalid(why))));
            continue;
        };
        out.push((job, Ok((params, pages, input_output))));
    }
    Ok(out)
}

/// Writes the report's result rows: `text` → `text_lines`, `dimensions` →
/// `dimensions`, `gdt` → `gdt_frames`, `title_block` → `title_blocks`.
async fn insert_result_rows(
    tx: &mut sqlx::Transaction<'_, sqlx::Postgres>,
    reports: &[(JobId, &(drawpipe_core::JobStatus, Value, Option<String>))],
) -> Result<(), sqlx::Error> {
    const TEXT: &str =
        "page_index int, line_index int, text text, confidence real, polygon real[], \
                        x real, y real, width real, height real";
    const DIMENSIONS: &str = "item_index int, page_index int, raw text, kind text, nominal float8, unit text, \
                              upper float8, lower float8, fit text, thread text, count int, reference bool, \
                              basic bool, chamfer_angle float8, roughness text, general_tolerance text, \
                              confidence real, polygon real[], x real, y real, width real, height real";
    const GDT: &str = "item_index int, page_index int, raw text, characteristic text, symbol text, \
                       tolerance float8, diameter_zone bool, modifiers text[], datums text[], confidence real, \
                       polygon real[], x real, y real, width real, height real";
    const TITLE: &str =
        "drawing_number text, title text, material text, scale text, sheet text, revision text, \
                         date text, weight text, general_tolerance text, fields jsonb";
    const TOLERANCE: &str = "flatness_mm float8, cylindricity_mm float8, position_mm float8, \
                             perpendicularity_mm float8, manufacturability float8, difficulty text, \
                             assemblability float8, material text, material_source text, process text, \
                             process_source text, features jsonb, assumptions text[], model_version text";
    const DETECTIONS: &str = "item_index int, page_index int, class_id int, class_name text, \
                              confidence real, x real, y real, width real, height real";
    const SEGMENTS: &str = "page_index int, components int, edges int, average_degree real, \
                            contour int, text int, dimension int";
    for (job, (_, report, _)) in reports {
        if let Some(items) = report.get("detections").and_then(Value::as_array) {
            let rows: Vec<Value> = items
                .iter()
                .enumerate()
                .map(|(i, d)| {
                    serde_json::json!({
                        "item_index": i, "page_index": d["page"], "class_id": d["class_id"],
                        "class_name": d["class_name"], "confidence": d["confidence"],
                        "x": d["bbox"][0], "y": d["bbox"][1], "width": d["bbox"][2], "height": d["bbox"][3],
                    })
                })
                .collect();
            if !rows.is_empty() {
                insert_recordset(tx, "detections", DETECTIONS, *job, Value::Array(rows)).await?;
            }
        }
        if let Some(pages) = report.get("segments").and_then(Value::as_array) {
            let rows: Vec<Value> = pages
                .iter()
                .map(|p| {
                    serde_json::json!({
                        "page_index": p["page"], "components": p["components"], "edges": p["edges"],
                        "average_degree": p["average_degree"], "contour": p["counts"]["contour"],
                        "text": p["counts"]["text"], "dimension": p["counts"]["dimension"],
                    })
                })
                .collect();
            if !rows.is_empty() {
                insert_recordset(tx, "segments", SEGMENTS, *job, Value::Array(rows)).await?;
            }
        }
        if let Some(t) = report.get("tolerances").filter(|t| t.is_object()) {
            insert_recordset(
                tx,
                "tolerance_predictions",
                TOLERANCE,
                *job,
                Value::Array(vec![tolerance_row(t)]),
            )
            .await?;
        }
        if let Some(rows) = geometry_rows(report.get("text"), "line_index") {
            insert_recordset(tx, "text_lines", TEXT, *job, rows).await?;
        }
        if let Some(rows) = geometry_rows(report.get("dimensions"), "item_index") {
            insert_recordset(tx, "dimensions", DIMENSIONS, *job, rows).await?;
        }
        if let Some(rows) = geometry_rows(report.get("gdt"), "item_index") {
            insert_recordset(tx, "gdt_frames", GDT, *job, rows).await?;
        }
        if let Some(Value::Object(fields)) = report.get("title_block") {
            if !fields.is_empty() {
                let mut row = fields.clone();
                row.insert("fields".into(), Value::Object(fields.clone()));
                insert_recordset(
                    tx,
                    "title_blocks",
                    TITLE,
                    *job,
                    Value::Array(vec![Value::Object(row)]),
                )
                .await?;
            }
        }
    }
    Ok(())
}

/// Flattens the report's `tolerances` object into a `tolerance_predictions` row.
fn tolerance_row(t: &Value) -> Value {
    serde_json::json!({
        "flatness_mm": t["flatness_mm"],
        "cylindricity_mm": t["cylindricity_mm"],
        "position_mm": t["position_mm"],
        "perpendicularity_mm": t["perpendicularity_mm"],
        "manufacturability": t["manufacturability"]["score"],
        "difficulty": t["manufacturability"]["difficulty"],
        "assemblability": t["assemblability"]["score"],
        "material": t["material"]["name"],
        "material_source": t["material"]["source"],
        "process": t["process"]["name"],
        "process_source": t["process"]["source"],
        "features": t["features"],
        "assumptions": t["assumptions"],
        "model_version": t["model"]["version"],
    })
}

/// Turns report items (`page`, `polygon` [[x, y]; 4], `bbox` [x, y, w, h], …) into
/// flat rows: `page_index`, `polygon` as 8 numbers, `x`, `y`, `width`, `height`, and
/// an index column numbering the items per page (`line_index`) or per job.
fn geometry_rows(items: Option<&Value>, index: &str) -> Option<Value> {
    let items = items?.as_array().filter(|a| !a.is_empty())?;
    let mut per_page: HashMap<u64, i64> = HashMap::new();
    let rows = items
        .iter()
        .enumerate()
        .filter_map(|(i, item)| {
            let mut row = item.as_object()?.clone();
            let page = item.get("page").and_then(Value::as_u64).unwrap_or(0);
            let flat: Vec<Value> = item
                .get("polygon")?
                .as_array()?
                .iter()
                .flat_map(|p| p.as_array().cloned().unwrap_or_default())
                .collect();
            let bbox = item.get("bbox")?.as_array()?.clone();
            let n = per_page.entry(page).or_insert(0);
            let idx = if index == "line_index" { *n } else { i as i64 };
            *n += 1;
            row.insert("page_index".into(), page.into());
            row.insert(index.into(), idx.into());
            row.insert("polygon".into(), Value::Array(flat));
            for (k, v) in ["x", "y", "width", "height"].iter().zip(bbox) {
                row.insert((*k).into(), v);
            }
            Some(Value::Object(row))
        })
        .collect();
    Some(Value::Array(rows))
}

/// `INSERT INTO table (job_id, cols…) SELECT $1, cols… FROM jsonb_to_recordset($2)`.
async fn insert_recordset(
    tx: &mut sqlx::Transaction<'_, sqlx::Postgres>,
    table: &str,
    columns: &str,
    job: JobId,
    rows: Value,
) -> Result<(), sqlx::Error> {
    let names: Vec<&str> = columns
        .split(',')
        .filter_map(|c| c.split_whitespace().next())
        .collect();
    let names = names.join(", ");
    let sql = format!(
        "INSERT INTO {table} (job_id, {names}) SELECT $1, {names} FROM jsonb_to_recordset($2) AS r({columns}) \
         ON CONFLICT DO NOTHING"
    );
    sqlx::query(&sql)
        .bind(job.0)
        .bind(rows)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

fn stage_error(e: StageError) -> Outcome {
    match e {
        StageError::Invalid(m) => Outcome::Invalid(m),
        other => Outcome::Retry(other.to_string()),
    }
}

async fn insert_pages(
    tx: &mut sqlx::Transaction<'_, sqlx::Postgres>,
    pages: &[(JobId, &PageRaster)],
) -> Result<(), sqlx::Error> {
    if pages.is_empty() {
        return Ok(());
    }
    let ids: Vec<Uuid> = pages.iter().map(|(j, _)| j.0).collect();
    let idx: Vec<i32> = pages.iter().map(|(_, p)| p.info.index as i32).collect();
    let w: Vec<i32> = pages.iter().map(|(_, p)| p.info.width as i32).collect();
    let h: Vec<i32> = pages.iter().map(|(_, p)| p.info.height as i32).collect();
    let dpi: Vec<Option<f32>> = pages.iter().map(|(_, p)| p.info.dpi).collect();
    let png: Vec<&[u8]> = pages.iter().map(|(_, p)| p.png.as_slice()).collect();
    sqlx::query(
        "INSERT INTO pages (job_id, page_index, width, height, dpi, raster_png) \
         SELECT * FROM unnest($1::uuid[], $2::int[], $3::int[], $4::int[], $5::real[], $6::bytea[]) \
         ON CONFLICT (job_id, page_index) DO UPDATE SET width = EXCLUDED.width, height = EXCLUDED.height, \
         dpi = EXCLUDED.dpi, raster_png = EXCLUDED.raster_png",
    )
    .bind(&ids)
    .bind(&idx)
    .bind(&w)
    .bind(&h)
    .bind(&dpi)
    .bind(&png)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Marks jobs finished with their report and writes their events.
async fn finish_jobs(
    tx: &mut sqlx::Transaction<'_, sqlx::Postgres>,
    reports: &[(JobId, &(drawpipe_core::JobStatus, Value, Option<String>))],
) -> Result<(), sqlx::Error> {
    if reports.is_empty() {
        return Ok(());
    }
    let ids: Vec<Uuid> = reports.iter().map(|(j, _)| j.0).collect();
    let statuses: Vec<&str> = reports.iter().map(|(_, r)| r.0.as_str()).collect();
    let docs: Vec<String> = reports.iter().map(|(_, r)| r.1.to_string()).collect();
    let errors: Vec<Option<&str>> = reports.iter().map(|(_, r)| r.2.as_deref()).collect();
    sqlx::query(
        r#"
        WITH v AS (SELECT * FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[]) AS v(id, status, report, error)),
        u AS (
            UPDATE jobs j SET status = v.status, report = v.report::jsonb, error = v.error,
                   finished_at = now(), updated_at = now()
            FROM v WHERE j.id = v.id AND j.status IN ('queued', 'running')
            RETURNING j.id, j.status, j.error
        )
        INSERT INTO outbox (job_id, exchange, routing_key, payload)
        SELECT u.id, 'drawpipe.events', 'job.' || u.id || '.' || u.status,
               jsonb_build_object('v', 1, 'job_id', u.id, 'kind', u.status, 'status', u.status,
                                  'error', u.error, 'at', now())
        FROM u
        "#,
    )
    .bind(&ids)
    .bind(&statuses)
    .bind(&docs)
    .bind(&errors)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

async fn fail_jobs(
    tx: &mut sqlx::Transaction<'_, sqlx::Postgres>,
    jobs: &[JobId],
) -> Result<(), sqlx::Error> {
    for job in jobs {
        sqlx::query(
            "UPDATE jobs SET status = 'failed', error = coalesce(error, 'report stage failed'), \
             finished_at = now(), updated_at = now() WHERE id = $1 AND status IN ('queued', 'running')",
        )
        .bind(job.0)
        .execute(&mut **tx)
        .await?;
        let event = db::job_event(*job, "failed", "failed", Some("report stage failed"));
        db::insert_outbox(
            tx,
            Some(*job),
            topology::EVENTS_EXCHANGE,
            &format!("job.{job}.failed"),
            &event,
        )
        .await?;
    }
    Ok(())
}

/// Retries a database call a few times on transient errors (connection blips,
/// deadlocks, serialization failures).
async fn with_retries<T, F, Fut>(mut f: F) -> Result<T, sqlx::Error>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, sqlx::Error>>,
{
    let mut attempt = 0;
    loop {
        attempt += 1;
        match f().await {
            Ok(v) => return Ok(v),
            Err(e) if attempt < 4 => {
                tracing::warn!(error = %e, attempt, "database call failed; retrying");
                tokio::time::sleep(Duration::from_millis(100 * (1 << attempt))).await;
            }
            Err(e) => return Err(e),
        }
    }
}

/// Hides a password in a URL for logs and errors.
pub fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => {
            let creds = &url[s + 3..at];
            match creds.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..s + 3], &url[at..]),
                None => url.to_string(),
            }
        }
        _ => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redacts_passwords() {
        assert_eq!(
            redact("amqp://guest:guest@127.0.0.1:5672/%2f"),
            "amqp://guest:***@127.0.0.1:5672/%2f"
        );
        assert_eq!(
            redact("postgres://postgres@127.0.0.1/db"),
            "postgres://postgres@127.0.0.1/db"
        );
    }
}
