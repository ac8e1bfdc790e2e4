//! The integration tests, in one binary: each module is one area and runs the real `recon`
//! binary or the library against real databases; `common` holds what they share.

// A panic in a test is a failed test: tests may unwrap.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

mod acknowledged;
mod at_rest;
mod audit;
mod audit_keyed;
mod audit_tamper;
mod bad_input;
mod bank_aggregators;
mod bank_leg;
mod bank_statement;
mod bank_sync;
mod card_settlement_ids;
mod circuit_breaker;
mod config_check;
mod controls;
mod demo;
mod deploy;
mod diff;
mod download_retention;
mod engines;
mod fault_injection;
mod file_modes;
mod hostile_input;
mod in_flight;
mod json_columns;
mod layering;
mod least_privilege;
mod ledger_pushdown;
mod logs;
mod mask_keys;
mod mask_rotation;
mod metrics;
mod money_limits;
mod non_finite;
mod nothing_readable;
mod operator_commands;
mod processor_formats;
mod pushdown;
mod pushgateway;
mod readme;
mod report_acquisition;
mod report_download;
mod report_files;
mod report_html;
mod resilience;
mod sealed_days;
mod secrets_and_masking;
mod serve;
mod serve_browser;
mod settlement;
mod settlement_memory;
mod sharded_seals;
mod sharded_table;
mod sqlite_sources;
mod store_life;
mod store_outage;
mod tls;
mod tooling;
mod url_passwords;
mod uuids;
mod where_filter;
