//! The next step for each kind of discrepancy, one line for the finance-ops analyst who reads
//! the report: what to check or book first.

use crate::discrepancy::{BankKind, Kind, SettlementKind};

/// What to do about a finding of `kind`, in one sentence.
pub(crate) fn what_to_do(kind: Kind) -> &'static str {
    match kind {
        Kind::MissingInLeft => {
            "Add the row to the left table, or remove it from the right one if it should not \
             exist there; the next run resolves it."
        }
        Kind::MissingInRight => {
            "Add the row to the right table, or remove it from the left one if it should not \
             exist there; the next run resolves it."
        }
        Kind::Changed => {
            "Decide which side holds the true values and correct the other; a difference that \
             is right on both sides is acknowledged with a note."
        }
        Kind::SchemaMismatch => {
            "Tell the engineers who own the tables: the column exists on one side only, so \
             nothing in it is compared."
        }
        Kind::ClosedPeriodModified => {
            "Find who changed the closed day and why before anything else; reverse the change \
             or book it in an open period, and have an approver sign it off."
        }
        Kind::Settlement(kind) => match kind {
            SettlementKind::MissingInLedger => {
                "Book the processor's line in the ledger, or find why the ledger dropped it."
            }
            SettlementKind::MissingInReport => {
                "Ask the processor why a payment the ledger calls settled is not in its report, \
                 and check that it really settled."
            }
            SettlementKind::AmountMismatch => {
                "Compare the amount with the processor's and correct the ledger entry, or book \
                 the difference."
            }
            SettlementKind::FeeMismatch => {
                "Check the fee against the processor's pricing and book the difference as a fee \
                 adjustment."
            }
            SettlementKind::CurrencyMismatch => {
                "Find which side names the wrong currency and correct that entry."
            }
            SettlementKind::StatusMismatch => {
                "The processor settled it: update the ledger entry's status, or ask the \
                 processor why it settled a payment the ledger did not."
            }
            SettlementKind::DuplicateInReport => {
                "Ask the processor whether the lines are one payment reported twice or several \
                 payments sharing an id."
            }
            SettlementKind::DuplicateInLedger => {
                "Reverse the extra bookings, keeping the one entry that matches the report."
            }
            SettlementKind::PayoutTotalMismatch => {
                "Compare the payout with the bank statement and the payments booked to it: \
                 find the payment missing from it or booked to it by mistake."
            }
            SettlementKind::Timing => {
                "Nothing yet: the report may still list it; past its window it becomes \
                 missing_in_report."
            }
        },
        Kind::Bank(kind) => match kind {
            BankKind::PayoutMissingInBank => {
                "Ask the processor for the payout's trace id and the bank for the transfer; \
                 check the payout account and currency the payout was sent to."
            }
            BankKind::DepositUnexplained => {
                "Find who sent the deposit (its reference and remittance text say most) and book \
                 it, or add the payout report that explains it."
            }
            BankKind::PayoutAmountMismatch => {
                "Book the difference as the bank fee or FX it was classified as, or ask the bank \
                 why the deposit differs from the payout when it is unclassified."
            }
            BankKind::PayoutLate => {
                "Nothing yet: the deposit may still come; past its window it becomes \
                 payout_missing_in_bank."
            }
            BankKind::StatementUnbalanced => {
                "Ask the bank for a corrected statement (the detail gives both figures), then \
                 rerun the date."
            }
            BankKind::StatementContinuityBreak => {
                "Fetch the missing statement (or drop the repeated one) from the bank, then \
                 rerun the date."
            }
        },
        Kind::QuarantinedRow => {
            "Ask for a corrected report line (the reason says what is wrong with it), or fix \
             the ledger row, then rerun the date."
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every kind has its own step, each one sentence: no two kinds share a line by mistake.
    #[test]
    fn every_kind_has_its_own_one_line_step() {
        let steps: Vec<&str> = Kind::all().map(what_to_do).collect();
        let distinct: std::collections::BTreeSet<&str> = steps.iter().copied().collect();
        assert_eq!(distinct.len(), steps.len());
        for step in steps {
            assert!(step.ends_with('.') && !step.contains('\n'), "{step}");
        }
    }
}
