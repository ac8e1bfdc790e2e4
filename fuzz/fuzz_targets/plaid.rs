//! Plaid's `/transactions/sync` answer: its transactions mapped to bank entries (amounts from their JSON digits, the sign turned, pending ones superseded).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| recon::fuzzing::plaid_page_checked(data));
