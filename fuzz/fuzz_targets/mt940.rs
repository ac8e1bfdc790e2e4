//! SWIFT MT940/MT942 bank statements: messages with or without FIN blocks, statement lines, structured `:86:`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = recon::fuzzing::parse_mt940_checked(data);
});
