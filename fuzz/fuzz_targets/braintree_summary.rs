//! Braintree's settlement batch summary, with and without a custom field grouping it.
#![no_main]

use std::sync::LazyLock;

use libfuzzer_sys::fuzz_target;
use recon_fuzz::Formats;

static FORMATS: LazyLock<Formats> = LazyLock::new(|| {
    Formats::new(
        "braintree",
        &[
            "report_type = \"settlement_batch_summary\"\n\
             currencies = { acme_eur = \"EUR\", acme_usd = \"USD\", acme_jpy = \"JPY\" }",
            "report_type = \"settlement_batch_summary\"\n\
             group_by_custom_field = \"store\"\nmax_record_lines = 2\n\
             currencies = { acme_eur = \"EUR\", acme_usd = \"USD\", acme_jpy = \"JPY\" }",
        ],
    )
});

fuzz_target!(|data: &[u8]| FORMATS.parse(data));
