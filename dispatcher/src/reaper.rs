//! The reaper: every [`INTERVAL`] re-drives stage runs that made no progress for
//! the stage timeout (a worker died holding them, or their message was lost), by
//! `db::reap_stale`, then wakes the relay to publish the fresh messages.

use std::sync::Arc;
use std::time::Duration;

use drawpipe_core::db;
use sqlx::PgPool;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

/// Time between passes.
pub const INTERVAL: Duration = Duration::from_secs(10);
/// Most runs re-driven per pass.
const BATCH: i64 = 500;

/// Runs until `shutdown`. A failed pass is logged and retried at the next tick.
pub async fn run(
    pool: PgPool,
    wake: Arc<Notify>,
    stage_timeout: Duration,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    let mut tick = tokio::time::interval(INTERVAL);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return Ok(()),
            _ = tick.tick() => {}
        }
        match db::reap_stale(&pool, stage_timeout, BATCH).await {
            Ok(0) => {}
            Ok(n) => {
                tracing::warn!(
                    runs = n,
                    timeout_s = stage_timeout.as_secs(),
                    "reaper re-drove stale stage runs"
                );
                wake.notify_one();
            }
            Err(e) => tracing::warn!(error = %e, "reaper pass failed; retrying at the next tick"),
        }
    }
}
