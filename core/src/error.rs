//! What a stage tells the runtime when it cannot produce an output.

use std::time::Duration;

/// A stage failure; the variant says what the runtime must do with the message.
#[derive(Debug, thiserror::Error)]
pub enum StageError {
    /// The input is bad (corrupt image, unknown type, too many pages): fail the
    /// stage at once, never retry. The message names the problem for the user.
    #[error("{0}")]
    Invalid(String),
    /// Worth retrying with exponential backoff (a resource was briefly unavailable).
    #[error("{0}")]
    Transient(String),
    /// Retry no sooner than the given delay.
    #[error("{1} (retry after {0:?})")]
    RetryAfter(Duration, String),
    /// The stage does not apply to this job as the worker is configured (e.g. `vl`
    /// with no provider): the run ends `skipped` with this reason, is not retried,
    /// and does not fail or demote the job.
    #[error("{0}")]
    Skipped(String),
    /// Anything else: retried like `Transient`, up to the attempt limit.
    #[error(transparent)]
    Other(#[from] Box<dyn std::error::Error + Send + Sync>),
}

impl StageError {
    pub fn invalid(msg: impl Into<String>) -> Self {
        StageError::Invalid(msg.into())
    }

    pub fn is_retryable(&self) -> bool {
        !matches!(self, StageError::Invalid(_) | StageError::Skipped(_))
    }
}

impl PartialEq for StageError {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (StageError::Invalid(a), StageError::Invalid(b)) => a == b,
            (StageError::Transient(a), StageError::Transient(b)) => a == b,
            (StageError::Skipped(a), StageError::Skipped(b)) => a == b,
            (StageError::RetryAfter(d, a), StageError::RetryAfter(e, b)) => d == e && a == b,
            _ => false,
        }
    }
}
