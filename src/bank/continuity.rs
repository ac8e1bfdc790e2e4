//! Whether an account's end-of-day statements follow each other: no statement number missing, and each opening balance the previous statement's closing balance.

use std::collections::HashMap;
use std::sync::Arc;

use chrono::Datelike;

use super::{BalanceAt, Statement, StatementKind};
use crate::money::{Currency, format_major};
use crate::settlement::SourceLine;

/// Two consecutive statements of one account that do not follow each other.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ContinuityBreak {
    /// The statements numbered after `after` and before `before` are missing.
    MissingStatements {
        account: Arc<str>,
        after: u64,
        before: u64,
        /// The statement after the gap.
        at: SourceLine,
    },
    /// The sequence number repeats or goes back (a statement given twice, or out of order),
    /// other than a restart at 1 in a new year.
    SequenceBack {
        account: Arc<str>,
        previous: u64,
        next: u64,
        at: SourceLine,
    },
    /// The opening balance is not the previous statement's closing balance.
    OpeningDiffers {
        account: Arc<str>,
        previous_closing: BalanceAt,
        previous_currency: Currency,
        opening: BalanceAt,
        currency: Currency,
        at: SourceLine,
    },
}

impl ContinuityBreak {
    /// The account and the statement where the chain breaks.
    pub(crate) fn place(&self) -> (&str, &SourceLine) {
        match self {
            ContinuityBreak::MissingStatements { account, at, .. }
            | ContinuityBreak::SequenceBack { account, at, .. }
            | ContinuityBreak::OpeningDiffers { account, at, .. } => (account, at),
        }
    }

    /// One line for a finding, with both figures.
    pub(crate) fn describe(&self) -> String {
        match self {
            ContinuityBreak::MissingStatements {
                account,
                after,
                before,
                at,
            } => {
                let missing = if before - after == 2 {
                    format!("statement {} is missing", after + 1)
                } else {
                    format!("statements {} to {} are missing", after + 1, before - 1)
                };
                format!("{account}: {missing} (between {after} and {before}, at {at})")
            }
            ContinuityBreak::SequenceBack {
                account,
                previous,
                next,
                at,
            } => format!("{account}: statement {next} follows statement {previous} (at {at})"),
            ContinuityBreak::OpeningDiffers {
                account,
                previous_closing,
                previous_currency,
                opening,
                currency,
                at,
            } => format!(
                "{account}: opens at {} {currency} on {} but the previous statement closed at \
                 {} {previous_currency} on {} (at {at})",
                format_major(opening.amount_minor, *currency),
                opening.date,
                format_major(previous_closing.amount_minor, *previous_currency),
                previous_closing.date,
            ),
        }
    }
}

/// The breaks between consecutive end-of-day statements of each account, `statements` being
/// in the order the account's statements were issued (intraday reports and notifications are
/// not part of the chain and are skipped). Pages of one statement (the same sequence number,
/// the page growing) follow each other; a sequence restarting at 1 in a later year does too.
pub(crate) fn continuity<'a>(
    statements: impl IntoIterator<Item = &'a Statement>,
) -> Vec<ContinuityBreak> {
    let mut last: HashMap<Arc<str>, &Statement> = HashMap::new();
    let mut breaks = Vec::new();
    for next in statements {
        if next.kind != StatementKind::EndOfDay {
            continue;
        }
        if let Some(previous) = last.insert(next.account.clone(), next) {
            breaks.extend(sequence_break(previous, next));
            breaks.extend(balance_break(previous, next));
        }
    }
    breaks
}

fn sequence_break(previous: &Statement, next: &Statement) -> Option<ContinuityBreak> {
    let (Some(p), Some(n)) = (previous.sequence, next.sequence) else {
        return None;
    };
    let year = |s: &Statement| s.closing.or(s.opening).map(|b| b.date.year());
    let next_page = matches!((previous.page, next.page), (Some(a), Some(b)) if b > a);
    let new_year = n == 1 && matches!((year(previous), year(next)), (Some(a), Some(b)) if b > a);
    let account = next.account.clone();
    let at = next.source.clone();
    if n == p.saturating_add(1) || (n == p && next_page) || new_year {
        None
    } else if n > p {
        Some(ContinuityBreak::MissingStatements {
            account,
            after: p,
            before: n,
            at,
        })
    } else {
        Some(ContinuityBreak::SequenceBack {
            account,
            previous: p,
            next: n,
            at,
        })
    }
}

fn balance_break(previous: &Statement, next: &Statement) -> Option<ContinuityBreak> {
    let (Some(previous_closing), Some(opening)) = (previous.closing, next.opening) else {
        return None;
    };
    let follows =
        previous_closing.amount_minor == opening.amount_minor && previous.currency == next.currency;
    (!follows).then(|| ContinuityBreak::OpeningDiffers {
        account: next.account.clone(),
        previous_closing,
        previous_currency: previous.currency,
        opening,
        currency: next.currency,
        at: next.source.clone(),
    })
}

#[cfg(test)]
mod tests {
    use chrono::NaiveDate;

    use super::*;

    fn at(line: u64) -> SourceLine {
        SourceLine {
            path: "s.xml".into(),
            line,
        }
    }

    fn balance(amount_minor: i64, year: i32, day: u32) -> Option<BalanceAt> {
        Some(BalanceAt {
            amount_minor,
            date: NaiveDate::from_ymd_opt(year, 12, day).expect("date"),
        })
    }

    /// Statement `sequence` of account A, opening and closing at the given amounts on day `day`.
    fn statement(sequence: u64, opening: i64, closing: i64, day: u32) -> Statement {
        Statement {
            format: "camt.053.001.08",
            kind: StatementKind::EndOfDay,
            account: "A".into(),
            currency: Currency::parse("EUR").expect("EUR"),
            statement_id: None,
            sequence: Some(sequence),
            page: None,
            opening: balance(opening, 2026, day),
            closing: balance(closing, 2026, day),
            entries: Vec::new(),
            source: at(sequence),
        }
    }

    #[test]
    fn a_chain_that_follows() {
        let chain = [
            statement(7, 100, 200, 1),
            statement(8, 200, 150, 2),
            statement(9, 150, 150, 3),
        ];
        assert_eq!(continuity(&chain), vec![]);
    }

    #[test]
    fn a_missing_statement_and_a_balance_that_jumps() {
        let chain = [statement(7, 100, 200, 1), statement(10, 260, 300, 4)];
        let breaks = continuity(&chain);
        assert_eq!(
            breaks,
            vec![
                ContinuityBreak::MissingStatements {
                    account: "A".into(),
                    after: 7,
                    before: 10,
                    at: at(10),
                },
                ContinuityBreak::OpeningDiffers {
                    account: "A".into(),
                    previous_closing: balance(200, 2026, 1).expect("balance"),
                    previous_currency: Currency::parse("EUR").expect("EUR"),
                    opening: balance(260, 2026, 4).expect("balance"),
                    currency: Currency::parse("EUR").expect("EUR"),
                    at: at(10),
                },
            ]
        );
        assert_eq!(
            breaks
                .iter()
                .map(ContinuityBreak::describe)
                .collect::<Vec<_>>(),
            vec![
                "A: statements 8 to 9 are missing (between 7 and 10, at s.xml:10)",
                "A: opens at 2.60 EUR on 2026-12-04 but the previous statement closed at 2.00 EUR \
                 on 2026-12-01 (at s.xml:10)",
            ]
        );
    }

    #[test]
    fn one_missing_statement_is_named() {
        let chain = [statement(7, 100, 200, 1), statement(9, 200, 200, 3)];
        assert_eq!(
            continuity(&chain)
                .iter()
                .map(ContinuityBreak::describe)
                .collect::<Vec<_>>(),
            vec!["A: statement 8 is missing (between 7 and 9, at s.xml:9)"]
        );
    }

    #[test]
    fn pages_a_new_year_and_a_repeat() {
        let mut page_two = statement(8, 200, 250, 2);
        page_two.page = Some(2);
        let mut page_one = statement(8, 200, 200, 2);
        page_one.page = Some(1);
        let mut new_year = statement(1, 250, 250, 2);
        new_year.opening = balance(250, 2027, 2);
        new_year.closing = balance(250, 2027, 2);
        let repeat = statement(1, 250, 250, 3);
        let chain = [page_one, page_two, new_year, repeat];
        assert_eq!(
            continuity(&chain),
            vec![ContinuityBreak::SequenceBack {
                account: "A".into(),
                previous: 1,
                next: 1,
                at: at(1),
            }]
        );
    }

    #[test]
    fn accounts_chain_separately_and_intraday_reports_are_not_links() {
        let mut other = statement(50, 0, 0, 1);
        other.account = "B".into();
        let mut intraday = statement(3, 999, 999, 2);
        intraday.kind = StatementKind::Intraday;
        let chain = [
            statement(7, 100, 200, 1),
            other,
            intraday,
            statement(8, 200, 200, 2),
        ];
        assert_eq!(continuity(&chain), vec![]);
    }
}
