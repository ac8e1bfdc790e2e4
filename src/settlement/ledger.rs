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

/// What was read: the entries to match, and the rows that could not become entries.
#[derive(Debug, Default)]
pub(crate) struct LedgerRead {
    pub(crate) entries: Vec<LedgerEntry>,
    pub(crate) unreadable: Vec<UnreadableRow>,
    /// Rows of the table with no booking time: they belong to no business day.
    pub(crate) undated: u64,
}

impl LedgerRead {
    /// Rows of the day (and carried rows) considered: entries plus unreadable rows.
    pub(crate) fn rows_read(&self) -> u64 {
        (self.entries.len() + self.unreadable.len()) as u64
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
/// carried ids in chunks of bound parameters, in one snapshot. Entries come in id order, as a
/// whole-table read in id order gives them; nothing is written.
pub(crate) async fn read_ledger(
    source: &Source,
    ledger: &LedgerSpec,
    day: &BusinessDay,
    tz: Tz,
    carried: &Carried<'_>,
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
    };
    // whether entries arrive in id order, to put those of several statements in it after
    let mut arrival = Arrival::new(&spec.columns[0], source.timezone);
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
                    Ok(entry) => {
                        read.entries.push(entry);
                        arrival.note(&row[0]);
                    }
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
    arrival.in_id_order(&mut read.entries);
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

/// The order ledger entries arrive in, to put them in id order once read. One statement gives
/// its rows in id order, so nothing is kept per row while they come in that order: only the
/// last id. Should they not (a read in several statements gives each one's rows in id order,
/// one after the other), each entry's id is made a value of the column again from its text,
/// which is exact for the types whose ids are named in SQL (the only reads in several
/// statements); the ids of any other type are kept as they arrive.
struct Arrival {
    column: LogicalType,
    zone: Tz,
    last: Option<Value>,
    in_order: bool,
    /// Every id as it arrived, for a column whose ids are not made again from their text.
    kept: Option<Vec<Value>>,
}

impl Arrival {
    fn new(id: &Column, zone: Tz) -> Arrival {
        Arrival {
            column: id.logical,
            zone,
            last: None,
            in_order: true,
            kept: (!ids_from_text(id.logical)).then(Vec::new),
        }
    }

    /// Notes the id of the entry just read.
    fn note(&mut self, id: &Value) {
        if let Some(kept) = &mut self.kept {
            kept.push(id.clone());
            return;
        }
        if !self.in_order {
            return;
        }
        if self
            .last
            .as_ref()
            .is_some_and(|last| last.key_cmp(id).is_gt())
        {
            self.in_order = false;
        }
        self.last = Some(id.clone());
    }

    /// Puts `entries` (noted in this order) in id order, keeping the order of equal ids.
    fn in_id_order(self, entries: &mut Vec<LedgerEntry>) {
        let keys = match self.kept {
            Some(kept) => kept,
            None if self.in_order => return,
            None => entries
                .iter()
                .map(|e| {
                    value_from_text(self.column, &e.id, self.zone)
                        .unwrap_or_else(|_| Value::Text(e.id.to_string()))
                })
                .collect(),
        };
        if keys.is_sorted_by(|a, b| a.key_cmp(b).is_le()) {
            return;
        }
        let mut order: Vec<usize> = (0..entries.len()).collect();
        order.sort_by(|&a, &b| keys[a].key_cmp(&keys[b]));
        let mut slots: Vec<Option<LedgerEntry>> =
            std::mem::take(entries).into_iter().map(Some).collect();
        entries.extend(order.into_iter().filter_map(|i| slots[i].take()));
    }
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

    /// Entries of `ids` (noted in this order, amounts their places) put in id order: the ids
    /// and amounts in the order they end in.
    fn put_in_order(logical: LogicalType, ids: &[Value]) -> Vec<(String, i64)> {
        let column = Column {
            name: "id".into(),
            declared: "id".into(),
            logical,
        };
        let mut arrival = Arrival::new(&column, Tz::UTC);
        let mut entries = Vec::new();
        for (place, id) in ids.iter().enumerate() {
            let text = id.canonical_text().expect("an id");
            entries.push(LedgerEntry {
                id: Id::from(text.as_ref()),
                amount_minor: place as i64,
                currency: usd(),
                status: None,
                at: DateTime::UNIX_EPOCH,
                fee_minor: None,
                payout_id: None,
            });
            arrival.note(id);
        }
        arrival.in_id_order(&mut entries);
        entries
            .iter()
            .map(|e| (e.id.to_string(), e.amount_minor))
            .collect()
    }

    #[test]
    fn entries_of_several_statements_are_put_in_the_column_s_order() {
        // integers in numeric order (`9` before `10`, unlike their text), equal ids kept in
        // the order they came
        let ints = [7, 9, 10, 2, 9, 12].map(Value::Int);
        assert_eq!(
            put_in_order(LogicalType::Integer, &ints),
            [("2", 3), ("7", 0), ("9", 1), ("9", 4), ("10", 2), ("12", 5)]
                .map(|(id, at)| (id.to_string(), at))
        );
        let texts = ["ch_2", "ch_9", "ch_10", "ch_1"].map(|t| Value::Text(t.into()));
        assert_eq!(
            put_in_order(LogicalType::Text, &texts),
            [("ch_1", 3), ("ch_10", 2), ("ch_2", 0), ("ch_9", 1)]
                .map(|(id, at)| (id.to_string(), at))
        );
        // a date id is not made again from its text: kept as it came, and ordered as a date
        let dates = ["2026-01-10", "2025-12-31", "2026-01-02"]
            .map(|d| Value::Date(d.parse().expect("a date")));
        assert_eq!(
            put_in_order(LogicalType::Date, &dates),
            [("2025-12-31", 1), ("2026-01-02", 2), ("2026-01-10", 0)]
                .map(|(id, at)| (id.to_string(), at))
        );
        // in order already: left as they came
        let sorted = [1, 2, 2, 3].map(Value::Int);
        assert_eq!(
            put_in_order(LogicalType::Integer, &sorted),
            [("1", 0), ("2", 1), ("2", 2), ("3", 3)].map(|(id, at)| (id.to_string(), at))
        );
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
