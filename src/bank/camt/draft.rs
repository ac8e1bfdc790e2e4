//! A camt balance, entry and statement as read, field by field, and their checking into bank entries and statements once their element closes.

use std::sync::Arc;

use super::values::{self, DateText};
use crate::bank::{BalanceAt, BankEntry, BatchBookings, FileProblem, Statement, StatementKind};
use crate::money::{Currency, format_major, format_major_wide};
use crate::settlement::SourceLine;

/// An `Amt` element as read: its text and its `Ccy` attribute.
#[derive(Debug, Clone, Default)]
pub(super) struct AmountText {
    pub(super) text: String,
    pub(super) ccy: Option<String>,
}

impl AmountText {
    fn parse(&self) -> Result<(i64, Currency), String> {
        values::amount(&self.text, self.ccy.as_deref())
    }
}

/// One `Bal`.
#[derive(Debug, Default)]
pub(super) struct BalanceDraft {
    pub(super) line: u64,
    /// `Tp/CdOrPrtry/Cd`: OPBD, PRCD, CLBD, ITBD…
    pub(super) code: Option<String>,
    pub(super) amount: Option<AmountText>,
    pub(super) cdt_dbt: Option<String>,
    pub(super) date: Option<DateText>,
}

/// A balance read whole: its type code, signed amount and date, and currency.
#[derive(Debug)]
pub(super) struct Balance {
    pub(super) code: String,
    pub(super) at: BalanceAt,
    pub(super) currency: Currency,
}

impl BalanceDraft {
    pub(super) fn finish(self) -> Result<Balance, String> {
        let code = self
            .code
            .ok_or("a balance without a type code (Tp/CdOrPrtry/Cd)")?;
        let amount = self
            .amount
            .ok_or_else(|| format!("balance {code}: no Amt"))?;
        let (minor, currency) = amount.parse().map_err(|e| format!("balance {code}: {e}"))?;
        let direction = values::direction(self.cdt_dbt.as_deref())
            .map_err(|e| format!("balance {code}: {e}"))?;
        let date = self
            .date
            .ok_or_else(|| format!("balance {code}: no Dt"))?
            .parse()
            .map_err(|e| format!("balance {code}: {e}"))?;
        Ok(Balance {
            code,
            at: BalanceAt {
                amount_minor: values::signed(minor, direction),
                date,
            },
            currency,
        })
    }
}

/// One `NtryDtls/TxDtls`.
#[derive(Debug, Default)]
pub(super) struct DetailDraft {
    pub(super) line: u64,
    /// Which `NtryDtls` of the entry it is in (from 1), and its place there (from 1).
    pub(super) group: usize,
    pub(super) index: usize,
    pub(super) end_to_end_id: Option<String>,
    pub(super) bank_ref: Option<String>,
    /// `RmtInf/Ustrd` and `RmtInf/Strd/CdtrRefInf/Ref`, in file order.
    pub(super) remittance: Vec<String>,
    /// `TxDtls/Amt` (from .001.03).
    pub(super) amount: Option<AmountText>,
    /// `TxDtls/AmtDtls/TxAmt/Amt`.
    pub(super) tx_amount: Option<AmountText>,
    pub(super) cdt_dbt: Option<String>,
}

/// One `Ntry`.
#[derive(Debug, Default)]
pub(super) struct EntryDraft {
    pub(super) line: u64,
    /// `Stmt[1]/Ntry[3]`
    pub(super) pointer: String,
    pub(super) amount: Option<AmountText>,
    pub(super) cdt_dbt: Option<String>,
    pub(super) reversal: Option<String>,
    pub(super) status: Option<String>,
    pub(super) booking: Option<DateText>,
    pub(super) value: Option<DateText>,
    pub(super) bank_ref: Option<String>,
    pub(super) domain: Option<String>,
    pub(super) family: Option<String>,
    pub(super) sub_family: Option<String>,
    pub(super) proprietary: Option<String>,
    /// `NtryDtls/Btch/NbOfTxs`
    pub(super) batch_count: Option<String>,
    /// How many `NtryDtls` the entry has.
    pub(super) groups: usize,
    pub(super) details: Vec<DetailDraft>,
    pub(super) additional_info: Option<String>,
}

/// What one entry became: one bank entry, or one per batch detail; and, when a batch booking
/// could not be split, why.
pub(super) struct Finished {
    pub(super) entries: Vec<BankEntry>,
    pub(super) problem: Option<FileProblem>,
}

impl EntryDraft {
    /// The bank entries of this `Ntry`, or why it cannot be read (it is then quarantined).
    pub(super) fn finish(
        self,
        account: Option<&Arc<str>>,
        path: &Arc<str>,
        batch: BatchBookings,
    ) -> Result<Finished, String> {
        let account = account
            .ok_or("the statement names no account (Acct/Id) before this entry")?
            .clone();
        let (minor, currency) = self.amount.as_ref().ok_or("no Amt")?.parse()?;
        let direction = values::direction(self.cdt_dbt.as_deref())?;
        let reversal = values::reversal(self.reversal.as_deref())?;
        let status = values::status(self.status.as_deref())?;
        let value_date = self.value.as_ref().map(DateText::parse).transpose()?;
        let booking_date = match (&self.booking, value_date) {
            (Some(booking), _) => booking.parse()?,
            (None, Some(value)) => value,
            (None, None) => return Err("neither BookgDt nor ValDt".to_owned()),
        };
        let single = match self.details.as_slice() {
            [only] => Some(only),
            _ => None,
        };
        let mut remittance: Vec<&str> = self
            .details
            .iter()
            .flat_map(|d| d.remittance.iter().map(String::as_str))
            .collect();
        remittance.extend(self.additional_info.as_deref());
        let whole = BankEntry {
            account,
            amount_minor: values::signed(minor, direction),
            currency,
            direction,
            reversal,
            status,
            booking_date,
            value_date,
            bank_ref: self
                .bank_ref
                .clone()
                .or_else(|| single.and_then(|d| d.bank_ref.clone())),
            customer_ref: None,
            end_to_end_id: single.and_then(|d| d.end_to_end_id.clone()),
            remittance: joined(&remittance),
            bank_tx_code: self.bank_tx_code(),
            source: SourceLine {
                path: path.clone(),
                line: self.line,
            },
            pointer: Some(self.pointer.clone()),
        };
        if batch == BatchBookings::Keep || self.details.len() < 2 {
            return Ok(Finished {
                entries: vec![whole],
                problem: None,
            });
        }
        match self.split(&whole) {
            Ok(entries) => Ok(Finished {
                entries,
                problem: None,
            }),
            Err(why) => Ok(Finished {
                problem: Some(FileProblem {
                    source: whole.source.clone(),
                    reason: format!(
                        "{}: batch booking of {} details kept whole: {why}",
                        self.pointer,
                        self.details.len()
                    ),
                }),
                entries: vec![whole],
            }),
        }
    }

    /// `Domn/Cd/Fmly/Cd/SubFmlyCd` as `PMNT/RCDT/ESCT`, else `Prtry/Cd`.
    fn bank_tx_code(&self) -> Option<String> {
        match (&self.domain, &self.family, &self.sub_family) {
            (Some(domain), Some(family), Some(sub)) => Some(format!("{domain}/{family}/{sub}")),
            (Some(domain), Some(family), None) => Some(format!("{domain}/{family}")),
            (Some(domain), None, _) => Some(domain.clone()),
            (None, ..) => self.proprietary.clone(),
        }
    }

    /// One entry per detail, each with its own amount, when the details account for the
    /// booking exactly; else why not.
    fn split(&self, whole: &BankEntry) -> Result<Vec<BankEntry>, String> {
        if let Some(count) = &self.batch_count
            && count.parse::<usize>().ok() != Some(self.details.len())
        {
            return Err(format!(
                "Btch/NbOfTxs says {count}, the entry has {} TxDtls",
                self.details.len()
            ));
        }
        let several_groups = self.groups > 1;
        let mut sum: i128 = 0;
        let mut entries = Vec::with_capacity(self.details.len());
        for detail in &self.details {
            let place = if several_groups {
                format!("NtryDtls[{}]/TxDtls[{}]", detail.group, detail.index)
            } else {
                format!("NtryDtls/TxDtls[{}]", detail.index)
            };
            let amount = detail
                .tx_amount
                .as_ref()
                .or(detail.amount.as_ref())
                .ok_or_else(|| format!("{place} has no amount"))?;
            let (minor, currency) = amount.parse().map_err(|e| format!("{place}: {e}"))?;
            if currency != whole.currency {
                return Err(format!(
                    "{place} is in {currency}, the entry in {}",
                    whole.currency
                ));
            }
            let direction = match &detail.cdt_dbt {
                Some(code) => values::direction(Some(code)).map_err(|e| format!("{place}: {e}"))?,
                None => whole.direction,
            };
            let amount_minor = values::signed(minor, direction);
            sum += i128::from(amount_minor);
            entries.push(BankEntry {
                amount_minor,
                direction,
                bank_ref: detail.bank_ref.clone().or_else(|| whole.bank_ref.clone()),
                end_to_end_id: detail.end_to_end_id.clone(),
                remittance: joined(&detail.remittance),
                source: SourceLine {
                    path: whole.source.path.clone(),
                    line: detail.line,
                },
                pointer: Some(format!("{}/{place}", self.pointer)),
                ..whole.clone()
            });
        }
        if sum != i128::from(whole.amount_minor) {
            return Err(format!(
                "the details add up to {}, the booking is {} {}",
                format_major_wide(sum, whole.currency),
                format_major(whole.amount_minor, whole.currency),
                whole.currency
            ));
        }
        Ok(entries)
    }
}

/// Text parts joined by a space, `None` when there are none.
fn joined<S: AsRef<str>>(parts: &[S]) -> Option<String> {
    (!parts.is_empty()).then(|| {
        parts
            .iter()
            .map(AsRef::as_ref)
            .collect::<Vec<_>>()
            .join(" ")
    })
}

/// One `Stmt`, `Rpt` or `Ntfctn`.
#[derive(Debug)]
pub(super) struct StatementDraft {
    pub(super) line: u64,
    /// `Stmt[1]`
    pub(super) pointer: String,
    pub(super) kind: StatementKind,
    pub(super) id: Option<String>,
    pub(super) sequence: Option<String>,
    pub(super) page: Option<String>,
    pub(super) account: Option<Arc<str>>,
    pub(super) currency: Option<String>,
    pub(super) opening: Option<Balance>,
    /// PRCD, used as the opening balance when there is no OPBD.
    pub(super) previous_closing: Option<Balance>,
    pub(super) closing: Option<Balance>,
    /// ITBD, the closing balance of an intraday report without CLBD.
    pub(super) interim: Option<Balance>,
    /// The currency the first entry kept fixed: the one named so far, else that entry's own.
    pub(super) entry_currency: Option<Currency>,
    pub(super) entries: Vec<BankEntry>,
}

impl StatementDraft {
    pub(super) fn new(line: u64, pointer: String, kind: StatementKind) -> StatementDraft {
        StatementDraft {
            line,
            pointer,
            kind,
            id: None,
            sequence: None,
            page: None,
            account: None,
            currency: None,
            opening: None,
            previous_closing: None,
            closing: None,
            interim: None,
            entry_currency: None,
            entries: Vec::new(),
        }
    }

    /// The statement's currency as known so far: fixed by an entry kept, else `Acct/Ccy`,
    /// else the opening balance's, else the closing balance's (as [`Self::finish`] picks).
    pub(super) fn currency_so_far(&self) -> Option<Currency> {
        self.entry_currency
            .or_else(|| {
                let stated = self.currency.as_deref()?;
                Currency::parse(stated).ok()
            })
            .or(self.opening.as_ref().map(|b| b.currency))
            .or(self.previous_closing.as_ref().map(|b| b.currency))
            .or(self.closing.as_ref().map(|b| b.currency))
            .or(match self.kind {
                StatementKind::Intraday => self.interim.as_ref().map(|b| b.currency),
                _ => None,
            })
    }

    /// Keeps a balance of a type recon uses (the first of each type); others are ignored.
    pub(super) fn add_balance(&mut self, balance: Balance) {
        let slot = match balance.code.as_str() {
            "OPBD" => &mut self.opening,
            "PRCD" => &mut self.previous_closing,
            "CLBD" => &mut self.closing,
            "ITBD" => &mut self.interim,
            _ => return,
        };
        if slot.is_none() {
            *slot = Some(balance);
        }
    }

    /// The statement, unless it names no account or no currency (its entries were then
    /// quarantined for want of an account), and the problems seen in it.
    pub(super) fn finish(
        self,
        format: &'static str,
        source: SourceLine,
    ) -> (Option<Statement>, Vec<String>) {
        let place = self.pointer.as_str();
        let mut problems = Vec::new();
        let mut number = |text: &Option<String>, what: &str| {
            text.as_ref().and_then(|t| match t.parse::<u64>() {
                Ok(n) => Some(n),
                Err(_) => {
                    problems.push(format!("{place}: {what} `{t}` is not a number"));
                    None
                }
            })
        };
        let sequence = number(&self.sequence, "ElctrncSeqNb");
        let page = number(&self.page, "LglSeqNb");
        let stated = self.currency.as_ref().and_then(|code| {
            Currency::parse(code)
                .map_err(|e| problems.push(format!("{place}: Acct/Ccy: {e}")))
                .ok()
        });
        let opening = self.opening.or(self.previous_closing);
        let closing = match self.kind {
            StatementKind::Intraday => self.closing.or(self.interim),
            _ => self.closing,
        };
        // Every entry kept is in the currency the first one fixed; a currency named only
        // after it (out of the schema's order) does not move the statement off its entries.
        if let (Some(fixed), Some(named)) = (self.entry_currency, stated)
            && fixed != named
        {
            problems.push(format!(
                "{place}: Acct/Ccy {named} comes after entries in {fixed}: not used"
            ));
        }
        let currency = self
            .entry_currency
            .or(stated)
            .or(opening.as_ref().map(|b| b.currency))
            .or(closing.as_ref().map(|b| b.currency));
        let (Some(account), Some(currency)) = (self.account, currency) else {
            problems.push(format!(
                "{place}: statement left out: it names no account (Acct/Id) or no currency \
                 (Acct/Ccy, a balance or an entry)"
            ));
            return (None, problems);
        };
        let mut balance = |balance: Option<Balance>| {
            let balance = balance?;
            if balance.currency != currency {
                problems.push(format!(
                    "{place}: balance {} is in {}, the statement in {currency}: not used",
                    balance.code, balance.currency
                ));
                return None;
            }
            Some(balance.at)
        };
        let opening = balance(opening);
        let closing = balance(closing);
        let statement = Statement {
            format,
            kind: self.kind,
            account,
            currency,
            statement_id: self.id,
            sequence,
            page,
            opening,
            closing,
            entries: self.entries,
            source,
        };
        (Some(statement), problems)
    }
}
