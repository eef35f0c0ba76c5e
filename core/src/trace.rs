//! W3C trace context (`traceparent`, <https://www.w3.org/TR/trace-context/>) for a
//! job's messages, so that the dispatcher's and every worker's log lines (and spans)
//! for one job join up.
//!
//! A job is one trace, and its trace id is the job id's 16 bytes: every process can
//! name it from the id alone, nothing is stored, and the id is a UUIDv7, whose last
//! 74 bits are random. Each stage message published for a job is a span of that
//! trace whose id is derived from (job, stage, attempt), so a retry is a new span.
//! The outbox relay puts it in the message's `traceparent` header; a worker reads the
//! header, and logs its work with `trace_id` and `parent_span_id`. A client's own
//! `traceparent` on submission is logged as a link to the job's trace (a job is
//! asynchronous work that outlives the request, which is what links are for).

use std::fmt;

use sha2::{Digest, Sha256};

use crate::job::JobId;

/// The header name, in HTTP and in AMQP message headers.
pub const HEADER: &str = "traceparent";

/// A parsed `traceparent`: version 00's fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TraceParent {
    pub trace_id: [u8; 16],
    pub span_id: [u8; 8],
    pub sampled: bool,
}

impl TraceParent {
    /// The span of a stage message: trace = the job, span = hash(job, stage, attempt).
    pub fn for_message(job: JobId, stage: &str, attempt: u32) -> Self {
        let trace_id = *job.0.as_bytes();
        let digest = Sha256::new()
            .chain_update(trace_id)
            .chain_update(stage.as_bytes())
            .chain_update(attempt.to_be_bytes())
            .finalize();
        let mut span_id = [0u8; 8];
        span_id.copy_from_slice(&digest[..8]);
        if span_id == [0; 8] {
            span_id[7] = 1;
        }
        TraceParent {
            trace_id,
            span_id,
            sampled: true,
        }
    }

    /// Parses a header value. `None` for anything the specification says to ignore:
    /// a wrong length or separator, upper-case or non-hex digits, version `ff`, an
    /// all-zero trace or span id, or extra fields after a version-00 value.
    pub fn parse(value: &str) -> Option<Self> {
        let value = value.trim();
        let mut parts = value.split('-');
        let (version, trace, span, flags) =
            (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
        let lower_hex = |s: &str, len: usize| {
            s.len() == len && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
        };
        if !lower_hex(version, 2) || version == "ff" || !lower_hex(trace, 32) {
            return None;
        }
        if !lower_hex(span, 16) || !lower_hex(flags, 2) {
            return None;
        }
        // Version 00 has exactly four fields; a later version may append more.
        if version == "00" && parts.next().is_some() {
            return None;
        }
        let mut trace_id = [0u8; 16];
        let mut span_id = [0u8; 8];
        hex::decode_to_slice(trace, &mut trace_id).ok()?;
        hex::decode_to_slice(span, &mut span_id).ok()?;
        if trace_id == [0; 16] || span_id == [0; 8] {
            return None;
        }
        let flags = u8::from_str_radix(flags, 16).ok()?;
        Some(TraceParent {
            trace_id,
            span_id,
            sampled: flags & 1 == 1,
        })
    }

    pub fn trace_hex(&self) -> String {
        hex::encode(self.trace_id)
    }

    pub fn span_hex(&self) -> String {
        hex::encode(self.span_id)
    }
}

/// The version-00 header value.
impl fmt::Display for TraceParent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "00-{}-{}-{:02x}",
            self.trace_hex(),
            self.span_hex(),
            u8::from(self.sampled)
        )
    }
}

/// A job's trace id in hex (what log lines carry as `trace_id`).
pub fn trace_id(job: JobId) -> String {
    hex::encode(job.0.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_message_span_round_trips_and_names_its_job() {
        let job = JobId::new();
        let tp = TraceParent::for_message(job, "ocr", 1);
        let text = tp.to_string();
        assert_eq!(text.len(), 55);
        assert_eq!(TraceParent::parse(&text), Some(tp));
        assert_eq!(tp.trace_hex(), trace_id(job));
        assert_eq!(tp.trace_hex(), job.0.simple().to_string());
        // A retry is another span of the same trace.
        let retry = TraceParent::for_message(job, "ocr", 2);
        assert_eq!(retry.trace_id, tp.trace_id);
        assert_ne!(retry.span_id, tp.span_id);
    }

    #[test]
    fn parses_what_the_specification_allows_and_nothing_else() {
        let ok = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
        let tp = TraceParent::parse(ok).unwrap();
        assert_eq!(tp.trace_hex(), "4bf92f3577b34da6a3ce929d0e0e4736");
        assert_eq!(tp.span_hex(), "00f067aa0ba902b7");
        assert!(tp.sampled);
        assert!(
            !TraceParent::parse("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00")
                .unwrap()
                .sampled
        );
        // A later version may carry more fields; 00 may not.
        assert!(
            TraceParent::parse("01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-xyz")
                .is_some()
        );
        for bad in [
            "",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-xyz",
            "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
            "00-4bf92f3577b34da6a3ce929d0e0e473-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7",
            "00_4bf92f3577b34da6a3ce929d0e0e4736_00f067aa0ba902b7_01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-zz",
        ] {
            assert_eq!(TraceParent::parse(bad), None, "{bad:?}");
        }
    }
}
