//! ISO 20022 camt.052/053/054 bank statements, the first input byte choosing whether batch bookings are split or kept.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Some((pick, statement)) = data.split_first() {
        let _ = recon::fuzzing::parse_camt_checked(statement, pick % 2 == 0);
    }
});
