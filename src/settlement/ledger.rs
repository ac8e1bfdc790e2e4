//! The ledger side of a settlement check: one business day's rows (and rows carried from earlier
//! days) read from any source and turned into matchable entries, or set aside with a reason.

use std::collections::HashSet;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;

use super::id::Id;
use super::matching::LedgerEntry;
use super::spec::{AmountUnit, LedgerSpec};
use crate::canonical::{LogicalType, Value};
use crate::day::BusinessDay;
use crate::error::{Error, Result};
use crate::money::{Currency, parse_major};
use crate::source::text::value_from_text;
use crate::source::{Column, DayWindow, ReadSpec, Source};

/// A ledger row that cannot be matched as it stands (no id, an unknown currency…).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct UnreadableRow {
    /// The row's id as text, or `(none)`.
    pub(crate) id: String,
    pub(crate) reason: String,
}

/// What was read: the entries left to match by every rule (the bulk was paired as it streamed
/// by, and only counted), and the rows that could not become entries.
#[derive(Debug, Default)]
pub(crate) struct LedgerRead {
    /// The entries not paired in bulk, in id order.
    pub(crate) entries: Vec<LedgerEntry>,
    /// Entries paired in bulk with a plainly agreeing report line: matched, counted, not kept.
    pub(crate) paired: u64,
    pub(crate) unreadable: Vec<UnreadableRow>,
    /// Rows of the table with no booking time: they belong to no business day.
    pub(crate) undated: u64,
}

impl LedgerRead {
    /// Rows of the day (and carried rows) considered: entries plus unreadable rows.
    pub(crate) fn rows_read(&self) -> u64 {
        self.entries.len() as u64 + self.paired + self.unreadable.len() as u64
    }
}

/// The rows a settlement check reads whatever their day: in-flight rows of earlier days and the
/// rows a report that spans days names.
pub(crate) struct Carried<'a> {
    /// Ids as the table holds them.
    pub(crate) ids: HashSet<&'a str>,
    /// Whether a raw id is one of the in-flight ids that masking hid (a card number, known by
    /// its keyed digest); such ids cannot be named in SQL, so the table is then read whole.
    pub(crate) hidden: Option<&'a (dyn Fn(&str) -> bool + Sync)>,
}

impl Carried<'_> {
    fn contains(&self, id: &str) -> bool {
        self.ids.contains(id) || self.hidden.is_some_and(|hidden| hidden(id))
    }
}

/// Reads the ledger rows booked on `day`, plus any row `carried` names whatever its day
/// (in-flight rows of earlier days, re-examined). PostgreSQL and MySQL/MariaDB read only
/// those: the day's rows (a superset, for wall-clock times, trimmed exactly here) and the
/// carried ids in chunks of bound parameters, in one snapshot. Each entry goes to `sink` as it
/// is read, in no particular order; nothing is written.
pub(crate) async fn read_ledger(
    source: &Source,
    ledger: &LedgerSpec,
    day: &BusinessDay,
    tz: Tz,
    carried: &Carried<'_>,
    sink: &mut (dyn FnMut(LedgerEntry) -> Result<()> + Send),
) -> Result<LedgerRead> {
    let available = source.columns(&ledger.table).await?;
    let mut columns = Vec::new();
    for name in ledger.columns() {
        let column = available.iter().find(|c| c.name == name).ok_or_else(|| {
            Error::bad_input(format!(
                "ledger table {} on source {} has no column {name:?} (columns: {})",
                ledger.table,
                source.name,
                available
                    .iter()
                    .map(|c| c.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ))
        })?;
        if let Some(why) = column.logical.not_comparable() {
            return Err(Error::bad_input(format!(
                "ledger column {name:?} ({}) cannot be read exactly: a column {why}",
                column.declared
            )));
        }
        columns.push(column.clone());
    }
    if !matches!(
        columns[3].logical,
        LogicalType::Timestamp | LogicalType::Date
    ) {
        return Err(Error::bad_input(format!(
            "ledger column {:?} ({}) must be a timestamp or a date: it places a row in a business day",
            ledger.at, columns[3].declared
        )));
    }
    let keys = match carried.hidden {
        Some(_) => None,
        None => carried_keys(&columns[0], &carried.ids, source.timezone),
    };
    let is_carried = |id: &str| carried.contains(id);
    let spec = ReadSpec {
        table: ledger.table.clone(),
        columns,
        key_len: 1,
        // Only when every carried id can be named in SQL: else every row, the day picked here.
        day: keys.is_some().then_some(DayWindow {
            column: 3,
            date: day.date,
            start: day.start,
            end: day.end,
        }),
        filter: None,
        in_flight: None,
        key_range: None,
        // the entries go into buckets by a hash of their id: no order is needed
        unordered: true,
    };
    let mut rx = source.stream_rows_and_keys(spec, keys.unwrap_or_default());
    let mut read = LedgerRead::default();
    while let Some(batch) = rx.recv().await {
        let batch = batch?;
        for row in batch.rows() {
            let id = row[0].canonical_text().map(|t| Id::from(t.as_ref()));
            let Some(at) = booked_at(&row[3], tz)? else {
                read.undated += 1;
                if let Some(id) = id.filter(|id| is_carried(id.as_str())) {
                    read.unreadable.push(UnreadableRow {
                        id: id.to_string(),
                        reason: format!("no booking time in {}", ledger.at),
                    });
                }
                continue;
            };
            let carried_row = id.as_deref().is_some_and(is_carried);
            let on_day = day.start <= at && at < day.end;
            if !on_day && !carried_row {
                continue;
            }
            match id {
                Some(id) => match entry(row, id, at, ledger) {
                    Ok(entry) => sink(entry)?,
                    Err((id, reason)) => read.unreadable.push(UnreadableRow {
                        id: id.to_string(),
                        reason,
                    }),
                },
                None => read.unreadable.push(UnreadableRow {
                    id: "(none)".to_string(),
                    reason: format!("{} is NULL", ledger.id),
                }),
            }
        }
    }
    Ok(read)
}

/// The carried ids as values of the id column, to be named in SQL; `None` when the column's
/// type does not give every id back from its text exactly (the table is then read whole). An
/// id that is no value of the column names no row and is left out.
fn carried_keys(id: &Column, carried: &HashSet<&str>, zone: Tz) -> Option<Vec<Value>> {
    if !ids_from_text(id.logical) {
        return None;
    }
    let mut keys: Vec<Value> = carried
        .iter()
        .filter_map(|text| value_from_text(id.logical, text, zone).ok())
        .collect();
    keys.sort_by(Value::key_cmp);
    Some(keys)
}

/// Whether every id of a column of this type is given back exactly by its text, so it can be
/// named in SQL (and made again from an entry's id).
fn ids_from_text(logical: LogicalType) -> bool {
    matches!(
        logical,
        LogicalType::Integer | LogicalType::Text | LogicalType::Uuid | LogicalType::Decimal
    )
}

/// The instant a row was booked: a timestamp as is, a date as the start of that day in `tz`.
fn booked_at(value: &Value, tz: Tz) -> Result<Option<DateTime<Utc>>> {
    Ok(match value {
        Value::Timestamp(t) => Some(*t),
        Value::Date(d) => Some(BusinessDay::new(*d, tz)?.start),
        _ => None,
    })
}

/// The entry for a row with an id and a booking time, or the id back with why it is set aside.
fn entry(
    row: &[Value],
    id: Id,
    at: DateTime<Utc>,
    ledger: &LedgerSpec,
) -> std::result::Result<LedgerEntry, (Id, String)> {
    match fields(row, ledger) {
        Ok((amount_minor, currency, status, fee_minor, payout_id)) => Ok(LedgerEntry {
            id,
            amount_minor,
            currency,
            status,
            at,
            fee_minor,
            payout_id,
        }),
        Err(reason) => Err((id, reason)),
    }
}

/// Amount, currency, status, fee and payout of a row.
type Fields = (i64, Currency, Option<Id>, Option<i64>, Option<Id>);

fn fields(row: &[Value], ledger: &LedgerSpec) -> std::result::Result<Fields, String> {
    let currency = match &row[2] {
        Value::Text(code) => {
            Currency::parse(code).map_err(|e| format!("{}: {e}", ledger.currency))?
        }
        other => {
            return Err(format!(
                "{}: {:?} is not a currency code",
                ledger.currency,
                other.canonical_text().unwrap_or_default()
            ));
        }
    };
    let amount = minor_units(&row[1], currency, ledger.amount_unit)
        .map_err(|e| format!("{}: {e}", ledger.amount))?
        .ok_or_else(|| format!("{} is NULL", ledger.amount))?;
    let mut optional = row[4..].iter();
    let status = ledger
        .status
        .as_ref()
        .and_then(|_| optional.next())
        .and_then(|v| v.canonical_text().map(|t| Id::from(t.as_ref())));
    let fee_minor = match ledger.fee.as_ref().and_then(|_| optional.next()) {
        Some(value) => minor_units(value, currency, ledger.amount_unit)
            .map_err(|e| format!("{}: {e}", ledger.fee.as_deref().unwrap_or_default()))?,
        None => None,
    };
    let payout_id = ledger
        .payout
        .as_ref()
        .and_then(|_| optional.next())
        .and_then(|v| v.canonical_text().map(|t| Id::from(t.as_ref())));
    Ok((amount, currency, status, fee_minor, payout_id))
}

/// An amount column's value in minor units of `currency`; `None` for NULL. Minor-unit columns
/// must hold whole numbers; major-unit columns may not have more decimals than the currency.
fn minor_units(
    value: &Value,
    currency: Currency,
    unit: AmountUnit,
) -> std::result::Result<Option<i64>, String> {
    let text = match value {
        Value::Null => return Ok(None),
        // the common case, read without text: a whole number is minor units as it stands
        Value::Int(whole) if unit == AmountUnit::Minor => {
            if let Ok(minor) = i64::try_from(*whole) {
                return Ok(Some(minor));
            }
            whole.to_string().into()
        }
        Value::Int(_) | Value::Decimal(_) | Value::Text(_) => {
            value.canonical_text().unwrap_or_default()
        }
        other => {
            return Err(format!(
                "{:?} is not an amount",
                other.canonical_text().unwrap_or_default()
            ));
        }
    };
    match unit {
        AmountUnit::Minor => text
            .trim()
            .parse::<i64>()
            .map(Some)
            .map_err(|_| format!("{text:?} is not a whole number of minor units")),
        AmountUnit::Major => parse_major(&text, currency, '.')
            .map(Some)
            .map_err(|e| e.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn usd() -> Currency {
        Currency::parse("USD").unwrap()
    }

    #[test]
    fn minor_unit_columns_take_whole_numbers_only() {
        let minor = AmountUnit::Minor;
        assert_eq!(
            minor_units(&Value::Int(-1050), usd(), minor),
            Ok(Some(-1050))
        );
        assert_eq!(
            minor_units(&Value::Decimal("1050".into()), usd(), minor),
            Ok(Some(1050))
        );
        assert_eq!(minor_units(&Value::Null, usd(), minor), Ok(None));
        assert_eq!(
            minor_units(&Value::Decimal("10.5".into()), usd(), minor),
            Err("\"10.5\" is not a whole number of minor units".to_string())
        );
    }

    #[test]
    fn major_unit_columns_follow_the_currency_exponent() {
        let major = AmountUnit::Major;
        let jpy = Currency::parse("JPY").unwrap();
        let kwd = Currency::parse("KWD").unwrap();
        assert_eq!(
            minor_units(&Value::Decimal("10.5".into()), usd(), major),
            Ok(Some(1050))
        );
        assert_eq!(minor_units(&Value::Int(1200), jpy, major), Ok(Some(1200)));
        assert_eq!(
            minor_units(&Value::Decimal("-1.234".into()), kwd, major),
            Ok(Some(-1234))
        );
        assert!(
            minor_units(&Value::Decimal("10.505".into()), usd(), major)
                .unwrap_err()
                .contains("more decimal places than USD allows")
        );
        assert!(minor_units(&Value::Bool(true), usd(), major).is_err());
    }
}
