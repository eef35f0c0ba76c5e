//! Any text as an upload's file name: the stored name is one harmless path
//! component, and cleaning it again changes nothing.
#![no_main]

use drawpipe_core::media::clean_filename;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|name: &str| {
    if let Some(clean) = clean_filename(name) {
        assert!(!clean.is_empty() && clean != "." && clean != "..");
        assert!(!clean.contains(['/', '\\']), "{clean:?}");
        assert!(!clean.chars().any(char::is_control), "{clean:?}");
        assert_eq!(clean_filename(&clean).as_deref(), Some(clean.as_str()), "{name:?}");
    }
});
