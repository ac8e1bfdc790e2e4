//! BAI2 bank statements: records with continuations, funds types, control totals.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = recon::fuzzing::parse_bai2_checked(data);
});
