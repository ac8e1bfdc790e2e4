//! The CSV plumbing every report format shares (streaming driver, line numbers, header and column lookup, typed reads of a row's fields), so that a format's file holds only its own columns and rules.

use std::collections::HashMap;
use std::io::Read;

use chrono::{DateTime, Utc};
use encoding_rs::Encoding;

mod records;

use records::{Broken, Piece, RecordSplitter};

use super::kept_text::{Capped, KEPT_BYTES, KeptText};
use super::zone::{Zone, parse_timestamp};
use super::{ParseTally, Quarantined, ReportError, RowParser};
use crate::money::{Currency, MoneyError, parse_major, parse_major_grouped};
use crate::settlement::{Id, SettlementRecord, SourceLine};

/// Where a format's rows are in its file: the delimiter, the text encoding, the line of the
/// header and the footer lines after the data. The built-in formats use [`Layout::csv`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Layout {
    pub(crate) delimiter: u8,
    /// Decoded to UTF-8 before parsing unless it is UTF-8 (a BOM overrides it, as in browsers:
    /// a UTF-16 file with its BOM is decoded even when this says UTF-8).
    pub(crate) encoding: &'static Encoding,
    pub(crate) header: HeaderAt,
    /// A row after the header whose first field starts with one of these (trimmed and
    /// lower-cased, as the field is before the comparison) is a footer or summary line
    /// (`closing balance`, `total`), not data: counted, not parsed.
    pub(crate) footer_starts_with: Vec<String>,
    /// How many physical lines one record may span (a quoted field holding line breaks): a
    /// quoted field still open after them quarantines its first line, and reading goes on at
    /// the next line.
    pub(crate) max_record_lines: u32,
}

/// Which line of the file is the header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum HeaderAt {
    /// The first line with content at or after this 1-based line; the lines before are preamble.
    Line(u64),
    /// The first line, among the first `within`, that has every one of `names` (a format's
    /// columns), for exports whose preamble varies in length.
    Detect { names: Vec<String>, within: u64 },
}

impl Layout {
    /// A plain UTF-8 CSV with its header on the first line and no footer.
    pub(crate) fn csv(delimiter: u8, max_record_lines: u32) -> Layout {
        Layout {
            delimiter,
            encoding: encoding_rs::UTF_8,
            header: HeaderAt::Line(1),
            footer_starts_with: Vec::new(),
            max_record_lines,
        }
    }

    fn is_footer(&self, record: &csv::ByteRecord) -> bool {
        // every row of every report passes here: nothing is allocated unless there are footers
        if self.footer_starts_with.is_empty() {
            return false;
        }
        let Some(first) = record.get(0).and_then(|f| std::str::from_utf8(f).ok()) else {
            return false;
        };
        let first = first.trim().to_lowercase();
        self.footer_starts_with
            .iter()
            .any(|prefix| first.starts_with(prefix.as_str()))
    }
}

pub(super) fn drive<P: RowParser>(
    path: &str,
    reader: impl Read,
    layout: &Layout,
    format_name: &str,
    make_parser: impl FnOnce(&mut Columns<'_>) -> P,
    sink: &mut dyn FnMut(SettlementRecord),
) -> Result<ParseTally, ReportError> {
    let read_error = |source| ReportError::Read {
        path: path.to_owned(),
        source,
    };
    let delimiter = layout.delimiter;
    let decoded = decode(reader, layout.encoding).map_err(|e| read_error(csv::Error::from(e)))?;
    let mut csv = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .delimiter(delimiter)
        .from_reader(RecordSplitter::new(
            decoded,
            delimiter,
            layout.max_record_lines,
            records::MAX_LINE_BYTES,
        ));
    let mut record = csv::ByteRecord::new();

    let mut skipped_lines = 0;
    loop {
        if !csv.read_byte_record(&mut record).map_err(read_error)? {
            return Err(match &layout.header {
                HeaderAt::Line(1) => ReportError::Empty {
                    path: path.to_owned(),
                },
                other => ReportError::HeaderNotFound {
                    path: path.to_owned(),
                    looked_for: describe_header(other),
                },
            });
        }
        let (line, broken) = match next_piece(&mut csv) {
            Piece::Record { line } => (line, false),
            Piece::Broken { line, .. } => (line, true),
        };
        let found = match &layout.header {
            HeaderAt::Line(at) if line >= *at && broken => {
                return Err(ReportError::HeaderUnclosedQuote {
                    path: path.to_owned(),
                    line,
                    max_record_lines: layout.max_record_lines,
                });
            }
            HeaderAt::Line(at) => line >= *at,
            HeaderAt::Detect { names, within } => {
                if line > *within {
                    return Err(ReportError::HeaderNotFound {
                        path: path.to_owned(),
                        looked_for: describe_header(&layout.header),
                    });
                }
                !broken && has_columns(&record, names)
            }
        };
        if found {
            break;
        }
        skipped_lines += 1;
    }
    let header = Header::new(&record).ok_or_else(|| ReportError::HeaderNotText {
        path: path.to_owned(),
    })?;
    let mut columns = Columns::new(&header);
    let parser = make_parser(&mut columns);
    columns.finish(path, format_name)?;

    let mut outcome = ParseTally::default();
    let mut records = 0u64;
    let shared_path: std::sync::Arc<str> = path.into();
    outcome.skipped_lines = skipped_lines;
    while csv.read_byte_record(&mut record).map_err(read_error)? {
        let line = match next_piece(&mut csv) {
            Piece::Record { line } => line,
            Piece::Broken { line, text, why } => {
                outcome.rows_read += 1;
                outcome.quarantined.push(Quarantined {
                    source: SourceLine {
                        path: shared_path.clone(),
                        line,
                    },
                    reason: match why {
                        Broken::UnclosedQuote => unclosed_reason(layout.max_record_lines),
                        Broken::TooLong { bytes } => too_long_reason(bytes),
                    },
                    raw: text.into(),
                });
                continue;
            }
        };
        if record.iter().all(|field| field.trim_ascii().is_empty()) {
            continue;
        }
        if layout.is_footer(&record) {
            outcome.skipped_lines += 1;
            continue;
        }
        outcome.rows_read += 1;
        let source = SourceLine {
            path: shared_path.clone(),
            line,
        };
        match parse_row(&parser, &header, &record, &source) {
            Ok(parsed) => {
                records += 1;
                sink(parsed);
            }
            Err(reason) => outcome.quarantined.push(Quarantined {
                raw: raw_line(&record, delimiter).into(),
                source,
                // a reason may quote a field (a date that does not parse): kept short too
                reason: match reason.len() > KEPT_BYTES {
                    true => KeptText::of(reason.as_bytes()).into(),
                    false => reason,
                },
            }),
        }
        // a huge row's room is given back rather than kept for the rest of the file
        if record.as_slice().len() > records::LARGE_RECORD {
            record = csv::ByteRecord::new();
        }
    }
    debug_assert_eq!(
        outcome.rows_read,
        records + outcome.quarantined.len() as u64
    );
    if outcome.skipped_lines > 0 {
        tracing::info!(
            report = path,
            skipped_lines = outcome.skipped_lines,
            "preamble and footer lines are not data"
        );
    }
    Ok(outcome)
}

/// What the record the csv reader just read is: the splitter queued one piece per record.
fn next_piece<R: Read>(csv: &mut csv::Reader<RecordSplitter<R>>) -> Piece {
    csv.get_mut()
        .pieces
        .pop_front()
        // the splitter hands the csv reader one record per piece; a record without one would
        // be a bug here, and reading it as line 0 keeps it counted
        .unwrap_or(Piece::Record { line: 0 })
}

/// The quarantine reason of a line longer than the cap.
fn too_long_reason(bytes: u64) -> String {
    format!(
        "line too long: {bytes} bytes, more than the {} (64 MiB) a report line may have; not read",
        records::MAX_LINE_BYTES
    )
}

/// The quarantine reason of a line whose quoted field does not close.
fn unclosed_reason(max_record_lines: u32) -> String {
    match max_record_lines {
        0 | 1 => {
            "unclosed quote: a quoted field does not close on its line (`max_record_lines` = 1)"
                .to_owned()
        }
        n => format!(
            "unclosed quote: a quoted field does not close within {n} lines (`max_record_lines` = {n})"
        ),
    }
}

/// The input as UTF-8: decoded from `encoding` unless it is UTF-8, or from UTF-16 when the
/// file starts with a UTF-16 byte order mark (a BOM wins over the configured encoding); a
/// UTF-8 BOM is dropped (the csv crate would keep it in the first header name).
fn decode<'r>(
    mut reader: impl Read + 'r,
    encoding: &'static Encoding,
) -> std::io::Result<Box<dyn Read + 'r>> {
    let mut start = [0u8; 3];
    let mut len = 0;
    while let Some(free) = start.get_mut(len..).filter(|free| !free.is_empty()) {
        match reader.read(free)? {
            0 => break,
            n => len += n,
        }
    }
    let start = start.get(..len).unwrap_or_default().to_vec();
    let bom = Encoding::for_bom(&start).map(|(bom, _)| bom);
    let input = std::io::Cursor::new(start).chain(reader);
    Ok(match (bom, encoding) {
        // the decoder sniffs the BOM itself, and drops it
        (Some(bom), _) if bom != encoding_rs::UTF_8 => Box::new(Decode::new(input, bom)),
        (_, encoding) if encoding != encoding_rs::UTF_8 => Box::new(Decode::new(input, encoding)),
        (Some(_), _) => {
            let mut input = input;
            let mut bom = [0u8; 3];
            input.read_exact(&mut bom)?;
            Box::new(input)
        }
        (None, _) => Box::new(input),
    })
}

/// Whether the record has a field named like each of `names` (trimmed, ignoring case).
fn has_columns(record: &csv::ByteRecord, names: &[String]) -> bool {
    let fields: Vec<String> = record
        .iter()
        .filter_map(|f| std::str::from_utf8(f).ok())
        .map(normalize)
        .collect();
    names.iter().all(|name| fields.contains(&normalize(name)))
}

fn describe_header(header: &HeaderAt) -> String {
    match header {
        HeaderAt::Line(at) => format!("at line {at}, but the file ends before it"),
        HeaderAt::Detect { names, within } => format!(
            "a line with the columns {} within the first {within} lines",
            names.join(", ")
        ),
    }
}

/// Decodes a legacy-encoded input (Windows-1252, ISO-8859-1, UTF-16…) to UTF-8 as it streams,
/// so the CSV reader and the formats only ever see UTF-8. A byte sequence the encoding does not
/// define fails the read (nothing is replaced behind the reader's back).
struct Decode<R> {
    inner: R,
    decoder: encoding_rs::Decoder,
    input: Box<[u8]>,
    input_start: usize,
    input_end: usize,
    eof: bool,
    /// Decoded bytes not yet handed out.
    output: Box<[u8]>,
    output_start: usize,
    output_end: usize,
    done: bool,
}

impl<R: Read> Decode<R> {
    fn new(inner: R, encoding: &'static Encoding) -> Self {
        const CHUNK: usize = 16 * 1024;
        Decode {
            inner,
            decoder: encoding.new_decoder(),
            input: vec![0; CHUNK].into_boxed_slice(),
            input_start: 0,
            input_end: 0,
            eof: false,
            // room for any character: a UTF-8 character never takes more than 4 bytes
            output: vec![0; 4 * CHUNK].into_boxed_slice(),
            output_start: 0,
            output_end: 0,
            done: false,
        }
    }

    /// Decodes the next chunk into `output`; `false` at the end of the input.
    fn fill(&mut self) -> std::io::Result<bool> {
        use encoding_rs::DecoderResult;
        while !self.done {
            if self.input_start == self.input_end && !self.eof {
                let n = self.inner.read(&mut self.input)?;
                self.input_start = 0;
                self.input_end = n;
                self.eof = n == 0;
            }
            let pending = self
                .input
                .get(self.input_start..self.input_end)
                .unwrap_or_default();
            let (result, read, written) = self.decoder.decode_to_utf8_without_replacement(
                pending,
                &mut self.output,
                self.eof,
            );
            self.input_start += read;
            match result {
                DecoderResult::Malformed(_, _) => {
                    return Err(std::io::Error::new(
                        std::io::ErrorKind::InvalidData,
                        format!(
                            "the file is not valid {} text",
                            self.decoder.encoding().name()
                        ),
                    ));
                }
                DecoderResult::InputEmpty if self.eof => self.done = true,
                DecoderResult::InputEmpty | DecoderResult::OutputFull => {}
            }
            if written > 0 {
                self.output_start = 0;
                self.output_end = written;
                return Ok(true);
            }
        }
        Ok(false)
    }
}

impl<R: Read> Read for Decode<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.output_start == self.output_end && !self.fill()? {
            return Ok(0);
        }
        let ready = self
            .output
            .get(self.output_start..self.output_end)
            .unwrap_or_default();
        let n = ready.len().min(buf.len());
        if let (Some(to), Some(from)) = (buf.get_mut(..n), ready.get(..n)) {
            to.copy_from_slice(from);
        }
        self.output_start += n;
        Ok(n)
    }
}

fn parse_row<P: RowParser>(
    parser: &P,
    header: &Header,
    record: &csv::ByteRecord,
    source: &SourceLine,
) -> Result<SettlementRecord, String> {
    if record.len() != header.width {
        return Err(format!(
            "wrong field count: expected {}, found {}",
            header.width,
            record.len()
        ));
    }
    // one UTF-8 check for the whole row; each field is then text if it starts and ends on a
    // character boundary
    let text = std::str::from_utf8(record.as_slice())
        .ok()
        .filter(|text| {
            (0..record.len()).all(|index| {
                record.range(index).is_some_and(|range| {
                    text.is_char_boundary(range.start) && text.is_char_boundary(range.end)
                })
            })
        })
        .ok_or_else(|| utf8_reason(header, record))?;
    let row = Row {
        text,
        record,
        source,
    };
    let parsed = parser.parse(&row)?;
    parsed.check_balance()?;
    Ok(parsed)
}

/// The quarantine reason naming the first column that is not UTF-8 text.
fn utf8_reason(header: &Header, record: &csv::ByteRecord) -> String {
    let index = record
        .iter()
        .position(|field| std::str::from_utf8(field).is_err());
    format!(
        "invalid UTF-8 in column `{}`",
        index
            .and_then(|index| header.display.get(index))
            .map_or("?", String::as_str)
    )
}

/// The row as one CSV line, for the quarantine's `raw`, kept as [`KeptText`] (written through
/// the cap, so a huge row is never copied whole).
fn raw_line(record: &csv::ByteRecord, delimiter: u8) -> KeptText {
    let mut writer = csv::WriterBuilder::new()
        .delimiter(delimiter)
        .terminator(csv::Terminator::Any(b'\n'))
        .from_writer(Capped::line());
    // writing to memory does not fail
    let _ = writer.write_byte_record(record);
    match writer.into_inner() {
        Ok(kept) => kept.finish(),
        Err(_) => KeptText::of(b""),
    }
}

/// The header line: names normalised for lookup, and as written for messages.
pub(crate) struct Header {
    width: usize,
    normalized: Vec<String>,
    display: Vec<String>,
}

impl Header {
    fn new(record: &csv::ByteRecord) -> Option<Header> {
        let mut display = Vec::with_capacity(record.len());
        for field in record {
            display.push(std::str::from_utf8(field).ok()?.trim().to_owned());
        }
        let normalized = display.iter().map(|name| normalize(name)).collect();
        Some(Header {
            width: record.len(),
            normalized,
            display,
        })
    }
}

fn normalize(name: &str) -> String {
    name.trim().to_lowercase()
}

/// A resolved column: its index in the row and the name used in reasons.
#[derive(Debug, Clone)]
pub(crate) struct Col {
    index: usize,
    pub(super) name: String,
}

/// Resolves a format's columns against the header, collecting what is missing or duplicated.
pub(crate) struct Columns<'h> {
    header: &'h Header,
    positions: HashMap<&'h str, Vec<usize>>,
    missing: Vec<String>,
    duplicated: Vec<String>,
}

impl<'h> Columns<'h> {
    fn new(header: &'h Header) -> Self {
        let mut positions: HashMap<&str, Vec<usize>> = HashMap::new();
        for (index, name) in header.normalized.iter().enumerate() {
            positions.entry(name.as_str()).or_default().push(index);
        }
        Columns {
            header,
            positions,
            missing: Vec::new(),
            duplicated: Vec::new(),
        }
    }

    /// A column that must be in the header (a missing one fails the whole file).
    pub(crate) fn required(&mut self, name: &str) -> Col {
        match self.optional(name) {
            Some(col) => col,
            None => {
                self.missing.push(name.to_owned());
                Col {
                    index: usize::MAX,
                    name: name.to_owned(),
                }
            }
        }
    }

    /// A column that may be absent.
    pub(crate) fn optional(&mut self, name: &str) -> Option<Col> {
        let indexes = self.positions.get(normalize(name).as_str())?;
        if indexes.len() > 1 {
            self.duplicated.push(name.to_owned());
        }
        Some(Col {
            index: *indexes.first()?,
            name: name.to_owned(),
        })
    }

    fn finish(self, path: &str, format: &str) -> Result<(), ReportError> {
        if !self.missing.is_empty() {
            return Err(ReportError::MissingColumns {
                path: path.to_owned(),
                format: format.to_owned(),
                missing: self.missing,
                found: self.header.display.iter().take(40).cloned().collect(),
            });
        }
        if let Some(column) = self.duplicated.into_iter().next() {
            return Err(ReportError::DuplicateColumn {
                path: path.to_owned(),
                column,
            });
        }
        Ok(())
    }
}

/// One data row with the right number of UTF-8 fields.
pub(crate) struct Row<'a> {
    /// The row's fields back to back (`record.as_slice()`), checked as text.
    text: &'a str,
    /// Where each field lies in `text`.
    record: &'a csv::ByteRecord,
    source: &'a SourceLine,
}

impl<'a> Row<'a> {
    pub(crate) fn source(&self) -> SourceLine {
        self.source.clone()
    }

    /// The trimmed text of a column ("" when blank).
    pub(crate) fn text(&self, col: &Col) -> &'a str {
        self.record
            .range(col.index)
            .and_then(|range| self.text.get(range))
            .map_or("", str::trim)
    }

    /// The trimmed text of a column that must not be blank.
    pub(crate) fn required(&self, col: &Col) -> Result<&'a str, String> {
        match self.text(col) {
            "" => Err(format!("missing value in `{}`", col.name)),
            text => Ok(text),
        }
    }

    /// The trimmed text of an optional column, `None` when absent or blank.
    pub(crate) fn optional(&self, col: Option<&Col>) -> Option<&'a str> {
        col.map(|col| self.text(col))
            .filter(|text| !text.is_empty())
    }

    pub(crate) fn optional_id(&self, col: Option<&Col>) -> Option<Id> {
        self.optional(col).map(Id::from)
    }

    pub(crate) fn currency(&self, col: &Col) -> Result<Currency, String> {
        let code = self.required(col)?;
        Currency::parse(code).map_err(|_| format!("unknown currency `{code}` in `{}`", col.name))
    }

    /// A required amount in minor units.
    pub(crate) fn amount(
        &self,
        col: &Col,
        currency: Currency,
        decimal_separator: char,
    ) -> Result<i64, String> {
        let text = self.required(col)?;
        parse_major(text, currency, decimal_separator).map_err(|e| money_reason(col, &e))
    }

    /// An optional amount: `None` when the column is absent or blank.
    pub(crate) fn optional_amount(
        &self,
        col: Option<&Col>,
        currency: Currency,
        decimal_separator: char,
    ) -> Result<Option<i64>, String> {
        match (col, self.optional(col)) {
            (Some(col), Some(text)) => parse_major(text, currency, decimal_separator)
                .map(Some)
                .map_err(|e| money_reason(col, &e)),
            _ => Ok(None),
        }
    }

    /// [`Row::optional_amount`] with the thousands separator named (`None`: no grouping).
    pub(crate) fn optional_grouped_amount(
        &self,
        col: Option<&Col>,
        currency: Currency,
        decimal_separator: char,
        thousands: Option<char>,
    ) -> Result<Option<i64>, String> {
        match (col, self.optional(col)) {
            (Some(col), Some(text)) => {
                parse_major_grouped(text, currency, decimal_separator, thousands)
                    .map(Some)
                    .map_err(|e| money_reason(col, &e))
            }
            _ => Ok(None),
        }
    }

    /// A timestamp column read with [`parse_timestamp`] in `zone`.
    pub(crate) fn timestamp(&self, col: &Col, zone: &Zone) -> Result<DateTime<Utc>, String> {
        let text = self.required(col)?;
        parse_timestamp(text, zone).map_err(|why| date_reason(col, text, &why))
    }

    pub(crate) fn optional_timestamp(
        &self,
        col: Option<&Col>,
        zone: &Zone,
    ) -> Result<Option<DateTime<Utc>>, String> {
        match (col, self.optional(col)) {
            (Some(col), Some(text)) => parse_timestamp(text, zone)
                .map(Some)
                .map_err(|why| date_reason(col, text, &why)),
            _ => Ok(None),
        }
    }
}

/// `text` in ASCII lower case, copied only when it has upper-case letters (rarely, per row).
pub(crate) fn ascii_lowercase(text: &str) -> std::borrow::Cow<'_, str> {
    if text.bytes().any(|b| b.is_ascii_uppercase()) {
        std::borrow::Cow::Owned(text.to_ascii_lowercase())
    } else {
        std::borrow::Cow::Borrowed(text)
    }
}

/// The quarantine reason for an amount that did not parse.
pub(crate) fn money_reason(col: &Col, error: &MoneyError) -> String {
    match error {
        MoneyError::TooPrecise { currency, .. } => {
            format!("amount in `{}` does not fit {currency}: {error}", col.name)
        }
        MoneyError::OutOfRange { .. } | MoneyError::Overflow { .. } => {
            format!("amount out of range in `{}`: {error}", col.name)
        }
        _ => format!("bad number in `{}`: {error}", col.name),
    }
}

pub(crate) fn date_reason(col: &Col, text: &str, why: &str) -> String {
    format!("unparseable date in `{}`: `{text}` ({why})", col.name)
}

/// Checked `a + b + …` of fee components, as a quarantine reason on overflow.
pub(crate) fn sum_minor(parts: &[i64], what: &str) -> Result<i64, String> {
    parts
        .iter()
        .try_fold(0i64, |acc, part| acc.checked_add(*part))
        .ok_or_else(|| format!("amount out of range: {what} overflows"))
}

#[cfg(test)]
mod tests {
    use super::super::Format;
    use super::super::test_support::parse_both_ways;
    use super::*;

    #[test]
    fn a_utf8_bom_is_dropped_and_short_inputs_survive() {
        for text in ["", "a", "ab", "abc", "abcd", "\u{feff}", "\u{feff}a,b"] {
            let mut out = Vec::new();
            decode(text.as_bytes(), encoding_rs::UTF_8)
                .expect("sniffs")
                .read_to_end(&mut out)
                .expect("reads");
            let expected = text.strip_prefix('\u{feff}').unwrap_or(text);
            assert_eq!(out, expected.as_bytes(), "{text:?}");
        }
    }

    /// A UTF-16 file with its BOM is decoded whatever the configured encoding.
    #[test]
    fn a_utf16_bom_wins() {
        let text = "id,amount\r\nx,é\r\n";
        let le: Vec<u8> = [0xFF, 0xFE]
            .into_iter()
            .chain(text.encode_utf16().flat_map(u16::to_le_bytes))
            .collect();
        let be: Vec<u8> = [0xFE, 0xFF]
            .into_iter()
            .chain(text.encode_utf16().flat_map(u16::to_be_bytes))
            .collect();
        for (bytes, configured) in [
            (&le, encoding_rs::UTF_8),
            (&be, encoding_rs::UTF_8),
            (&le, encoding_rs::WINDOWS_1252),
        ] {
            let mut out = String::new();
            decode(bytes.as_slice(), configured)
                .expect("sniffs")
                .read_to_string(&mut out)
                .expect("reads");
            assert_eq!(out, text);
        }
    }

    /// A row is numbered by the physical line it starts on, after a BOM, CRLF and lone CR
    /// endings, blank lines and a quoted field spanning lines (with lines longer than the
    /// 16-byte steps the tracker skips in).
    #[test]
    fn rows_are_numbered_by_the_line_they_start_on() {
        let text = "\u{feff}balance_transaction_id,created_utc,currency,gross,fee,net,reporting_category\r\n\
            txn_1,2024-03-01 10:00:00,usd,10.00,0.30,9.70,\"charge\r\nspanning\nlines\"\r\n\
            \r\n\
            txn_2,not a row\r\n\
            \n\
            \rtxn_3,2024-03-01 10:00:00,usd,10.00,0.30,9.69,charge";
        let outcome = parse_both_ways(&Format::Stripe(Default::default()), "lines.csv", text);
        assert!(outcome.records.is_empty());
        // a built-in format's record is one line: the quote open at the end of line 2 breaks
        // only line 2, and lines 3 and 4 are read as rows of their own (one field each)
        let quarantined: Vec<(u64, &str)> = outcome
            .quarantined
            .iter()
            .map(|q| (q.source.line, q.reason.as_str()))
            .collect();
        assert_eq!(
            quarantined,
            [
                (
                    2,
                    "unclosed quote: a quoted field does not close on its line (`max_record_lines` = 1)"
                ),
                (3, "wrong field count: expected 7, found 1"),
                (4, "wrong field count: expected 7, found 1"),
                (6, "wrong field count: expected 7, found 2"),
                (9, "net ≠ gross − fee (gross 10.00, fee 0.30, net 9.69 USD)"),
            ]
        );
        assert_eq!(outcome.rows_read, 5);

        // allowed three lines, the row spanning lines 2 to 4 is one record
        let options = crate::settlement::report::stripe::Options {
            max_record_lines: 3,
            ..Default::default()
        };
        let outcome = parse_both_ways(&Format::Stripe(options), "lines.csv", text);
        let lines: Vec<u64> = outcome.records.iter().map(|r| r.source.line).collect();
        assert_eq!(lines, [2]);
        let quarantined: Vec<u64> = outcome.quarantined.iter().map(|q| q.source.line).collect();
        assert_eq!(quarantined, [6, 9]);
    }

    #[test]
    fn raw_line_requotes() {
        let mut record = csv::ByteRecord::new();
        record.push_field(b"a");
        record.push_field(b"b,c");
        record.push_field(b"say \"hi\"");
        assert_eq!(
            raw_line(&record, b',').to_string(),
            "a,\"b,c\",\"say \"\"hi\"\"\""
        );
    }
}
