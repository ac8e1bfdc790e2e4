//! A text bank file read line by line with its line numbers, whatever its line ends (LF, CRLF) and whether it is UTF-8 or an 8-bit set (ISO 8859-1, as German MT940 files often are).

use std::io::{BufRead, Read};

use super::BankFileError;

/// Longest line read; a longer one makes the whole file malformed (no bank format comes near).
const MAX_LINE_BYTES: u64 = 1 << 20;

/// The lines of one file, numbered from 1, without their line ends.
pub(crate) struct NumberedLines<R> {
    path: String,
    reader: R,
    line: u64,
    buf: Vec<u8>,
}

impl<R: BufRead> NumberedLines<R> {
    pub(crate) fn new(path: &str, reader: R) -> NumberedLines<R> {
        NumberedLines {
            path: path.to_owned(),
            reader,
            line: 0,
            buf: Vec::new(),
        }
    }

    /// The next line and its number; `None` at the end of the file.
    pub(crate) fn next_line(&mut self) -> Result<Option<(u64, String)>, BankFileError> {
        self.buf.clear();
        let read = self
            .reader
            .by_ref()
            .take(MAX_LINE_BYTES + 1)
            .read_until(b'\n', &mut self.buf)
            .map_err(|e| BankFileError::Malformed {
                path: self.path.clone(),
                line: self.line + 1,
                why: format!("cannot be read: {e}"),
            })?;
        if read == 0 {
            return Ok(None);
        }
        self.line += 1;
        if self.buf.len() as u64 > MAX_LINE_BYTES {
            return Err(BankFileError::Malformed {
                path: self.path.clone(),
                line: self.line,
                why: format!("a line longer than {MAX_LINE_BYTES} bytes"),
            });
        }
        if self.buf.last() == Some(&b'\n') {
            self.buf.pop();
        }
        if self.buf.last() == Some(&b'\r') {
            self.buf.pop();
        }
        Ok(Some((self.line, decode(&self.buf))))
    }
}

/// UTF-8 when the bytes are UTF-8, else ISO 8859-1 (every byte one character): a bank's
/// `Müller` reads as written either way, never as replacement characters.
pub(crate) fn decode(bytes: &[u8]) -> String {
    match std::str::from_utf8(bytes) {
        Ok(text) => text.to_owned(),
        Err(_) => bytes.iter().map(|&b| char::from(b)).collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_lines_across_line_ends_and_charsets() {
        let bytes: &[u8] = b"one\r\ntwo\n\nM\xfcller\nlast";
        let mut lines = NumberedLines::new("f.txt", bytes);
        let mut got = Vec::new();
        while let Some(line) = lines.next_line().expect("reads") {
            got.push(line);
        }
        assert_eq!(
            got,
            vec![
                (1, "one".to_owned()),
                (2, "two".to_owned()),
                (3, String::new()),
                (4, "Müller".to_owned()),
                (5, "last".to_owned()),
            ]
        );
    }
}
