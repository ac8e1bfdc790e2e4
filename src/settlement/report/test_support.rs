//! Helpers shared by the format tests.

use chrono::{DateTime, Utc};

use super::*;
use crate::money::Currency;

pub(crate) fn cur(code: &str) -> Currency {
    Currency::parse(code).expect("known currency")
}

pub(crate) fn utc(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text)
        .expect("test timestamp")
        .to_utc()
}

pub(crate) fn at(path: &str, line: u64) -> SourceLine {
    SourceLine {
        path: path.into(),
        line,
    }
}

/// Parses and checks the counting invariant every test relies on.
pub(crate) fn parse(format: &Format, path: &str, text: &str) -> ParseOutcome {
    let outcome = parse_report(format, path, text.as_bytes()).expect("report parses");
    assert_eq!(
        outcome.rows_read,
        (outcome.records.len() + outcome.quarantined.len()) as u64,
        "every row is a record or a quarantine"
    );
    outcome
}

/// Hands the input out one byte per `read`, to exercise every chunk boundary.
pub(crate) struct Trickle<'a>(pub(crate) &'a [u8]);

impl Read for Trickle<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        match (self.0.split_first(), buf.first_mut()) {
            (Some((first, rest)), Some(slot)) => {
                *slot = *first;
                self.0 = rest;
                Ok(1)
            }
            _ => Ok(0),
        }
    }
}

/// The same outcome whether the input arrives at once or byte by byte.
pub(crate) fn parse_both_ways(format: &Format, path: &str, text: &str) -> ParseOutcome {
    let whole = parse(format, path, text);
    let trickled = parse_report(format, path, Trickle(text.as_bytes())).expect("report parses");
    assert_eq!(whole, trickled, "byte-by-byte reading changes nothing");
    whole
}

/// `(line, reason)` of each quarantined row.
pub(crate) fn quarantine_list(outcome: &ParseOutcome) -> Vec<(u64, String)> {
    outcome
        .quarantined
        .iter()
        .map(|q| (q.source.line, q.reason.clone()))
        .collect()
}
