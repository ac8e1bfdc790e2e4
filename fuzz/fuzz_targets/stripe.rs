//! Stripe's itemized reports: balance change from activity and payout reconciliation, with each run parameter that changes how the file reads.
#![no_main]

use std::sync::LazyLock;

use libfuzzer_sys::fuzz_target;
use recon_fuzz::Formats;

static FORMATS: LazyLock<Formats> = LazyLock::new(|| {
    Formats::new(
        "stripe",
        &[
            "",
            "report_type = \"payout_reconciliation.itemized.5\"\ndecimal_separator = \",\"",
            "timezone = \"Europe/Amsterdam\"\ndecimal_separator = \",\"",
            "timezone = \"America/New_York\"\nmax_record_lines = 3",
        ],
    )
});

fuzz_target!(|data: &[u8]| FORMATS.parse(data));
