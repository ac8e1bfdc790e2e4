//! The one way recon writes a CSV: every cell quoted and neutralised so no spreadsheet runs it.
//!
//! The OWASP rule for CSV injection: a cell that begins with `=`, `+`, `-`, `@`, a tab or a
//! carriage return is written with a `'` before it, so Excel and LibreOffice show it as text
//! instead of evaluating it (`=HYPERLINK(…)`, `@SUM(…)`, `-1+1`). One exception keeps amounts
//! usable: a plain decimal number (`-12.50`, `^-?[0-9]+(\.[0-9]+)?$`) is no formula and is
//! written as it is. Every cell is quoted, so a `;` or `,` inside one stays inside it.

use std::borrow::Cow;

/// A CSV writer into memory that quotes every cell; write rows with [`write_row`].
pub(crate) fn writer() -> csv::Writer<Vec<u8>> {
    csv::WriterBuilder::new()
        .quote_style(csv::QuoteStyle::Always)
        .from_writer(Vec::new())
}

/// Writes one row, each cell through [`neutralise`].
pub(crate) fn write_row<I, S>(out: &mut csv::Writer<Vec<u8>>, cells: I) -> csv::Result<()>
where
    I: IntoIterator<Item = S>,
    S: AsRef<str>,
{
    out.write_record(
        cells
            .into_iter()
            .map(|c| neutralise(c.as_ref()).into_owned()),
    )
}

/// The cell as a spreadsheet may read it safely: a `'` before a leading `=`, `+`, `-`, `@`,
/// tab or carriage return, unless the whole cell is a plain decimal number.
pub(crate) fn neutralise(cell: &str) -> Cow<'_, str> {
    let starts_a_formula = cell.starts_with(['=', '+', '-', '@', '\t', '\r']);
    if starts_a_formula && !is_plain_decimal(cell) {
        Cow::Owned(format!("'{cell}"))
    } else {
        Cow::Borrowed(cell)
    }
}

/// Whether `text` is `-?[0-9]+(\.[0-9]+)?`.
fn is_plain_decimal(text: &str) -> bool {
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    let unsigned = text.strip_prefix('-').unwrap_or(text);
    match unsigned.split_once('.') {
        Some((whole, fraction)) => digits(whole) && digits(fraction),
        None => digits(unsigned),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formulas_get_a_quote_and_plain_numbers_stay_numbers() {
        for (cell, written) in [
            (
                r#"=HYPERLINK("http://x","y")"#,
                r#"'=HYPERLINK("http://x","y")"#,
            ),
            ("@SUM(A1)", "'@SUM(A1)"),
            ("-1+1", "'-1+1"),
            ("+1", "'+1"),
            ("-", "'-"),
            ("-12.", "'-12."),
            ("-.5", "'-.5"),
            ("\tx", "'\tx"),
            ("\rx", "'\rx"),
            ("-12.50", "-12.50"),
            ("-7", "-7"),
            ("12.50", "12.50"),
            ("a=1", "a=1"),
            (" =1", " =1"),
            ("", ""),
        ] {
            assert_eq!(neutralise(cell), written, "{cell:?}");
        }
    }

    #[test]
    fn every_cell_is_quoted_and_neutralised() {
        let mut out = writer();
        write_row(&mut out, ["id", "=1+2", "-12.50", "a \"b\"; c"]).unwrap();
        assert_eq!(
            String::from_utf8(out.into_inner().unwrap()).unwrap(),
            "\"id\",\"'=1+2\",\"-12.50\",\"a \"\"b\"\"; c\"\n"
        );
    }
}
