//! An integrity check as validated: two tables, their key and compared columns, the day and
//! filter that bound them, and how rows in flight are left for later.

use crate::integrity::Strategy;
use crate::source::filter::Filter;

/// One table on one source.
#[derive(Debug, Clone)]
pub struct TableRef {
    pub source: String,
    pub table: String,
}

/// A validated integrity check.
#[derive(Debug, Clone)]
pub struct IntegritySpec {
    pub name: String,
    pub left: TableRef,
    pub right: TableRef,
    pub key: Vec<String>,
    pub columns: Option<Vec<String>>,
    pub date_column: Option<String>,
    pub filter: Option<Filter>,
    pub sensitive_columns: Vec<String>,
    /// Seal clean days and re-verify sealed ones (only with a date column).
    pub seal: bool,
    pub strategy: Strategy,
    pub settle: Option<Settle>,
}

/// How long rows take to settle, by which column, and when a difference is read again.
#[derive(Debug, Clone)]
pub struct Settle {
    pub column: String,
    pub after: std::time::Duration,
    pub recheck_after: std::time::Duration,
}
