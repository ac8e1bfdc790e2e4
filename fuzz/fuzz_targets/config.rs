//! The configuration loader: TOML text through every check of `Config::parse`, with an empty environment.
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use recon::config::Config;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = Config::parse(Path::new("fuzz.toml"), text, &|_| None);
    }
});
