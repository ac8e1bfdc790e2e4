//! SWIFT MT940 (Customer Statement Message) and MT942 (Interim Transaction Report) files read into bank statements, one per message, every `:61:` statement line a bank entry or quarantined with its line.
//!
//! The layout follows SWIFT's MT 940/942 message reference (Category 9, Cash Management): a
//! message is `:20:` transaction reference (the statement id), `:21:` related reference,
//! `:25:` account identification, `:28C:` statement number `/` sequence number (page),
//! `:60F:`/`:60M:` opening balance, repeated `:61:` statement lines each optionally followed by
//! `:86:` information to the account owner, `:62F:`/`:62M:` closing balance, `:64:`/`:65:`
//! available balances (not read) and a closing `:86:`. An MT942 has no booked balances but
//! `:34F:` floor limit, `:13D:` date/time and `:90D:`/`:90C:` number and sum of debit/credit
//! entries, which recon checks. A file may hold several messages, with or without the FIN
//! blocks around them (`{1:…}{2:O940…}{4:` … `-}`), or separated by a line `-`; lines end in
//! CRLF or LF. A field continues on the following lines until the next `:NN[a]:` tag.
//! Field contents are read in [`fields`], which cites each field's format.
//!
//! Where a field cannot be read the rest of the message is still used: a bad `:61:` is
//! quarantined with its line and reason; a bad balance, number or sum is a [`FileProblem`].
//! A message without an account or a currency cannot hold entries: its `:61:` lines are
//! quarantined.

mod fields;
#[cfg(test)]
mod tests;

use std::io::BufRead;
use std::sync::Arc;

use fields::{Balance, Mark, StatementLine};

use super::lines::NumberedLines;
use super::{
    BalanceAt, BankEntry, BankFileError, Direction, EntryStatus, FileProblem, ParsedStatements,
    Statement, StatementKind,
};
use crate::money::{Currency, format_major};
use crate::settlement::report::kept_text::KeptText;
use crate::settlement::{Quarantined, SourceLine};

/// Reads every message of an MT940 or MT942 file.
pub(crate) fn parse_mt940(
    path: &str,
    reader: impl BufRead,
) -> Result<ParsedStatements, BankFileError> {
    let shared: Arc<str> = Arc::from(path);
    let mut lines = NumberedLines::new(path, reader);
    let mut reading = Reading {
        path: shared,
        out: ParsedStatements::default(),
        message: None,
        declared_kind: None,
        any_content: false,
        any_field: false,
    };
    while let Some((number, line)) = lines.next_line()? {
        reading.line(number, &line);
    }
    reading.finish_message();
    if !reading.any_content {
        return Err(BankFileError::Empty {
            path: path.to_owned(),
        });
    }
    if !reading.any_field {
        return Err(BankFileError::NotThisFormat {
            path: path.to_owned(),
            expected: "MT940/MT942".into(),
            why: "no SWIFT field (`:20:`, `:61:`…) in it".into(),
        });
    }
    Ok(reading.out)
}

/// One field as written: its tag, its text (lines joined by `\n`) and the line it starts on.
#[derive(Debug)]
struct Field {
    tag: String,
    text: String,
    line: u64,
}

/// The fields of one message, gathered until the message ends.
struct Message {
    line: u64,
    declared_kind: Option<StatementKind>,
    fields: Vec<Field>,
}

struct Reading {
    path: Arc<str>,
    out: ParsedStatements,
    message: Option<Message>,
    /// The message type block 2 names (`{2:O940…}`, `{2:I942…}`), for the message after it.
    declared_kind: Option<StatementKind>,
    any_content: bool,
    any_field: bool,
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

    fn line(&mut self, number: u64, line: &str) {
        let trimmed = line.trim();
        if trimmed.is_empty() {
            return;
        }
        self.any_content = true;
        if trimmed.starts_with('{') {
            self.finish_message();
            self.declared_kind = declared_kind(trimmed);
            if let Some((_, text)) = trimmed.split_once("{4:")
                && text.starts_with(':')
            {
                self.line(number, text);
            }
            return;
        }
        if trimmed == "-" || trimmed.starts_with("-}") {
            self.finish_message();
            return;
        }
        if let Some((tag, text)) = field_start(line) {
            self.any_field = true;
            if tag == "20" || self.message.is_none() {
                self.finish_message();
                if tag != "20" {
                    self.problem(
                        number,
                        format!("a message starts with :{tag}: instead of :20:"),
                    );
                }
                self.message = Some(Message {
                    line: number,
                    declared_kind: self.declared_kind.take(),
                    fields: Vec::new(),
                });
            }
            if let Some(message) = &mut self.message {
                message.fields.push(Field {
                    tag: tag.to_owned(),
                    text: text.to_owned(),
                    line: number,
                });
            }
            return;
        }
        match self.message.as_mut().and_then(|m| m.fields.last_mut()) {
            Some(field) => {
                field.text.push('\n');
                field.text.push_str(line);
            }
            None => self.problem(
                number,
                "text outside any field of a message: ignored".to_owned(),
            ),
        }
    }

    fn finish_message(&mut self) {
        if let Some(message) = self.message.take() {
            self.statement(message);
        }
    }

    /// The statement one message states, its entries read or quarantined, its sums checked.
    fn statement(&mut self, message: Message) {
        let mut head = Head::default();
        let mut lines: Vec<(Field, Option<Field>)> = Vec::new();
        let mut last_was_61 = false;
        for field in message.fields {
            let was_61 = last_was_61;
            last_was_61 = field.tag == "61";
            match field.tag.as_str() {
                "61" => lines.push((field, None)),
                "86" if was_61 => {
                    if let Some(last) = lines.last_mut() {
                        last.1 = Some(field);
                    }
                }
                _ => {
                    if let Err(why) = head.read(&field) {
                        self.problem(field.line, format!(":{}: {why}", field.tag));
                    }
                }
            }
        }
        let kind = message.declared_kind.unwrap_or(if head.mt942_fields {
            StatementKind::Intraday
        } else {
            StatementKind::EndOfDay
        });
        let currency = head.currency();
        let cannot_hold = match (&head.account, currency) {
            (None, _) => Some("the message has no :25: account identification"),
            (_, None) => {
                Some("the message states no currency (no :60a:/:62a: balance, :34F: or :90a:)")
            }
            _ => None,
        };
        self.out.entries_read += lines.len() as u64;
        let (Some((account, suffix)), Some(currency), None) =
            (head.account.clone(), currency, cannot_hold)
        else {
            let reason = cannot_hold.unwrap_or_default().to_owned();
            self.problem(message.line, reason.clone());
            for (line, info) in &lines {
                self.quarantine(
                    line,
                    info.as_ref(),
                    &format!("{reason} (message at line {})", message.line),
                );
            }
            return;
        };
        let account: Arc<str> = Arc::from(account.as_str());
        let mut entries = Vec::with_capacity(lines.len());
        for (line, info) in &lines {
            match fields::statement_line(&line.text, currency) {
                Ok(parsed) => {
                    entries.push(self.entry(&account, currency, parsed, line, info.as_ref()))
                }
                Err(why) => self.quarantine(line, info.as_ref(), &format!(":61: {why}")),
            }
        }
        let statement = Statement {
            format: if kind == StatementKind::Intraday {
                "mt942"
            } else {
                "mt940"
            },
            kind,
            account,
            currency,
            statement_id: head.statement_id.clone(),
            sequence: head.sequence,
            page: head.page,
            opening: head.opening.map(balance_at),
            closing: head.closing.map(balance_at),
            entries,
            source: self.source(message.line),
        };
        self.check_statement(&head, suffix, &statement);
        self.out.statements.push(statement);
    }

    fn entry(
        &self,
        account: &Arc<str>,
        currency: Currency,
        line: StatementLine,
        field: &Field,
        info: Option<&Field>,
    ) -> BankEntry {
        let info = info
            .map(|f| fields::information(&f.text))
            .unwrap_or_default();
        let credit = line.mark.is_credit();
        let remittance: Vec<String> = [line.supplementary, info.remittance]
            .into_iter()
            .flatten()
            .collect();
        BankEntry {
            account: account.clone(),
            amount_minor: if credit {
                line.magnitude_minor
            } else {
                -line.magnitude_minor
            },
            currency,
            direction: if credit {
                Direction::Credit
            } else {
                Direction::Debit
            },
            reversal: matches!(line.mark, Mark::ReversalOfCredit | Mark::ReversalOfDebit),
            status: match line.mark {
                Mark::ExpectedCredit | Mark::ExpectedDebit => EntryStatus::Pending,
                _ => EntryStatus::Booked,
            },
            booking_date: line.booking_date,
            value_date: Some(line.value_date),
            bank_ref: line.bank_ref,
            customer_ref: line.customer_ref.or(info.customer_ref),
            end_to_end_id: info.end_to_end_id,
            remittance: (!remittance.is_empty()).then(|| remittance.join(" ")),
            bank_tx_code: Some(line.type_code),
            source: self.source(field.line),
            pointer: None,
        }
    }

    fn quarantine(&mut self, line: &Field, info: Option<&Field>, reason: &str) {
        let mut raw = format!(":61:{}", line.text);
        if let Some(info) = info {
            raw.push_str("\n:86:");
            raw.push_str(&info.text);
        }
        let source = self.source(line.line);
        self.out.quarantined.push(Quarantined {
            source,
            reason: reason.to_owned(),
            raw: KeptText::of(raw.as_bytes()).into(),
        });
    }

    /// What a message states of itself: balances where an MT940 must have them, in the
    /// statement's currency; an MT942's number and sum of debits and credits.
    fn check_statement(&mut self, head: &Head, suffix: Option<Currency>, statement: &Statement) {
        let line = statement.source.line;
        let currency = statement.currency;
        if statement.kind == StatementKind::EndOfDay {
            if head.opening.is_none() {
                self.problem(
                    line,
                    "the statement has no readable :60F:/:60M: opening balance".into(),
                );
            }
            if head.closing.is_none() {
                self.problem(
                    line,
                    "the statement has no readable :62F:/:62M: closing balance".into(),
                );
            }
        }
        let stated = [head.opening, head.closing]
            .into_iter()
            .flatten()
            .map(|b| b.currency)
            .chain(suffix)
            .chain(head.sums.iter().map(|(_, _, s)| s.currency));
        for other in stated {
            if other != currency {
                self.problem(
                    line,
                    format!(
                        "the message states both {} and {}",
                        currency.code(),
                        other.code()
                    ),
                );
            }
        }
        for (tag, at, sums) in &head.sums {
            let credit = tag == "90C";
            let (count, sum) = statement
                .entries
                .iter()
                .filter(|e| (e.direction == Direction::Credit) == credit)
                .fold((0u64, 0i128), |(n, s), e| {
                    (n + 1, s + i128::from(e.amount_minor).abs())
                });
            if count != sums.count || sum != i128::from(sums.sum_minor) {
                let which = if credit { "credit" } else { "debit" };
                let sum_text = i64::try_from(sum)
                    .map(|s| format_major(s, currency))
                    .unwrap_or_else(|_| sum.to_string());
                self.problem(
                    *at,
                    format!(
                        ":{tag}: states {} {which} entries for {} {} but the message holds {count} for {sum_text} {}",
                        sums.count,
                        format_major(sums.sum_minor, currency),
                        currency.code(),
                        currency.code()
                    ),
                );
            }
        }
    }
}

/// What the fields around the statement lines say.
#[derive(Default)]
struct Head {
    statement_id: Option<String>,
    /// The account and the currency an IBAN was suffixed with, if any.
    account: Option<(String, Option<Currency>)>,
    sequence: Option<u64>,
    page: Option<u64>,
    opening: Option<Balance>,
    closing: Option<Balance>,
    floor_limit_currency: Option<Currency>,
    sums: Vec<(String, u64, fields::Sums)>,
    mt942_fields: bool,
}

impl Head {
    fn read(&mut self, field: &Field) -> Result<(), String> {
        let text = field.text.trim();
        match field.tag.as_str() {
            "20" => self.statement_id = Some(text.to_owned()).filter(|t| !t.is_empty()),
            "25" => self.account = Some(account(text)).filter(|(a, _)| !a.is_empty()),
            "28" | "28C" => {
                let (number, page) = statement_number(text)?;
                self.sequence = Some(number);
                self.page = page;
            }
            "60F" | "60M" => self.opening = Some(fields::balance(text)?),
            "62F" | "62M" => self.closing = Some(fields::balance(text)?),
            "34F" => {
                self.mt942_fields = true;
                self.floor_limit_currency =
                    Some(fields::floor_limit_currency(text).ok_or("has no known currency")?);
            }
            "13" | "13D" => self.mt942_fields = true,
            "90D" | "90C" => {
                self.mt942_fields = true;
                self.sums
                    .push((field.tag.clone(), field.line, fields::sums(text)?));
            }
            "21" | "64" | "65" | "86" => {}
            other => {
                return Err(format!(
                    "is not an MT940/MT942 field: ignored (tag {other})"
                ));
            }
        }
        Ok(())
    }

    fn currency(&self) -> Option<Currency> {
        self.opening
            .or(self.closing)
            .map(|b| b.currency)
            .or(self.floor_limit_currency)
            .or(self.sums.first().map(|(_, _, s)| s.currency))
            .or(self.account.as_ref().and_then(|(_, suffix)| *suffix))
    }
}

fn balance_at(balance: Balance) -> BalanceAt {
    BalanceAt {
        amount_minor: balance.amount_minor,
        date: balance.date,
    }
}

/// A field's start, `:NN[a]:` at the start of a line: its tag and the text after it.
fn field_start(line: &str) -> Option<(&str, &str)> {
    let rest = line.strip_prefix(':')?;
    let (tag, text) = rest.split_once(':')?;
    let well_formed = (2..=3).contains(&tag.len())
        && tag.bytes().take(2).all(|b| b.is_ascii_digit())
        && tag.bytes().skip(2).all(|b| b.is_ascii_uppercase());
    well_formed.then_some((tag, text))
}

/// The message type block 2 names: `{2:O940…}` (output) or `{2:I942…}` (input).
fn declared_kind(header: &str) -> Option<StatementKind> {
    let (_, block) = header.split_once("{2:")?;
    match block.get(1..4)? {
        "940" => Some(StatementKind::EndOfDay),
        "942" => Some(StatementKind::Intraday),
        _ => None,
    }
}

/// `:28C:` `5n[/5n]`: the statement number and the sequence (page) number.
fn statement_number(text: &str) -> Result<(u64, Option<u64>), String> {
    let number = |part: &str| {
        (!part.is_empty() && part.len() <= 5 && part.bytes().all(|b| b.is_ascii_digit()))
            .then(|| part.parse::<u64>().ok())
            .flatten()
    };
    let bad = || format!("`{text}` is not a statement number with an optional /sequence number");
    match text.split_once('/') {
        Some((n, page)) => Ok((
            number(n).ok_or_else(bad)?,
            Some(number(page).ok_or_else(bad)?),
        )),
        None => Ok((number(text).ok_or_else(bad)?, None)),
    }
}

/// `:25:` as the statement's account: what follows a bank code or BIC and `/` (`BLZ/account`),
/// and an IBAN without the currency some banks append (`NL91ABNA0417164300EUR`), recognised
/// by the IBAN's own check digits.
fn account(text: &str) -> (String, Option<Currency>) {
    let first = text.lines().next().unwrap_or_default().trim();
    let id = first
        .split_once('/')
        .map_or(first, |(_, account)| account)
        .trim();
    if let (Some(iban), Some(code)) = (
        id.get(..id.len().saturating_sub(3)),
        id.get(id.len().saturating_sub(3)..),
    ) && code.bytes().all(|b| b.is_ascii_uppercase())
        && !valid_iban(id)
        && valid_iban(iban)
        && let Ok(currency) = Currency::parse(code)
    {
        return (iban.to_owned(), Some(currency));
    }
    (id.to_owned(), None)
}

/// ISO 13616: two letters, two check digits, up to 30 letters and digits; mod 97 of the
/// rearranged number is 1.
fn valid_iban(text: &str) -> bool {
    let shaped = (15..=34).contains(&text.len())
        && text.bytes().take(2).all(|b| b.is_ascii_uppercase())
        && text.bytes().skip(2).take(2).all(|b| b.is_ascii_digit())
        && text
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit());
    if !shaped {
        return false;
    }
    let mut rest: u32 = 0;
    for b in text.bytes().skip(4).chain(text.bytes().take(4)) {
        let value = if b.is_ascii_digit() {
            u32::from(b - b'0')
        } else {
            u32::from(b - b'A') + 10
        };
        rest = if value >= 10 {
            (rest * 100 + value) % 97
        } else {
            (rest * 10 + value) % 97
        };
    }
    rest == 1
}
