//! GoCardless Bank Account Data's transactions answer: booked and pending transactions mapped to bank entries.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| recon::fuzzing::gocardless_transactions_checked(data));
