//! drawpipe's shared contract: the stage graph, job and result types, the messages
//! that cross the broker, the queue topology's names, media sniffing and errors.
//!
//! Everything here is transport-free. The `runtime` feature adds [`db`] (PostgreSQL
//! access shared by the dispatcher and the workers) and [`mq`] (broker topology and
//! the outbox relay); the pure contract builds without it.

pub mod error;
pub mod job;
pub mod limits;
pub mod media;
pub mod message;
#[cfg(feature = "overlay")]
pub mod overlay;
pub mod redact;
pub mod report;
pub mod stage;
pub mod topology;
pub mod trace;

#[cfg(feature = "runtime")]
pub mod db;
#[cfg(feature = "runtime")]
pub mod logging;
#[cfg(feature = "runtime")]
pub mod metrics;
#[cfg(feature = "runtime")]
pub mod mq;

pub use error::StageError;
pub use job::{JobId, JobStatus, StageStatus};
pub use media::MediaType;
pub use stage::{Pool, Stage, StagePlan, StagePlanError};
