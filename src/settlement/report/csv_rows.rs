//! The CSV plumbing every report format shares (streaming driver, line numbers, header and column lookup, typed reads of a row's fields), so that a format's file holds only its own columns and rules.

use std::collections::HashMap;
use std::io::Read;

use chrono::{DateTime, Utc};
use encoding_rs::Encoding;

use super::zone::{Zone, parse_timestamp};
use super::{ParseOutcome, Quarantined, ReportError, RowParser};
use crate::money::{Currency, MoneyError, parse_major, parse_major_grouped};
use crate::settlement::{Id, SettlementRecord, SourceLine};

/// Where a format's rows are in its file: the delimiter, the text encoding, the line of the
/// header and the footer lines after the data. The built-in formats use [`Layout::csv`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Layout {
    pub(crate) delimiter: u8,
    /// Decoded to UTF-8 before parsing unless it is UTF-8 (a BOM overrides it, as in browsers).
    pub(crate) encoding: &'static Encoding,
    pub(crate) header: HeaderAt,
    /// A row after the header whose first field starts with one of these (trimmed and
    /// lower-cased, as the field is before the comparison) is a footer or summary line
    /// (`closing balance`, `total`), not data: counted, not parsed.
    pub(crate) footer_starts_with: Vec<String>,
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
    pub(crate) fn csv(delimiter: u8) -> Layout {
        Layout {
            delimiter,
            encoding: encoding_rs::UTF_8,
            header: HeaderAt::Line(1),
            footer_starts_with: Vec::new(),
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
) -> Result<ParseOutcome, ReportError> {
    let read_error = |source| ReportError::Read {
        path: path.to_owned(),
        source,
    };
    let delimiter = layout.delimiter;
    let decoded: Box<dyn Read + '_> = if layout.encoding == encoding_rs::UTF_8 {
        Box::new(reader)
    } else {
        Box::new(Decode::new(reader, layout.encoding))
    };
    let mut csv = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .delimiter(delimiter)
        .from_reader(LineTracker::new(SkipBom::new(decoded)));
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
        let line = line_of(&mut csv, &record);
        let found = match &layout.header {
            HeaderAt::Line(at) => line >= *at,
            HeaderAt::Detect { names, within } => {
                if line > *within {
                    return Err(ReportError::HeaderNotFound {
                        path: path.to_owned(),
                        looked_for: describe_header(&layout.header),
                    });
                }
                has_columns(&record, names)
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

    let mut outcome = ParseOutcome::default();
    let shared_path: std::sync::Arc<str> = path.into();
    outcome.skipped_lines = skipped_lines;
    while csv.read_byte_record(&mut record).map_err(read_error)? {
        // look the line up even for skipped rows, so the tracker forgets the lines behind them
        let line = line_of(&mut csv, &record);
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
            Ok(parsed) => outcome.records.push(parsed),
            Err(reason) => outcome.quarantined.push(Quarantined {
                raw: raw_line(&record, delimiter),
                source,
                reason,
            }),
        }
    }
    debug_assert_eq!(
        outcome.rows_read,
        (outcome.records.len() + outcome.quarantined.len()) as u64
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

/// The file line of the record just read.
fn line_of<R: Read>(csv: &mut csv::Reader<LineTracker<R>>, record: &csv::ByteRecord) -> u64 {
    match record.position() {
        Some(position) => csv
            .get_mut()
            .line_at(position.byte())
            .unwrap_or(position.line()),
        None => 0,
    }
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

/// The row as one CSV line, for the quarantine's `raw`.
fn raw_line(record: &csv::ByteRecord, delimiter: u8) -> String {
    let mut writer = csv::WriterBuilder::new()
        .delimiter(delimiter)
        .terminator(csv::Terminator::Any(b'\n'))
        .from_writer(Vec::new());
    let bytes = match writer.write_byte_record(record) {
        Ok(()) => writer.into_inner().unwrap_or_default(),
        Err(_) => Vec::new(),
    };
    let mut text = String::from_utf8_lossy(&bytes).into_owned();
    if text.ends_with('\n') {
        text.pop();
    }
    text
}

/// Drops a leading UTF-8 byte order mark, which the csv crate would otherwise keep in the first
/// header name (and which would break a quoted first field).
struct SkipBom<R> {
    inner: R,
    /// Bytes read while looking for the BOM, to hand out before reading on.
    pending: [u8; 3],
    pending_len: usize,
    pending_pos: usize,
    checked: bool,
}

impl<R: Read> SkipBom<R> {
    fn new(inner: R) -> Self {
        SkipBom {
            inner,
            pending: [0; 3],
            pending_len: 0,
            pending_pos: 0,
            checked: false,
        }
    }
}

impl<R: Read> Read for SkipBom<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if !self.checked {
            while let Some(free) = self
                .pending
                .get_mut(self.pending_len..)
                .filter(|f| !f.is_empty())
            {
                let n = self.inner.read(free)?;
                if n == 0 {
                    break;
                }
                self.pending_len = (self.pending_len + n).min(3);
            }
            if self.pending.get(..self.pending_len) == Some(&[0xEF, 0xBB, 0xBF][..]) {
                self.pending_len = 0;
            }
            self.checked = true;
        }
        let available = self
            .pending
            .get(self.pending_pos..self.pending_len)
            .unwrap_or_default();
        if !available.is_empty() {
            let n = available.len().min(buf.len());
            if let (Some(to), Some(from)) = (buf.get_mut(..n), available.get(..n)) {
                to.copy_from_slice(from);
            }
            self.pending_pos += n;
            return Ok(n);
        }
        self.inner.read(buf)
    }
}

/// Numbers the lines of the input as it streams past the csv reader, because csv's own
/// `Position::line` lags behind after CRLF endings and skipped blank lines.
///
/// It remembers where each line with content starts (offset, line number) until the records
/// before it are consumed, so memory stays bounded by the csv reader's buffer and one record.
/// A line break is `\n`, `\r\n` or a lone `\r`.
struct LineTracker<R> {
    inner: R,
    offset: u64,
    line: u64,
    at_line_start: bool,
    after_cr: bool,
    starts: std::collections::VecDeque<(u64, u64)>,
}

impl<R: Read> LineTracker<R> {
    fn new(inner: R) -> Self {
        LineTracker {
            inner,
            offset: 0,
            line: 1,
            at_line_start: true,
            after_cr: false,
            starts: std::collections::VecDeque::new(),
        }
    }

    /// Line of the record csv reports at `byte`: csv points just past the previous record's
    /// terminator, so the record is on the first line with content at or after that offset.
    fn line_at(&mut self, byte: u64) -> Option<u64> {
        while self
            .starts
            .front()
            .is_some_and(|&(offset, _)| offset < byte)
        {
            self.starts.pop_front();
        }
        self.starts.pop_front().map(|(_, line)| line)
    }
}

impl<R: Read> Read for LineTracker<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        let seen = buf.get(..n).unwrap_or_default();
        let mut i = 0;
        while let Some(&byte) = seen.get(i) {
            if std::mem::take(&mut self.after_cr) && byte == b'\n' {
                i += 1;
                continue;
            }
            if let b'\r' | b'\n' = byte {
                self.line += 1;
                self.at_line_start = true;
                self.after_cr = byte == b'\r';
                i += 1;
                continue;
            }
            if std::mem::take(&mut self.at_line_start) {
                self.starts.push_back((self.offset + i as u64, self.line));
            }
            // skip the rest of the line: `byte` is not a break, so this moves on
            i += until_line_break(seen.get(i..).unwrap_or_default());
        }
        self.offset += n as u64;
        Ok(n)
    }
}

/// How many bytes of `bytes` come before its first `\r` or `\n` (all of them if none does),
/// looked for 16 bytes at a time.
fn until_line_break(bytes: &[u8]) -> usize {
    let is_break = |byte: &u8| matches!(byte, b'\r' | b'\n');
    let mut skipped = 0;
    for chunk in bytes.chunks_exact(16) {
        if chunk
            .iter()
            .fold(false, |found, byte| found | is_break(byte))
        {
            break;
        }
        skipped += 16;
    }
    let rest = bytes.get(skipped..).unwrap_or_default();
    skipped + rest.iter().position(is_break).unwrap_or(rest.len())
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
    fn bom_is_skipped_and_short_inputs_survive() {
        let mut out = String::new();
        SkipBom::new("\u{feff}a,b".as_bytes())
            .read_to_string(&mut out)
            .expect("reads");
        assert_eq!(out, "a,b");
        for text in ["", "a", "ab", "abc", "abcd", "\u{feff}"] {
            let mut out = Vec::new();
            SkipBom::new(text.as_bytes())
                .read_to_end(&mut out)
                .expect("reads");
            let expected = text.strip_prefix('\u{feff}').unwrap_or(text);
            assert_eq!(out, expected.as_bytes(), "{text:?}");
        }
    }

    #[test]
    fn line_numbers_survive_crlf_blank_lines_and_quoted_newlines() {
        let lines = |text: &str| -> Vec<u64> {
            let mut csv = csv::ReaderBuilder::new()
                .has_headers(false)
                .flexible(true)
                .buffer_capacity(4)
                .from_reader(LineTracker::new(text.as_bytes()));
            let mut record = csv::ByteRecord::new();
            let mut found = Vec::new();
            while csv.read_byte_record(&mut record).expect("reads") {
                let byte = record.position().expect("position").byte();
                found.push(csv.get_mut().line_at(byte).expect("line"));
            }
            found
        };
        assert_eq!(lines("h1,h2\na,b\nc,d\n"), [1, 2, 3]);
        assert_eq!(lines("h1,h2\r\na,b\r\nc,d\r\n"), [1, 2, 3]);
        assert_eq!(lines("h1,h2\r\na,\"x\r\ny\"\r\n\r\n\r\nc,d\r\n"), [1, 2, 6]);
        assert_eq!(lines("h1,h2\na,\"x\n\ny\"\n\n\nc,d"), [1, 2, 7]);
        assert_eq!(lines("h1,h2\ra,b\rc,d"), [1, 2, 3]);
        assert_eq!(lines("\r\nh1\r\n\r\n\n\r\r\na\n\n\r\nb"), [2, 7, 10]);
        assert_eq!(lines("h\n  \nx\n"), [1, 2, 3]);

        // many rows across buffer refills: numbers stay exact, memory stays bounded
        let big: String = (0..20_000)
            .map(|i| format!("r{i},{}\r\n", "v".repeat(i % 7)))
            .collect();
        let mut csv = csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .from_reader(LineTracker::new(big.as_bytes()));
        let mut record = csv::ByteRecord::new();
        let mut expected_line = 0;
        while csv.read_byte_record(&mut record).expect("reads") {
            expected_line += 1;
            let byte = record.position().expect("position").byte();
            assert_eq!(csv.get_mut().line_at(byte), Some(expected_line));
            assert!(csv.get_ref().starts.len() < 2_000);
        }
        assert_eq!(expected_line, 20_000);
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
        assert_eq!(raw_line(&record, b','), "a,\"b,c\",\"say \"\"hi\"\"\"");
    }
}
