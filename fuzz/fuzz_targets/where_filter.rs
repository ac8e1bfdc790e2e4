//! The `--where` grammar: lexed, parsed and typed against integer, text, decimal, timestamp, boolean, float and date columns.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = recon::fuzzing::where_filter(text);
    }
});
