//! Each bank entry counted once across the files of an account: an intraday report or a notification superseded by the day's end-of-day statement, and a file imported twice, or two files that overlap, not doubling entries.
//!
//! An entry's identity is its account and bank reference (`AcctSvcrRef`, the `:61:` bank
//! reference…) with its amount and currency when the bank gives a reference, else its account,
//! booking date, amount, currency, end-to-end id and remittance text; plus its occurrence
//! among the entries of that identity in its own file, so two equal entries of one file (two
//! identical fees) both stay while the same entries read again from another file do not.

use std::collections::HashMap;
use std::sync::Arc;

use chrono::NaiveDate;

use super::{BankEntry, ParsedStatements, Statement, StatementKind};
use crate::money::Currency;
use crate::settlement::SourceLine;

/// The entries of several files counted once, and where each entry left out went.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Merged {
    /// Entries counted, in the order of the files and statements given.
    pub(crate) entries: Vec<BankEntry>,
    /// Intraday or notified entries whose day an end-of-day statement of the account covers;
    /// `by` is that statement.
    pub(crate) superseded: Vec<Dropped>,
    /// Entries already counted from another file; `by` is the entry counted.
    pub(crate) duplicates: Vec<Dropped>,
}

/// An entry left out, and what stands for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Dropped {
    pub(crate) entry: BankEntry,
    pub(crate) by: SourceLine,
}

impl Merged {
    /// Every entry given is counted, superseded or a duplicate: `given` is how many there were.
    pub(crate) fn accounts_for(&self, given: usize) -> bool {
        given == self.entries.len() + self.superseded.len() + self.duplicates.len()
    }
}

#[derive(Debug, PartialEq, Eq, Hash)]
enum Identity<'a> {
    Reference {
        account: &'a str,
        bank_ref: &'a str,
        amount_minor: i64,
        currency: Currency,
    },
    Content {
        account: &'a str,
        booking_date: NaiveDate,
        amount_minor: i64,
        currency: Currency,
        end_to_end_id: Option<&'a str>,
        remittance: Option<&'a str>,
    },
}

impl<'a> Identity<'a> {
    fn of(entry: &'a BankEntry) -> Identity<'a> {
        match &entry.bank_ref {
            Some(bank_ref) => Identity::Reference {
                account: &entry.account,
                bank_ref,
                amount_minor: entry.amount_minor,
                currency: entry.currency,
            },
            None => Identity::Content {
                account: &entry.account,
                booking_date: entry.booking_date,
                amount_minor: entry.amount_minor,
                currency: entry.currency,
                end_to_end_id: entry.end_to_end_id.as_deref(),
                remittance: entry.remittance.as_deref(),
            },
        }
    }
}

/// The entries of `files` (each one file as read), counted once. An end-of-day statement
/// covers, for its account, the day of its closing balance and the booking day of each of its
/// entries; an intraday report on a covered day (the day of its closing, else opening,
/// balance) is superseded whole, and an entry of a notification, or of a report without
/// balances, on a covered booking day is superseded.
pub(crate) fn merge(files: &[ParsedStatements]) -> Merged {
    let statements = || files.iter().flat_map(|file| &file.statements);
    let mut covered: HashMap<(Arc<str>, NaiveDate), &SourceLine> = HashMap::new();
    for statement in statements().filter(|s| s.kind == StatementKind::EndOfDay) {
        let days = statement
            .closing
            .map(|b| b.date)
            .into_iter()
            .chain(statement.entries.iter().map(|e| e.booking_date));
        for day in days {
            covered
                .entry((statement.account.clone(), day))
                .or_insert(&statement.source);
        }
    }
    let covering = |statement: &Statement, day: NaiveDate| {
        covered
            .get(&(statement.account.clone(), day))
            .map(|&source| source.clone())
    };

    let mut merged = Merged::default();
    let mut counted: HashMap<(Identity<'_>, usize), &SourceLine> = HashMap::new();
    for file in files {
        let mut occurrences: HashMap<Identity<'_>, usize> = HashMap::new();
        for statement in &file.statements {
            let statement_day = match statement.kind {
                StatementKind::EndOfDay => None,
                _ => statement.closing.or(statement.opening).map(|b| b.date),
            };
            for entry in &statement.entries {
                let superseded_by = match statement.kind {
                    StatementKind::EndOfDay => None,
                    _ => covering(statement, statement_day.unwrap_or(entry.booking_date)),
                };
                if let Some(by) = superseded_by {
                    merged.superseded.push(Dropped {
                        entry: entry.clone(),
                        by,
                    });
                    continue;
                }
                let occurrence = occurrences.entry(Identity::of(entry)).or_insert(0);
                *occurrence += 1;
                let key = (Identity::of(entry), *occurrence);
                match counted.get(&key) {
                    Some(&by) => merged.duplicates.push(Dropped {
                        entry: entry.clone(),
                        by: by.clone(),
                    }),
                    None => {
                        counted.insert(key, &entry.source);
                        merged.entries.push(entry.clone());
                    }
                }
            }
        }
    }
    merged
}

#[cfg(test)]
mod tests {
    use std::io::BufReader;

    use super::*;
    use crate::bank::camt::parse_camt;
    use crate::bank::{BalanceAt, BatchBookings, Direction, EntryStatus};

    fn camt(name: &str) -> ParsedStatements {
        let path = format!("{}/tests/fixtures/bank/{name}", env!("CARGO_MANIFEST_DIR"));
        let file = std::fs::File::open(&path).expect("fixture");
        parse_camt(name, BufReader::new(file), BatchBookings::Split).expect("parses")
    }

    fn pointers(entries: &[BankEntry]) -> Vec<String> {
        entries
            .iter()
            .map(|e| format!("{}:{}", e.source, e.pointer.as_deref().unwrap_or("")))
            .collect()
    }

    fn dropped(dropped: &[Dropped]) -> Vec<(String, String)> {
        dropped
            .iter()
            .map(|d| (format!("{}", d.entry.source), format!("{}", d.by)))
            .collect()
    }

    #[test]
    fn the_days_camt053_supersedes_its_camt052() {
        let intraday = camt("camt052-v08-2026-12-02.xml");
        let end_of_day = camt("camt053-v08-2026-12-02.xml");
        let merged = merge(&[intraday, end_of_day]);
        assert_eq!(
            pointers(&merged.entries),
            vec![
                "camt053-v08-2026-12-02.xml:43:Stmt[1]/Ntry[1]",
                "camt053-v08-2026-12-02.xml:78:Stmt[1]/Ntry[2]",
                "camt053-v08-2026-12-02.xml:113:Stmt[1]/Ntry[3]",
            ]
        );
        // the booked entry and the pending one (value-dated the 3rd) of the 2nd's report
        assert_eq!(
            dropped(&merged.superseded),
            vec![
                (
                    "camt052-v08-2026-12-02.xml:42".to_owned(),
                    "camt053-v08-2026-12-02.xml:8".to_owned()
                ),
                (
                    "camt052-v08-2026-12-02.xml:77".to_owned(),
                    "camt053-v08-2026-12-02.xml:8".to_owned()
                ),
            ]
        );
        assert!(merged.duplicates.is_empty());
        assert!(merged.accounts_for(5));
    }

    #[test]
    fn an_intraday_report_alone_is_counted() {
        let merged = merge(&[camt("camt052-v08-2026-12-02.xml")]);
        assert_eq!(merged.entries.len(), 2);
        assert!(merged.superseded.is_empty() && merged.duplicates.is_empty());
    }

    #[test]
    fn the_same_file_imported_twice_counts_once() {
        let once = camt("camt053-v02-2026-12-01.xml");
        let merged = merge(&[once.clone(), once.clone()]);
        assert_eq!(merged.entries, once.statements[0].entries);
        assert_eq!(
            dropped(&merged.duplicates),
            once.statements[0]
                .entries
                .iter()
                .map(|e| (e.source.to_string(), e.source.to_string()))
                .collect::<Vec<_>>()
        );
        assert!(merged.accounts_for(12));
    }

    fn fee(line: u64, day: u32) -> BankEntry {
        BankEntry {
            account: "A".into(),
            amount_minor: -250,
            currency: Currency::parse("EUR").expect("EUR"),
            direction: Direction::Debit,
            reversal: false,
            status: EntryStatus::Booked,
            booking_date: NaiveDate::from_ymd_opt(2026, 12, day).expect("date"),
            value_date: None,
            bank_ref: None,
            customer_ref: None,
            end_to_end_id: None,
            remittance: Some("CARD FEE".into()),
            bank_tx_code: None,
            source: SourceLine {
                path: "f.xml".into(),
                line,
            },
            pointer: None,
        }
    }

    fn file(days: &[(u32, usize)], path: &str) -> ParsedStatements {
        let statements = days
            .iter()
            .map(|&(day, fees)| Statement {
                format: "camt.053.001.08",
                kind: StatementKind::EndOfDay,
                account: "A".into(),
                currency: Currency::parse("EUR").expect("EUR"),
                statement_id: None,
                sequence: None,
                page: None,
                opening: None,
                closing: Some(BalanceAt {
                    amount_minor: 0,
                    date: NaiveDate::from_ymd_opt(2026, 12, day).expect("date"),
                }),
                entries: (0..fees)
                    .map(|n| {
                        let mut e = fee(u64::from(day) * 10 + n as u64, day);
                        e.source.path = path.into();
                        e
                    })
                    .collect(),
                source: SourceLine {
                    path: path.into(),
                    line: u64::from(day),
                },
            })
            .collect();
        ParsedStatements {
            statements,
            ..ParsedStatements::default()
        }
    }

    #[test]
    fn overlapping_files_keep_equal_entries_of_one_file() {
        // a.xml: days 1 and 2, two identical fees on the 2nd; b.xml: days 2 and 3
        let a = file(&[(1, 1), (2, 2)], "a.xml");
        let b = file(&[(2, 2), (3, 1)], "b.xml");
        let merged = merge(&[a, b]);
        assert_eq!(
            pointers(&merged.entries),
            vec!["a.xml:10:", "a.xml:20:", "a.xml:21:", "b.xml:30:"]
        );
        assert_eq!(
            dropped(&merged.duplicates),
            vec![
                ("b.xml:20".to_owned(), "a.xml:20".to_owned()),
                ("b.xml:21".to_owned(), "a.xml:21".to_owned()),
            ]
        );
        assert!(merged.accounts_for(6));
    }

    #[test]
    fn a_bank_reference_identifies_across_files() {
        let mut a = file(&[(1, 1)], "a.xml");
        let mut b = file(&[(1, 1)], "b.xml");
        a.statements[0].entries[0].bank_ref = Some("R1".into());
        b.statements[0].entries[0].bank_ref = Some("R1".into());
        // the same reference with other text is still the same entry
        b.statements[0].entries[0].remittance = Some("CARD FEE DEC".into());
        let mut c = file(&[(1, 1)], "c.xml");
        c.statements[0].entries[0].bank_ref = Some("R2".into());
        let merged = merge(&[a, b, c]);
        assert_eq!(pointers(&merged.entries), vec!["a.xml:10:", "c.xml:10:"]);
        assert_eq!(
            dropped(&merged.duplicates),
            vec![("b.xml:10".to_owned(), "a.xml:10".to_owned())]
        );
    }
}
