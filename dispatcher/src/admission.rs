//! Admission control: what the dispatcher refuses so that it keeps answering.
//!
//! - **Concurrent requests.** At most `max_concurrent_requests` `/v1` requests (the
//!   event stream aside) are served at once; one more is answered 503 "busy" with
//!   `Retry-After` at once instead of queueing behind the others.
//! - **Per-key rate.** A token bucket per API key (`governor`): `rate_limit` requests a
//!   second with bursts of `rate_burst`; over it, 429 with `Retry-After`.
//! - **Queue depth.** When the deepest stage queue (stage runs `queued` in the
//!   database, sampled every [`DEPTH_POLL`]) holds more than `max_queue_depth`,
//!   submission answers 503 with `Retry-After` instead of growing the backlog without
//!   bound. Reads, lists and cancels still work.
//!
//! Each limit is off at 0. A request refused here had its body drained first, so the
//! client reads the answer instead of a reset connection.

use std::num::NonZeroU32;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota};
use sqlx::PgPool;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;

use crate::api::{discard_body, AppState};
use crate::auth::Caller;
use crate::error::ApiError;

/// How often the queue depth is sampled.
pub const DEPTH_POLL: Duration = Duration::from_millis(500);
/// What a busy answer asks the client to wait, seconds.
const BUSY_RETRY_SECS: u64 = 1;

/// The limits, as configured (0 = off).
#[derive(Debug, Clone, Copy, Default)]
pub struct Limits {
    pub max_concurrent_requests: usize,
    pub rate_limit: u32,
    pub rate_burst: u32,
    pub max_queue_depth: i64,
}

/// The dispatcher's admission state, shared by every request.
pub struct Admission {
    limits: Limits,
    in_flight: Option<Arc<Semaphore>>,
    rate: Option<DefaultKeyedRateLimiter<i64>>,
    clock: DefaultClock,
    /// The deepest stage queue at the last sample, and its stage.
    depth: AtomicI64,
    deepest: Mutex<String>,
}

impl Admission {
    pub fn new(limits: Limits) -> Admission {
        let rate = NonZeroU32::new(limits.rate_limit).map(|per_second| {
            let burst = NonZeroU32::new(limits.rate_burst).unwrap_or(per_second);
            DefaultKeyedRateLimiter::keyed(Quota::per_second(per_second).allow_burst(burst))
        });
        Admission {
            limits,
            in_flight: (limits.max_concurrent_requests > 0)
                .then(|| Arc::new(Semaphore::new(limits.max_concurrent_requests))),
            rate,
            clock: DefaultClock::default(),
            depth: AtomicI64::new(0),
            deepest: Mutex::new(String::new()),
        }
    }

    /// The per-key bucket: `Err` (429) when `key` (0 when auth is off) is over its rate.
    fn check_rate(&self, key: i64) -> Result<(), ApiError> {
        let Some(limiter) = &self.rate else {
            return Ok(());
        };
        limiter.check_key(&key).map_err(|not_until| {
            let wait = not_until.wait_time_from(self.clock.now());
            ApiError::RateLimited {
                message: format!(
                    "rate limit: {} requests a second per key (bursts of {}); retry later",
                    self.limits.rate_limit,
                    self.limits.rate_burst.max(self.limits.rate_limit)
                ),
                retry_after_secs: wait.as_secs_f64().ceil().max(1.0) as u64,
            }
        })
    }

    /// `Err` (503) when the deepest stage queue is over the limit.
    pub fn check_depth(&self) -> Result<(), ApiError> {
        let max = self.limits.max_queue_depth;
        let depth = self.depth.load(Ordering::Relaxed);
        if max <= 0 || depth <= max {
            return Ok(());
        }
        let stage = self
            .deepest
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        Err(ApiError::Busy {
            message: format!(
                "the {stage} queue holds {depth} stage runs, over the limit of {max}; \
                 retry when it has drained"
            ),
            retry_after_secs: 5,
        })
    }

    /// Samples the queue depth every [`DEPTH_POLL`] until `shutdown` (only when a
    /// depth limit is set). A failed sample keeps the last value and is logged.
    pub async fn sample_depth(self: Arc<Self>, pool: PgPool, shutdown: CancellationToken) {
        if self.limits.max_queue_depth <= 0 {
            return;
        }
        loop {
            let deepest: Result<Option<(String, i64)>, sqlx::Error> = sqlx::query_as(
                "SELECT stage, count(*) AS n FROM stage_runs WHERE status = 'queued' \
                 GROUP BY stage ORDER BY n DESC LIMIT 1",
            )
            .fetch_optional(&pool)
            .await;
            match deepest {
                Ok(found) => {
                    let (stage, n) = found.unwrap_or_default();
                    *self.deepest.lock().unwrap_or_else(|p| p.into_inner()) = stage;
                    self.depth.store(n, Ordering::Relaxed);
                }
                Err(e) => tracing::warn!(error = %e, "cannot sample the queue depth"),
            }
            tokio::select! {
                () = shutdown.cancelled() => return,
                () = tokio::time::sleep(DEPTH_POLL) => {}
            }
        }
    }
}

/// The middleware on `/v1` (after authentication): the key's rate, then a slot among
/// the concurrent requests, held until the answer is built.
pub async fn admit(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let admission = &state.admission;
    let key = req
        .extensions()
        .get::<Caller>()
        .and_then(|c| c.key)
        .unwrap_or(0);
    if let Err(e) = admission.check_rate(key) {
        discard_body(req).await;
        return e.into_response();
    }
    let _slot = match &admission.in_flight {
        None => None,
        Some(s) => match s.clone().try_acquire_owned() {
            Ok(slot) => Some(slot),
            Err(_) => {
                discard_body(req).await;
                return ApiError::Busy {
                    message: format!(
                        "busy: {} requests in flight, the most this dispatcher serves at once",
                        admission.limits.max_concurrent_requests
                    ),
                    retry_after_secs: BUSY_RETRY_SECS,
                }
                .into_response();
            }
        },
    };
    next.run(req).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_over_its_rate_is_told_when_to_retry_and_others_are_not() {
        let a = Admission::new(Limits {
            rate_limit: 1,
            rate_burst: 2,
            ..Limits::default()
        });
        assert!(a.check_rate(7).is_ok());
        assert!(a.check_rate(7).is_ok());
        match a.check_rate(7) {
            Err(ApiError::RateLimited {
                retry_after_secs, ..
            }) => assert_eq!(retry_after_secs, 1),
            other => panic!("want 429, got {other:?}"),
        }
        // Another key has its own bucket.
        assert!(a.check_rate(8).is_ok());
        // No limit configured: never refused.
        let open = Admission::new(Limits::default());
        assert!((0..1000).all(|_| open.check_rate(7).is_ok()));
    }

    #[test]
    fn submission_is_refused_only_over_the_depth_limit() {
        let a = Admission::new(Limits {
            max_queue_depth: 10,
            ..Limits::default()
        });
        a.depth.store(10, Ordering::Relaxed);
        assert!(a.check_depth().is_ok());
        a.depth.store(11, Ordering::Relaxed);
        *a.deepest.lock().unwrap() = "ocr".into();
        let e = a.check_depth().unwrap_err();
        assert_eq!(e.status(), axum::http::StatusCode::SERVICE_UNAVAILABLE);
        assert!(e.to_string().contains("ocr queue holds 11"), "{e}");
        a.depth.store(1_000_000, Ordering::Relaxed);
        assert!(Admission::new(Limits::default()).check_depth().is_ok());
    }
}
