//! The SQL pushdown of `--where`, in its own file: a typed filter becomes bound conditions for Postgres and MySQL.

use chrono::Timelike;
use chrono_tz::Tz;

use super::Test;
use crate::canonical::{LogicalType, Value};
use crate::source::{Column, Conditions, Engine, Param, ReadSpec, ident};

/// Adds the terms of `spec`'s filter to `conditions`, each value a bound parameter compared as
/// the reader compares it, and says whether the SQL alone selects exactly the rows the filter
/// keeps (what a pushed-down digest needs). When it does not, it selects a superset that the
/// reader's filter trims: SQLite gets nothing; a term with a value the engine cannot hold
/// exactly (finer than a microsecond, beyond 64 bits or DECIMAL(65,30)) is left out; a
/// wall-clock column in a zone other than UTC is compared in that zone, which agrees with the
/// instants for every time the reader accepts, but may keep a time in a daylight-saving fold
/// or gap that the reader refuses. `stores_instants` and `zone` say how a timestamp column is
/// stored, as for the business day.
pub(crate) fn push_filter(
    conditions: &mut Conditions,
    engine: Engine,
    spec: &ReadSpec,
    stores_instants: impl Fn(&Column) -> bool,
    zone: impl Fn(&Column) -> Tz,
) -> bool {
    let Some(filter) = &spec.filter else {
        return true;
    };
    if engine == Engine::Sqlite {
        return filter.terms.is_empty();
    }
    let mut exact = true;
    for (at, test) in &filter.terms {
        let Some(column) = spec.columns.get(*at) else {
            exact = false;
            continue;
        };
        let wall_clock = (column.logical == LogicalType::Timestamp && !stores_instants(column))
            .then(|| zone(column));
        exact &= wall_clock.is_none_or(|z| z == chrono_tz::UTC);
        exact &= push_term(conditions, engine, column, test, wall_clock);
    }
    exact
}

/// Adds one term; false when one of its values cannot be compared exactly in SQL.
fn push_term(
    conditions: &mut Conditions,
    engine: Engine,
    column: &Column,
    test: &Test<Value>,
    wall_clock: Option<Tz>,
) -> bool {
    let q = ident::quote(engine, &column.name);
    // A text column read as UUIDs: its spelling is not the UUID's; the reader filters it.
    if column.logical == LogicalType::Uuid
        && super::super::uuid_column::storage(column)
            != Some(super::super::uuid_column::UuidStorage::Native)
    {
        return false;
    }
    let (values, op) = match test {
        Test::IsNull | Test::IsNotNull => {
            let not = if *test == Test::IsNotNull { " NOT" } else { "" };
            conditions.push(format!("{q} IS{not} NULL"));
            return true;
        }
        Test::Compare(op, value) => (std::slice::from_ref(value), op.sql()),
        Test::In(values) => (values.as_slice(), "IN"),
    };
    let Some(params) = values
        .iter()
        .map(|v| bound(engine, v, wall_clock))
        .collect::<Option<Vec<_>>>()
    else {
        return false;
    };
    let placeholders: Vec<String> = params
        .into_iter()
        .map(|(param, before, after)| format!("{before}{}{after}", conditions.param(param)))
        .collect();
    let list = placeholders.join(", ");
    let column = match (engine, column.logical) {
        // Text by its bytes: not by a locale, not case-insensitively, trailing spaces kept.
        (Engine::Postgres, LogicalType::Text) => format!("{q}::text COLLATE \"C\""),
        (Engine::MySql, LogicalType::Text) => format!("CAST(CONVERT({q} USING utf8mb4) AS BINARY)"),
        _ => q,
    };
    conditions.push(match test {
        Test::In(_) => format!("{column} IN ({list})"),
        _ => format!("{column} {op} {list}"),
    });
    true
}

/// A value as a bound parameter and the SQL around its placeholder that gives it the column's
/// type; `None` when the engine could not compare it exactly.
fn bound(
    engine: Engine,
    value: &Value,
    wall_clock: Option<Tz>,
) -> Option<(Param, &'static str, &'static str)> {
    let my = engine == Engine::MySql;
    Some(match value {
        Value::Int(n) => (Param::Int(i64::try_from(*n).ok()?), "", ""),
        Value::Decimal(d) if my && !fits_mysql_decimal(d) => return None,
        Value::Decimal(d) if my => (Param::Text(d.clone()), "CAST(", " AS DECIMAL(65,30))"),
        Value::Decimal(d) => (Param::Text(d.clone()), "", "::numeric"),
        Value::Bool(b) => (Param::Bool(*b), "", ""),
        Value::Text(s) if my => (Param::Text(s.clone()), "CAST(", " AS BINARY)"),
        Value::Text(s) => (Param::Text(s.clone()), "", ""),
        Value::Date(d) => (Param::Date(*d), "", ""),
        Value::Uuid(u) if !my => (Param::Text(u.hyphenated().to_string()), "", "::uuid"),
        // The engines keep microseconds; a finer literal would be rounded.
        Value::Timestamp(t) if t.nanosecond() % 1000 != 0 => return None,
        Value::Timestamp(t) => match wall_clock {
            None => (Param::Instant(*t), "", ""),
            Some(zone) => (
                Param::WallClock(t.with_timezone(&zone).naive_local()),
                "",
                "",
            ),
        },
        Value::Uuid(_) | Value::Bytes(_) | Value::Json(_) | Value::Null => return None,
    })
}

/// Whether a decimal in normal form fits DECIMAL(65,30) without rounding.
fn fits_mysql_decimal(d: &str) -> bool {
    let unsigned = d.trim_start_matches('-');
    let (int, frac) = unsigned.split_once('.').unwrap_or((unsigned, ""));
    int.len() <= 35 && frac.len() <= 30
}

#[cfg(test)]
mod tests {
    use super::super::fixtures::*;
    use super::*;

    fn spec(filter: &str) -> ReadSpec {
        ReadSpec {
            table: "t".into(),
            columns: columns(),
            key_len: 1,
            day: None,
            filter: Some(resolve(filter).unwrap()),
            in_flight: None,
            key_range: None,
            unordered: false,
        }
    }

    /// The WHERE clause, the bound parameters (as `Debug` shows them) and the exactness of
    /// `filter` pushed down on `engine`, timestamps stored as wall-clock times in `wall_clock`.
    fn pushed(engine: Engine, filter: &str, wall_clock: Option<Tz>) -> (String, String, bool) {
        let mut conditions = Conditions::new(engine);
        let exact = push_filter(
            &mut conditions,
            engine,
            &spec(filter),
            |_| wall_clock.is_none(),
            |_| wall_clock.unwrap_or(chrono_tz::UTC),
        );
        let debug = format!("{conditions:?}");
        let params = debug
            .split_once("params: ")
            .unwrap()
            .1
            .trim_end_matches(" }");
        (conditions.where_clause(), params.to_string(), exact)
    }

    fn debug(params: &[Param]) -> String {
        format!("{params:?}")
    }

    #[test]
    fn terms_are_pushed_down_with_bound_values_per_engine() {
        let text = "currency IN ('EUR', 'x''; DROP TABLE t; --') AND amount > 10.5 AND id <> 7 \
                    AND memo IS NULL AND settled = false AND booked_on >= '2026-01-01' \
                    AND created_at < '2026-01-02T00:00:00Z'";
        let (pg, params, exact) = pushed(Engine::Postgres, text, None);
        assert_eq!(
            pg,
            " WHERE \"currency\"::text COLLATE \"C\" IN ($1, $2) AND \"amount\" > $3::numeric \
             AND \"id\" <> $4 AND \"memo\" IS NULL AND \"settled\" = $5 AND \"booked_on\" >= $6 \
             AND \"created_at\" < $7"
        );
        let instant = chrono::DateTime::parse_from_rfc3339("2026-01-02T00:00:00Z")
            .unwrap()
            .to_utc();
        assert_eq!(
            params,
            debug(&[
                Param::Text("EUR".into()),
                Param::Text("x'; DROP TABLE t; --".into()),
                Param::Text("10.5".into()),
                Param::Int(7),
                Param::Bool(false),
                Param::Date(chrono::NaiveDate::from_ymd_opt(2026, 1, 1).unwrap()),
                Param::Instant(instant),
            ])
        );
        assert!(exact);

        let (my, params, exact) = pushed(Engine::MySql, text, Some(chrono_tz::UTC));
        assert_eq!(
            my,
            " WHERE CAST(CONVERT(`currency` USING utf8mb4) AS BINARY) IN (CAST(? AS BINARY), CAST(? AS BINARY)) \
             AND `amount` > CAST(? AS DECIMAL(65,30)) AND `id` <> ? AND `memo` IS NULL \
             AND `settled` = ? AND `booked_on` >= ? AND `created_at` < ?"
        );
        assert!(params.ends_with(&format!("{:?}]", Param::WallClock(instant.naive_utc()))));
        assert!(exact);

        let (sqlite, params, exact) = pushed(Engine::Sqlite, text, None);
        assert_eq!((sqlite.as_str(), params.as_str(), exact), ("", "[]", false));
    }

    #[test]
    fn what_sql_cannot_compare_exactly_is_left_to_the_reader_and_said() {
        // Wall-clock times in a zone with daylight saving: pushed (a superset), not exact.
        let amsterdam = chrono_tz::Europe::Amsterdam;
        let (sql, params, exact) = pushed(
            Engine::Postgres,
            "created_at >= '2026-01-01T00:00:00Z'",
            Some(amsterdam),
        );
        assert_eq!(sql, " WHERE \"created_at\" >= $1");
        let local = chrono::NaiveDate::from_ymd_opt(2026, 1, 1)
            .unwrap()
            .and_hms_opt(1, 0, 0)
            .unwrap();
        assert_eq!(params, debug(&[Param::WallClock(local)]));
        assert!(!exact);
        // Finer than a microsecond, beyond 64 bits, beyond DECIMAL(65,30): not pushed.
        for (engine, text) in [
            (
                Engine::Postgres,
                "created_at < '2026-01-01T00:00:00.0000001Z'",
            ),
            (Engine::Postgres, "id IN (1, 99999999999999999999)"),
            (Engine::MySql, "amount = 0.0000000000000000000000000000001"),
        ] {
            let (sql, params, exact) = pushed(engine, &format!("{text} AND id = 1"), None);
            assert!(
                sql.ends_with(" WHERE \"id\" = $1") || sql == " WHERE `id` = ?",
                "{sql}"
            );
            assert_eq!((params, exact), (debug(&[Param::Int(1)]), false), "{text}");
        }
        let (_, _, exact) = pushed(
            Engine::Postgres,
            "amount = 0.0000000000000000000000000000001",
            None,
        );
        assert!(exact);
    }
}
