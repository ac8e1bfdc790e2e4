//! The read columns and the resolving helper shared by the tests of every `--where` file and the `--where` fuzz target (fuzz/), written once here.

use super::{Filter, RowFilter};
use crate::canonical::LogicalType;
use crate::error::{Error, Result};
use crate::source::Column;

fn column(name: &str, logical: LogicalType, declared: &str) -> Column {
    Column {
        name: name.to_string(),
        declared: declared.to_string(),
        logical,
    }
}

/// The read columns of the tests: id, currency, amount, created_at, memo, settled.
pub(crate) fn columns() -> Vec<Column> {
    vec![
        column("id", LogicalType::Integer, "bigint"),
        column("currency", LogicalType::Text, "character(3)"),
        column("amount", LogicalType::Decimal, "numeric(18,4)"),
        column(
            "created_at",
            LogicalType::Timestamp,
            "timestamp with time zone",
        ),
        column("memo", LogicalType::Text, "text"),
        column("settled", LogicalType::Boolean, "boolean"),
        column("rate", LogicalType::Float, "double precision"),
        column("booked_on", LogicalType::Date, "date"),
    ]
}

/// `text` parsed and typed against [`columns`], the same column on both sides.
pub(crate) fn resolve(text: &str) -> Result<RowFilter> {
    let columns = columns();
    Filter::parse(text)?.resolve(|name| {
        let at = columns
            .iter()
            .position(|c| c.name == name)
            .ok_or_else(|| Error::bad_input(format!("column {name:?} does not exist")))?;
        Ok((at, columns[at].clone(), columns[at].clone()))
    })
}
