//! The dead-letter consumer on `drawpipe.dead`. A stage message lands there after
//! the quorum queue's delivery limit: its worker kept crashing (or nacking) on it.
//! The run is failed (unless already finished) and the job advanced in one
//! transaction, so dependants are skipped and `report` still runs. A dead-lettered
//! `report` fails the job itself, since nothing else would finish it. Anything else
//! on the queue is logged and dropped.

use std::sync::Arc;
use std::time::Duration;

use drawpipe_core::message::StageMessage;
use drawpipe_core::{db, mq, topology, JobId, Stage};
use lapin::options::{BasicAckOptions, BasicNackOptions};
use lapin::Channel;
use sqlx::PgPool;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

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
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    let queue = topology::DEAD_LETTER_QUEUE;
    let mut consumer = mq::consume(&channel, queue, "drawpipe-dispatcher-dead", 16).await?;
    while let Some(delivery) = mq::next_delivery(&mut consumer, queue, &shutdown).await? {
        match serde_json::from_slice::<StageMessage>(&delivery.data) {
            Ok(msg) => {
                let span =
                    tracing::warn_span!("dead_letter", job_id = %msg.job_id, stage = %msg.stage);
                match fail_run(&pool, msg.job_id, msg.stage)
                    .instrument(span.clone())
                    .await
                {
                    Ok(true) => {
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

/// Fails `stage` of `job` unless it finished, then advances the job. Returns whether
/// the run was failed.
pub async fn fail_run(pool: &PgPool, job: JobId, stage: Stage) -> Result<bool, sqlx::Error> {
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
