//! Cuts a report into records by physical lines before the csv reader sees it, so a quoted field that never closes breaks only its own record (quarantined with its line) instead of swallowing the lines after it.
//!
//! A record may span at most `max_record_lines` physical lines (a quoted field holding line
//! breaks). When its quotes are still open at the end of that span (or of the file), only its
//! first line is set aside as broken and reading starts again at the next physical line. The
//! records that are whole are handed on unchanged, in order; each broken line is replaced by a
//! one-field placeholder line, so the csv reader yields exactly one record per [`Piece`] and the
//! driver pairs them in order. Blank lines are dropped here (csv would skip them too).
//!
//! The quote rules are the csv crate's defaults (a `"` opens a quoted field only at the start of a
//! field; `""` inside one is a quote; text after the closing quote runs on unquoted), so the two
//! always agree on where a record ends. A line break is `\n`, `\r\n` or a lone `\r`.

use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Read};

use super::super::kept_text::{KEPT_BYTES, KeptText};

/// What the csv reader's next record is.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Piece {
    /// A whole record starting on this line.
    Record { line: u64 },
    /// A line set aside: the csv record is a placeholder; `text` is the line as read (capped).
    Broken {
        line: u64,
        text: KeptText,
        why: Broken,
    },
}

/// Why a line was set aside.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Broken {
    /// Its quoted field does not close within the allowed span.
    UnclosedQuote,
    /// It is longer than the cap (this many bytes, its line break left out): never buffered whole.
    TooLong { bytes: u64 },
}

/// The most bytes one physical line of a report may have; a longer one is quarantined, read
/// past without being kept in memory (one long line must not take the pod's memory).
pub(crate) const MAX_LINE_BYTES: usize = 64 << 20;

/// A record buffer larger than this is freed once the record is read.
pub(super) const LARGE_RECORD: usize = 1 << 20;

/// What stands in for a broken line in the stream the csv reader parses.
const PLACEHOLDER: &[u8] = b"-\n";

/// Where the quote scan is within a record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Scan {
    /// At the start of a field: a `"` here opens a quoted field.
    FieldStart,
    /// Inside an unquoted field: a `"` is text.
    Unquoted,
    /// Inside a quoted field: line breaks and delimiters are text.
    Quoted,
    /// Just after a `"` inside a quoted field: another `"` is an escaped quote, else it closed.
    AfterQuote,
}

/// The splitter: a [`Read`] of the whole records, with the [`Piece`] of each.
pub(super) struct RecordSplitter<R> {
    inner: BufReader<R>,
    delimiter: u8,
    max_lines: u32,
    /// The most bytes one physical line may have ([`MAX_LINE_BYTES`] but in tests).
    max_line_bytes: usize,
    /// The lines read past the cap, by file line, with their full length.
    too_long: Vec<(u64, u64)>,
    /// The next physical line to read.
    next_line: u64,
    /// The lines of the record being assembled (or handed out), as read.
    chunk: Vec<u8>,
    /// Where each physical line in `chunk` ends (past its line break).
    line_ends: Vec<usize>,
    /// The file line of `chunk`'s first line.
    first_line: u64,
    /// Bytes of `chunk` (or of the placeholder) handed out so far; `None`: nothing to hand out.
    out: Option<(Out, usize)>,
    /// How much of `chunk` the record handed out takes (its lines; lines after it stay).
    record_end: usize,
    eof: bool,
    pub(super) pieces: VecDeque<Piece>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Out {
    Chunk,
    Placeholder,
    /// This many bytes at the front of the input buffer: whole lines without a quote, handed
    /// out as they are (the common case: no copy into `chunk`).
    Direct(usize),
}

impl<R: Read> RecordSplitter<R> {
    pub(super) fn new(inner: R, delimiter: u8, max_lines: u32, max_line_bytes: usize) -> Self {
        RecordSplitter {
            inner: BufReader::with_capacity(64 * 1024, inner),
            delimiter,
            max_lines: max_lines.max(1),
            max_line_bytes: max_line_bytes.max(1),
            too_long: Vec::new(),
            next_line: 1,
            chunk: Vec::new(),
            line_ends: Vec::new(),
            first_line: 1,
            out: None,
            record_end: 0,
            eof: false,
            pieces: VecDeque::new(),
        }
    }

    /// Appends the next physical line (with its line break) to `chunk`; `false` at the end.
    fn read_line(&mut self) -> std::io::Result<bool> {
        if self.eof {
            return Ok(false);
        }
        let start = self.chunk.len();
        // bytes of this line read past the cap: counted, not kept
        let mut skipped: u64 = 0;
        let mut break_len: u64 = 0;
        loop {
            let room = (start + self.max_line_bytes + 2).saturating_sub(self.chunk.len());
            let available = self.inner.fill_buf()?;
            if available.is_empty() {
                self.eof = true;
                break;
            }
            let content = until_line_break(available);
            if let Some(&byte) = available.get(content) {
                let mut take = content + 1;
                let mut complete = true;
                break_len = 1;
                if byte == b'\r' {
                    match available.get(content + 1) {
                        Some(b'\n') => {
                            take += 1;
                            break_len = 2;
                        }
                        Some(_) => {}
                        // the buffer ends on `\r`: a `\n` may follow in the next fill
                        None => complete = false,
                    }
                }
                let kept = take.min(room);
                self.chunk
                    .extend_from_slice(available.get(..kept).unwrap_or_default());
                skipped += (take - kept) as u64;
                self.inner.consume(take);
                if complete {
                    break;
                }
                if self.inner.fill_buf()?.first() == Some(&b'\n') {
                    self.chunk.push(b'\n');
                    self.inner.consume(1);
                    break_len = 2;
                }
                break;
            }
            let n = available.len();
            let kept = n.min(room);
            self.chunk
                .extend_from_slice(available.get(..kept).unwrap_or_default());
            skipped += (n - kept) as u64;
            self.inner.consume(n);
        }
        if self.chunk.len() == start {
            return Ok(false);
        }
        let bytes = (self.chunk.len() - start) as u64 + skipped - break_len;
        if bytes > self.max_line_bytes as u64 {
            self.too_long.push((self.next_line, bytes));
        }
        if self.line_ends.is_empty() {
            self.first_line = self.next_line;
        }
        self.line_ends.push(self.chunk.len());
        self.next_line += 1;
        Ok(true)
    }

    /// The quote state after the `index`-th line of `chunk`, starting from `state`.
    fn scan_line(&self, index: usize, mut state: Scan) -> Scan {
        let start = match index {
            0 => 0,
            _ => self.line_ends.get(index - 1).copied().unwrap_or_default(),
        };
        let end = self.line_ends.get(index).copied().unwrap_or_default();
        let line = self.chunk.get(start..end).unwrap_or_default();
        let content = line
            .get(..line.len() - line_break_len(line))
            .unwrap_or_default();
        // the common line has no quote at all: nothing to follow
        if state != Scan::Quoted && !content.contains(&b'"') {
            return Scan::FieldStart;
        }
        for &byte in content {
            state = match (state, byte) {
                (Scan::FieldStart, b'"') => Scan::Quoted,
                (Scan::FieldStart | Scan::Unquoted | Scan::AfterQuote, b)
                    if b == self.delimiter =>
                {
                    Scan::FieldStart
                }
                (Scan::FieldStart | Scan::Unquoted, _) => Scan::Unquoted,
                (Scan::Quoted, b'"') => Scan::AfterQuote,
                (Scan::Quoted, _) => Scan::Quoted,
                (Scan::AfterQuote, b'"') => Scan::Quoted,
                (Scan::AfterQuote, _) => Scan::Unquoted,
            };
        }
        state
    }

    /// Queues the whole lines without a quote at the front of the input buffer, up to the first
    /// that has one, is blank, or is not whole there; how many bytes they take.
    fn direct_lines(&mut self) -> std::io::Result<usize> {
        let available = self.inner.fill_buf()?;
        let mut at = 0;
        while let Some(rest) = available.get(at..) {
            let content = until_line_break_or_quote(rest);
            // stop at a quote, a blank line, a `\r` at the buffer's end, or no line break
            let take = match rest.get(content) {
                _ if content == 0 || content > self.max_line_bytes => break,
                Some(b'\n') => content + 1,
                Some(b'\r') => match rest.get(content + 1) {
                    Some(b'\n') => content + 2,
                    Some(_) => content + 1,
                    None => break,
                },
                _ => break,
            };
            self.pieces.push_back(Piece::Record {
                line: self.next_line,
            });
            self.next_line += 1;
            at += take;
        }
        Ok(at)
    }

    /// Forgets the first lines of `chunk`, up to `end` (a line end).
    fn drop_lines(&mut self, end: usize) {
        if end >= self.chunk.len() {
            self.chunk.clear();
            self.line_ends.clear();
            // a huge line's room is given back rather than kept for the rest of the file
            if self.chunk.capacity() > LARGE_RECORD {
                self.chunk = Vec::new();
            }
            return;
        }
        let dropped = self.line_ends.iter().take_while(|&&e| e <= end).count();
        self.chunk.drain(..end);
        self.line_ends.drain(..dropped);
        for line_end in &mut self.line_ends {
            *line_end -= end;
        }
        self.first_line += dropped as u64;
    }

    /// Assembles the next piece into `out`; `false` at the end of the file.
    fn next_piece(&mut self) -> std::io::Result<bool> {
        if let Some((Out::Chunk, _)) = self.out.take() {
            self.drop_lines(self.record_end);
        }
        if self.line_ends.is_empty() && !self.eof {
            let direct = self.direct_lines()?;
            if direct > 0 {
                self.out = Some((Out::Direct(direct), 0));
                return Ok(true);
            }
        }
        loop {
            // lines left over from a broken record are scanned again from their start
            let mut state = Scan::FieldStart;
            let mut index = 0;
            let closed = loop {
                if index == self.line_ends.len() && !self.read_line()? {
                    break index == 0;
                }
                if index == 0
                    && let Some(at) = self
                        .too_long
                        .iter()
                        .position(|(l, _)| *l == self.first_line)
                {
                    let (line, bytes) = self.too_long.swap_remove(at);
                    let first_end = self.line_ends.first().copied().unwrap_or_default();
                    // its first KiB only: a cut text's length and SHA-256 would be the kept
                    // part's, not the line's (the reason gives its length)
                    let start = self.chunk.get(..first_end.min(KEPT_BYTES));
                    self.pieces.push_back(Piece::Broken {
                        line,
                        text: KeptText::of(start.unwrap_or_default()),
                        why: Broken::TooLong { bytes },
                    });
                    self.drop_lines(first_end);
                    self.out = Some((Out::Placeholder, 0));
                    return Ok(true);
                }
                // a record running into a line past the cap cannot be read whole
                if index > 0
                    && self
                        .too_long
                        .iter()
                        .any(|(l, _)| *l == self.first_line + index as u64)
                {
                    break false;
                }
                state = self.scan_line(index, state);
                index += 1;
                if state != Scan::Quoted {
                    break true;
                }
                if index >= self.max_lines as usize {
                    break false;
                }
            };
            if self.line_ends.is_empty() {
                return Ok(false);
            }
            if closed {
                let end = self.line_ends.get(index - 1).copied().unwrap_or_default();
                let record = self.chunk.get(..end).unwrap_or_default();
                if record.iter().all(|b| matches!(b, b'\r' | b'\n')) {
                    self.drop_lines(end);
                    continue;
                }
                self.pieces.push_back(Piece::Record {
                    line: self.first_line,
                });
                self.record_end = end;
                self.out = Some((Out::Chunk, 0));
                return Ok(true);
            }
            let first_end = self.line_ends.first().copied().unwrap_or_default();
            let first = self.chunk.get(..first_end).unwrap_or_default();
            let text = first.get(..first.len() - line_break_len(first));
            self.pieces.push_back(Piece::Broken {
                line: self.first_line,
                text: KeptText::of(text.unwrap_or_default()),
                why: Broken::UnclosedQuote,
            });
            self.drop_lines(first_end);
            self.out = Some((Out::Placeholder, 0));
            return Ok(true);
        }
    }
}

impl<R: Read> Read for RecordSplitter<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        loop {
            if let Some((Out::Direct(len), at)) = self.out {
                if at < len {
                    let available = self.inner.fill_buf()?;
                    let n = (len - at).min(buf.len()).min(available.len());
                    if let (Some(to), Some(from)) = (buf.get_mut(..n), available.get(..n)) {
                        to.copy_from_slice(from);
                    }
                    self.inner.consume(n);
                    self.out = Some((Out::Direct(len), at + n));
                    return Ok(n);
                }
            } else if let Some((which, at)) = self.out {
                let source = match which {
                    Out::Chunk => self.chunk.get(..self.record_end).unwrap_or_default(),
                    Out::Placeholder | Out::Direct(_) => PLACEHOLDER,
                };
                let ready = source.get(at..).unwrap_or_default();
                if !ready.is_empty() {
                    let n = ready.len().min(buf.len());
                    if let (Some(to), Some(from)) = (buf.get_mut(..n), ready.get(..n)) {
                        to.copy_from_slice(from);
                    }
                    self.out = Some((which, at + n));
                    return Ok(n);
                }
            }
            if !self.next_piece()? {
                return Ok(0);
            }
        }
    }
}

/// How many bytes at the end of `line` are its line break (0, 1 or 2).
fn line_break_len(line: &[u8]) -> usize {
    match line {
        [.., b'\r', b'\n'] => 2,
        [.., b'\r' | b'\n'] => 1,
        _ => 0,
    }
}

/// How many bytes of `bytes` come before its first `\r` or `\n` (all of them if none does),
/// looked for 16 bytes at a time.
fn until_line_break(bytes: &[u8]) -> usize {
    until(bytes, |byte| matches!(byte, b'\r' | b'\n'))
}

/// The same, stopping at a `"` too.
fn until_line_break_or_quote(bytes: &[u8]) -> usize {
    until(bytes, |byte| matches!(byte, b'\r' | b'\n' | b'"'))
}

/// How many bytes of `bytes` come before the first that `is_break` (all of them if none is),
/// looked for 16 bytes at a time.
#[inline(always)]
fn until(bytes: &[u8], is_break: impl Fn(&u8) -> bool) -> usize {
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

#[cfg(test)]
mod tests {
    use super::*;

    /// The pieces of `text` (`B` for a broken line), and what the csv reader is handed.
    fn split(text: &str, max_lines: u32, capacity: usize) -> (Vec<(char, u64)>, String) {
        let mut splitter = RecordSplitter::new(text.as_bytes(), b',', max_lines, MAX_LINE_BYTES);
        splitter.inner = BufReader::with_capacity(capacity, text.as_bytes());
        let mut handed = String::new();
        let mut buf = [0u8; 3];
        loop {
            let n = splitter.read(&mut buf).expect("reads");
            if n == 0 {
                break;
            }
            handed.push_str(std::str::from_utf8(&buf[..n]).expect("utf-8 here"));
        }
        let pieces = splitter
            .pieces
            .iter()
            .map(|piece| match piece {
                Piece::Record { line } => ('R', *line),
                Piece::Broken { line, .. } => ('B', *line),
            })
            .collect();
        (pieces, handed)
    }

    #[test]
    fn records_are_numbered_by_their_first_line_across_breaks_and_blank_lines() {
        for capacity in [1, 2, 5, 64] {
            assert_eq!(
                split("h1,h2\na,b\nc,d\n", 1, capacity),
                (
                    vec![('R', 1), ('R', 2), ('R', 3)],
                    "h1,h2\na,b\nc,d\n".into()
                )
            );
            assert_eq!(
                split("h1,h2\r\na,\"x\r\ny\"\r\n\r\n\r\nc,d\r\n", 2, capacity).0,
                [('R', 1), ('R', 2), ('R', 6)]
            );
            assert_eq!(
                split("\r\nh1\r\n\r\n\n\r\r\na\n\n\r\nb", 1, capacity).0,
                [('R', 2), ('R', 7), ('R', 10)]
            );
            assert_eq!(
                split("h\n  \nx\n", 1, capacity).0,
                [('R', 1), ('R', 2), ('R', 3)]
            );
        }
    }

    #[test]
    fn an_unclosed_quote_breaks_only_its_own_line() {
        let text = "h,d\na,\"never closes\nb,ok\nc,\"fine\"\nd,\"x\ne,\"y\"\"z\"\n";
        let (pieces, handed) = split(text, 1, 64);
        assert_eq!(
            pieces,
            [('R', 1), ('B', 2), ('R', 3), ('R', 4), ('B', 5), ('R', 6)]
        );
        assert_eq!(handed, "h,d\n-\nb,ok\nc,\"fine\"\n-\ne,\"y\"\"z\"\n");
        // a span of three lines: line 2 takes in 3 and 4 but still does not close; reading
        // starts again at line 3, whose record is whole
        let text = "h,d\na,\"open\nb,1\nc,2\nd,\"two\nlines\"\n";
        assert_eq!(
            split(text, 3, 64).0,
            [('R', 1), ('B', 2), ('R', 3), ('R', 4), ('R', 5)]
        );
        // a quote in an unquoted field is text; a quote open at the end of the file breaks
        assert_eq!(split("a b\"c,d\ne,\"f", 1, 4).0, [('R', 1), ('B', 2)]);
    }

    /// The pieces (with why a line broke) and the hand-out of `text` split with lines capped
    /// at `max_bytes`, read through a buffer of `capacity` bytes.
    fn split_capped(
        text: &str,
        max_lines: u32,
        max_bytes: usize,
        capacity: usize,
    ) -> (Vec<(u64, Option<Broken>)>, String) {
        let mut splitter = RecordSplitter::new(text.as_bytes(), b',', max_lines, max_bytes);
        splitter.inner = BufReader::with_capacity(capacity, text.as_bytes());
        let mut handed = Vec::new();
        splitter.read_to_end(&mut handed).expect("reads");
        let pieces = splitter
            .pieces
            .iter()
            .map(|piece| match piece {
                Piece::Record { line } => (*line, None),
                Piece::Broken { line, why, .. } => (*line, Some(*why)),
            })
            .collect();
        (pieces, String::from_utf8(handed).expect("utf-8"))
    }

    #[test]
    fn a_line_past_the_cap_is_set_aside_with_its_length_and_never_kept_whole() {
        let long = "x".repeat(50);
        for capacity in [1, 2, 5, 64] {
            for end in ["\n", "\r\n"] {
                let text = format!("a,b{end}{long}{end}0123456789{end}c,d{end}");
                let (pieces, handed) = split_capped(&text, 1, 10, capacity);
                assert_eq!(
                    pieces,
                    [
                        (1, None),
                        (2, Some(Broken::TooLong { bytes: 50 })),
                        (3, None),
                        (4, None)
                    ],
                    "capacity {capacity}, {end:?}"
                );
                assert_eq!(handed, format!("a,b{end}-\n0123456789{end}c,d{end}"));
            }
        }
    }

    #[test]
    fn a_quoted_record_running_into_a_long_line_breaks_both() {
        let text = format!("\"q\n{}\nc,d\n", "y".repeat(30));
        let (pieces, handed) = split_capped(&text, 3, 10, 4);
        assert_eq!(
            pieces,
            [
                (1, Some(Broken::UnclosedQuote)),
                (2, Some(Broken::TooLong { bytes: 30 })),
                (3, None)
            ]
        );
        assert_eq!(handed, "-\n-\nc,d\n");
        let broken = RecordSplitter::new(text.as_bytes(), b',', 3, 10);
        let mut broken = broken;
        let mut sink = Vec::new();
        broken.read_to_end(&mut sink).expect("reads");
        let Some(Piece::Broken { text, .. }) = broken.pieces.get(1) else {
            panic!("line 2 is broken");
        };
        assert_eq!(
            String::from(text.clone()),
            "y".repeat(12),
            "its start as kept"
        );
    }
}
