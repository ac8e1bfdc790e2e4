//! `--where` filters: values bound in SQL, never pasted, and every row checked exactly by the reader.

use std::cmp::Ordering;
use std::fmt;

use super::Column;
use super::text::{parse_timestamp, value_from_text};
use crate::canonical::{LogicalType, Value};
use crate::error::{Error, Result};

mod lex;
mod parse;
mod push;

pub(crate) mod fixtures;

pub(crate) use push::push_filter;

/// A comparison operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum CmpOp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

impl CmpOp {
    fn sql(self) -> &'static str {
        match self {
            CmpOp::Eq => "=",
            CmpOp::Ne => "<>",
            CmpOp::Lt => "<",
            CmpOp::Le => "<=",
            CmpOp::Gt => ">",
            CmpOp::Ge => ">=",
        }
    }

    fn holds(self, order: Ordering) -> bool {
        match self {
            CmpOp::Eq => order.is_eq(),
            CmpOp::Ne => order.is_ne(),
            CmpOp::Lt => order.is_lt(),
            CmpOp::Le => order.is_le(),
            CmpOp::Gt => order.is_gt(),
            CmpOp::Ge => order.is_ge(),
        }
    }
}

/// What a term asks of its column; `V` is a literal as written, then a canonical value.
#[derive(Debug, Clone, PartialEq)]
enum Test<V> {
    Compare(CmpOp, V),
    In(Vec<V>),
    IsNull,
    IsNotNull,
}

impl<V> Test<V> {
    fn try_map<W>(&self, mut f: impl FnMut(&V) -> Result<W>) -> Result<Test<W>> {
        Ok(match self {
            Test::Compare(op, v) => Test::Compare(*op, f(v)?),
            Test::In(vs) => Test::In(vs.iter().map(f).collect::<Result<_>>()?),
            Test::IsNull => Test::IsNull,
            Test::IsNotNull => Test::IsNotNull,
        })
    }
}

impl Test<Value> {
    /// The canonical comparison: NULL satisfies only IS NULL; text and bytes compare by bytes.
    fn holds(&self, value: &Value) -> bool {
        match self {
            Test::IsNull => value.is_null(),
            Test::IsNotNull => !value.is_null(),
            _ if value.is_null() => false,
            Test::Compare(op, literal) => op.holds(value.key_cmp(literal)),
            Test::In(literals) => literals.iter().any(|l| value.key_cmp(l).is_eq()),
        }
    }
}

/// A literal as written, with its position (1-based character) for messages.
#[derive(Debug, Clone, PartialEq)]
struct Literal {
    kind: LiteralKind,
    at: usize,
}

#[derive(Debug, Clone, PartialEq)]
enum LiteralKind {
    Number(String),
    Text(String),
    Bool(bool),
}

impl fmt::Display for LiteralKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LiteralKind::Number(n) => f.write_str(n),
            LiteralKind::Text(s) => write!(f, "'{}'", s.replace('\'', "''")),
            LiteralKind::Bool(b) => write!(f, "{b}"),
        }
    }
}

/// One term as written: a column, where it starts, and its test.
#[derive(Debug, Clone, PartialEq)]
struct Term {
    column: String,
    at: usize,
    test: Test<Literal>,
}

/// A parsed `--where` predicate, not yet typed: `term (AND term)*`, where a term is
/// `column op value`, `column IN (value, …)`, `column IS NULL` or `column IS NOT NULL`; `op` is
/// `=`, `<>`, `!=`, `<`, `<=`, `>`, `>=`; a value is an integer, a decimal, a `'string'` (`''`
/// for a quote), `true` or `false`. [`Filter::resolve`] types it against both sides' columns,
/// [`push_filter`] pushes it down as bound parameters, [`RowFilter::matches`] checks each row.
#[derive(Debug, Clone, PartialEq)]
pub struct Filter {
    /// The predicate as written.
    pub(crate) text: String,
    terms: Vec<Term>,
}

/// A filter typed against the read columns: each term's column position and canonical test.
#[derive(Debug, Clone, PartialEq)]
pub struct RowFilter {
    terms: Vec<(usize, Test<Value>)>,
}

impl RowFilter {
    /// True when the decoded row (the read columns, in order) satisfies every term.
    pub fn matches(&self, row: &[Value]) -> bool {
        self.terms
            .iter()
            .all(|(at, test)| row.get(*at).is_some_and(|v| test.holds(v)))
    }
}

fn refuse(at: usize, message: impl fmt::Display) -> Error {
    Error::bad_input(format!("where: {message} (at character {at})"))
}

impl Filter {
    /// Types the filter: `column(name)` gives the column's position among the read columns and
    /// its definition on each side (a missing column is its error). Both sides must agree on
    /// the logical type, and each literal must parse as it.
    pub fn resolve(
        &self,
        mut column: impl FnMut(&str) -> Result<(usize, Column, Column)>,
    ) -> Result<RowFilter> {
        let mut terms = Vec::with_capacity(self.terms.len());
        for term in &self.terms {
            let (position, left, right) = column(&term.column).map_err(|e| refuse(term.at, e))?;
            if left.logical != right.logical {
                return Err(refuse(
                    term.at,
                    format!(
                        "column {:?} is {} ({}) on the left but {} ({}) on the right; a filtered column needs one type",
                        term.column, left.logical, left.declared, right.logical, right.declared
                    ),
                ));
            }
            if matches!(
                left.logical,
                LogicalType::Float
                    | LogicalType::Bytes
                    | LogicalType::Json
                    | LogicalType::Unsupported
            ) {
                return Err(refuse(
                    term.at,
                    format!(
                        "column {:?} is {} ({}) and cannot be filtered on exactly",
                        term.column, left.logical, left.declared
                    ),
                ));
            }
            terms.push((position, term.test.try_map(|l| literal_value(l, &left))?));
        }
        Ok(RowFilter { terms })
    }
}

/// The canonical value of a literal for `column`, parsed by the column's logical type.
fn literal_value(literal: &Literal, column: &Column) -> Result<Value> {
    let at = literal.at;
    let parsed = match (column.logical, &literal.kind) {
        (LogicalType::Integer | LogicalType::Decimal, LiteralKind::Number(n)) => {
            value_from_text(column.logical, n, chrono_tz::UTC)
        }
        (LogicalType::Boolean, LiteralKind::Bool(b)) => Ok(Value::Bool(*b)),
        (LogicalType::Text, LiteralKind::Text(s)) => Ok(Value::Text(s.clone())),
        (LogicalType::Date | LogicalType::Uuid, LiteralKind::Text(s)) => {
            value_from_text(column.logical, s, chrono_tz::UTC)
        }
        (LogicalType::Timestamp, LiteralKind::Text(s)) => instant(s).map(Value::Timestamp),
        (logical, kind) => Err(format!(
            "{kind} is not a {logical} value (write {})",
            match logical {
                LogicalType::Integer | LogicalType::Decimal => "a number",
                LogicalType::Boolean => "true or false",
                _ => "a 'quoted string'",
            }
        )),
    };
    parsed.map_err(|m| {
        refuse(
            at,
            format!("column {:?} ({}): {m}", column.name, column.declared),
        )
    })
}

/// A timestamp literal naming an instant on its own: with `Z` or an offset, since the two
/// sides' zones may differ. Read in two zones; a literal without a zone reads differently.
fn instant(text: &str) -> std::result::Result<chrono::DateTime<chrono::Utc>, String> {
    let t = parse_timestamp(text, chrono_tz::UTC)?;
    if parse_timestamp(text, chrono_tz::Etc::GMTPlus1)? != t {
        return Err(format!(
            "{text:?} has no zone; write it with Z or an offset, e.g. '2026-01-01T00:00:00Z'"
        ));
    }
    Ok(t)
}

#[cfg(test)]
mod tests {
    use super::fixtures::*;
    use super::*;

    fn ts(text: &str) -> Value {
        Value::Timestamp(parse_timestamp(text, chrono_tz::UTC).unwrap())
    }

    #[test]
    fn rows_are_kept_by_canonical_comparison() {
        let filter = resolve(
            "currency = 'EUR' AND amount >= 10.5 AND created_at < '2026-01-02T00:00:00+01:00' \
             AND memo IS NOT NULL",
        )
        .unwrap();
        let row = |currency: &str, amount: &str, at: &str, memo: Option<&str>| {
            vec![
                Value::Int(1),
                Value::Text(currency.into()),
                Value::decimal(amount).unwrap(),
                ts(at),
                memo.map_or(Value::Null, |m| Value::Text(m.into())),
                Value::Bool(true),
            ]
        };
        assert!(filter.matches(&row(
            "EUR",
            "10.5000",
            "2026-01-01 22:59:59.999999Z",
            Some("")
        )));
        assert!(filter.matches(&row("EUR", "11", "2026-01-01 00:00:00Z", Some("x"))));
        assert!(!filter.matches(&row("eur", "11", "2026-01-01 00:00:00Z", Some("x"))));
        assert!(!filter.matches(&row("EUR ", "11", "2026-01-01 00:00:00Z", Some("x"))));
        assert!(!filter.matches(&row("EUR", "10.4999", "2026-01-01 00:00:00Z", Some("x"))));
        assert!(!filter.matches(&row("EUR", "11", "2026-01-01 23:00:00Z", Some("x"))));
        assert!(!filter.matches(&row("EUR", "11", "2026-01-01 00:00:00Z", None)));

        // NULL satisfies neither = nor <>, only IS NULL.
        let null_row = vec![Value::Null; 6];
        for text in [
            "memo = 'x'",
            "memo <> 'x'",
            "memo IN ('x')",
            "memo IS NOT NULL",
        ] {
            assert!(!resolve(text).unwrap().matches(&null_row), "{text}");
        }
        assert!(resolve("memo IS NULL").unwrap().matches(&null_row));
        // Text compares by bytes: 'Z' < 'a' < 'é'.
        let memo = |m: &str| {
            let mut r = null_row.clone();
            r[4] = Value::Text(m.into());
            r
        };
        let lt_a = resolve("memo < 'a'").unwrap();
        assert!(lt_a.matches(&memo("Z")));
        assert!(!lt_a.matches(&memo("é")));
        assert!(resolve("memo IN ('b', 'é')").unwrap().matches(&memo("é")));
    }
}
