//! Works out what to read from each side: key, compared columns, the business-day filter, the
//! `--where` filter typed against both catalogs, the schema findings (columns only one side
//! has) and the columns not compared (a type recon cannot compare exactly, which the check
//! must accept: else it does not run).

use chrono::{DateTime, Utc};

use crate::canonical::LogicalType;
use crate::check::NotCompared;
use crate::day::BusinessDay;
use crate::error::{Error, Result};
use crate::source::filter::Filter;
use crate::source::pushdown::KeyRange;
use crate::source::{Column, DayWindow, InFlight, ReadSpec, Source, uuid_column};

/// One table on two sources, and how to compare it.
pub struct TablePair<'a> {
    pub left: &'a Source,
    pub left_table: &'a str,
    pub right: &'a Source,
    pub right_table: &'a str,
    pub key: &'a [String],
    /// `None`: every column both sides share, keys excepted.
    pub columns: Option<&'a [String]>,
    /// Keep only the rows whose `date_column` falls in this day.
    pub day: Option<(&'a str, BusinessDay)>,
    /// Keep only the rows this filter (`--where`) keeps; its columns must exist on both sides.
    pub filter: Option<&'a Filter>,
    /// Rows whose named timestamp column is at or after this instant are in flight: not
    /// compared by this run (replication lag is not a discrepancy).
    pub settle: Option<(&'a str, DateTime<Utc>)>,
    /// Only the keys of this range: one shard's part of a split check (see
    /// [`crate::integrity::ranges`]). `None`: every key.
    pub key_range: Option<&'a KeyRange>,
    /// Columns read as UUIDs on both sides whatever their declared type (a `char(36)` or
    /// `binary(16)` the schema cannot say is one): the check's `column_types`.
    pub uuid_columns: &'a [String],
    /// Columns both tables share that may go uncompared when recon cannot compare them
    /// exactly (floating point, arrays…); any other such column stops the comparison (exit 2).
    pub accept_uncompared: &'a [String],
}

impl<'a> TablePair<'a> {
    /// Every row of `left_table` against every row of `right_table` by `key`, every column they
    /// share: no day, filter, settle time, key range or column hints (a plain comparison, as
    /// `recon diff` without flags; set the fields that differ on it).
    pub fn whole(
        left: &'a Source,
        left_table: &'a str,
        right: &'a Source,
        right_table: &'a str,
        key: &'a [String],
    ) -> TablePair<'a> {
        TablePair {
            left,
            left_table,
            right,
            right_table,
            key,
            columns: None,
            day: None,
            filter: None,
            settle: None,
            key_range: None,
            uuid_columns: &[],
            accept_uncompared: &[],
        }
    }
}

/// A difference in the tables' shape, reported by column name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SchemaFinding {
    pub(crate) column: String,
    pub(crate) detail: String,
}

/// What each side reads; the columns are the same names in the same order on both.
pub(super) struct Plan {
    pub left: ReadSpec,
    pub right: ReadSpec,
    /// Key columns then compared columns: the fields of the row hash.
    pub(crate) hashed: usize,
    /// Position of the business-day column in the read columns, with its type.
    pub(crate) day_column: Option<(usize, LogicalType)>,
    pub(crate) schema: Vec<SchemaFinding>,
    /// Shared columns left uncompared, as `accept_uncompared` allowed.
    pub(crate) not_compared: Vec<NotCompared>,
}

impl Plan {
    pub(crate) fn key_names(&self) -> Vec<String> {
        self.left.columns[..self.left.key_len]
            .iter()
            .map(|c| c.name.clone())
            .collect()
    }
}

fn find<'c>(columns: &'c [Column], name: &str) -> Option<&'c Column> {
    columns.iter().find(|c| c.name == name)
}

/// Why a column the two sides share cannot be compared, naming the declared type at fault.
fn uncomparable(l: &Column, r: &Column) -> Option<String> {
    [l, r].into_iter().find_map(|c| {
        c.logical
            .not_comparable()
            .map(|why| format!("{why}: {}", c.declared))
    })
}

/// A compared column that is JSON on one side and text on the other is read as JSON on both:
/// a document kept in a text column compares by value with the same document in a JSON one.
fn json_on_both(l: Column, r: Column) -> (Column, Column) {
    let as_json = |c: Column| Column {
        logical: LogicalType::Json,
        ..c
    };
    match (l.logical, r.logical) {
        (LogicalType::Json, LogicalType::Text) => (l, as_json(r)),
        (LogicalType::Text, LogicalType::Json) => (as_json(l), r),
        _ => (l, r),
    }
}

/// Where a column is among the read columns, adding it (read, not hashed) if it is not yet.
fn read_position(left: &mut Vec<Column>, right: &mut Vec<Column>, l: Column, r: Column) -> usize {
    match left.iter().position(|c| c.name == l.name) {
        Some(at) => at,
        None => {
            left.push(l);
            right.push(r);
            left.len() - 1
        }
    }
}

impl TablePair<'_> {
    /// Gives a pair of same-named columns the logical type they are compared as: UUIDs when the
    /// check declares the column one (`column_types`) or when one side's type is a UUID.
    fn read_as_declared(&self, l: &mut Column, r: &mut Column, at: (&str, &str)) -> Result<()> {
        if self.uuid_columns.contains(&l.name) {
            for (c, at) in [(&mut *l, at.0), (&mut *r, at.1)] {
                if !matches!(
                    c.logical,
                    LogicalType::Uuid | LogicalType::Text | LogicalType::Bytes
                ) {
                    return Err(Error::bad_input(format!(
                        "column_types declares {:?} a uuid, but it is {} ({}) in {at}: only text and bytes columns are read as UUIDs",
                        c.name, c.logical, c.declared
                    )));
                }
                c.logical = LogicalType::Uuid;
            }
        }
        uuid_column::align(l, r);
        Ok(())
    }

    pub(super) async fn plan(&self) -> Result<Plan> {
        // Both read at once; when both fail, the left side's error is the one said, every time
        // (`try_join!` would say whichever failed first).
        let (left_cols, right_cols) = tokio::join!(
            self.left.columns(self.left_table),
            self.right.columns(self.right_table)
        );
        let (left_cols, right_cols) = (left_cols?, right_cols?);
        let left_at = format!("{}.{}", self.left.name, self.left_table);
        let right_at = format!("{}.{}", self.right.name, self.right_table);
        let need = |name: &str| -> Result<(Column, Column)> {
            let l = find(&left_cols, name).ok_or_else(|| {
                Error::bad_input(format!("column {name:?} does not exist in {left_at}"))
            })?;
            let r = find(&right_cols, name).ok_or_else(|| {
                Error::bad_input(format!("column {name:?} does not exist in {right_at}"))
            })?;
            let (mut l, mut r) = (l.clone(), r.clone());
            self.read_as_declared(&mut l, &mut r, (&left_at, &right_at))?;
            Ok((l, r))
        };

        let mut left = Vec::new();
        let mut right = Vec::new();
        for name in self.key {
            let (l, r) = need(name)?;
            if let Some(why) = l.logical.not_comparable().or(r.logical.not_comparable()) {
                return Err(Error::bad_input(format!(
                    "key column {name:?} is {why}; keys must be exact (integer, text, uuid, date…)"
                )));
            }
            if [&l, &r].iter().any(|c| c.logical == LogicalType::Json) {
                return Err(Error::bad_input(format!(
                    "key column {name:?} is JSON; keys must be scalar values ordered alike on every engine (integer, text, uuid, date…)"
                )));
            }
            if l.logical != r.logical {
                return Err(Error::bad_input(format!(
                    "key column {name:?} is {} ({}) in {left_at} but {} ({}) in {right_at}; keys must have one type to be ordered alike",
                    l.logical, l.declared, r.logical, r.declared
                )));
            }
            left.push(l);
            right.push(r);
        }

        let mut schema = Vec::new();
        let mut not_compared = Vec::new();
        for name in self.accept_uncompared {
            if find(&left_cols, name).is_none() && find(&right_cols, name).is_none() {
                return Err(Error::bad_input(format!(
                    "accept_uncompared names column {name:?}, which neither {left_at} nor {right_at} has"
                )));
            }
        }
        match self.columns {
            Some(names) => {
                for name in names {
                    let (l, r) = need(name)?;
                    if let Some(why) = uncomparable(&l, &r) {
                        return Err(Error::bad_input(format!(
                            "column {name:?} is {why} and cannot be compared exactly; leave it out of columns"
                        )));
                    }
                    let (l, r) = json_on_both(l, r);
                    left.push(l);
                    right.push(r);
                }
            }
            None => {
                let mut refused = Vec::new();
                for l in left_cols.iter().filter(|c| !self.key.contains(&c.name)) {
                    match find(&right_cols, &l.name) {
                        None => schema.push(SchemaFinding {
                            column: l.name.clone(),
                            detail: format!("only in {left_at}"),
                        }),
                        Some(r) => match uncomparable(l, r) {
                            Some(reason) if self.accept_uncompared.contains(&l.name) => {
                                not_compared.push(NotCompared {
                                    column: l.name.clone(),
                                    reason,
                                });
                            }
                            Some(reason) => refused.push((l.name.clone(), reason)),
                            None => {
                                let (mut l, mut r) = json_on_both(l.clone(), r.clone());
                                self.read_as_declared(&mut l, &mut r, (&left_at, &right_at))?;
                                left.push(l);
                                right.push(r);
                            }
                        },
                    }
                }
                if !refused.is_empty() {
                    return Err(refuse_uncompared(&refused, &left_at, &right_at));
                }
                for r in right_cols.iter().filter(|c| !self.key.contains(&c.name)) {
                    if find(&left_cols, &r.name).is_none() {
                        schema.push(SchemaFinding {
                            column: r.name.clone(),
                            detail: format!("only in {right_at}"),
                        });
                    }
                }
            }
        }
        let hashed = left.len();

        let day_column = match self.day {
            None => None,
            Some((name, _)) => {
                let (l, r) = need(name)?;
                for c in [&l, &r] {
                    if !matches!(c.logical, LogicalType::Timestamp | LogicalType::Date) {
                        return Err(Error::bad_input(format!(
                            "date_column {name:?} is {} ({}); it must be a timestamp or a date",
                            c.logical, c.declared
                        )));
                    }
                }
                let logical = l.logical;
                Some((read_position(&mut left, &mut right, l, r), logical))
            }
        };
        let filter = match self.filter {
            None => None,
            Some(filter) => Some(filter.resolve(|name| {
                let (l, r) = need(name)?;
                let at = read_position(&mut left, &mut right, l.clone(), r.clone());
                Ok((at, l, r))
            })?),
        };

        let in_flight = match self.settle {
            None => None,
            Some((name, since)) => {
                let (l, r) = need(name)?;
                for c in [&l, &r] {
                    if c.logical != LogicalType::Timestamp {
                        return Err(Error::bad_input(format!(
                            "settle_column {name:?} is {} ({}); it must be a timestamp",
                            c.logical, c.declared
                        )));
                    }
                }
                let column = read_position(&mut left, &mut right, l, r);
                Some(InFlight { column, since })
            }
        };

        let key_len = self.key.len();
        let window = match (day_column, self.day) {
            (Some((column, _)), Some((_, day))) => Some(DayWindow {
                column,
                date: day.date,
                start: day.start,
                end: day.end,
            }),
            _ => None,
        };
        Ok(Plan {
            left: ReadSpec {
                table: self.left_table.to_string(),
                columns: left,
                key_len,
                day: window,
                filter: filter.clone(),
                in_flight,
                key_range: self.key_range.cloned(),
                unordered: false,
            },
            right: ReadSpec {
                table: self.right_table.to_string(),
                columns: right,
                key_len,
                day: window,
                filter,
                in_flight,
                key_range: self.key_range.cloned(),
                unordered: false,
            },
            hashed,
            day_column,
            schema,
            not_compared,
        })
    }
}

/// The error for shared columns recon cannot compare and the check did not accept: it names
/// each column and why, and the flag that accepts them.
fn refuse_uncompared(refused: &[(String, String)], left_at: &str, right_at: &str) -> Error {
    let each: Vec<String> = refused
        .iter()
        .map(|(name, why)| format!("{name:?} ({why})"))
        .collect();
    let quoted: Vec<String> = refused
        .iter()
        .map(|(name, _)| format!("{name:?}"))
        .collect();
    let bare: Vec<&str> = refused.iter().map(|(name, _)| name.as_str()).collect();
    Error::bad_input(format!(
        "recon cannot compare column(s) {} of {left_at} and {right_at}, and nothing would say so \
         in a clean result: accept that they are not compared with accept_uncompared = [{}] in \
         the check (recon diff: --accept-uncompared {}), or list the columns to compare",
        each.join(", "),
        quoted.join(", "),
        bare.join(",")
    ))
}
