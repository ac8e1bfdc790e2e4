//! Table integrity: do two copies of a table agree, and if not, which rows and columns differ.

mod merge;
mod plan;

pub use merge::{ChangedColumn, Difference, DifferenceKind, SideStats, key_text_named};
pub use plan::{BusinessDay, SchemaFinding, TablePair};

use std::sync::atomic::AtomicU64;

use crate::error::Result;

/// Everything one comparison of a table pair found.
#[derive(Debug)]
pub struct Comparison {
    pub key: Vec<String>,
    pub columns: Vec<String>,
    pub left: SideStats,
    pub right: SideStats,
    pub differences: Vec<Difference>,
    pub schema: Vec<SchemaFinding>,
}

impl Comparison {
    /// True when both sides hold the same rows and the same columns.
    pub fn is_clean(&self) -> bool {
        self.differences.is_empty() && self.schema.is_empty()
    }
}

/// What a comparison does beside comparing.
#[derive(Default, Clone, Copy)]
pub struct CompareOptions<'a> {
    /// Bumped for every row read on either side, for progress.
    pub rows_read: Option<&'a AtomicU64>,
    /// Keep every row's key and hash in [`SideStats::row_hashes`] (to seal a day).
    pub keep_row_hashes: bool,
}

/// Compares the pair: both sides streamed in key order at once, merge-joined by key,
/// rows compared by their SHA-256 row hash, changed columns named.
pub async fn compare(pair: &TablePair<'_>) -> Result<Comparison> {
    compare_with(pair, CompareOptions::default()).await
}

/// [`compare`] with options.
pub async fn compare_with(pair: &TablePair<'_>, options: CompareOptions<'_>) -> Result<Comparison> {
    let plan = pair.plan().await?;
    let unused = AtomicU64::new(0);
    let rows_read = options.rows_read.unwrap_or(&unused);
    let (left, right, differences) =
        merge::merge_join(pair, &plan, rows_read, options.keep_row_hashes).await?;
    Ok(Comparison {
        key: plan.key_names(),
        columns: plan.compared_names(),
        left,
        right,
        differences,
        schema: plan.schema,
    })
}
