//! What a statement proves about itself: its opening balance plus its booked entries make its closing balance.

use super::{EntryStatus, Statement};
use crate::money::format_major;

/// A statement whose balances do not add up, with both figures.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct BalanceBreak {
    pub(crate) opening_minor: i64,
    pub(crate) entries_minor: i64,
    /// opening + entries
    pub(crate) expected_closing_minor: i64,
    pub(crate) stated_closing_minor: i64,
}

impl BalanceBreak {
    /// One line for a finding: the figures and the gap, in major units.
    pub(crate) fn describe(&self, statement: &Statement) -> String {
        let c = statement.currency;
        format!(
            "opening {} + entries {} = {} but the statement closes at {} {} (gap {})",
            format_major(self.opening_minor, c),
            format_major(self.entries_minor, c),
            format_major(self.expected_closing_minor, c),
            format_major(self.stated_closing_minor, c),
            c.code(),
            format_major(
                self.stated_closing_minor
                    .saturating_sub(self.expected_closing_minor),
                c
            ),
        )
    }
}

/// `Ok(())` when the statement balances or states no opening and closing balance (a
/// notification); the break otherwise. Pending entries are not counted; an entry in another
/// currency than the statement's, or a sum that overflows, is a break by construction.
pub(crate) fn prove(statement: &Statement) -> Result<(), BalanceBreak> {
    let (Some(opening), Some(closing)) = (statement.opening, statement.closing) else {
        return Ok(());
    };
    let mut sum: i128 = 0;
    let mut foreign = false;
    for entry in &statement.entries {
        if entry.status == EntryStatus::Pending {
            continue;
        }
        foreign |= entry.currency != statement.currency;
        sum += i128::from(entry.amount_minor);
    }
    let expected = i128::from(opening.amount_minor) + sum;
    if !foreign && expected == i128::from(closing.amount_minor) {
        return Ok(());
    }
    let clamp = |v: i128| i64::try_from(v).unwrap_or(if v < 0 { i64::MIN } else { i64::MAX });
    Err(BalanceBreak {
        opening_minor: opening.amount_minor,
        entries_minor: clamp(sum),
        expected_closing_minor: clamp(expected),
        stated_closing_minor: closing.amount_minor,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bank::{BalanceAt, BankEntry, Direction, StatementKind};
    use crate::money::Currency;
    use crate::settlement::SourceLine;
    use chrono::NaiveDate;

    fn day(d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 3, d).expect("date")
    }

    fn entry(amount: i64, status: EntryStatus) -> BankEntry {
        BankEntry {
            account: "DE89370400440532013000".into(),
            amount_minor: amount,
            currency: Currency::parse("EUR").expect("EUR"),
            direction: if amount < 0 {
                Direction::Debit
            } else {
                Direction::Credit
            },
            reversal: false,
            status,
            booking_date: day(2),
            value_date: Some(day(2)),
            bank_ref: None,
            customer_ref: None,
            end_to_end_id: None,
            remittance: None,
            bank_tx_code: None,
            source: SourceLine {
                path: "s.xml".into(),
                line: 10,
            },
            pointer: None,
        }
    }

    fn statement(opening: i64, closing: i64, entries: Vec<BankEntry>) -> Statement {
        Statement {
            format: "camt.053.001.08",
            kind: StatementKind::EndOfDay,
            account: "DE89370400440532013000".into(),
            currency: Currency::parse("EUR").expect("EUR"),
            statement_id: Some("S1".into()),
            sequence: Some(1),
            page: None,
            opening: Some(BalanceAt {
                amount_minor: opening,
                date: day(1),
            }),
            closing: Some(BalanceAt {
                amount_minor: closing,
                date: day(2),
            }),
            entries,
            source: SourceLine {
                path: "s.xml".into(),
                line: 3,
            },
        }
    }

    #[test]
    fn balances_and_ignores_pending() {
        let s = statement(
            10_000,
            12_500,
            vec![
                entry(5_000, EntryStatus::Booked),
                entry(-2_500, EntryStatus::Booked),
                entry(99_999, EntryStatus::Pending),
            ],
        );
        assert_eq!(prove(&s), Ok(()));
    }

    #[test]
    fn break_carries_both_figures() {
        let s = statement(10_000, 12_400, vec![entry(2_500, EntryStatus::Booked)]);
        let broken = prove(&s).expect_err("does not balance");
        assert_eq!(
            broken,
            BalanceBreak {
                opening_minor: 10_000,
                entries_minor: 2_500,
                expected_closing_minor: 12_500,
                stated_closing_minor: 12_400,
            }
        );
        assert_eq!(
            broken.describe(&s),
            "opening 100.00 + entries 25.00 = 125.00 but the statement closes at 124.00 EUR (gap -1.00)"
        );
    }

    #[test]
    fn no_balances_nothing_to_prove() {
        let mut s = statement(0, 0, vec![entry(1, EntryStatus::Booked)]);
        s.opening = None;
        assert_eq!(prove(&s), Ok(()));
    }
}
