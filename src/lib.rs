//! recon: nightly reconciliation.

pub mod at_rest;
pub mod audit_key;
// Public only for the doors of the integration tests into the aggregator syncs (`bank::sync_door`)
// and of the bank bench into the camt parser and the payout tracing (`bank::bench_door`).
#[doc(hidden)]
pub mod bank;
pub mod breaker;
pub mod canonical;
pub mod catch_up;
pub mod check;
pub mod cli;
pub mod config;
pub mod controls;
pub mod day;
pub mod demo;
pub mod diff;
pub mod discrepancy;
pub mod error;
pub mod exit;
#[doc(hidden)]
pub mod fuzzing;
pub mod integrity;
pub(crate) mod key_text;
pub mod mask;
pub mod money;
pub mod operator;
pub mod output;
pub mod private_fs;
pub mod progress;
pub mod retry;
pub mod run;
pub mod run_id;
pub mod seal;
pub mod secret;
pub mod serve;
pub mod settlement;
pub mod shard;
pub mod source;
pub mod store;
pub mod telemetry;
