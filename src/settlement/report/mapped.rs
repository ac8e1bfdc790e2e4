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
//! max_record_lines = 1                   # lines one record may span (quoted line breaks)
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
    /// How many physical lines one record may span (quoted fields holding line breaks).
    #[serde(default = "default_max_record_lines")]
    pub(crate) max_record_lines: u32,
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

fn default_max_record_lines() -> u32 {
    1
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
        if format.max_record_lines == 0 {
            return Err("`max_record_lines` must be at least 1".to_owned());
        }
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
            max_record_lines: format.max_record_lines,
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
mod tests;
