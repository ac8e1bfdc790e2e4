//! Where a UUID column keeps its values — a native `uuid` type, text, or 16 bytes — so every
//! engine selects, orders and hashes it as the canonical lowercase hyphenated text's order.

use super::Column;
use crate::canonical::LogicalType;

/// How a column read as a UUID stores its values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum UuidStorage {
    /// PostgreSQL `uuid`, MariaDB `UUID` (10.7+), SQLite columns declared UUID.
    Native,
    /// Text holding the hyphenated form (`char(36)`, `varchar`, `text`), read as a UUID
    /// because the other side's column is one.
    Text,
    /// 16 bytes (`binary(16)`, `bytea`, a BLOB), read as a UUID because the other side's
    /// column is one.
    Bytes,
}

/// How `column` stores its UUIDs; `None` when it is not read as a UUID.
pub(crate) fn storage(column: &Column) -> Option<UuidStorage> {
    if column.logical != LogicalType::Uuid {
        return None;
    }
    let declared = column.declared.to_ascii_lowercase();
    Some(if declared.contains("uuid") {
        UuidStorage::Native
    } else if declared.contains("binary") || declared.contains("bytea") || declared.contains("blob")
    {
        UuidStorage::Bytes
    } else {
        UuidStorage::Text
    })
}

/// Reads a text column as UUIDs when the other side's column is a UUID type: a `uuid` key
/// against a `char(36)` key compares (and orders) by value. Other pairs are left as they are.
pub(crate) fn align(left: &mut Column, right: &mut Column) {
    let readable_as_uuid = |c: &Column| matches!(c.logical, LogicalType::Text | LogicalType::Bytes);
    if left.logical == LogicalType::Uuid && readable_as_uuid(right) {
        right.logical = LogicalType::Uuid;
    } else if right.logical == LogicalType::Uuid && readable_as_uuid(left) {
        left.logical = LogicalType::Uuid;
    }
}
