//! Dead letters: the consumer on `drawpipe.dead`, their store and the
//! `/v1/dead-letters` routes.
//!
//! A stage message lands on `drawpipe.dead` after the quorum queue's delivery limit:
//! its worker kept crashing (or nacking) on it. The run is failed (unless already
//! finished), the job advanced and a `dead_letters` row kept, in one transaction, so
//! dependants are skipped and `report` still runs. A dead-lettered `report` fails the
//! job itself, since nothing else would finish it. Anything else on the queue is
//! logged and dropped.
//!
//! An operator then lists them (`GET /v1/dead-letters`, `drawpipe dead-letters
//! list`) and either requeues one (the stage runs again: the run and the stages
//! skipped because of it go back to pending, the job reopens, and the job's usual
//! flow queues the stage through the outbox) or discards it (the failure stands).
//! Both act once: a second requeue or discard of the same row is a conflict.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Path, Query, State};
use axum::{Extension, Json};
use chrono::{DateTime, Utc};
use serde_json::{json, Value};
use uuid::Uuid;

use drawpipe_core::message::StageMessage;
use drawpipe_core::{db, mq, topology, JobId, Stage};
use lapin::options::{BasicAckOptions, BasicNackOptions};
use lapin::Channel;
use sqlx::PgPool;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use crate::api::{cut_page, parse_limit, AppState};
use crate::auth::Caller;
use crate::error::ApiError;
use crate::metrics::Metrics;

/// Pause before requeueing a message the database could not take.
const REQUEUE_DELAY: Duration = Duration::from_secs(1);

/// The error recorded on a dead-lettered run.
pub fn dead_letter_error() -> String {
    format!(
        "message dead-lettered after repeated deliveries (delivery limit {}); the worker may be crashing on this input",
        topology::DELIVERY_LIMIT
    )
}

/// Consumes `drawpipe.dead` until `shutdown`.
///
/// # Errors
/// Only when the channel is gone.
pub async fn consume(
    channel: Channel,
    pool: PgPool,
    wake: Arc<Notify>,
    metrics: Arc<Metrics>,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    let queue = topology::DEAD_LETTER_QUEUE;
    let mut consumer = mq::consume(&channel, queue, "drawpipe-dispatcher-dead", 16).await?;
    while let Some(delivery) = mq::next_delivery(&mut consumer, queue, &shutdown).await? {
        match serde_json::from_slice::<StageMessage>(&delivery.data) {
            Ok(msg) => {
                let span =
                    tracing::warn_span!("dead_letter", job_id = %msg.job_id, stage = %msg.stage);
                match fail_run(&pool, msg.job_id, msg.stage, msg.attempt)
                    .instrument(span.clone())
                    .await
                {
                    Ok(true) => {
                        metrics.dead_letter(msg.stage.name());
                        span.in_scope(|| {
                            tracing::warn!(
                                attempt = msg.attempt,
                                "stage message dead-lettered; run failed"
                            )
                        });
                        wake.notify_one();
                    }
                    Ok(false) => span.in_scope(|| {
                        tracing::info!("stage message dead-lettered for a finished run; dropped")
                    }),
                    Err(e) => {
                        span.in_scope(|| tracing::warn!(error = %e, "cannot record a dead-lettered run; requeueing"));
                        tokio::time::sleep(REQUEUE_DELAY).await;
                        delivery
                            .nack(BasicNackOptions {
                                requeue: true,
                                ..Default::default()
                            })
                            .await?;
                        continue;
                    }
                }
            }
            Err(e) => tracing::warn!(
                routing_key = delivery.routing_key.as_str(),
                bytes = delivery.data.len(),
                error = %e,
                "dropping a dead-lettered message that is not a stage message"
            ),
        }
        delivery.ack(BasicAckOptions::default()).await?;
    }
    let _ = channel.close(200, "dispatcher shutting down").await;
    Ok(())
}

/// Fails `stage` of `job` unless it finished, keeps the dead letter, then advances
/// the job. Returns whether the run was failed.
pub async fn fail_run(
    pool: &PgPool,
    job: JobId,
    stage: Stage,
    attempt: u32,
) -> Result<bool, sqlx::Error> {
    let error = dead_letter_error();
    let mut tx = pool.begin().await?;
    let failed = sqlx::query(
        "UPDATE stage_runs SET status = 'failed', error = $3, finished_at = now(), updated_at = now() \
         WHERE job_id = $1 AND stage = $2 AND status NOT IN ('succeeded', 'failed', 'skipped', 'cancelled')",
    )
    .bind(job.0)
    .bind(stage.name())
    .bind(&error)
    .execute(&mut *tx)
    .await?
    .rows_affected()
        > 0;
    if !failed {
        return Ok(false);
    }
    sqlx::query("INSERT INTO dead_letters (job_id, stage, attempt, error) VALUES ($1, $2, $3, $4)")
        .bind(job.0)
        .bind(stage.name())
        .bind(i32::try_from(attempt).unwrap_or(i32::MAX))
        .bind(&error)
        .execute(&mut *tx)
        .await?;
    if stage == Stage::Report {
        let message = format!("stage report failed: {error}");
        let done = sqlx::query(
            "UPDATE jobs SET status = 'failed', error = $2, finished_at = now(), updated_at = now() \
             WHERE id = $1 AND status IN ('queued', 'running') RETURNING id",
        )
        .bind(job.0)
        .bind(&message)
        .fetch_optional(&mut *tx)
        .await?;
        if done.is_some() {
            let event = db::job_event(job, "failed", "failed", Some(&message));
            db::insert_outbox(
                &mut tx,
                Some(job),
                topology::EVENTS_EXCHANGE,
                &format!("job.{job}.failed"),
                &event,
            )
            .await?;
        }
    } else {
        db::advance(&mut tx, &[job]).await?;
    }
    tx.commit().await?;
    Ok(true)
}

// ---- the store and the routes ----------------------------------------------------

/// What an operator does with a dead letter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Resolution {
    Requeue,
    Discard,
}

impl Resolution {
    /// From the route's `{action}`: `requeue` or `discard`.
    fn from_action(action: &str) -> Option<Self> {
        match action {
            "requeue" => Some(Resolution::Requeue),
            "discard" => Some(Resolution::Discard),
            _ => None,
        }
    }

    fn state(self) -> &'static str {
        match self {
            Resolution::Requeue => "requeued",
            Resolution::Discard => "discarded",
        }
    }
}

type LetterRow = (
    i64,
    Uuid,
    String,
    i32,
    String,
    DateTime<Utc>,
    String,
    Option<DateTime<Utc>>,
    Option<String>,
    String,
    Option<String>,
);

const LETTER_COLUMNS: &str = "d.id, d.job_id, d.stage, d.attempt, d.error, d.dead_at, d.state, \
     d.resolved_at, d.resolved_by, j.status, j.filename";

fn letter_json(r: &LetterRow) -> Value {
    json!({
        "id": r.0, "job_id": r.1, "stage": r.2, "attempt": r.3, "error": r.4,
        "dead_at": r.5, "state": r.6, "resolved_at": r.7, "resolved_by": r.8,
        "job_status": r.9, "filename": r.10,
    })
}

/// `GET /v1/dead-letters?state=open|requeued|discarded|all&limit=N&after=ID`: the
/// caller's dead letters (every tenant's for an admin key), oldest first, `open`
/// ones by default; `next_after` while more remain.
pub async fn list(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Json<Value>, ApiError> {
    let limit = parse_limit(q.get("limit").map(String::as_str))?;
    let wanted = q.get("state").map_or("open", |s| s.trim());
    if !["open", "requeued", "discarded", "all"].contains(&wanted) {
        return Err(ApiError::BadRequest(format!(
            "state {wanted:?} is not one of open, requeued, discarded, all"
        )));
    }
    let after =
        match q.get("after").map(|s| s.trim()).filter(|s| !s.is_empty()) {
            Some(a) => Some(a.parse::<i64>().map_err(|_| {
                ApiError::BadRequest(format!("after {a:?} is not a dead-letter id"))
            })?),
            None => None,
        };
    let rows: Vec<LetterRow> = sqlx::query_as(&format!(
        "SELECT {LETTER_COLUMNS} FROM dead_letters d JOIN jobs j ON j.id = d.job_id \
         WHERE ($1::bigint IS NULL OR j.api_key_id = $1) AND ($2 = 'all' OR d.state = $2) \
           AND ($3::bigint IS NULL OR d.id > $3) \
         ORDER BY d.id LIMIT $4"
    ))
    .bind(caller.tenant())
    .bind(wanted)
    .bind(after)
    .bind(limit + 1)
    .fetch_all(state.pool())
    .await?;
    let (page, next) = cut_page(&rows, limit, |r| r.0);
    Ok(Json(json!({
        "dead_letters": page.iter().map(letter_json).collect::<Vec<_>>(),
        "next_after": next,
    })))
}

/// `POST /v1/dead-letters/{id}/requeue` or `…/discard`.
pub async fn resolve(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path((id, action)): Path<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    let what = Resolution::from_action(&action).ok_or_else(|| {
        ApiError::NotFound(format!(
            "no dead-letter action {action:?}: use requeue or discard"
        ))
    })?;
    let id: i64 = id
        .parse()
        .map_err(|_| ApiError::BadRequest(format!("{id:?} is not a dead-letter id")))?;
    let mut tx = state.pool().begin().await?;
    let by = caller.name(&mut *tx).await?;
    // The row and its job, locked, when the caller may see them.
    let found: Option<(Uuid, String, String, String)> = sqlx::query_as(
        "SELECT d.job_id, d.stage, d.state, j.status FROM dead_letters d JOIN jobs j ON j.id = d.job_id \
         WHERE d.id = $1 AND ($2::bigint IS NULL OR j.api_key_id = $2) FOR UPDATE OF d, j",
    )
    .bind(id)
    .bind(caller.tenant())
    .fetch_optional(&mut *tx)
    .await?;
    let Some((job, stage, letter_state, job_status)) = found else {
        return Err(ApiError::NotFound(format!("no dead letter {id}")));
    };
    if letter_state != "open" {
        return Err(ApiError::Conflict(format!(
            "dead letter {id} was already {letter_state}"
        )));
    }
    if what == Resolution::Requeue {
        if job_status == "cancelled" {
            return Err(ApiError::Conflict(format!(
                "job {job} was cancelled; discard dead letter {id} instead"
            )));
        }
        reopen(&mut tx, JobId(job), &stage).await?;
    }
    // The row as it now stands (the job reopened, for a requeue), in the same
    // transaction.
    let row: LetterRow = sqlx::query_as(&format!(
        "UPDATE dead_letters d SET state = $2, resolved_at = now(), resolved_by = $3 \
         FROM jobs j WHERE d.id = $1 AND j.id = d.job_id RETURNING {LETTER_COLUMNS}"
    ))
    .bind(id)
    .bind(what.state())
    .bind(&by)
    .fetch_one(&mut *tx)
    .await?;
    tx.commit().await?;
    if what == Resolution::Requeue {
        state.submitter.wake.notify_one();
    }
    tracing::info!(dead_letter = id, job_id = %job, stage, by, state = what.state(), "dead letter resolved");
    Ok(Json(letter_json(&row)))
}

/// Runs `stage` of `job` again: the run and every run skipped (they were skipped
/// because a dependency did not succeed) go back to pending, a finished `report`
/// too, the job to running; then the job's usual advance queues what is ready,
/// through the outbox, in the same transaction.
async fn reopen(
    tx: &mut sqlx::Transaction<'_, sqlx::Postgres>,
    job: JobId,
    stage: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE stage_runs SET status = 'pending', error = NULL, attempts = 0, worker = NULL, \
             queued_at = NULL, started_at = NULL, finished_at = NULL, updated_at = now() \
         WHERE job_id = $1 AND (stage = $2 OR status = 'skipped' \
             OR (stage = 'report' AND status IN ('succeeded', 'failed')))",
    )
    .bind(job.0)
    .bind(stage)
    .execute(&mut **tx)
    .await?;
    sqlx::query(
        "UPDATE jobs SET status = 'running', error = NULL, finished_at = NULL, updated_at = now() \
         WHERE id = $1",
    )
    .bind(job.0)
    .execute(&mut **tx)
    .await?;
    db::advance(tx, &[job]).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_names_the_limit() {
        let e = dead_letter_error();
        assert!(
            e.starts_with("message dead-lettered after repeated deliveries (delivery limit 10)"),
            "{e}"
        );
    }
}
