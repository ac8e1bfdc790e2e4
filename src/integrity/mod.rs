//! Table integrity: do two copies of a table agree, and if not, which rows and columns differ.

mod merge;
mod plan;

pub use merge::{ChangedColumn, Difference, DifferenceKind, SideStats, key_text_named};
pub use plan::{BusinessDay, SchemaFinding, TablePair};

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

/// Compares the pair: both sides streamed in key order at once, merge-joined by key,
/// rows compared by their SHA-256 row hash, changed columns named.
pub async fn compare(pair: &TablePair<'_>) -> Result<Comparison> {
    let plan = pair.plan().await?;
    let (left, right, differences) = merge::merge_join(pair, &plan).await?;
    Ok(Comparison {
        key: plan.key_names(),
        columns: plan.compared_names(),
        left,
        right,
        differences,
        schema: plan.schema,
    })
}
