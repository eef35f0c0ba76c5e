//! The worker runtime: consume stage queues, gather batches, claim, compute on the
//! blocking pool, settle in one transaction, then ack ([`acks`]: one frame for a run
//! of settled deliveries). This module consumes and
//! claims; [`compute`] loads each job's data and runs the stage through the
//! [`Registry`]; [`settle`] writes results, pages, rows and the next messages.
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

mod acks;
mod compute;
mod settle;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use drawpipe_core::db;
use drawpipe_core::limits::Limits;
use drawpipe_core::logging;
use drawpipe_core::message::{StageMessage, VERSION};
use drawpipe_core::mq::{self, OutboxRelay};
use drawpipe_core::trace::{self, TraceParent};
use drawpipe_core::{topology, JobId, Stage};
use futures::StreamExt;
use lapin::message::Delivery;
use lapin::options::BasicCancelOptions;
use sqlx::PgPool;
use tokio::sync::{Notify, Semaphore};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use self::acks::AckWindow;
use crate::metrics::WorkerMetrics;
use crate::stages::contract::{Engines, LoadedEngine};
use crate::stages::ocr;
use crate::stages::registry::Registry;

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
    /// Apply the migrations at start; `false`: wait until they are applied.
    pub migrate_on_start: bool,
    /// XGBoost device for `tolerance` (`cpu`, `cuda:N`).
    pub tolerance_device: String,
    /// Arithmetic of the OCR recogniser and classifier ([`ocr::Params::precision`]).
    pub ocr_precision: ocr::Precision,
    /// Arithmetic of the OCR detector ([`ocr::Params::det_precision`]).
    pub ocr_det_precision: ocr::Precision,
    /// Arithmetic of the detector in `edocr`'s sweep
    /// ([`ocr::EngineConfig::sweep_precision`]).
    pub ocr_sweep_precision: ocr::Precision,
    /// Arithmetic of the `detect` stage's model.
    pub detect_precision: ocr::Precision,
    /// Server-side maxima of per-job options (checked again before any work).
    pub limits: Limits,
}

struct Ctx {
    pool: PgPool,
    cfg: WorkerConfig,
    relay: Arc<Notify>,
    compute: Arc<Semaphore>,
    registry: &'static Registry,
    /// Each consumed stage's engine, loaded once at start.
    engines: HashMap<Stage, LoadedEngine>,
    /// Server-side maxima of per-job options.
    limits: Limits,
    metrics: Arc<WorkerMetrics>,
}

/// Runs the worker until `shutdown`, then drains in-flight work.
///
/// # Errors
/// When PostgreSQL cannot be reached at start or a stage's models cannot be loaded.
/// A lost (or not yet reachable) broker is waited for, never an error.
pub async fn run(cfg: WorkerConfig, shutdown: CancellationToken) -> anyhow::Result<()> {
    let pool = db::connect(&cfg.database_url, cfg.db_max_connections)
        .await
        .with_context(|| {
            format!(
                "cannot connect to PostgreSQL at {}",
                drawpipe_core::redact::url(&cfg.database_url)
            )
        })?;
    db::ensure_schema(&pool, cfg.migrate_on_start)
        .await
        .context("cannot apply database migrations")?;
    let broker = mq::Broker::new(&cfg.amqp_url, &cfg.name).map_err(|e| anyhow::anyhow!(e))?;
    let relay = OutboxRelay::new(pool.clone(), Duration::from_millis(500));

    let registry = Registry::builtin();
    let settings = Arc::new(Engines {
        ocr_precision: cfg.ocr_precision,
        ocr_det_precision: cfg.ocr_det_precision,
        ocr_sweep_precision: cfg.ocr_sweep_precision,
        detect_precision: cfg.detect_precision,
        tolerance_device: cfg.tolerance_device.clone(),
        ..Engines::default()
    });
    let mut engines = HashMap::new();
    for &stage in &cfg.stages {
        let Some(def) = registry.get(stage) else {
            anyhow::bail!("stage {stage} is not available in this worker build");
        };
        let settings = settings.clone();
        let engine = tokio::task::spawn_blocking(move || def.load(&settings))
            .await?
            .map_err(|e| anyhow::anyhow!("cannot load the {stage} models: {e}"))?;
        tracing::info!(stage = %stage, device = %engine.device, "stage ready");
        engines.insert(stage, engine);
    }
    let metrics = Arc::new(WorkerMetrics::default());
    if let Some(addr) = &cfg.metrics_listen {
        let listener = metrics
            .clone()
            .serve(addr.clone(), broker.clone(), shutdown.clone());
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
        let on_cuda = engines
            .iter()
            .filter(|(s, _)| s.pool() == drawpipe_core::Pool::Gpu)
            .any(|(_, e)| e.device.starts_with("cuda"));
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
        registry,
        engines,
        limits: cfg.limits.clone(),
        metrics: metrics.clone(),
    });
    tracing::info!(worker = %cfg.name, stages = ?cfg.stages.iter().map(|s| s.name()).collect::<Vec<_>>(), "worker started");

    // A lost broker ends a session, never the worker: unacked deliveries return to
    // their queues, and the next session consumes them again.
    {
        let ctx = ctx.clone();
        broker
            .supervise(&cfg.name, shutdown.clone(), |conn| {
                worker_session(conn, ctx.clone(), relay.clone(), shutdown.clone())
            })
            .await;
    }
    pool.close().await;
    tracing::info!(worker = %cfg.name, "worker stopped");
    Ok(())
}

/// One broker session, on a connection whose topology [`mq::Broker::supervise`] has
/// declared: relay the outbox and consume every stage queue until `shutdown` (`Ok`) or
/// until the connection is lost (`Err`).
async fn worker_session(
    conn: mq::Session,
    ctx: Arc<Ctx>,
    relay: OutboxRelay,
    shutdown: CancellationToken,
) -> mq::anyhow_like::Result {
    let relay_channel = conn.create_channel().await?;
    // Two channels a stage, one a consumer: acks are gathered per channel
    // ([`acks`]), which needs a channel's deliveries handed out in tag order.
    let mut channels = Vec::new();
    for &stage in &ctx.cfg.stages {
        channels.push((
            stage,
            conn.create_channel().await?,
            conn.create_channel().await?,
        ));
    }
    drop(conn);
    let relay_stop = CancellationToken::new();
    let mut relay_task = tokio::spawn(relay.run(relay_channel, relay_stop.clone()));
    // The consumers stop on shutdown, or when any part of the session is lost (then
    // they finish their in-flight batches first).
    let session_stop = shutdown.child_token();
    let mut consumers = tokio::task::JoinSet::new();
    for (stage, bulk_ch, fast_ch) in channels {
        consumers.spawn(consume_stage(
            stage,
            [bulk_ch, fast_ch],
            ctx.clone(),
            session_stop.clone(),
        ));
    }
    let flatten = |r: Result<mq::anyhow_like::Result, tokio::task::JoinError>| match r {
        Ok(r) => r,
        Err(e) => Err(format!("the relay task panicked: {e}").into()),
    };
    let mut first_error: Option<String> = None;
    let mut relay_result: Option<mq::anyhow_like::Result> = None;
    loop {
        tokio::select! {
            r = consumers.join_next() => match r {
                None => break,
                Some(Ok(Ok(()))) => {}
                Some(Ok(Err(e))) => {
                    tracing::warn!(error = %format!("{e:#}"), "consumer stopped");
                    first_error.get_or_insert(format!("{e:#}"));
                    session_stop.cancel();
                }
                Some(Err(e)) => {
                    first_error.get_or_insert(format!("consumer task panicked: {e}"));
                    session_stop.cancel();
                }
            },
            r = &mut relay_task, if relay_result.is_none() => {
                // The relay ends early only when its channel is lost.
                relay_result = Some(flatten(r));
                session_stop.cancel();
            }
        }
    }
    let relay_result = match relay_result {
        Some(r) => r,
        None => {
            relay_stop.cancel();
            flatten(relay_task.await)
        }
    };
    if let Some(e) = first_error {
        return Err(e.into());
    }
    relay_result?;
    if shutdown.is_cancelled() {
        Ok(())
    } else {
        Err("the broker session ended".into())
    }
}

async fn consume_stage(
    stage: Stage,
    [bulk_ch, fast_ch]: [lapin::Channel; 2],
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
    let fast_tag = format!("{tag}-interactive");
    let queue = topology::stage_queue(stage);
    let fast_queue = topology::interactive_queue(stage);
    let mut consumer = mq::consume(&bulk_ch, &queue, &tag, prefetch)
        .await
        .with_context(|| format!("cannot consume {queue}"))?;
    let mut fast = mq::consume(&fast_ch, &fast_queue, &fast_tag, prefetch)
        .await
        .with_context(|| format!("cannot consume {fast_queue}"))?;
    let bulk_acks = Arc::new(AckWindow::new(bulk_ch.clone()));
    let fast_acks = Arc::new(AckWindow::new(fast_ch.clone()));
    let tracker = TaskTracker::new();
    let inflight = Arc::new(Semaphore::new(cfg.concurrency.max(1)));
    let mut lost: Option<anyhow::Error> = None;
    loop {
        // A free slot first, then a batch: what waits in the interactive queue
        // before the bulk queue, so an interactive job overtakes a bulk backlog
        // (deliveries are not held while every slot is busy).
        let permit = tokio::select! {
            p = inflight.clone().acquire_owned() => p?,
            _ = shutdown.cancelled() => break,
        };
        let first = tokio::select! {
            biased;
            d = mq::next_delivery(&mut fast, &fast_queue, &shutdown) => d.map(|d| d.map(|d| (d, &fast_acks))),
            d = mq::next_delivery(&mut consumer, &queue, &shutdown) => d.map(|d| d.map(|d| (d, &bulk_acks))),
        };
        let first = match first {
            Ok(Some((d, acks))) => {
                acks.received(d.delivery_tag).await;
                (d, acks.clone())
            }
            Ok(None) => break,
            Err(e) => {
                lost = Some(e.into());
                break;
            }
        };
        let mut batch = vec![first];
        let deadline = tokio::time::Instant::now() + batch_wait;
        while batch.len() < batch_max {
            let next = async {
                tokio::select! {
                    biased;
                    d = fast.next() => d.map(|d| d.map(|d| (d, &fast_acks))),
                    d = consumer.next() => d.map(|d| d.map(|d| (d, &bulk_acks))),
                }
            };
            match tokio::time::timeout_at(deadline, next).await {
                Ok(Some(Ok((d, acks)))) => {
                    acks.received(d.delivery_tag).await;
                    batch.push((d, acks.clone()));
                }
                _ => break,
            }
        }
        let ctx = ctx.clone();
        tracker.spawn(async move {
            process_batch(stage, batch, &ctx).await;
            drop(permit);
        });
    }
    for (ch, t) in [(&bulk_ch, &tag), (&fast_ch, &fast_tag)] {
        let _ = ch.basic_cancel(t, BasicCancelOptions::default()).await;
    }
    tracker.close();
    if tokio::time::timeout(cfg.shutdown_grace, tracker.wait())
        .await
        .is_err()
    {
        tracing::warn!(stage = %stage, "in-flight work did not finish within the grace period; it returns to the queue");
    }
    for ch in [&bulk_ch, &fast_ch] {
        let _ = ch.close(200, "consumer stopped").await;
    }
    match lost {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

/// A delivery and the ack window of the channel it came on.
type Received = (Delivery, Arc<AckWindow>);

async fn process_batch(stage: Stage, deliveries: Vec<Received>, ctx: &Ctx) {
    let started = Instant::now();
    let mut msgs: Vec<(StageMessage, Received)> = Vec::with_capacity(deliveries.len());
    let mut spans = Vec::with_capacity(deliveries.len());
    for (d, acks) in deliveries {
        match serde_json::from_slice::<StageMessage>(&d.data) {
            Ok(m) if m.v == VERSION && m.stage == stage => {
                // The publisher's span (W3C trace context): this job's log lines
                // join its trace through `trace_id`.
                let parent = mq::header_text(d.properties.headers().as_ref(), trace::HEADER)
                    .and_then(|t| TraceParent::parse(&t));
                let trace_id = parent.map_or_else(|| trace::trace_id(m.job_id), |p| p.trace_hex());
                // The job's span for this stage lasts until the batch is settled; with
                // the `otel` feature it is exported as a child of the publisher's span.
                let span = tracing::info_span!("stage_message", job_id = %m.job_id, stage = %stage, attempt = m.attempt, trace_id = %trace_id);
                if let Some(p) = &parent {
                    logging::otel::set_remote_parent(&span, p);
                }
                span.in_scope(|| {
                    tracing::debug!(
                        job_id = %m.job_id,
                        stage = %stage,
                        attempt = m.attempt,
                        trace_id = %trace_id,
                        parent_span_id = parent.map(|p| p.span_hex()),
                        "stage message received"
                    )
                });
                spans.push(span);
                msgs.push((m, (d, acks)))
            }
            other => {
                tracing::warn!(stage = %stage, problem = ?other.err(), "undecodable or misrouted stage message; dead-lettering it");
                let _ = acks.reject(d.delivery_tag).await;
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

    let result = handle(stage, &ids, ctx).await;
    ctx.metrics.memory(stage.name());
    match result {
        Ok(()) => {
            for (acks, tags) in by_window(&msgs) {
                if let Err(e) = acks.ack(&tags).await {
                    tracing::warn!(error = %e, "ack failed; the messages will be redelivered and acked without recompute");
                }
            }
            ctx.relay.notify_one();
            tracing::debug!(stage = %stage, jobs = ids.len(), ms = started.elapsed().as_millis() as u64, "batch done");
        }
        Err(e) => {
            tracing::error!(stage = %stage, error = %format!("{e:#}"), "batch failed on infrastructure; requeueing");
            tokio::time::sleep(Duration::from_secs(1)).await;
            for (acks, tags) in by_window(&msgs) {
                let _ = acks.requeue(&tags).await;
            }
        }
    }
}

/// A batch's delivery tags grouped by the channel they came on (at most two).
fn by_window(msgs: &[(StageMessage, Received)]) -> Vec<(Arc<AckWindow>, Vec<u64>)> {
    let mut out: Vec<(Arc<AckWindow>, Vec<u64>)> = Vec::with_capacity(2);
    for (_, (d, acks)) in msgs {
        match out.iter_mut().find(|(w, _)| Arc::ptr_eq(w, acks)) {
            Some((_, tags)) => tags.push(d.delivery_tag),
            None => out.push((acks.clone(), vec![d.delivery_tag])),
        }
    }
    out
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

    let outcomes = compute::compute(stage, &live_ids, &attempts, ctx).await?;

    let mut attempt = 0;
    loop {
        attempt += 1;
        match settle::settle_all(stage, &outcomes, &exhausted, &attempts, ctx).await {
            Ok(()) => return Ok(()),
            Err(e) if attempt < 4 => {
                tracing::warn!(error = %format!("{e:#}"), attempt, "settle failed; retrying");
                tokio::time::sleep(Duration::from_millis(50 * (1 << attempt))).await;
            }
            Err(e) => return Err(e),
        }
    }
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
