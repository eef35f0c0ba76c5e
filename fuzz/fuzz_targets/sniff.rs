//! Any bytes through the type sniffer and, when it recognises a format, the header
//! reader: neither may panic, and what they answer must hold together (only PDF and
//! DXF have no pixel size; an error names the format).
#![no_main]

use drawpipe_core::media::{self, MediaType, SniffError};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    match media::sniff(data) {
        Err(SniffError::Empty) => assert!(data.is_empty()),
        Err(SniffError::Unknown(prefix)) => assert!(!prefix.is_empty()),
        Ok(kind) => {
            assert!(!data.is_empty());
            match media::image_dimensions(kind, data) {
                Ok(None) => assert!(matches!(kind, MediaType::Pdf | MediaType::Dxf)),
                Ok(Some(_)) => assert!(!matches!(kind, MediaType::Pdf | MediaType::Dxf)),
                Err(msg) => assert!(msg.contains(kind.short_name()), "{msg}"),
            }
        }
    }
});
