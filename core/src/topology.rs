//! Names of the broker topology, declared by every process at start (see `mq`).
//!
//! - `drawpipe.stage.<stage>`: one quorum queue per stage, fed through the default
//!   exchange, with a delivery limit and the dead-letter exchange `drawpipe.dlx`;
//!   beside it `drawpipe.stage.<stage>.interactive` for jobs of priority ≥
//!   [`INTERACTIVE_PRIORITY`] (quorum queues have no message priorities: a worker
//!   takes from the interactive queue first, so such a job overtakes a bulk backlog).
//! - `drawpipe.delay` (topic) → `drawpipe.delay.<tier>` queues with a per-queue TTL,
//!   which dead-letter into `drawpipe.retry` (topic) keeping the routing key
//!   `<tier>.<stage>` (`<tier>.<stage>.interactive`); each stage queue is bound
//!   there on `*.<stage>` (`*.<stage>.interactive`).
//! - `drawpipe.dlx` (fanout) → `drawpipe.dead`: poison messages.
//! - `drawpipe.intake`: jobs from queue producers. `drawpipe.events` (topic): job events.

use std::time::Duration;

use crate::stage::Stage;

pub const EVENTS_EXCHANGE: &str = "drawpipe.events";
pub const INTAKE_QUEUE: &str = "drawpipe.intake";
pub const DELAY_EXCHANGE: &str = "drawpipe.delay";
pub const RETRY_EXCHANGE: &str = "drawpipe.retry";
pub const DEAD_LETTER_EXCHANGE: &str = "drawpipe.dlx";
pub const DEAD_LETTER_QUEUE: &str = "drawpipe.dead";
/// Deliveries of one message before the quorum queue dead-letters it. RabbitMQ 3.10
/// has no default, so it is always set.
pub const DELIVERY_LIMIT: i64 = 10;

/// Retry backoff tiers: attempt 2 waits the first, attempt 3 the second, and so on;
/// later attempts wait the last.
pub const DELAY_TIERS: [(&str, Duration); 5] = [
    ("1s", Duration::from_secs(1)),
    ("4s", Duration::from_secs(4)),
    ("15s", Duration::from_secs(15)),
    ("60s", Duration::from_secs(60)),
    ("300s", Duration::from_secs(300)),
];

/// A job of this priority or above is interactive: its stages go through the
/// interactive queues.
pub const INTERACTIVE_PRIORITY: i16 = 5;

/// The suffix the interactive queue and retry key add.
pub const INTERACTIVE_SUFFIX: &str = ".interactive";

pub fn stage_queue(stage: Stage) -> String {
    format!("drawpipe.stage.{}", stage.name())
}

/// The queue a job of `priority` sends `stage` to.
pub fn stage_queue_for(stage: Stage, priority: i16) -> String {
    if priority >= INTERACTIVE_PRIORITY {
        interactive_queue(stage)
    } else {
        stage_queue(stage)
    }
}

pub fn interactive_queue(stage: Stage) -> String {
    format!("drawpipe.stage.{}{INTERACTIVE_SUFFIX}", stage.name())
}

/// The delay exchange's routing key for a retry of `stage` at `next_attempt`.
pub fn retry_key(stage: Stage, next_attempt: u32, priority: i16) -> String {
    let suffix = if priority >= INTERACTIVE_PRIORITY {
        INTERACTIVE_SUFFIX
    } else {
        ""
    };
    format!("{}.{}{suffix}", delay_tier(next_attempt), stage.name())
}

pub fn delay_queue(tier: &str) -> String {
    format!("drawpipe.delay.{tier}")
}

/// The delay tier for a retry that will be attempt number `next_attempt` (≥ 2).
pub fn delay_tier(next_attempt: u32) -> &'static str {
    let i = (next_attempt.saturating_sub(2) as usize).min(DELAY_TIERS.len() - 1);
    DELAY_TIERS[i].0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_then_caps() {
        assert_eq!(delay_tier(2), "1s");
        assert_eq!(delay_tier(3), "4s");
        assert_eq!(delay_tier(6), "300s");
        assert_eq!(delay_tier(60), "300s");
        assert_eq!(stage_queue(Stage::Preprocess), "drawpipe.stage.preprocess");
        assert_eq!(stage_queue_for(Stage::Ocr, 4), "drawpipe.stage.ocr");
        assert_eq!(
            stage_queue_for(Stage::Ocr, 5),
            "drawpipe.stage.ocr.interactive"
        );
        assert_eq!(retry_key(Stage::Ocr, 2, 0), "1s.ocr");
        assert_eq!(retry_key(Stage::Ocr, 3, 9), "4s.ocr.interactive");
    }
}
