//! BAI2 files (BAI's Cash Management Balance Reporting Specifications, Version 2) read into bank statements, one per account, every `16` transaction detail a bank entry or quarantined with its line, every control total checked.
//!
//! Records, as the specification lays them out (fields comma-separated, `/` ending a record's
//! fields early, the rest defaulted; `88` continues the record before it):
//! - `01` file header: sender, receiver, creation date and time, file id, physical record
//!   length, block size, version number (`2`).
//! - `02` group header: ultimate receiver, originator, group status, as-of date (YYMMDD), as-of
//!   time, currency (default USD), as-of-date modifier (`1`/`2` interim/final previous-day, a
//!   statement; `3`/`4` interim/final same-day, an intraday report).
//! - `03` account identifier and summary: account number, currency (overriding the group's),
//!   then repeated type code, amount, item count, funds type. Type code `010` is the opening
//!   ledger balance and `015` the closing ledger balance; balances may carry a sign.
//! - `16` transaction detail: type code, amount, funds type, bank reference, customer
//!   reference, text (to the end of the record, commas and slashes included). Detail type codes
//!   `100`–`399` are credits, `400`–`699` debits.
//! - Funds types: `0` immediate, `1` one-day, `2` two-or-more-day, `Z` unknown: nothing more;
//!   `S` adds the immediate, one-day and two-or-more-day amounts; `V` adds the value date
//!   (YYMMDD) and time; `D` adds a number of distributions, then that many days/amount pairs.
//!   These fields come before the references, so they shift them.
//! - `49` account trailer: account control total (the algebraic sum of the amount fields of the
//!   account's `03` and `16` records, the funds distribution amounts not included), number of
//!   records (the `03`, `16`, `88` and this `49`).
//! - `98` group trailer: group control total (the sum of its accounts'), number of accounts,
//!   number of records (`02` through `98`). `99` file trailer: file control total, number of
//!   groups, number of records (`01` through `99`).
//!
//! Amounts have no decimal point: they are in the currency's minor units (implied decimals,
//! `150000` is 1,500.00 USD and 150,000 JPY). A control total or record count that does not
//! match is a [`FileProblem`] with both figures; a `16` that cannot be read, or one under an
//! account or group that cannot be read, is quarantined with its line.

mod fields;
mod records;
#[cfg(test)]
mod tests;
mod trailers;

use std::io::BufRead;
use std::sync::Arc;

use chrono::NaiveDate;

use fields::{account_summary, currency, read_detail};
use records::Record;
use trailers::Counted;

use super::dates::yymmdd;
use super::lines::NumberedLines;
use super::{
    BalanceAt, BankEntry, BankFileError, Direction, EntryStatus, FileProblem, ParsedStatements,
    Statement, StatementKind,
};
use crate::money::Currency;
use crate::settlement::report::kept_text::KeptText;
use crate::settlement::{Quarantined, SourceLine};

/// Reads every group and account of a BAI2 file.
pub(crate) fn parse_bai2(
    path: &str,
    reader: impl BufRead,
) -> Result<ParsedStatements, BankFileError> {
    let mut lines = NumberedLines::new(path, reader);
    let mut reading = Reading {
        path: Arc::from(path),
        out: ParsedStatements::default(),
        file: None,
        group: None,
        account: None,
        ended: false,
    };
    let mut pending: Option<Record> = None;
    while let Some((number, line)) = lines.next_line()? {
        let text = line.trim();
        if text.is_empty() {
            continue;
        }
        if records::split_code(text).is_some_and(|(code, _)| code == "88") {
            match pending.as_mut() {
                Some(record) => record.continue_with(text),
                None if reading.file.is_none() => {
                    return Err(not_bai2(path, "it starts with an 88 continuation"));
                }
                None => reading.problem(
                    number,
                    "an 88 continuation with no record before it: ignored".into(),
                ),
            }
            continue;
        }
        let Some(record) = Record::start(number, text) else {
            if reading.file.is_none() {
                return Err(not_bai2(path, "its first record has no record code"));
            }
            reading.problem(
                number,
                format!(
                    "`{}` is not a BAI2 record: ignored",
                    KeptText::of(text.as_bytes())
                ),
            );
            continue;
        };
        if let Some(previous) = pending.replace(record) {
            reading.record(previous)?;
        }
    }
    match pending {
        Some(last) => reading.record(last)?,
        None => {
            return Err(BankFileError::Empty {
                path: path.to_owned(),
            });
        }
    }
    reading.end_of_file();
    Ok(reading.out)
}

fn not_bai2(path: &str, why: &str) -> BankFileError {
    BankFileError::NotThisFormat {
        path: path.to_owned(),
        expected: "BAI2".into(),
        why: why.into(),
    }
}

struct Group {
    counted: Counted,
    /// As-of date, kind and currency; the reason when the group header cannot be read.
    header: Result<(NaiveDate, StatementKind, Currency), String>,
}

struct Account {
    counted: Counted,
    /// The statement being filled; the reason when the account or its group cannot be read.
    statement: Result<Statement, String>,
    as_of: Option<NaiveDate>,
}

struct Reading {
    path: Arc<str>,
    out: ParsedStatements,
    file: Option<Counted>,
    group: Option<Group>,
    account: Option<Account>,
    /// A `99` was read.
    ended: bool,
}

impl Reading {
    fn source(&self, line: u64) -> SourceLine {
        SourceLine {
            path: self.path.clone(),
            line,
        }
    }

    fn problem(&mut self, line: u64, reason: String) {
        let source = self.source(line);
        self.out.problems.push(FileProblem { source, reason });
    }

    fn record(&mut self, record: Record) -> Result<(), BankFileError> {
        if self.file.is_none() {
            if record.code != "01" {
                return Err(not_bai2(
                    &self.path,
                    "its first record is not an 01 file header",
                ));
            }
            let version = record.fields().nth_field(7).unwrap_or_default();
            if version != "2" {
                return Err(not_bai2(
                    &self.path,
                    &format!("its file header names version `{version}`, not 2"),
                ));
            }
            self.file = Some(Counted {
                line: record.line,
                ..Counted::default()
            });
            self.count(&record);
            return Ok(());
        }
        if self.ended {
            self.problem(
                record.line,
                format!(
                    "an {} record after the 99 file trailer: ignored",
                    record.code
                ),
            );
            return Ok(());
        }
        match record.code.as_str() {
            "02" => self.group_header(&record),
            "03" => self.account_header(&record),
            "16" => self.detail(&record),
            "49" => self.account_trailer(&record),
            "98" => self.group_trailer(&record),
            "99" => self.file_trailer(&record),
            "01" => {
                self.count(&record);
                self.problem(record.line, "a second 01 file header: ignored".into());
            }
            other => {
                self.count(&record);
                self.problem(
                    record.line,
                    format!("record code {other} is not a BAI2 record: ignored"),
                );
            }
        }
        Ok(())
    }

    /// Counts a record's physical records in every level open.
    fn count(&mut self, record: &Record) {
        let n = record.physical();
        for counted in [
            self.file.as_mut(),
            self.group.as_mut().map(|g| &mut g.counted),
            self.account.as_mut().map(|a| &mut a.counted),
        ]
        .into_iter()
        .flatten()
        {
            counted.records += n;
        }
    }

    fn group_header(&mut self, record: &Record) {
        if let Some(group) = self.group.take() {
            self.problem(
                group.counted.line,
                "the group has no 98 group trailer".into(),
            );
            self.close_group(group);
        }
        let mut fields = record.fields();
        let header = (|| {
            let as_of_text = fields.nth_field(3).unwrap_or_default();
            let as_of = yymmdd(as_of_text)
                .ok_or_else(|| format!("as-of date `{as_of_text}` is not a date YYMMDD"))?;
            fields.next_field();
            let currency = currency(fields.next_field(), None)?;
            let kind = match fields.next_field() {
                Some("3" | "4") => StatementKind::Intraday,
                _ => StatementKind::EndOfDay,
            };
            Ok((as_of, kind, currency))
        })();
        if let Err(why) = &header {
            self.problem(record.line, format!("02 group header: {why}"));
        }
        self.group = Some(Group {
            counted: Counted {
                line: record.line,
                ..Counted::default()
            },
            header,
        });
        self.count(record);
    }

    fn account_header(&mut self, record: &Record) {
        if let Some(account) = self.account.take() {
            self.problem(
                account.counted.line,
                "the account has no 49 account trailer".into(),
            );
            self.close_account(account);
        }
        let mut counted = Counted {
            line: record.line,
            ..Counted::default()
        };
        let group = match &self.group {
            None => Err(format!(
                "the 03 account record at line {} is outside any group",
                record.line
            )),
            Some(Group {
                header: Err(_),
                counted,
            }) => Err(format!(
                "its group header at line {} cannot be read",
                counted.line
            )),
            Some(Group {
                header: Ok(header), ..
            }) => Ok(*header),
        };
        let mut fields = record.fields();
        let statement = group.and_then(|(as_of, kind, group_currency)| {
            let summary =
                account_summary(&mut fields, group_currency, &mut counted.total).map_err(|why| {
                    format!(
                        "its 03 account record at line {} cannot be read: {why}",
                        record.line
                    )
                });
            if let Err(why) = &summary {
                self.problem(record.line, why.clone());
            }
            let (number, currency, opening, closing) = summary?;
            let at = |amount_minor| BalanceAt {
                amount_minor,
                date: as_of,
            };
            Ok(Statement {
                format: "bai2",
                kind,
                account: Arc::from(number.as_str()),
                currency,
                statement_id: None,
                sequence: None,
                page: None,
                opening: opening.map(at),
                closing: closing.map(at),
                entries: Vec::new(),
                source: self.source(record.line),
            })
        });
        if let Err(why) = &statement
            && self.group.as_ref().is_none_or(|g| g.header.is_err())
        {
            self.problem(record.line, why.clone());
        }
        let as_of = statement
            .as_ref()
            .ok()
            .and_then(|s| s.opening.or(s.closing))
            .map(|b| b.date);
        let as_of = as_of.or(self
            .group
            .as_ref()
            .and_then(|g| g.header.as_ref().ok())
            .map(|h| h.0));
        self.account = Some(Account {
            counted,
            statement,
            as_of,
        });
        self.count(record);
    }

    fn detail(&mut self, record: &Record) {
        self.count(record);
        self.out.entries_read += 1;
        let result = match self.account.as_mut() {
            None => Err("a 16 transaction detail outside any account".to_owned()),
            Some(account) => {
                let mut fields = record.fields();
                let detail = read_detail(&mut fields, &mut account.counted.total);
                match (&account.statement, detail, account.as_of) {
                    (Err(why), _, _) => Err(format!("the detail's account cannot be used: {why}")),
                    (Ok(_), Err(why), _) => Err(why),
                    (Ok(_), Ok(_), None) => {
                        Err("the detail's account has no as-of date".to_owned())
                    }
                    (Ok(statement), Ok(detail), Some(as_of)) => Ok(BankEntry {
                        account: statement.account.clone(),
                        amount_minor: detail.amount_minor,
                        currency: statement.currency,
                        direction: if detail.amount_minor < 0 {
                            Direction::Debit
                        } else {
                            Direction::Credit
                        },
                        reversal: false,
                        status: EntryStatus::Booked,
                        booking_date: as_of,
                        value_date: detail.value_date,
                        bank_ref: detail.bank_ref,
                        customer_ref: detail.customer_ref,
                        end_to_end_id: None,
                        remittance: detail.text,
                        bank_tx_code: Some(detail.type_code),
                        source: SourceLine {
                            path: self.path.clone(),
                            line: record.line,
                        },
                        pointer: None,
                    }),
                }
            }
        };
        match result {
            Ok(entry) => {
                if let Some(Account {
                    statement: Ok(statement),
                    ..
                }) = self.account.as_mut()
                {
                    statement.entries.push(entry);
                }
            }
            Err(reason) => {
                let source = self.source(record.line);
                self.out.quarantined.push(Quarantined {
                    source,
                    reason,
                    raw: KeptText::of(record.raw.as_bytes()).into(),
                });
            }
        }
    }

    fn account_trailer(&mut self, record: &Record) {
        self.count(record);
        let Some(account) = self.account.take() else {
            self.problem(
                record.line,
                "a 49 account trailer with no 03 account record before it".into(),
            );
            return;
        };
        let currency = account.statement.as_ref().ok().map(|s| s.currency);
        for reason in trailers::problems(
            "49 account trailer",
            &mut record.fields(),
            &account.counted,
            None,
            currency,
        ) {
            self.problem(record.line, reason);
        }
        self.close_account(account);
    }

    fn close_account(&mut self, account: Account) {
        if let Some(group) = self.group.as_mut() {
            group.counted.total += account.counted.total;
            group.counted.members += 1;
        }
        if let Ok(statement) = account.statement {
            self.out.statements.push(statement);
        }
    }

    fn group_trailer(&mut self, record: &Record) {
        if let Some(account) = self.account.take() {
            self.problem(
                account.counted.line,
                "the account has no 49 account trailer".into(),
            );
            self.close_account(account);
        }
        self.count(record);
        let Some(group) = self.group.take() else {
            self.problem(
                record.line,
                "a 98 group trailer with no 02 group header before it".into(),
            );
            return;
        };
        for reason in trailers::problems(
            "98 group trailer",
            &mut record.fields(),
            &group.counted,
            Some("accounts"),
            None,
        ) {
            self.problem(record.line, reason);
        }
        self.close_group(group);
    }

    fn close_group(&mut self, group: Group) {
        if let Some(file) = self.file.as_mut() {
            file.total += group.counted.total;
            file.members += 1;
        }
    }

    /// Closes the account and group still open, each a problem for its missing trailer.
    fn close_untrailed(&mut self) {
        if let Some(account) = self.account.take() {
            self.problem(
                account.counted.line,
                "the account has no 49 account trailer".into(),
            );
            self.close_account(account);
        }
        if let Some(group) = self.group.take() {
            self.problem(
                group.counted.line,
                "the group has no 98 group trailer".into(),
            );
            self.close_group(group);
        }
    }

    fn file_trailer(&mut self, record: &Record) {
        self.close_untrailed();
        self.count(record);
        self.ended = true;
        let reasons = self.file.as_ref().map(|file| {
            trailers::problems(
                "99 file trailer",
                &mut record.fields(),
                file,
                Some("groups"),
                None,
            )
        });
        for reason in reasons.unwrap_or_default() {
            self.problem(record.line, reason);
        }
    }

    fn end_of_file(&mut self) {
        self.close_untrailed();
        if !self.ended {
            let line = self.file.as_ref().map_or(1, |f| f.line);
            self.problem(
                line,
                "the file has no 99 file trailer: it may be cut short".into(),
            );
        }
    }
}
