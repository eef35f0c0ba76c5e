//! Group commit for job intake: submissions that arrive while earlier inserts are
//! in flight are stored together, in one statement and one commit
//! ([`db::insert_jobs`]), instead of one round trip and one WAL flush each.
//!
//! Nothing waits on purpose: a lone submission is inserted at once; under load the
//! submissions that queue while [`IN_FLIGHT`] batches run form the next batch. Each
//! submitter still hears only after its job is committed (durability is as before).
//! A batch the server rejects (a value one job carries that PostgreSQL will not
//! store) is retried job by job, so the one bad job fails alone; an unreachable
//! database fails the whole batch with the same retryable error.

use std::sync::Arc;

use bytes::Bytes;
use drawpipe_core::{db, JobId, StagePlan};
use serde_json::Value;
use sqlx::PgPool;
use tokio::sync::{mpsc, oneshot, Semaphore};

/// Most jobs in one statement.
pub const MAX_BATCH: usize = 256;
/// Batches inserted at once.
pub const IN_FLIGHT: usize = 4;

/// A validated job, owned. Only jobs without an idempotency key go through the
/// batcher; a keyed one is stored alone by [`db::insert_job`] from [`Job::row`].
pub struct Job {
    pub id: JobId,
    pub sha256: String,
    pub media_type: &'static str,
    pub content: Bytes,
    pub filename: Option<String>,
    pub requested: Vec<String>,
    pub plan: StagePlan,
    pub options: Value,
    pub priority: i16,
    pub idempotency_key: Option<String>,
    pub api_key_id: Option<i64>,
    pub source: String,
}

impl Job {
    pub fn row(&self) -> db::NewJob<'_> {
        db::NewJob {
            id: self.id,
            sha256: &self.sha256,
            media_type: self.media_type,
            content: &self.content,
            filename: self.filename.as_deref(),
            requested: &self.requested,
            plan: &self.plan,
            options: &self.options,
            priority: self.priority,
            idempotency_key: self.idempotency_key.as_deref(),
            api_key_id: self.api_key_id,
            source: &self.source,
        }
    }
}

type Reply = oneshot::Sender<Result<(), sqlx::Error>>;

/// The handle submitters send jobs through; cloning shares one batcher.
#[derive(Clone)]
pub struct Inserter {
    tx: mpsc::Sender<(Job, Reply)>,
}

impl Inserter {
    /// Starts the batcher on the current runtime; it ends when every handle is
    /// dropped, after storing what was sent.
    pub fn start(pool: PgPool) -> Inserter {
        let (tx, rx) = mpsc::channel(4 * MAX_BATCH);
        tokio::spawn(run(pool, rx));
        Inserter { tx }
    }

    /// Stores `job`; returns once it is committed.
    ///
    /// # Errors
    /// The insert's error (for a batch that could not reach the database, each of
    /// its jobs gets an error of the same kind and text).
    pub async fn insert(&self, job: Job) -> Result<(), sqlx::Error> {
        let (reply, done) = oneshot::channel();
        self.tx
            .send((job, reply))
            .await
            .map_err(|_| sqlx::Error::PoolClosed)?;
        done.await.map_err(|_| sqlx::Error::PoolClosed)?
    }
}

async fn run(pool: PgPool, mut rx: mpsc::Receiver<(Job, Reply)>) {
    let slots = Arc::new(Semaphore::new(IN_FLIGHT));
    loop {
        let Ok(permit) = slots.clone().acquire_owned().await else {
            return;
        };
        let Some(first) = rx.recv().await else {
            return;
        };
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(next) => batch.push(next),
                Err(_) => break,
            }
        }
        let pool = pool.clone();
        tokio::spawn(async move {
            store(&pool, batch).await;
            drop(permit);
        });
    }
}

/// Inserts a batch and answers each submitter.
async fn store(pool: &PgPool, batch: Vec<(Job, Reply)>) {
    let (jobs, replies): (Vec<Job>, Vec<Reply>) = batch.into_iter().unzip();
    for (reply, result) in replies.into_iter().zip(store_batch(pool, &jobs).await) {
        let _ = reply.send(result);
    }
}

/// Inserts `jobs` in one statement: each job's result, in order. When the server
/// refuses the batch, the jobs are inserted one by one, so only the job it refuses
/// fails; when the database cannot be reached, every job gets that error.
pub async fn store_batch(pool: &PgPool, jobs: &[Job]) -> Vec<Result<(), sqlx::Error>> {
    let rows: Vec<db::NewJob<'_>> = jobs.iter().map(Job::row).collect();
    match db::insert_jobs(pool, &rows).await {
        Ok(()) => jobs.iter().map(|_| Ok(())).collect(),
        Err(e) if jobs.len() > 1 && matches!(e, sqlx::Error::Database(_)) => {
            tracing::warn!(
                jobs = jobs.len(),
                error = %e,
                "a batch of job inserts was refused; inserting its jobs one by one"
            );
            let mut out = Vec::with_capacity(jobs.len());
            for row in &rows {
                out.push(db::insert_jobs(pool, std::slice::from_ref(row)).await);
            }
            out
        }
        Err(e) => jobs.iter().map(|_| Err(copy_error(&e))).collect(),
    }
}

/// An error of the same kind and text for each job of a failed batch
/// (`sqlx::Error` is not `Clone`).
fn copy_error(e: &sqlx::Error) -> sqlx::Error {
    match e {
        sqlx::Error::PoolTimedOut => sqlx::Error::PoolTimedOut,
        sqlx::Error::PoolClosed => sqlx::Error::PoolClosed,
        sqlx::Error::Io(io) => sqlx::Error::Io(std::io::Error::new(io.kind(), io.to_string())),
        other => sqlx::Error::Protocol(other.to_string()),
    }
}
