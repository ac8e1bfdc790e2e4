//! An integrity check as validated: two tables, their key and compared columns, the day and
//! filter that bound them, and how rows in flight are left for later.

use crate::integrity::Strategy;
use crate::mask::SensitiveColumns;
use crate::source::filter::Filter;

/// One table on one source.
#[derive(Debug, Clone)]
pub(crate) struct TableRef {
    pub(crate) source: String,
    pub(crate) table: String,
}

/// A validated integrity check.
#[derive(Debug, Clone)]
pub(crate) struct IntegritySpec {
    pub(crate) name: String,
    pub(crate) left: TableRef,
    pub(crate) right: TableRef,
    pub(crate) key: Vec<String>,
    pub(crate) columns: Option<Vec<String>>,
    pub(crate) date_column: Option<String>,
    pub(crate) filter: Option<Filter>,
    pub(crate) sensitive_columns: SensitiveColumns,
    /// Shared columns that may go uncompared when recon cannot compare them exactly.
    pub(crate) accept_uncompared: Vec<String>,
    /// Seal clean days and re-verify sealed ones (only with a date column).
    pub(crate) seal: bool,
    pub(crate) strategy: Strategy,
    pub(crate) settle: Option<Settle>,
    /// Under `--shard I/N`, every shard compares key range I of N of this check (instead of
    /// the check going whole to one shard); see [`crate::integrity::ranges`].
    pub(crate) split_by_key: bool,
    /// Columns read as UUIDs on both sides whatever their declared type (`column_types`).
    pub(crate) uuid_columns: Vec<String>,
}

/// How long rows take to settle, by which column, and when a difference is read again.
#[derive(Debug, Clone)]
pub(crate) struct Settle {
    pub(crate) column: String,
    pub(crate) after: std::time::Duration,
    pub(crate) recheck_after: std::time::Duration,
}
