//! ISO 20022 camt bank statements (camt.053 end of day, camt.052 intraday, camt.054 notifications, versions .001.02 to .001.08) read event by event into bank entries, memory staying per entry.
//!
//! The fields read, as the ISO 20022 message definitions (BankToCustomerStatement,
//! BankToCustomerAccountReport, BankToCustomerDebitCreditNotification) and the public
//! implementation guides built on them (German DK "Datenformate" Anlage 3, Swiss Payment
//! Standards "camt.053/052/054 Implementation Guidelines", EPC/CGI-MP) describe them:
//!
//! - `Document` carries the namespace `urn:iso:std:iso:20022:tech:xsd:camt.05N.001.0V`, which
//!   names the message and version; its child is `BkToCstmrStmt` (053) with `Stmt`,
//!   `BkToCstmrAcctRpt` (052) with `Rpt`, or `BkToCstmrDbtCdtNtfctn` (054) with `Ntfctn`.
//! - Statement: `Id`; `ElctrncSeqNb` (the electronic sequence number, for continuity);
//!   `LglSeqNb` (the legal statement number, kept as the page); `Acct/Id/IBAN` or
//!   `Acct/Id/Othr/Id`; `Acct/Ccy` (else the balances', else the entries' currency).
//! - `Bal`: `Tp/CdOrPrtry/Cd` OPBD (opening booked) or PRCD (previously closed booked) as
//!   the opening balance, CLBD (closing booked) as the closing one, and for an intraday
//!   report without CLBD its ITBD (interim booked); `Amt` with `Ccy`; `CdtDbtInd` (DBIT is a
//!   debit balance, negative); `Dt/Dt` or `Dt/DtTm`.
//! - `Ntry`: `Amt` with `Ccy`; `CdtDbtInd` gives the sign; `RvslInd` marks a reversal (the
//!   sign stays the one `CdtDbtInd` gives: a reversed credit is a DBIT); `Sts` (a plain code up
//!   to .001.06, `Sts/Cd` from .001.07); `BookgDt` and `ValDt` (`Dt` or `DtTm`; without
//!   `BookgDt`, as in some pending entries, the value date is the booking date);
//!   `AcctSvcrRef` (the bank's reference); `BkTxCd/Domn` (`Cd`, `Fmly/Cd`, `Fmly/SubFmlyCd`,
//!   joined by `/`) else `BkTxCd/Prtry/Cd`; `AddtlNtryInf` (appended to the remittance text).
//! - `NtryDtls`: `Btch/NbOfTxs`, and per `TxDtls`: `Refs/EndToEndId` (`NOTPROVIDED` is no
//!   id), `Refs/AcctSvcrRef`, `RmtInf/Ustrd` (each line, joined by a space) and
//!   `RmtInf/Strd/CdtrRefInf/Ref`, the amount from `AmtDtls/TxAmt/Amt` else `Amt` (.001.03+)
//!   and its own `CdtDbtInd`.
//!
//! A batch booking (one `Ntry`, several `TxDtls`) is, with [`BatchBookings::Split`], one bank
//! entry per detail with the detail's amount and references, when the detail amounts add up
//! to the booking (else it is kept whole, and a [`FileProblem`] says why); with
//! [`BatchBookings::Keep`] one entry. An entry that cannot be read is quarantined with the line
//! its `<Ntry>` starts on, the reason and its XML text; the rest of the file is used. Every
//! entry kept is on the statement's first `Acct/Id` and in its currency: `Acct/Ccy`, else a
//! balance's, else the first entry's; an entry in another is quarantined. A file
//! that is not well-formed XML, or not camt, is refused whole ([`BankFileError`]).

mod draft;
mod lines;
mod message;
#[cfg(test)]
mod tests;
mod values;

use std::io::BufRead;
use std::mem;
use std::sync::Arc;

use quick_xml::Reader;
use quick_xml::escape::resolve_predefined_entity;
use quick_xml::events::{BytesRef, BytesStart, Event};

use self::draft::{AmountText, BalanceDraft, DetailDraft, EntryDraft, StatementDraft};
use self::lines::CountingReader;
use self::message::{Message, NAMESPACE_PREFIX};
use self::values::DateText;
use super::{BankFileError, BatchPolicy, FileProblem, ParsedStatements};
use crate::settlement::{Quarantined, SourceLine};

/// Reads one camt file, its batch bookings kept per account as `batch` says. See the module
/// doc for what is read and how a bad entry is kept.
pub(crate) fn parse_camt(
    path: &str,
    reader: impl BufRead,
    batch: impl Into<BatchPolicy>,
) -> Result<ParsedStatements, BankFileError> {
    let mut parser = Parser::new(path, batch.into());
    let mut xml = Reader::from_reader(CountingReader::new(reader));
    xml.config_mut().expand_empty_elements = true;
    let mut buffer = Vec::new();
    loop {
        buffer.clear();
        let event = match xml.read_event_into(&mut buffer) {
            Ok(event) => event,
            Err(e) => {
                return Err(parser.malformed(xml.get_ref().newlines(), e.to_string()));
            }
        };
        let newlines = xml.get_ref().newlines();
        match event {
            Event::Start(start) => parser.start(&start, newlines, xml.get_mut())?,
            Event::End(_) => parser.end(xml.get_mut())?,
            Event::Text(text) => parser.text(&text.xml10_content(), newlines)?,
            Event::CData(text) => parser.text(&text.xml10_content(), newlines)?,
            Event::GeneralRef(reference) => parser.reference(&reference, newlines)?,
            Event::Eof => break,
            Event::Empty(_)
            | Event::Decl(_)
            | Event::PI(_)
            | Event::Comment(_)
            | Event::DocType(_) => parser.seen_content = true,
        }
    }
    parser.finish()
}

/// The open elements below the statement element (the root, message and statement first).
fn inner_path(stack: &[String]) -> Vec<&str> {
    stack
        .get(3..)
        .unwrap_or_default()
        .iter()
        .map(String::as_str)
        .collect()
}

/// The state of one file's reading: where in the tree we are and what is being built.
struct Parser {
    path: Arc<str>,
    batch: BatchPolicy,
    /// Local names of the open elements, the root first.
    stack: Vec<String>,
    /// Text of the element being read.
    text: String,
    /// The `Ccy` attribute of the `Amt` being read.
    ccy: Option<String>,
    message: Option<Message>,
    /// Anything but whitespace seen, to tell an empty file from a non-XML one.
    seen_content: bool,
    statements_seen: usize,
    statement: Option<StatementDraft>,
    entries_seen: usize,
    entry: Option<EntryDraft>,
    balance: Option<BalanceDraft>,
    out: ParsedStatements,
}

impl Parser {
    fn new(path: &str, batch: BatchPolicy) -> Parser {
        Parser {
            path: Arc::from(path),
            batch,
            stack: Vec::new(),
            text: String::new(),
            ccy: None,
            message: None,
            seen_content: false,
            statements_seen: 0,
            statement: None,
            entries_seen: 0,
            entry: None,
            balance: None,
            out: ParsedStatements::default(),
        }
    }

    fn malformed(&self, newlines: u64, why: String) -> BankFileError {
        BankFileError::Malformed {
            path: self.path.to_string(),
            line: newlines + 1,
            why,
        }
    }

    fn not_camt(&self, why: String) -> BankFileError {
        BankFileError::NotThisFormat {
            path: self.path.to_string(),
            expected: "camt.052/053/054".to_owned(),
            why,
        }
    }

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

    fn start<R: BufRead>(
        &mut self,
        start: &BytesStart<'_>,
        newlines: u64,
        reader: &mut CountingReader<R>,
    ) -> Result<(), BankFileError> {
        self.seen_content = true;
        let tag: &str = start;
        let line = newlines.saturating_sub(tag.bytes().filter(|&b| b == b'\n').count() as u64) + 1;
        let name = start.local_name().as_ref().to_owned();
        self.text.clear();
        match self.stack.len() {
            0 => self.root(start, &name, line)?,
            1 => {
                let expected = self.message.map_or("", |m| m.element);
                if name != expected {
                    return Err(self.not_camt(format!(
                        "line {line}: the message element is {name}, the namespace names {expected}"
                    )));
                }
            }
            2 => {
                if let Some(message) = self.message
                    && name == message.statement
                {
                    self.statements_seen += 1;
                    self.entries_seen = 0;
                    let pointer = format!("{}[{}]", message.statement, self.statements_seen);
                    self.statement = Some(StatementDraft::new(line, pointer, message.kind));
                }
            }
            _ => {}
        }
        self.stack.push(name);
        if self.statement.is_none() || self.stack.len() < 4 {
            return Ok(());
        }
        let stack = mem::take(&mut self.stack);
        match inner_path(&stack).as_slice() {
            ["Ntry"] => {
                self.entries_seen += 1;
                let pointer = self
                    .statement
                    .as_ref()
                    .map(|s| format!("{}/Ntry[{}]", s.pointer, self.entries_seen))
                    .unwrap_or_default();
                self.entry = Some(EntryDraft {
                    line,
                    pointer,
                    ..EntryDraft::default()
                });
                reader.record_from(format!("<{tag}>").as_bytes());
            }
            ["Ntry", "NtryDtls"] => {
                if let Some(entry) = self.entry.as_mut() {
                    entry.groups += 1;
                }
            }
            ["Ntry", "NtryDtls", "TxDtls"] => {
                if let Some(entry) = self.entry.as_mut() {
                    let group = entry.groups;
                    let index = 1 + entry.details.iter().filter(|d| d.group == group).count();
                    entry.details.push(DetailDraft {
                        line,
                        group,
                        index,
                        ..DetailDraft::default()
                    });
                }
            }
            ["Bal"] => {
                self.balance = Some(BalanceDraft {
                    line,
                    ..BalanceDraft::default()
                })
            }
            [.., "Amt"] => {
                self.ccy = match start.try_get_attribute("Ccy") {
                    Ok(Some(ccy)) => Some(ccy.value.into_owned()),
                    _ => None,
                };
            }
            _ => {}
        }
        self.stack = stack;
        Ok(())
    }

    /// The root element: `Document` in a camt namespace of a version read.
    fn root(&mut self, start: &BytesStart<'_>, name: &str, line: u64) -> Result<(), BankFileError> {
        if name != "Document" {
            return Err(self.not_camt(format!(
                "line {line}: the root element is {name}, not Document"
            )));
        }
        let namespaces: Vec<String> = start
            .attributes()
            .flatten()
            .filter(|a| {
                let key = a.key.as_ref();
                key == "xmlns" || key.starts_with("xmlns:")
            })
            .map(|a| a.value.into_owned())
            .collect();
        self.message = namespaces.iter().find_map(|ns| Message::of_namespace(ns));
        if self.message.is_none() {
            let seen = namespaces.join(", ");
            return Err(self.not_camt(format!(
                "line {line}: no camt.052/053/054 namespace of versions .001.02 to .001.08 \
                 ({NAMESPACE_PREFIX}camt.053.001.08…); found: [{seen}]"
            )));
        }
        Ok(())
    }

    fn text(&mut self, text: &str, newlines: u64) -> Result<(), BankFileError> {
        if self.stack.is_empty() && !text.trim().is_empty() {
            // the line the text starts on
            let inside = text.bytes().filter(|&b| b == b'\n').count() as u64;
            let why = "text outside any element: not XML".to_owned();
            return Err(self.malformed(newlines.saturating_sub(inside), why));
        }
        if !text.trim().is_empty() {
            self.seen_content = true;
        }
        self.text.push_str(text);
        Ok(())
    }

    /// `&amp;`, `&#233;`…: the five XML entities and character references; any other is
    /// undeclared, and the file is not well-formed.
    fn reference(&mut self, reference: &BytesRef<'_>, newlines: u64) -> Result<(), BankFileError> {
        self.seen_content = true;
        let name: &str = reference;
        if let Some(text) = resolve_predefined_entity(name) {
            self.text.push_str(text);
            return Ok(());
        }
        match reference.resolve_char_ref() {
            Ok(Some(c)) => {
                self.text.push(c);
                Ok(())
            }
            _ => Err(self.malformed(newlines, format!("undeclared entity &{name};"))),
        }
    }

    fn end<R: BufRead>(&mut self, reader: &mut CountingReader<R>) -> Result<(), BankFileError> {
        let text = mem::take(&mut self.text);
        let text = text.trim();
        if self.stack.len() == 3 {
            self.finish_statement();
        } else if self.statement.is_some() && self.stack.len() > 3 {
            let stack = mem::take(&mut self.stack);
            self.leaf(&inner_path(&stack), text, reader);
            self.stack = stack;
        }
        self.stack.pop();
        Ok(())
    }

    /// An element below the statement closes: its text goes where the path says.
    fn leaf<R: BufRead>(&mut self, path: &[&str], text: &str, reader: &mut CountingReader<R>) {
        let owned = || (!text.is_empty()).then(|| text.to_owned());
        let amount = |ccy: &mut Option<String>| {
            Some(AmountText {
                text: text.to_owned(),
                ccy: ccy.take(),
            })
        };
        let Some(statement) = self.statement.as_mut() else {
            return;
        };
        match path {
            ["Id"] => statement.id = owned(),
            ["ElctrncSeqNb"] => statement.sequence = owned(),
            ["LglSeqNb"] => statement.page = owned(),
            ["Acct", "Id", "IBAN"] | ["Acct", "Id", "Othr", "Id"] => match &statement.account {
                // The first account named is the statement's: its entries were read on it.
                None => statement.account = owned().map(Arc::from),
                Some(first) if !text.is_empty() && **first != *text => {
                    let reason = format!(
                        "{}: a second account {text} after {first}: ignored",
                        statement.pointer
                    );
                    let source = SourceLine {
                        path: self.path.clone(),
                        line: statement.line,
                    };
                    self.out.problems.push(FileProblem { source, reason });
                }
                Some(_) => {}
            },
            ["Acct", "Ccy"] => statement.currency = owned(),
            ["Bal", rest @ ..] => {
                if let Some(balance) = self.balance.as_mut() {
                    match rest {
                        ["Tp", "CdOrPrtry", "Cd"] => balance.code = owned(),
                        ["Amt"] => balance.amount = amount(&mut self.ccy),
                        ["CdtDbtInd"] => balance.cdt_dbt = owned(),
                        ["Dt", "Dt"] => balance.date = Some(DateText::Date(text.to_owned())),
                        ["Dt", "DtTm"] => balance.date = Some(DateText::DateTime(text.to_owned())),
                        _ => {}
                    }
                }
                if rest.is_empty() {
                    self.finish_balance();
                }
            }
            ["Ntry"] => self.finish_entry(reader),
            ["Ntry", "NtryDtls", "TxDtls", rest @ ..] => {
                if let Some(detail) = self.entry.as_mut().and_then(|e| e.details.last_mut()) {
                    match rest {
                        ["Refs", "EndToEndId"] => {
                            detail.end_to_end_id = owned().filter(|id| id != "NOTPROVIDED")
                        }
                        ["Refs", "AcctSvcrRef"] => detail.bank_ref = owned(),
                        ["RmtInf", "Ustrd"] | ["RmtInf", "Strd", "CdtrRefInf", "Ref"] => {
                            detail.remittance.extend(owned())
                        }
                        ["Amt"] => detail.amount = amount(&mut self.ccy),
                        ["AmtDtls", "TxAmt", "Amt"] => detail.tx_amount = amount(&mut self.ccy),
                        ["CdtDbtInd"] => detail.cdt_dbt = owned(),
                        _ => {}
                    }
                }
            }
            ["Ntry", rest @ ..] => {
                if let Some(entry) = self.entry.as_mut() {
                    match rest {
                        ["Amt"] => entry.amount = amount(&mut self.ccy),
                        ["CdtDbtInd"] => entry.cdt_dbt = owned(),
                        ["RvslInd"] => entry.reversal = owned(),
                        // a plain code up to .001.06; Sts/Cd from .001.07
                        ["Sts"] | ["Sts", "Cd"] if !text.is_empty() => entry.status = owned(),
                        ["BookgDt", "Dt"] => entry.booking = Some(DateText::Date(text.to_owned())),
                        ["BookgDt", "DtTm"] => {
                            entry.booking = Some(DateText::DateTime(text.to_owned()))
                        }
                        ["ValDt", "Dt"] => entry.value = Some(DateText::Date(text.to_owned())),
                        ["ValDt", "DtTm"] => {
                            entry.value = Some(DateText::DateTime(text.to_owned()))
                        }
                        ["AcctSvcrRef"] => entry.bank_ref = owned(),
                        ["BkTxCd", "Domn", "Cd"] => entry.domain = owned(),
                        ["BkTxCd", "Domn", "Fmly", "Cd"] => entry.family = owned(),
                        ["BkTxCd", "Domn", "Fmly", "SubFmlyCd"] => entry.sub_family = owned(),
                        ["BkTxCd", "Prtry", "Cd"] => entry.proprietary = owned(),
                        ["NtryDtls", "Btch", "NbOfTxs"] => entry.batch_count = owned(),
                        ["AddtlNtryInf"] => entry.additional_info = owned(),
                        _ => {}
                    }
                }
            }
            _ => {}
        }
    }

    fn finish_balance(&mut self) {
        let Some(draft) = self.balance.take() else {
            return;
        };
        let line = draft.line;
        match draft.finish() {
            Ok(balance) => {
                if let Some(statement) = self.statement.as_mut() {
                    statement.add_balance(balance);
                }
            }
            Err(why) => {
                let pointer = self.statement.as_ref().map_or("", |s| s.pointer.as_str());
                let reason = format!("{pointer}/Bal: {why}");
                self.problem(line, reason);
            }
        }
    }

    fn finish_entry<R: BufRead>(&mut self, reader: &mut CountingReader<R>) {
        let raw = reader.take_recording();
        let (Some(draft), Some(statement)) = (self.entry.take(), self.statement.as_mut()) else {
            return;
        };
        let line = draft.line;
        let pointer = draft.pointer.clone();
        let batch = statement
            .account
            .as_deref()
            .map_or(self.batch.default, |account| self.batch.of(account));
        let finished = draft
            .finish(statement.account.as_ref(), &self.path, batch)
            .and_then(|finished| {
                // a split batch's details are in the booking's currency, so the first says it
                let Some(currency) = finished.entries.first().map(|e| e.currency) else {
                    return Ok(finished);
                };
                match statement.currency_so_far() {
                    Some(expected) if expected != currency => {
                        Err(format!("in {currency}, the statement in {expected}"))
                    }
                    _ => {
                        statement.entry_currency = Some(currency);
                        Ok(finished)
                    }
                }
            });
        match finished {
            Ok(finished) => {
                self.out.entries_read += finished.entries.len() as u64;
                statement.entries.extend(finished.entries);
                self.out.problems.extend(finished.problem);
            }
            Err(why) => {
                self.out.entries_read += 1;
                let source = self.source(line);
                self.out.quarantined.push(Quarantined {
                    source,
                    reason: format!("{pointer}: {why}"),
                    raw: raw.map(String::from).unwrap_or_default(),
                });
            }
        }
    }

    /// The statement element closes: its balances and entries become a [`Statement`].
    fn finish_statement(&mut self) {
        let (Some(draft), Some(message)) = (self.statement.take(), self.message) else {
            return;
        };
        let line = draft.line;
        let (statement, problems) = draft.finish(message.format, self.source(line));
        for reason in problems {
            self.problem(line, reason);
        }
        self.out.statements.extend(statement);
    }

    fn finish(self) -> Result<ParsedStatements, BankFileError> {
        if !self.stack.is_empty() {
            let open = self.stack.join("/");
            return Err(BankFileError::Malformed {
                path: self.path.to_string(),
                line: 0,
                why: format!("the file ends inside {open}"),
            });
        }
        if self.message.is_none() {
            if !self.seen_content {
                return Err(BankFileError::Empty {
                    path: self.path.to_string(),
                });
            }
            return Err(self.not_camt("no Document element".to_owned()));
        }
        Ok(self.out)
    }
}
