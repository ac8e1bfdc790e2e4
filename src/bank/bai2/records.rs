//! BAI2 logical records: a physical record and the `88` continuations after it, read field by field as the BAI2 specification delimits them (a comma between fields, a `/` ending the record's fields early, the `16` text running to the end of the record).

/// One logical record: its code, where it starts, its physical records' text after the code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Record {
    pub(super) code: String,
    pub(super) line: u64,
    /// The text after `NN,` of the record and of each `88` continuing it.
    pub(super) parts: Vec<String>,
    /// The physical records as read, joined by `\n` (for a quarantined line).
    pub(super) raw: String,
}

impl Record {
    /// A record from its first physical record; `None` when the line has no `NN,` code.
    pub(super) fn start(line: u64, text: &str) -> Option<Record> {
        let (code, rest) = split_code(text)?;
        Some(Record {
            code: code.to_owned(),
            line,
            parts: vec![rest.to_owned()],
            raw: text.to_owned(),
        })
    }

    /// Adds an `88` continuation's text.
    pub(super) fn continue_with(&mut self, text: &str) {
        let rest = split_code(text).map_or("", |(_, rest)| rest);
        self.parts.push(rest.to_owned());
        self.raw.push('\n');
        self.raw.push_str(text);
    }

    /// How many physical records it spans (for the trailers' record counts).
    pub(super) fn physical(&self) -> u64 {
        self.parts.len() as u64
    }

    pub(super) fn fields(&self) -> Fields<'_> {
        Fields {
            parts: &self.parts,
            part: 0,
            at: 0,
            ended: false,
        }
    }
}

/// `NN,rest` (or a bare `NN` / `NN/`): the record code and the text after its comma; `None`
/// when the line does not start with a two-digit code so delimited.
pub(super) fn split_code(text: &str) -> Option<(&str, &str)> {
    let code = text
        .get(..2)
        .filter(|c| c.bytes().all(|b| b.is_ascii_digit()))?;
    let rest = text.get(2..).unwrap_or_default();
    match rest.strip_prefix(',') {
        Some(fields) => Some((code, fields)),
        None => (rest.is_empty() || rest.starts_with('/')).then_some((code, rest)),
    }
}

/// The fields of a record in order, across its continuations.
pub(super) struct Fields<'a> {
    parts: &'a [String],
    part: usize,
    at: usize,
    /// The current physical record's fields were ended by `/`.
    ended: bool,
}

impl<'a> Fields<'a> {
    /// The next field (trimmed); `None` when the record has no more. A field the record ended
    /// before (`/`) reads as `None`, and so as defaulted.
    pub(super) fn next_field(&mut self) -> Option<&'a str> {
        loop {
            let part = self.parts.get(self.part)?;
            if self.ended || self.at > part.len() {
                self.part += 1;
                self.at = 0;
                self.ended = false;
                continue;
            }
            let rest = part.get(self.at..).unwrap_or_default();
            let (field, consumed) = match rest.find(',') {
                Some(comma) => (rest.get(..comma).unwrap_or_default(), comma + 1),
                None => (rest, rest.len() + 1),
            };
            self.at += consumed;
            let field = field.trim_end();
            if let Some(before) = field.strip_suffix('/') {
                self.ended = true;
                return Some(before.trim());
            }
            return Some(field.trim());
        }
    }

    /// Skips `n` fields and reads the next (`nth_field(0)` is `next_field`).
    pub(super) fn nth_field(&mut self, n: usize) -> Option<&'a str> {
        for _ in 0..n {
            self.next_field();
        }
        self.next_field()
    }

    /// Everything after the fields read, the continuations' text joined by a space: the `16`
    /// record's text, which may hold commas and slashes. `None` when empty or a lone `/`.
    pub(super) fn rest_text(&mut self) -> Option<String> {
        let mut pieces: Vec<&str> = Vec::new();
        while let Some(part) = self.parts.get(self.part) {
            if !self.ended
                && let Some(rest) = part.get(self.at..)
            {
                pieces.push(rest.trim());
            }
            self.part += 1;
            self.at = 0;
            self.ended = false;
        }
        let text = pieces
            .into_iter()
            .filter(|p| !p.is_empty())
            .collect::<Vec<_>>()
            .join(" ");
        (!text.is_empty() && text != "/").then_some(text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_across_continuations_and_slashes() {
        let mut record = Record::start(3, "03,0975312468,USD,010,500000,,/").expect("record");
        record.continue_with("88,015,1171000,,/");
        let mut fields = record.fields();
        let mut got = Vec::new();
        while let Some(field) = fields.next_field() {
            got.push(field);
        }
        assert_eq!(
            got,
            vec![
                "0975312468",
                "USD",
                "010",
                "500000",
                "",
                "",
                "015",
                "1171000",
                "",
                ""
            ]
        );
        assert_eq!(record.physical(), 2);
        assert_eq!(
            record.raw,
            "03,0975312468,USD,010,500000,,/\n88,015,1171000,,/"
        );
    }

    #[test]
    fn text_runs_to_the_end_of_the_record() {
        let mut record =
            Record::start(9, "16,165,750000,0,CR-1,,PAID, WITH THANKS/ DEALER").expect("record");
        record.continue_with("88,SECOND, LINE");
        let mut fields = record.fields();
        let read: Vec<_> = (0..5).map(|_| fields.next_field()).collect();
        assert_eq!(
            read,
            vec![
                Some("165"),
                Some("750000"),
                Some("0"),
                Some("CR-1"),
                Some("")
            ]
        );
        assert_eq!(
            fields.rest_text().as_deref(),
            Some("PAID, WITH THANKS/ DEALER SECOND, LINE")
        );
        let bare = Record::start(10, "16,475,4000,0,B,C,/").expect("record");
        let mut fields = bare.fields();
        (0..5).for_each(|_| {
            fields.next_field();
        });
        assert_eq!(fields.rest_text(), None);
    }

    #[test]
    fn record_codes_are_two_digits_then_a_delimiter() {
        assert_eq!(split_code("16,165,100"), Some(("16", "165,100")));
        assert_eq!(split_code("98/"), Some(("98", "/")));
        assert_eq!(split_code("99"), Some(("99", "")));
        assert_eq!(split_code("889,1"), None);
        assert_eq!(split_code(":20:X"), None);
    }
}
