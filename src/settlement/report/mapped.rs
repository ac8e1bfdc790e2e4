//! A settlement CSV described by configuration instead of code, so a new processor needs only a mapping.
//!
//! A [`MappedFormat`] is deserialized from TOML (or any serde format), for example:
//!
//! ```toml
//! name = "acmepay"                       # becomes the records' `processor`
//! delimiter = ";"                        # default ","
//! decimal_separator = ","                # "." (default) or ","; the other one is the thousands separator
//! datetime_format = "%d.%m.%Y %H:%M:%S"  # chrono strftime; a date-only format means midnight
//! available_at_format = "%d.%m.%Y"       # optional, defaults to datetime_format
//! time_zone = "Europe/Berlin"            # IANA name, abbreviation or offset; default "UTC"
//! # currency = "EUR"                     # a fixed currency, when the file has no currency column
//! fees_are_negative = false              # true when the file writes fees as negative numbers
//! default_kind = "other"                 # optional: kind for values not listed in [kinds]
//!
//! [columns]                              # header names, matched case-insensitively
//! record_id = "Transaktions-ID"
//! created_at = "Datum"
//! kind = "Typ"                           # optional (then default_kind is required)
//! gross = "Betrag"                       # gross and/or net; a missing one is derived
//! fee = "Gebühr"                         # optional, blank counts as 0
//! net = "Netto"                          # optional
//! currency = "Währung"                   # or the fixed `currency` above
//! available_at = "Valuta"                # optional
//! payout_id = "Auszahlung"               # optional
//! reference = "Bestellnummer"            # optional
//!
//! [amounts]                              # default: style = "signed"
//! style = "debit_credit"                 # amounts are magnitudes; an indicator gives the sign
//! indicator_column = "S/H"
//! debit_values = ["S"]                   # matched case-insensitively; debit = money out
//! credit_values = ["H"]                  # optional: when given, any other value is quarantined
//!
//! [kinds]                                # file value → charge, refund, dispute, dispute_reversal,
//! "Zahlung" = "charge"                   #   fee, payout, adjustment, other (case-insensitive keys)
//! "Erstattung" = "refund"
//! ```
//!
//! Amounts follow the crate's sign convention once read (see [`crate::settlement::record`]): with
//! `style = "signed"` the file's gross and net are taken as signed; with `debit_credit` the
//! magnitudes are negated on debit rows (a negative magnitude is quarantined). The fee is
//! positive when the processor took money, unless `fees_are_negative`. Every column the mapping
//! names must be in the header.

use std::collections::{BTreeMap, HashMap, HashSet};

use chrono::format::{Item, StrftimeItems};
use serde::Deserialize;

use encoding_rs::Encoding;

use super::RowParser;
use super::csv_rows::{Col, Columns, HeaderAt, Layout, Row, date_reason};
use super::zone::{Zone, parse_timestamp_with};
use crate::money::{self, Currency};
use crate::settlement::{Id, Kind, SettlementRecord};

/// How a generic settlement CSV maps onto the canonical record.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MappedFormat {
    /// The records' `processor`.
    pub(crate) name: String,
    #[serde(default = "default_delimiter")]
    pub(crate) delimiter: char,
    #[serde(default = "default_decimal_separator")]
    pub(crate) decimal_separator: char,
    /// Digit grouping in amounts: one character, `""` for none; default the other of `.`/`,`.
    #[serde(default)]
    pub(crate) thousands_separator: Option<String>,
    /// The file's text encoding (`utf-8`, `windows-1252`, `iso-8859-1`, … any WHATWG label).
    #[serde(default = "default_encoding")]
    pub(crate) encoding: String,
    /// Preamble lines before the header (an account number, a period, blank lines).
    #[serde(default)]
    pub(crate) skip_lines: u64,
    /// Find the header as the first line holding every mapped column (preambles that vary).
    #[serde(default)]
    pub(crate) find_header: bool,
    /// Rows whose first field starts with one of these are footer lines, not data.
    #[serde(default)]
    pub(crate) footer_starts_with: Vec<String>,
    /// chrono strftime format of `created_at` (and of `available_at` unless overridden).
    pub(crate) datetime_format: String,
    #[serde(default)]
    pub(crate) available_at_format: Option<String>,
    /// Zone of timestamps without an offset: IANA name, abbreviation (`CET`) or offset (`+01:00`).
    #[serde(default = "default_time_zone")]
    pub(crate) time_zone: String,
    /// Fixed currency for files without a currency column.
    #[serde(default)]
    pub(crate) currency: Option<String>,
    pub(crate) columns: MappedColumns,
    #[serde(default)]
    pub(crate) amounts: AmountSigns,
    #[serde(default)]
    pub(crate) fees_are_negative: bool,
    /// File value of the kind column → kind (keys matched case-insensitively after trimming).
    #[serde(default)]
    pub(crate) kinds: BTreeMap<String, Kind>,
    /// Kind of rows whose value is not in `kinds` (or of every row without a kind column).
    #[serde(default)]
    pub(crate) default_kind: Option<Kind>,
}

/// Header names of the file's columns for each canonical field.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct MappedColumns {
    pub(crate) record_id: String,
    pub(crate) created_at: String,
    #[serde(default)]
    pub(crate) kind: Option<String>,
    #[serde(default)]
    pub(crate) gross: Option<String>,
    #[serde(default)]
    pub(crate) fee: Option<String>,
    #[serde(default)]
    pub(crate) net: Option<String>,
    #[serde(default)]
    pub(crate) currency: Option<String>,
    #[serde(default)]
    pub(crate) available_at: Option<String>,
    #[serde(default)]
    pub(crate) payout_id: Option<String>,
    #[serde(default)]
    pub(crate) reference: Option<String>,
}

/// How the file signs its gross and net amounts.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
#[serde(tag = "style", rename_all = "snake_case", deny_unknown_fields)]
pub(crate) enum AmountSigns {
    /// Amounts carry their own sign: positive into the merchant balance.
    #[default]
    Signed,
    /// Amounts are magnitudes; the indicator column says whether the row is a debit (money out).
    DebitCredit {
        indicator_column: String,
        debit_values: Vec<String>,
        #[serde(default)]
        credit_values: Vec<String>,
    },
    /// The gross amount is in one of two columns, money out in `debit_column` and money in in
    /// `credit_column` (a bank statement's "Debit"/"Credit", "Soll"/"Haben"); the other is blank.
    TwoColumns {
        debit_column: String,
        credit_column: String,
        /// The file writes debits with a minus sign (`-12.50` in the debit column).
        #[serde(default)]
        debits_are_negative: bool,
    },
}

fn default_delimiter() -> char {
    ','
}

fn default_decimal_separator() -> char {
    '.'
}

fn default_encoding() -> String {
    "utf-8".to_owned()
}

/// How many lines `find_header` looks through before giving up.
const FIND_HEADER_WITHIN: u64 = 100;

fn default_time_zone() -> String {
    "UTC".to_owned()
}

/// A [`MappedFormat`] checked on its own (zone, formats, separators, required choices) and with
/// its layout and lookups prepared, once, when the configuration is read: a report is only ever
/// parsed with a mapping that works.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    format: MappedFormat,
    layout: Layout,
    thousands: Option<char>,
    zone: Zone,
    fixed_currency: Option<Currency>,
    kinds: HashMap<String, Kind>,
    debit_values: HashSet<String>,
    credit_values: HashSet<String>,
}

fn key(value: &str) -> String {
    value.trim().to_lowercase()
}

fn check_strftime(field: &str, format: &str) -> Result<(), String> {
    if format.trim().is_empty() || StrftimeItems::new(format).any(|item| item == Item::Error) {
        return Err(format!(
            "`{field}` is not a valid strftime format: `{format}`"
        ));
    }
    Ok(())
}

impl Plan {
    /// `Err` says what in the mapping cannot work.
    pub(crate) fn new(format: MappedFormat) -> Result<Plan, String> {
        if format.name.trim().is_empty() {
            return Err("`name` must not be empty".to_owned());
        }
        let delimiter = u8::try_from(format.delimiter)
            .ok()
            .filter(|d| d.is_ascii() && !matches!(d, b'"' | b'\n' | b'\r'))
            .ok_or_else(|| {
                format!(
                    "`delimiter` must be one ASCII character other than a quote or line break, not {:?}",
                    format.delimiter
                )
            })?;
        let thousands = match format.thousands_separator.as_deref() {
            None if format.decimal_separator == ',' => Some('.'),
            None => Some(','),
            Some("") => None,
            Some(text) => {
                let mut chars = text.chars();
                match (chars.next(), chars.next()) {
                    (Some(one), None) => Some(one),
                    _ => {
                        return Err(format!(
                            "`thousands_separator` must be one character or \"\", not {text:?}"
                        ));
                    }
                }
            }
        };
        if !matches!(format.decimal_separator, '.' | ',') {
            return Err(format!(
                "`decimal_separator` must be '.' or ',', not {:?}",
                format.decimal_separator
            ));
        }
        money::check_separators(format.decimal_separator, thousands)
            .map_err(|m| format!("`thousands_separator`: {m}"))?;
        let encoding = Encoding::for_label(format.encoding.trim().as_bytes()).ok_or_else(|| {
            format!(
                "unknown `encoding` {:?} (use a label such as \"utf-8\", \"windows-1252\" or \"iso-8859-1\")",
                format.encoding
            )
        })?;
        if format.find_header && format.skip_lines > 0 {
            return Err("give either `skip_lines` or `find_header`, not both".to_owned());
        }
        if format
            .footer_starts_with
            .iter()
            .any(|p| p.trim().is_empty())
        {
            return Err("`footer_starts_with` entries must not be blank".to_owned());
        }
        let zone = Zone::parse(&format.time_zone)
            .ok_or_else(|| format!("unknown `time_zone` `{}`", format.time_zone))?;
        check_strftime("datetime_format", &format.datetime_format)?;
        if let Some(available) = &format.available_at_format {
            check_strftime("available_at_format", available)?;
        }
        let fixed_currency = match (&format.columns.currency, &format.currency) {
            (Some(_), None) => None,
            (None, Some(code)) => {
                Some(Currency::parse(code).map_err(|e| format!("`currency`: {e}"))?)
            }
            (Some(_), Some(_)) => {
                return Err("give either `columns.currency` or `currency`, not both".to_owned());
            }
            (None, None) => {
                return Err("needs `columns.currency` or a fixed `currency`".to_owned());
            }
        };
        let two_columns = matches!(format.amounts, AmountSigns::TwoColumns { .. });
        match (&format.columns.gross, &format.columns.net) {
            (None, None) if !two_columns => {
                return Err("needs `columns.gross` or `columns.net`".to_owned());
            }
            (Some(_), _) | (_, Some(_)) if two_columns => {
                return Err("with `amounts.style = \"two_columns\"` the gross amount is in the debit and credit columns: leave out `columns.gross` and `columns.net`".to_owned());
            }
            _ => {}
        }
        if format.columns.kind.is_none() && format.default_kind.is_none() {
            return Err("needs `columns.kind` or `default_kind`".to_owned());
        }
        let mut kinds = HashMap::new();
        for (value, kind) in &format.kinds {
            if let Some(other) = kinds.insert(key(value), *kind)
                && other != *kind
            {
                return Err(format!(
                    "`kinds` maps `{value}` to both {other} and {kind} (keys ignore case)"
                ));
            }
        }
        let (debit_values, credit_values) = match &format.amounts {
            AmountSigns::Signed | AmountSigns::TwoColumns { .. } => {
                (HashSet::new(), HashSet::new())
            }
            AmountSigns::DebitCredit {
                debit_values,
                credit_values,
                ..
            } => {
                let debit: HashSet<String> = debit_values.iter().map(|v| key(v)).collect();
                let credit: HashSet<String> = credit_values.iter().map(|v| key(v)).collect();
                if debit.is_empty() {
                    return Err("`amounts.debit_values` must not be empty".to_owned());
                }
                if let Some(both) = debit.intersection(&credit).next() {
                    return Err(format!(
                        "`{both}` is in both `debit_values` and `credit_values`"
                    ));
                }
                (debit, credit)
            }
        };
        let header = if format.find_header {
            HeaderAt::Detect {
                names: column_names(&format),
                within: FIND_HEADER_WITHIN,
            }
        } else {
            HeaderAt::Line(format.skip_lines.saturating_add(1))
        };
        let layout = Layout {
            delimiter,
            encoding,
            header,
            footer_starts_with: format
                .footer_starts_with
                .iter()
                .map(|prefix| prefix.trim().to_lowercase())
                .collect(),
        };
        Ok(Plan {
            format,
            layout,
            thousands,
            zone,
            fixed_currency,
            kinds,
            debit_values,
            credit_values,
        })
    }

    /// Where the rows are in the file: delimiter, encoding, header line, footer.
    pub(crate) fn layout(&self) -> &Layout {
        &self.layout
    }

    /// The records' `processor`.
    pub(crate) fn name(&self) -> &str {
        &self.format.name
    }
}

/// Every header name the mapping uses.
fn column_names(format: &MappedFormat) -> Vec<String> {
    let c = &format.columns;
    let mut names = vec![c.record_id.clone(), c.created_at.clone()];
    names.extend(
        [
            &c.kind,
            &c.gross,
            &c.fee,
            &c.net,
            &c.currency,
            &c.available_at,
            &c.payout_id,
            &c.reference,
        ]
        .into_iter()
        .flatten()
        .cloned(),
    );
    match &format.amounts {
        AmountSigns::Signed => {}
        AmountSigns::DebitCredit {
            indicator_column, ..
        } => names.push(indicator_column.clone()),
        AmountSigns::TwoColumns {
            debit_column,
            credit_column,
            ..
        } => names.extend([debit_column.clone(), credit_column.clone()]),
    }
    names
}

pub(crate) struct Parser<'p> {
    plan: &'p Plan,
    id: Col,
    created: Col,
    kind: Option<Col>,
    gross: Option<Col>,
    fee: Option<Col>,
    net: Option<Col>,
    currency: Option<Col>,
    available: Option<Col>,
    payout: Option<Col>,
    reference: Option<Col>,
    indicator: Option<Col>,
    /// The debit and credit columns of `amounts.style = "two_columns"`.
    two_columns: Option<(Col, Col)>,
}

impl<'p> Parser<'p> {
    pub(crate) fn new(plan: &'p Plan, columns: &mut Columns<'_>) -> Parser<'p> {
        let names = &plan.format.columns;
        let id = columns.required(&names.record_id);
        let created = columns.required(&names.created_at);
        let (indicator, two_columns) = match &plan.format.amounts {
            AmountSigns::Signed => (None, None),
            AmountSigns::DebitCredit {
                indicator_column, ..
            } => (Some(indicator_column.clone()), None),
            AmountSigns::TwoColumns {
                debit_column,
                credit_column,
                ..
            } => (
                None,
                Some((
                    columns.required(debit_column),
                    columns.required(credit_column),
                )),
            ),
        };
        let mut named = |name: &Option<String>| name.as_deref().map(|n| columns.required(n));
        Parser {
            plan,
            kind: named(&names.kind),
            gross: named(&names.gross),
            fee: named(&names.fee),
            net: named(&names.net),
            currency: named(&names.currency),
            available: named(&names.available_at),
            payout: named(&names.payout_id),
            reference: named(&names.reference),
            indicator: named(&indicator),
            two_columns,
            id,
            created,
        }
    }

    fn kind(&self, row: &Row<'_>) -> Result<Kind, String> {
        let default = self.plan.format.default_kind;
        let Some(col) = &self.kind else {
            return default.ok_or_else(|| "no kind column and no `default_kind`".to_owned());
        };
        let value = row.text(col);
        if value.is_empty() {
            return default.ok_or_else(|| format!("missing value in `{}`", col.name));
        }
        match self.plan.kinds.get(&key(value)) {
            Some(kind) => Ok(*kind),
            None => default.ok_or_else(|| format!("unknown kind `{value}` in `{}`", col.name)),
        }
    }

    /// `true` on a debit row; `false` for signed amounts or a credit row.
    fn is_debit(&self, row: &Row<'_>) -> Result<bool, String> {
        let Some(col) = &self.indicator else {
            return Ok(false);
        };
        let value = row.required(col)?;
        let value_key = key(value);
        if self.plan.debit_values.contains(&value_key) {
            Ok(true)
        } else if self.plan.credit_values.is_empty() || self.plan.credit_values.contains(&value_key)
        {
            Ok(false)
        } else {
            Err(format!(
                "unknown debit/credit indicator `{value}` in `{}`",
                col.name
            ))
        }
    }
}

impl Parser<'_> {
    /// An optional amount of the row, with the mapping's separators.
    fn amount(
        &self,
        row: &Row<'_>,
        col: Option<&Col>,
        currency: Currency,
    ) -> Result<Option<i64>, String> {
        let format = &self.plan.format;
        row.optional_grouped_amount(col, currency, format.decimal_separator, self.plan.thousands)
    }

    /// The signed gross of a two-column row: credit positive, debit negative; exactly one of
    /// the two is filled (a `0` in the other counts as blank), each written with the sign the
    /// mapping says.
    fn two_column_gross(
        &self,
        row: &Row<'_>,
        debit: &Col,
        credit: &Col,
        currency: Currency,
    ) -> Result<i64, String> {
        let debits_negative = matches!(
            self.plan.format.amounts,
            AmountSigns::TwoColumns {
                debits_are_negative: true,
                ..
            }
        );
        let filled = |col: &Col| {
            self.amount(row, Some(col), currency)
                .map(|a| a.filter(|&a| a != 0))
        };
        let wrong_sign = |col: &Col, sign: &str| {
            format!(
                "bad number in `{}`: `{}` should be written {sign}",
                col.name,
                row.text(col)
            )
        };
        match (filled(debit)?, filled(credit)?) {
            (Some(_), Some(_)) => Err(format!(
                "both `{}` and `{}` are filled; a row is either a debit or a credit",
                debit.name, credit.name
            )),
            (None, None) => Err(format!(
                "missing value in `{}` and `{}`",
                debit.name, credit.name
            )),
            (None, Some(credit_amount)) if credit_amount < 0 => {
                Err(wrong_sign(credit, "without a minus sign"))
            }
            (None, Some(credit_amount)) => Ok(credit_amount),
            (Some(debit_amount), None) => match (debits_negative, debit_amount < 0) {
                (true, true) => Ok(debit_amount),
                (false, false) => Ok(-debit_amount),
                (true, false) => Err(wrong_sign(debit, "with a minus sign")),
                (false, true) => Err(wrong_sign(debit, "without a minus sign")),
            },
        }
    }
}

impl RowParser for Parser<'_> {
    fn parse(&self, row: &Row<'_>) -> Result<SettlementRecord, String> {
        let plan = self.plan;
        let record_id = Id::from(row.required(&self.id)?);
        let kind = self.kind(row)?;
        let currency = match (&self.currency, plan.fixed_currency) {
            (Some(col), _) => row.currency(col)?,
            (None, Some(fixed)) => fixed,
            (None, None) => return Err("no currency column and no fixed currency".to_owned()),
        };
        let amount = |col: Option<&Col>| self.amount(row, col, currency);
        let debit = self.is_debit(row)?;
        let signed = |col: Option<&Col>| -> Result<Option<i64>, String> {
            let Some(amount) = amount(col)? else {
                return Ok(None);
            };
            if self.indicator.is_none() {
                return Ok(Some(amount));
            }
            let name = col.map_or("", |c| c.name.as_str());
            if amount < 0 {
                return Err(format!(
                    "bad number in `{name}`: negative amount `{}` with a debit/credit indicator",
                    row.optional(col).unwrap_or_default()
                ));
            }
            Ok(Some(if debit { -amount } else { amount }))
        };
        let gross = match &self.two_columns {
            Some((debit, credit)) => Some(self.two_column_gross(row, debit, credit, currency)?),
            None => signed(self.gross.as_ref())?,
        };
        let net = signed(self.net.as_ref())?;
        let mut fee_minor = amount(self.fee.as_ref())?.unwrap_or(0);
        if plan.format.fees_are_negative {
            fee_minor = fee_minor.checked_neg().ok_or_else(|| {
                format!(
                    "amount out of range in `{}`: fee cannot be negated",
                    self.fee.as_ref().map_or("", |c| c.name.as_str())
                )
            })?;
        }
        let overflow = || "amount out of range: deriving gross or net overflows".to_owned();
        let (gross_minor, net_minor) = match (gross, net) {
            (Some(gross), Some(net)) => (gross, net),
            (Some(gross), None) => (gross, gross.checked_sub(fee_minor).ok_or_else(overflow)?),
            (None, Some(net)) => (net.checked_add(fee_minor).ok_or_else(overflow)?, net),
            (None, None) => {
                let names: Vec<&str> = [&self.gross, &self.net]
                    .into_iter()
                    .flatten()
                    .map(|c| c.name.as_str())
                    .collect();
                return Err(format!("missing value in `{}`", names.join("` and `")));
            }
        };

        let created_text = row.required(&self.created)?;
        let created_at =
            parse_timestamp_with(created_text, &plan.format.datetime_format, &plan.zone)
                .map_err(|why| date_reason(&self.created, created_text, &why))?;
        let available_format = plan
            .format
            .available_at_format
            .as_deref()
            .unwrap_or(&plan.format.datetime_format);
        let available_at = match (&self.available, row.optional(self.available.as_ref())) {
            (Some(col), Some(text)) => Some(
                parse_timestamp_with(text, available_format, &plan.zone)
                    .map_err(|why| date_reason(col, text, &why))?,
            ),
            _ => None,
        };
        Ok(SettlementRecord {
            processor: plan.format.name.clone().into(),
            record_id,
            kind,
            gross_minor,
            fee_minor,
            net_minor,
            currency,
            created_at,
            available_at,
            payout_id: row.optional_id(self.payout.as_ref()),
            reference: row.optional_id(self.reference.as_ref()),
            links: Default::default(),
            source: row.source(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_support::*;
    use super::super::{Format, ParseOutcome, ReportError, parse_report};
    use super::*;

    const GERMAN: &str = r#"
name = "acmepay"
delimiter = ";"
decimal_separator = ","
datetime_format = "%d.%m.%Y %H:%M:%S"
available_at_format = "%d.%m.%Y"
time_zone = "Europe/Berlin"

[columns]
record_id = "Transaktions-ID"
created_at = "Datum"
kind = "Typ"
gross = "Betrag"
fee = "Gebühr"
currency = "Währung"
available_at = "Valuta"
payout_id = "Auszahlung"
reference = "Bestellnummer"

[amounts]
style = "debit_credit"
indicator_column = "S/H"
debit_values = ["S"]
credit_values = ["H"]

[kinds]
"Zahlung" = "charge"
"Erstattung" = "refund"
"Rückbuchung" = "dispute"
"Auszahlung" = "payout"
"#;

    /// The mapping as the configuration builds it: checked once, then parsed with.
    fn mapped(format: MappedFormat) -> Format {
        Format::Mapped(Box::new(Plan::new(format).expect("a valid mapping")))
    }

    /// [`Plan::new`]'s verdict alone.
    fn validate(format: &MappedFormat) -> Result<(), String> {
        Plan::new(format.clone()).map(|_| ())
    }

    fn german() -> MappedFormat {
        toml::from_str(GERMAN).expect("mapping deserializes")
    }

    struct Expect {
        id: &'static str,
        kind: Kind,
        gross: i64,
        fee: i64,
        currency: &'static str,
        created: &'static str,
        available: Option<&'static str>,
        payout: Option<&'static str>,
        reference: Option<&'static str>,
        line: u64,
    }

    fn rec(processor: &str, e: Expect) -> SettlementRecord {
        SettlementRecord {
            processor: processor.to_string().into(),
            record_id: e.id.into(),
            kind: e.kind,
            gross_minor: e.gross,
            fee_minor: e.fee,
            net_minor: e.gross - e.fee,
            currency: cur(e.currency),
            created_at: utc(e.created),
            available_at: e.available.map(utc),
            payout_id: e.payout.map(Into::into),
            reference: e.reference.map(Into::into),
            links: Default::default(),
            source: at("acme.csv", e.line),
        }
    }

    #[test]
    fn toml_mapping_deserializes() {
        let format = german();
        assert_eq!(format.delimiter, ';');
        assert_eq!(format.decimal_separator, ',');
        assert_eq!(
            format.amounts,
            AmountSigns::DebitCredit {
                indicator_column: "S/H".into(),
                debit_values: vec!["S".into()],
                credit_values: vec!["H".into()],
            }
        );
        assert_eq!(format.kinds.get("Rückbuchung"), Some(&Kind::Dispute));
        assert_eq!(validate(&format), Ok(()));
        assert_eq!(mapped(format).processor(), "acmepay");

        let minimal: MappedFormat = toml::from_str(
            r#"
name = "tiny"
datetime_format = "%Y-%m-%d"
currency = "usd"
default_kind = "charge"
[columns]
record_id = "id"
created_at = "date"
net = "amount"
"#,
        )
        .expect("minimal mapping");
        assert_eq!(minimal.delimiter, ',');
        assert_eq!(minimal.time_zone, "UTC");
        assert_eq!(minimal.amounts, AmountSigns::Signed);
        assert_eq!(validate(&minimal), Ok(()));

        let typo = toml::from_str::<MappedFormat>(
            "name = \"x\"\ndatetime_format = \"%Y\"\ncolour = 1\n[columns]\nrecord_id = \"a\"\ncreated_at = \"b\"\n",
        );
        assert!(typo.is_err());
        let bad_kind = toml::from_str::<MappedFormat>(
            "name = \"x\"\ndatetime_format = \"%Y\"\n[columns]\nrecord_id = \"a\"\ncreated_at = \"b\"\n[kinds]\nZ = \"chargeback\"\n",
        );
        assert!(bad_kind.is_err());
    }

    #[test]
    fn german_debit_credit_file() {
        let text = "\u{feff}Transaktions-ID;Datum;Typ;Betrag;Gebühr;Währung;S/H;Valuta;Auszahlung;Bestellnummer\r\n\
            T-1;01.03.2024 10:00:00;Zahlung;1.234,56;12,35;EUR;H;04.03.2024;A-9;B-100\r\n\
            T-2;01.07.2024 10:00:00;Erstattung;10,00;0;eur;S;;A-9;\"B-100; Teil\"\r\n\
            T-3;02.03.2024 10:00:00;Rückbuchung;50;0;JPY;s;;;\r\n\
            T-4;05.03.2024 08:00:00;Auszahlung;1.222,21;;EUR;S;05.03.2024;A-9;\r\n\
            T-5;01.03.2024 10:00:00;Zahlung;1,0005;0;KWD;H;;;\r\n\
            T-6;01.03.2024 10:00:00;Zahlung;-5,00;0;EUR;H;;;\r\n\
            T-7;01.03.2024 10:00:00;Zahlung;5,00;0;EUR;X;;;\r\n\
            T-8;01.03.2024 10:00:00;Bonus;5,00;0;EUR;H;;;\r\n\
            T-9;2024-03-01;Zahlung;5,00;0;EUR;H;;;\r\n\
            T-10;01.03.2024 10:00:00;Zahlung;5.00;0;EUR;H;;;\r\n\
            T-11;01.03.2024 10:00:00;Zahlung;5,00;0;EUR;H\r\n\
            T-12;31.03.2024 02:30:00;Zahlung;5,00;0;EUR;H;;;\r\n\
            T-13;01.03.2024 10:00:00;Zahlung;5,000;0;KWD;H;;;\r\n\
            ;;;;;;;;;\r\n";
        let outcome = parse_both_ways(&mapped(german()), "acme.csv", text);
        assert_eq!(
            outcome.records,
            vec![
                rec(
                    "acmepay",
                    Expect {
                        id: "T-1",
                        kind: Kind::Charge,
                        gross: 123_456,
                        fee: 1235,
                        currency: "EUR",
                        created: "2024-03-01T09:00:00Z",
                        available: Some("2024-03-03T23:00:00Z"),
                        payout: Some("A-9"),
                        reference: Some("B-100"),
                        line: 2,
                    }
                ),
                rec(
                    "acmepay",
                    Expect {
                        id: "T-2",
                        kind: Kind::Refund,
                        gross: -1000,
                        fee: 0,
                        currency: "EUR",
                        created: "2024-07-01T08:00:00Z",
                        available: None,
                        payout: Some("A-9"),
                        reference: Some("B-100; Teil"),
                        line: 3,
                    }
                ),
                rec(
                    "acmepay",
                    Expect {
                        id: "T-3",
                        kind: Kind::Dispute,
                        gross: -50,
                        fee: 0,
                        currency: "JPY",
                        created: "2024-03-02T09:00:00Z",
                        available: None,
                        payout: None,
                        reference: None,
                        line: 4,
                    }
                ),
                rec(
                    "acmepay",
                    Expect {
                        id: "T-4",
                        kind: Kind::Payout,
                        gross: -122_221,
                        fee: 0,
                        currency: "EUR",
                        created: "2024-03-05T07:00:00Z",
                        available: Some("2024-03-04T23:00:00Z"),
                        payout: Some("A-9"),
                        reference: None,
                        line: 5,
                    }
                ),
                rec(
                    "acmepay",
                    Expect {
                        id: "T-13",
                        kind: Kind::Charge,
                        gross: 5000,
                        fee: 0,
                        currency: "KWD",
                        created: "2024-03-01T09:00:00Z",
                        available: None,
                        payout: None,
                        reference: None,
                        line: 14,
                    }
                ),
            ]
        );
        let expected: Vec<(u64, String)> = [
            (
                6,
                "amount in `Betrag` does not fit KWD: `1,0005` has more decimal places than KWD allows (3)",
            ),
            (
                7,
                "bad number in `Betrag`: negative amount `-5,00` with a debit/credit indicator",
            ),
            (8, "unknown debit/credit indicator `X` in `S/H`"),
            (9, "unknown kind `Bonus` in `Typ`"),
            (
                10,
                "unparseable date in `Datum`: `2024-03-01` (expected format `%d.%m.%Y %H:%M:%S`: input contains invalid characters)",
            ),
            (
                11,
                "bad number in `Betrag`: `5.00` has an ambiguous or misplaced thousands separator",
            ),
            (12, "wrong field count: expected 10, found 7"),
            (
                13,
                "unparseable date in `Datum`: `31.03.2024 02:30:00` (2024-03-31 02:30:00 does not exist in Europe/Berlin (skipped by a clock change))",
            ),
        ]
        .into_iter()
        .map(|(line, reason)| (line, reason.to_owned()))
        .collect();
        assert_eq!(quarantine_list(&outcome), expected);
        assert_eq!(outcome.rows_read, 13);
        assert_eq!(
            outcome.quarantined[6].raw,
            "T-11;01.03.2024 10:00:00;Zahlung;5,00;0;EUR;H"
        );
    }

    #[test]
    fn signed_net_only_with_default_kind_and_negative_fees() {
        let format: MappedFormat = toml::from_str(
            r#"
name = "bankfeed"
datetime_format = "%Y-%m-%dT%H:%M:%S%z"
currency = "USD"
fees_are_negative = true
default_kind = "adjustment"
[columns]
record_id = "ref"
created_at = "when"
kind = "what"
gross = "gross"
fee = "fee"
net = "net"
[kinds]
SALE = "charge"
"#,
        )
        .expect("mapping");
        let text = "net,fee,gross,what,when,ref\n\
            9.70,-0.30,10.00,sale,2024-03-01T10:00:00+0100,r1\n\
            -2.00,,-2.00,,2024-03-01T11:00:00+0000,r2\n\
            9.00,-0.30,10.00,sale,2024-03-01T10:00:00+0100,r3\n\
            ,-0.30,,sale,2024-03-01T10:00:00+0100,r4\n";
        let outcome = parse(&mapped(format), "acme.csv", text);
        let e = |id, kind, gross, fee, created, line| Expect {
            id,
            kind,
            gross,
            fee,
            currency: "USD",
            created,
            available: None,
            payout: None,
            reference: None,
            line,
        };
        assert_eq!(
            outcome.records,
            vec![
                rec(
                    "bankfeed",
                    e("r1", Kind::Charge, 1000, 30, "2024-03-01T09:00:00Z", 2)
                ),
                rec(
                    "bankfeed",
                    e("r2", Kind::Adjustment, -200, 0, "2024-03-01T11:00:00Z", 3)
                ),
            ]
        );
        assert_eq!(
            quarantine_list(&outcome),
            vec![
                (
                    4,
                    "net ≠ gross − fee (gross 10.00, fee 0.30, net 9.00 USD)".to_owned()
                ),
                (5, "missing value in `gross` and `net`".to_owned()),
            ]
        );
    }

    #[test]
    fn invalid_mappings_are_refused() {
        let base = german();
        let cases: Vec<(MappedFormat, &str)> = vec![
            (
                MappedFormat {
                    time_zone: "Mars/Base".into(),
                    ..base.clone()
                },
                "unknown `time_zone` `Mars/Base`",
            ),
            (
                MappedFormat {
                    decimal_separator: ';',
                    ..base.clone()
                },
                "`decimal_separator` must be '.' or ',', not ';'",
            ),
            (
                MappedFormat {
                    delimiter: 'é',
                    ..base.clone()
                },
                "`delimiter` must be one ASCII character other than a quote or line break, not 'é'",
            ),
            (
                MappedFormat {
                    datetime_format: "%Y-%m-%Q".into(),
                    ..base.clone()
                },
                "`datetime_format` is not a valid strftime format: `%Y-%m-%Q`",
            ),
            (
                MappedFormat {
                    currency: Some("EUR".into()),
                    ..base.clone()
                },
                "give either `columns.currency` or `currency`, not both",
            ),
            (
                MappedFormat {
                    columns: MappedColumns {
                        gross: None,
                        ..base.columns.clone()
                    },
                    ..base.clone()
                },
                "needs `columns.gross` or `columns.net`",
            ),
            (
                MappedFormat {
                    amounts: AmountSigns::DebitCredit {
                        indicator_column: "S/H".into(),
                        debit_values: vec!["S".into()],
                        credit_values: vec!["s".into()],
                    },
                    ..base.clone()
                },
                "`s` is in both `debit_values` and `credit_values`",
            ),
            (
                MappedFormat {
                    kinds: [("A", Kind::Charge), ("a", Kind::Refund)]
                        .into_iter()
                        .map(|(k, v)| (k.to_owned(), v))
                        .collect(),
                    ..base.clone()
                },
                "`kinds` maps `a` to both charge and refund (keys ignore case)",
            ),
        ];
        // Refused when the configuration is read: no `Format` holds it, no report is read with it.
        for (format, reason) in cases {
            assert_eq!(validate(&format), Err(reason.to_owned()));
        }
    }

    #[test]
    fn mapped_columns_must_exist() {
        let text = "Transaktions-ID;Datum;Betrag;Währung\n";
        let err = parse_report(&mapped(german()), "acme.csv", text.as_bytes())
            .expect_err("missing columns");
        match err {
            ReportError::MissingColumns {
                missing, format, ..
            } => {
                assert_eq!(format, "acmepay");
                assert_eq!(
                    missing,
                    [
                        "Typ",
                        "Gebühr",
                        "Valuta",
                        "Auszahlung",
                        "Bestellnummer",
                        "S/H"
                    ]
                );
            }
            other => panic!("unexpected {other:?}"),
        }
    }

    /// The annotated example of config/formats/ on the bank export of tests/fixtures/bank/:
    /// Windows-1252, a preamble found by its header, Soll/Haben columns, a closing-balance footer.
    #[test]
    fn bank_statement_example_reads_the_bank_export() {
        // recon.toml names the mapping by its table, `[formats.bank_statement]`
        let mut table: toml::Table =
            toml::from_str(include_str!("../../../config/formats/bank-statement.toml"))
                .expect("the example is TOML");
        table.insert("name".into(), "bank_statement".into());
        let format: MappedFormat = table.try_into().expect("the example deserializes");
        let file: &[u8] = include_bytes!("../../../tests/fixtures/bank/statement-2026-12-01.csv");
        let outcome =
            parse_report(&mapped(format), "statement.csv", file).expect("the export parses");
        let line = |line, id: &str, gross, created: &str, available: &str, reference: &str| {
            SettlementRecord {
                processor: "bank_statement".to_string().into(),
                record_id: id.into(),
                kind: Kind::Other,
                gross_minor: gross,
                fee_minor: 0,
                net_minor: gross,
                currency: cur("EUR"),
                created_at: utc(created),
                available_at: Some(utc(available)),
                payout_id: None,
                reference: Some(reference.into()),
                links: Default::default(),
                source: at("statement.csv", line),
            }
        };
        // the bank's midnight in Berlin is 23:00 UTC the day before
        assert_eq!(
            outcome.records,
            vec![
                line(
                    8,
                    "po_1QxA2026",
                    1_234_567,
                    "2026-11-30T23:00:00Z",
                    "2026-11-30T23:00:00Z",
                    "STRIPE PAYOUT"
                ),
                line(
                    9,
                    "ADYEN-B57",
                    200_000,
                    "2026-11-30T23:00:00Z",
                    "2026-12-01T23:00:00Z",
                    "Settlement batch 57"
                ),
                line(
                    10,
                    "MIETE-2026-12",
                    -150_000,
                    "2026-11-30T23:00:00Z",
                    "2026-11-30T23:00:00Z",
                    "Miete Dezember"
                ),
                line(
                    12,
                    "RE-118",
                    25_000,
                    "2026-11-30T23:00:00Z",
                    "2026-11-30T23:00:00Z",
                    "Rechnung 118"
                ),
            ]
        );
        let quarantined: Vec<(u64, &str, &str)> = outcome
            .quarantined
            .iter()
            .map(|q| (q.source.line, q.reason.as_str(), q.raw.as_str()))
            .collect();
        assert_eq!(
            quarantined,
            [(
                11,
                "bad number in `Soll`: `-99,5x` is not a decimal number",
                "01.12.2026;01.12.2026;Überweisung;Lieferant AG;Rechnung 77;RE-77;-99,5x;;EUR"
            )]
        );
        assert_eq!(outcome.rows_read, 5);
        // five preamble lines (the blank one is not a line with content) and the footer
        assert_eq!(outcome.skipped_lines, 6);
    }

    fn bank(extra: &str) -> MappedFormat {
        toml::from_str(&format!(
            r#"
name = "bank"
delimiter = ";"
decimal_separator = ","
datetime_format = "%d.%m.%Y"
default_kind = "other"
currency = "EUR"
{extra}
[columns]
record_id = "Ref"
created_at = "Datum"

[amounts]
style = "two_columns"
debit_column = "Soll"
credit_column = "Haben"
"#
        ))
        .expect("mapping deserializes")
    }

    fn read(format: MappedFormat, text: &[u8]) -> Result<ParseOutcome, ReportError> {
        parse_report(&mapped(format), "b.csv", text)
    }

    /// (line, record id, gross) of each record and (line, reason) of each quarantined line.
    type Lines = (Vec<(u64, String, i64)>, Vec<(u64, String)>);

    fn outcome_lines(outcome: &ParseOutcome) -> Lines {
        let records = outcome
            .records
            .iter()
            .map(|r| (r.source.line, r.record_id.to_string(), r.gross_minor))
            .collect();
        let quarantined = outcome
            .quarantined
            .iter()
            .map(|q| (q.source.line, q.reason.clone()))
            .collect();
        (records, quarantined)
    }

    #[test]
    fn two_columns_with_magnitudes_skip_lines_and_footer() {
        let format =
            bank("skip_lines = 2\nthousands_separator = \" \"\nfooter_starts_with = [\"Total\"]");
        let text = "Account;DE89\nPeriod;December\nRef;Datum;Soll;Haben\n\
                    a;01.12.2026;;1 234,50\n\
                    b;01.12.2026;12,00;\n\
                    c;01.12.2026;-3,00;\n\
                    d;01.12.2026;5,00;5,00\n\
                    e;01.12.2026;0,00;7,00\n\
                    f;01.12.2026;;\n\
                    g;01.12.2026;;-1,00\n\
                    TOTAL;;17,00;1 246,50\n";
        let outcome = read(format, text.as_bytes()).expect("parses");
        let (records, quarantined) = outcome_lines(&outcome);
        assert_eq!(
            records,
            [
                (4, "a".into(), 123_450),
                (5, "b".into(), -1_200),
                (8, "e".into(), 700)
            ]
        );
        assert_eq!(
            quarantined,
            [
                (
                    6,
                    "bad number in `Soll`: `-3,00` should be written without a minus sign".into()
                ),
                (
                    7,
                    "both `Soll` and `Haben` are filled; a row is either a debit or a credit"
                        .into()
                ),
                (9, "missing value in `Soll` and `Haben`".into()),
                (
                    10,
                    "bad number in `Haben`: `-1,00` should be written without a minus sign".into()
                ),
            ]
        );
        assert_eq!((outcome.rows_read, outcome.skipped_lines), (7, 3));
    }

    #[test]
    fn debits_written_negative_and_no_grouping() {
        let mut format = bank("thousands_separator = \"\"");
        if let AmountSigns::TwoColumns {
            debits_are_negative,
            ..
        } = &mut format.amounts
        {
            *debits_are_negative = true;
        }
        let text = "Ref;Datum;Soll;Haben
a;01.12.2026;-1500,00;
b;01.12.2026;1500,00;
c;01.12.2026;-1.500,00;
";
        let (records, quarantined) = outcome_lines(&read(format, text.as_bytes()).expect("parses"));
        assert_eq!(records, [(2, "a".into(), -150_000)]);
        assert_eq!(
            quarantined,
            [
                (
                    3,
                    "bad number in `Soll`: `1500,00` should be written with a minus sign".into()
                ),
                (
                    4,
                    "bad number in `Soll`: `-1.500,00` is not a decimal number".into()
                ),
            ]
        );
    }

    #[test]
    fn header_found_behind_a_preamble_of_any_length() {
        let text = "Umsätze;;
;;
Ref;x;y
Ref;Datum;Soll;Haben
a;01.12.2026;;1,00
";
        let outcome = read(bank("find_header = true"), text.as_bytes()).expect("parses");
        assert_eq!(outcome_lines(&outcome).0, [(5, "a".into(), 100)]);
        assert_eq!(outcome.skipped_lines, 3);

        let err = read(
            bank("find_header = true"),
            b"Umsaetze
Ref;Datum
",
        )
        .expect_err("no header");
        assert_eq!(
            err.to_string(),
            "b.csv: no header line found: expected a line with the columns Ref, Datum, Soll, Haben within the first 100 lines"
        );
        let err = read(
            bank("skip_lines = 4"),
            b"a
b
c
",
        )
        .expect_err("too short");
        assert_eq!(
            err.to_string(),
            "b.csv: no header line found: expected at line 5, but the file ends before it"
        );
    }

    #[test]
    fn legacy_encodings_are_decoded() {
        // "Gebühr" and "Müller" in ISO-8859-1 / Windows-1252 are single bytes
        let latin1 = b"Ref;Datum;Soll;Haben;Name\nm\xfc;01.12.2026;;2,00;M\xfcller\n";
        let outcome = read(bank("encoding = \"iso-8859-1\""), latin1).expect("parses");
        assert_eq!(outcome_lines(&outcome).0, [(2, "mü".into(), 200)]);
        // UTF-16 with its byte order mark, as some exports write it
        let text = "Ref;Datum;Soll;Haben
z;01.12.2026;;3,00
";
        let mut utf16 = vec![0xFF, 0xFE];
        utf16.extend(text.encode_utf16().flat_map(u16::to_le_bytes));
        let outcome = read(bank("encoding = \"utf-16le\""), &utf16).expect("parses");
        assert_eq!(outcome_lines(&outcome).0, [(2, "z".into(), 300)]);
        // undecodable bytes fail the file rather than being replaced
        let broken: Vec<u8> = utf16.iter().copied().chain([0x00, 0xD8]).collect();
        let err = read(bank("encoding = \"utf-16le\""), &broken).expect_err("malformed");
        assert!(err.to_string().contains("not valid UTF-16LE text"), "{err}");
        // without the option, such a header is not taken for UTF-8
        let err = read(bank(""), b"R\xe9f;Datum;Soll;Haben\n").expect_err("not UTF-8");
        assert_eq!(
            err.to_string(),
            "b.csv: the header line is not UTF-8 text; is this a CSV file?"
        );
    }

    #[test]
    fn layout_options_are_validated() {
        let cases = [
            (
                "skip_lines = 2\nfind_header = true",
                "give either `skip_lines` or `find_header`, not both",
            ),
            (
                "encoding = \"klingon\"",
                "unknown `encoding` \"klingon\" (use a label such as \"utf-8\", \"windows-1252\" or \"iso-8859-1\")",
            ),
            (
                "thousands_separator = \",\"",
                "`thousands_separator`: the thousands separator must differ from the decimal separator ','",
            ),
            (
                "thousands_separator = \"_\"",
                "`thousands_separator`: the thousands separator must be one of [',', '.', ' ', '\\'', '\\u{a0}', '\\u{202f}'] or none, not '_'",
            ),
            (
                "thousands_separator = \"..\"",
                "`thousands_separator` must be one character or \"\", not \"..\"",
            ),
            (
                "footer_starts_with = [\" \"]",
                "`footer_starts_with` entries must not be blank",
            ),
        ];
        for (extra, reason) in cases {
            assert_eq!(validate(&bank(extra)), Err(reason.to_owned()), "{extra}");
        }
        let mut with_gross = bank("");
        with_gross.columns.gross = Some("Betrag".into());
        assert_eq!(
            validate(&with_gross),
            Err("with `amounts.style = \"two_columns\"` the gross amount is in the debit and credit columns: leave out `columns.gross` and `columns.net`".to_owned())
        );
    }
}
