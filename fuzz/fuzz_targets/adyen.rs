//! Adyen's settlement details report, under each way a ledger may book its captures and fees.
#![no_main]

use std::sync::LazyLock;

use libfuzzer_sys::fuzz_target;
use recon_fuzz::Formats;

static FORMATS: LazyLock<Formats> = LazyLock::new(|| {
    Formats::new(
        "adyen",
        &[
            "",
            "capture_key = \"capture_reference\"\nfee_key = \"label\"",
            "max_record_lines = 3",
        ],
    )
});

fuzz_target!(|data: &[u8]| FORMATS.parse(data));
