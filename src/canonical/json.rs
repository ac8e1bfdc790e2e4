//! Canonical JSON: one text per document, so that documents that mean the same compare equal
//! byte for byte across engines (keys by UTF-8 bytes, RFC 8785 strings, numbers as exact decimals).

use super::{CanonicalError, normalize_decimal};

/// How deeply arrays and objects may nest in a JSON document recon compares.
const MAX_JSON_DEPTH: usize = 512;

/// Puts a JSON document (RFC 8259; any value at the top, not only an object) in canonical form,
/// so that two documents that mean the same compare equal byte for byte:
///
/// - no insignificant whitespace;
/// - object members sorted by their keys' UTF-8 bytes (Unicode code point order; RFC 8785 sorts
///   by UTF-16 code units, which differs only between U+E000–U+FFFF and characters above
///   U+FFFF). A key written twice keeps every member, in the order written: such an object
///   equals only one with the same repeated members;
/// - strings escaped as RFC 8785 says: `\"`, `\\`, `\b \t \n \f \r`, other control characters
///   as `\u00xx` (lowercase hex), everything else (`/`, U+007F, non-ASCII) as itself in UTF-8;
///   escapes in the input are decoded first (`"\u00e9"` ≡ `"é"`), and a lone UTF-16 surrogate
///   is refused;
/// - numbers by value, never through a double: the decimal normal form of
///   [`normalize_decimal`] (`1.0` ≡ `1`, `1e2` ≡ `100`, `-0` ≡ `0`, every digit kept);
/// - `true`, `false`, `null`.
///
/// Text that is not one JSON document is an error naming the byte where it goes wrong.
pub fn canonical_json(text: &str) -> Result<String, CanonicalError> {
    let mut parser = JsonParser {
        bytes: text.as_bytes(),
        at: 0,
    };
    let mut out = String::with_capacity(text.len());
    parser.whitespace();
    parser.value(&mut out, 0)?;
    parser.whitespace();
    if parser.at < parser.bytes.len() {
        return Err(parser.error("text after the end of the document"));
    }
    Ok(out)
}

/// A recursive-descent reader of one JSON document, writing its canonical form as it goes.
struct JsonParser<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl JsonParser<'_> {
    fn error(&self, what: &str) -> CanonicalError {
        CanonicalError(format!("not valid JSON at byte {}: {what}", self.at))
    }

    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.at).copied()
    }

    fn whitespace(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.at += 1;
        }
    }

    fn expect(&mut self, byte: u8, what: &str) -> Result<(), CanonicalError> {
        if self.peek() != Some(byte) {
            return Err(self.error(what));
        }
        self.at += 1;
        Ok(())
    }

    fn value(&mut self, out: &mut String, depth: usize) -> Result<(), CanonicalError> {
        match self.peek() {
            Some(b'{') => self.object(out, depth + 1),
            Some(b'[') => self.array(out, depth + 1),
            Some(b'"') => {
                let text = self.string()?;
                write_json_string(out, &text);
                Ok(())
            }
            Some(b't') => self.literal(out, "true"),
            Some(b'f') => self.literal(out, "false"),
            Some(b'n') => self.literal(out, "null"),
            Some(b'-' | b'0'..=b'9') => self.number(out),
            Some(_) => Err(self.error("expected a value")),
            None => Err(self.error("the document ends where a value was expected")),
        }
    }

    fn literal(&mut self, out: &mut String, word: &str) -> Result<(), CanonicalError> {
        if !self.bytes[self.at..].starts_with(word.as_bytes()) {
            return Err(self.error("expected a value"));
        }
        self.at += word.len();
        out.push_str(word);
        Ok(())
    }

    fn nested(&self, depth: usize) -> Result<(), CanonicalError> {
        match depth > MAX_JSON_DEPTH {
            true => Err(self.error(&format!(
                "arrays and objects nested more than {MAX_JSON_DEPTH} deep"
            ))),
            false => Ok(()),
        }
    }

    fn object(&mut self, out: &mut String, depth: usize) -> Result<(), CanonicalError> {
        self.nested(depth)?;
        self.at += 1;
        self.whitespace();
        let mut members: Vec<(String, String)> = Vec::new();
        if self.peek() == Some(b'}') {
            self.at += 1;
        } else {
            loop {
                self.whitespace();
                if self.peek() != Some(b'"') {
                    return Err(self.error("expected an object key (a string)"));
                }
                let key = self.string()?;
                self.whitespace();
                self.expect(b':', "expected ':' after an object key")?;
                self.whitespace();
                let mut value = String::new();
                self.value(&mut value, depth)?;
                members.push((key, value));
                self.whitespace();
                match self.peek() {
                    Some(b',') => self.at += 1,
                    Some(b'}') => {
                        self.at += 1;
                        break;
                    }
                    _ => return Err(self.error("expected ',' or '}' in an object")),
                }
            }
        }
        // Stable: members under a repeated key stay in the order written.
        members.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
        out.push('{');
        for (i, (key, value)) in members.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            write_json_string(out, key);
            out.push(':');
            out.push_str(value);
        }
        out.push('}');
        Ok(())
    }

    fn array(&mut self, out: &mut String, depth: usize) -> Result<(), CanonicalError> {
        self.nested(depth)?;
        self.at += 1;
        self.whitespace();
        out.push('[');
        if self.peek() == Some(b']') {
            self.at += 1;
            out.push(']');
            return Ok(());
        }
        let mut first = true;
        loop {
            self.whitespace();
            if !first {
                out.push(',');
            }
            first = false;
            self.value(out, depth)?;
            self.whitespace();
            match self.peek() {
                Some(b',') => self.at += 1,
                Some(b']') => {
                    self.at += 1;
                    out.push(']');
                    return Ok(());
                }
                _ => return Err(self.error("expected ',' or ']' in an array")),
            }
        }
    }

    /// A string's text, its escapes decoded; `self.at` is on its opening quote.
    fn string(&mut self) -> Result<String, CanonicalError> {
        self.at += 1;
        let mut text = String::new();
        loop {
            let start = self.at;
            while let Some(b) = self.peek() {
                if b == b'"' || b == b'\\' || b < 0x20 {
                    break;
                }
                self.at += 1;
            }
            // The input is a &str and the run stops only at ASCII bytes: whole characters.
            text.push_str(
                std::str::from_utf8(&self.bytes[start..self.at])
                    .map_err(|_| self.error("text that is not UTF-8"))?,
            );
            match self.peek() {
                Some(b'"') => {
                    self.at += 1;
                    return Ok(text);
                }
                Some(b'\\') => {
                    self.at += 1;
                    let escaped = self.peek().ok_or_else(|| self.error("a cut-off escape"))?;
                    self.at += 1;
                    text.push(match escaped {
                        b'"' => '"',
                        b'\\' => '\\',
                        b'/' => '/',
                        b'b' => '\u{8}',
                        b'f' => '\u{c}',
                        b'n' => '\n',
                        b'r' => '\r',
                        b't' => '\t',
                        b'u' => self.unicode_escape()?,
                        _ => {
                            self.at -= 1;
                            return Err(self.error("an unknown escape"));
                        }
                    });
                }
                Some(_) => return Err(self.error("a control character inside a string")),
                None => return Err(self.error("a string that never ends")),
            }
        }
    }

    /// The character of a `\uXXXX` escape (a surrogate pair takes two); `self.at` is after `u`.
    fn unicode_escape(&mut self) -> Result<char, CanonicalError> {
        let first = self.hex4()?;
        let code = match first {
            0xD800..=0xDBFF => {
                if !self.bytes[self.at..].starts_with(b"\\u") {
                    return Err(self.error("a lone UTF-16 surrogate names no character"));
                }
                self.at += 2;
                let second = self.hex4()?;
                if !(0xDC00..=0xDFFF).contains(&second) {
                    return Err(self.error("a lone UTF-16 surrogate names no character"));
                }
                0x10000 + ((first - 0xD800) << 10) + (second - 0xDC00)
            }
            0xDC00..=0xDFFF => {
                return Err(self.error("a lone UTF-16 surrogate names no character"));
            }
            _ => first,
        };
        char::from_u32(code).ok_or_else(|| self.error("an escape that names no character"))
    }

    fn hex4(&mut self) -> Result<u32, CanonicalError> {
        let digits = self
            .bytes
            .get(self.at..self.at + 4)
            .ok_or_else(|| self.error("a cut-off \\u escape"))?;
        let mut code = 0u32;
        for &d in digits {
            let value = char::from(d)
                .to_digit(16)
                .ok_or_else(|| self.error("a \\u escape needs four hex digits"))?;
            code = code * 16 + value;
        }
        self.at += 4;
        Ok(code)
    }

    /// A number as RFC 8259 writes it, in decimal normal form.
    fn number(&mut self, out: &mut String) -> Result<(), CanonicalError> {
        let start = self.at;
        let digits = |p: &mut Self| {
            let from = p.at;
            while matches!(p.peek(), Some(b'0'..=b'9')) {
                p.at += 1;
            }
            p.at - from
        };
        if self.peek() == Some(b'-') {
            self.at += 1;
        }
        match self.peek() {
            Some(b'0') => self.at += 1,
            Some(b'1'..=b'9') => {
                digits(self);
            }
            _ => return Err(self.error("a number needs a digit after its sign")),
        }
        if self.peek() == Some(b'.') {
            self.at += 1;
            if digits(self) == 0 {
                return Err(self.error("a number needs a digit after its point"));
            }
        }
        if matches!(self.peek(), Some(b'e' | b'E')) {
            self.at += 1;
            if matches!(self.peek(), Some(b'+' | b'-')) {
                self.at += 1;
            }
            if digits(self) == 0 {
                return Err(self.error("a number needs a digit in its exponent"));
            }
        }
        let literal = std::str::from_utf8(&self.bytes[start..self.at])
            .map_err(|_| self.error("a number that is not ASCII"))?;
        let normal = normalize_decimal(literal).map_err(|e| {
            CanonicalError(format!(
                "not a JSON number recon can compare at byte {start}: {e}"
            ))
        })?;
        out.push_str(&normal);
        Ok(())
    }
}

/// `text` as a JSON string, escaped as RFC 8785 (§3.2.2.2) says.
fn write_json_string(out: &mut String, text: &str) {
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{8}' => out.push_str("\\b"),
            '\t' => out.push_str("\\t"),
            '\n' => out.push_str("\\n"),
            '\u{c}' => out.push_str("\\f"),
            '\r' => out.push_str("\\r"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::canonical::Value;

    #[test]
    fn json_documents_written_differently_have_one_canonical_form() {
        let canonical = r#"{"a":[1,2.5,{"x":null,"y":true}],"b":"é\n\"q\"","c":100,"d":0}"#;
        for written in [
            canonical,
            r#"{ "d": -0, "c": 1e2, "b": "\u00e9\n\"q\"", "a": [1.0, 2.50, {"y": true, "x": null}] }"#,
            "{\"c\":100.000,\n\t\"a\":[ 1 , 25e-1 , {\"x\":null , \"y\":true} ],\r\n\"d\":0.0,\"b\":\"\\u00E9\\u000a\\\"q\\\"\"}",
            r#"{"b":"é\n\"q\"","d":-0.0E5,"a":[10E-1,2.5,{"y":true,"x":null}],"c":1E+2}"#,
        ] {
            assert_eq!(
                canonical_json(written).as_deref(),
                Ok(canonical),
                "{written}"
            );
        }
        assert_eq!(
            Value::json("[1, 2]").unwrap(),
            Value::Json("[1,2]".to_string())
        );
    }

    #[test]
    fn json_numbers_keep_every_digit_and_strings_escape_as_rfc_8785_says() {
        for (written, want) in [
            (
                "12345678901234567890.123456789012345678901",
                "12345678901234567890.123456789012345678901",
            ),
            ("9007199254740993", "9007199254740993"),
            ("0.1", "0.1"),
            ("-1.50e-3", "-0.0015"),
            ("1E400", &format!("1{}", "0".repeat(400))),
            (
                r#""\/\b\f\t\u0001\u001f\u007f""#,
                "\"/\\b\\f\\t\\u0001\\u001f\u{7f}\"",
            ),
            (r#""\ud83d\ude00 \u20ac""#, "\"😀 €\""),
            ("\"\u{2028}\"", "\"\u{2028}\""),
            (" true ", "true"),
            ("null", "null"),
            ("[]", "[]"),
            ("{}", "{}"),
            ("[{}, [], \"\"]", "[{},[],\"\"]"),
        ] {
            assert_eq!(canonical_json(written).as_deref(), Ok(want), "{written}");
        }
        // keys by their UTF-8 bytes: uppercase before lowercase, U+FFFD before U+1F600
        assert_eq!(
            canonical_json(r#"{"b":1,"a":2,"B":3,"😀":4,"�":5,"":6}"#).as_deref(),
            Ok(r#"{"":6,"B":3,"a":2,"b":1,"�":5,"😀":4}"#)
        );
        // a repeated key keeps every member, in the order written
        assert_eq!(
            canonical_json(r#"{"b":0,"a":2,"a":1}"#).as_deref(),
            Ok(r#"{"a":2,"a":1,"b":0}"#)
        );
        assert_ne!(
            canonical_json(r#"{"a":1,"a":2}"#),
            canonical_json(r#"{"a":2}"#)
        );
        // different documents stay different
        assert_ne!(canonical_json("[1,2]"), canonical_json("[2,1]"));
        assert_ne!(canonical_json("\"1\""), canonical_json("1"));
        assert_ne!(canonical_json("1.01"), canonical_json("1.1"));
    }

    #[test]
    fn text_that_is_not_one_json_document_is_refused_with_where() {
        for (text, why) in [
            (
                "",
                "at byte 0: the document ends where a value was expected",
            ),
            ("{\"a\" 1}", "at byte 5: expected ':' after an object key"),
            ("{a:1}", "at byte 1: expected an object key (a string)"),
            ("[1,]", "at byte 3: expected a value"),
            ("[1 2]", "at byte 3: expected ',' or ']' in an array"),
            ("{\"a\":1,}", "at byte 7: expected an object key (a string)"),
            ("01", "at byte 1: text after the end of the document"),
            ("1.", "at byte 2: a number needs a digit after its point"),
            (".5", "at byte 0: expected a value"),
            ("+1", "at byte 0: expected a value"),
            ("1e", "at byte 2: a number needs a digit in its exponent"),
            ("NaN", "at byte 0: expected a value"),
            ("Infinity", "at byte 0: expected a value"),
            ("tru", "at byte 0: expected a value"),
            ("\"a\tb\"", "at byte 2: a control character inside a string"),
            ("\"\\x\"", "at byte 2: an unknown escape"),
            (
                "\"\\ud800\"",
                "at byte 7: a lone UTF-16 surrogate names no character",
            ),
            (
                "\"\\udc00\"",
                "at byte 7: a lone UTF-16 surrogate names no character",
            ),
            (
                "\"\\u12zz\"",
                "at byte 3: a \\u escape needs four hex digits",
            ),
            ("\"\\u12\"", "at byte 3: a cut-off \\u escape"),
            ("\"open", "at byte 5: a string that never ends"),
            ("{} {}", "at byte 3: text after the end of the document"),
            ("\u{feff}{}", "at byte 0: expected a value"),
        ] {
            assert_eq!(
                canonical_json(text),
                Err(CanonicalError(format!("not valid JSON {why}"))),
                "{text:?}"
            );
        }
        assert_eq!(
            canonical_json("1e5000"),
            Err(CanonicalError(
                "not a JSON number recon can compare at byte 0: \"1e5000\" has an exponent out of range"
                    .into()
            ))
        );
        let deep = format!(
            "{}{}",
            "[".repeat(MAX_JSON_DEPTH),
            "]".repeat(MAX_JSON_DEPTH)
        );
        assert!(canonical_json(&deep).is_ok());
        let deeper = format!("[{deep}]");
        assert!(
            canonical_json(&deeper)
                .unwrap_err()
                .0
                .contains("nested more than 512 deep")
        );
    }
}
