//! Braintree's transaction search export.
#![no_main]

use std::sync::LazyLock;

use libfuzzer_sys::fuzz_target;
use recon_fuzz::Formats;

static FORMATS: LazyLock<Formats> =
    LazyLock::new(|| Formats::new("braintree", &["", "max_record_lines = 3"]));

fuzz_target!(|data: &[u8]| FORMATS.parse(data));
