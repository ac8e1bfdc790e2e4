//! Table integrity: do two copies of a table agree, and if not, which rows and columns differ.

mod bisect;
pub(crate) mod check;
mod findings;
mod judge;
mod merge;
mod plan;
pub(crate) mod ranges;
mod segments;
pub mod spec;

pub use bisect::Segmenting;
pub use merge::{ChangedColumn, Difference, DifferenceKind, SideStats};
pub use plan::{SchemaFinding, TablePair};
pub(crate) use segments::{
    Fingerprint, SealSpool, SealedIndex, SegmentOutcome, SegmentWork, VerifyOutcome, fingerprint,
    segment_rows, shown_key_json,
};

use crate::error::{Error, Result};
use crate::progress::RowsRead;
use crate::source::pushdown;

/// Everything one comparison of a table pair found.
#[derive(Debug)]
pub struct Comparison {
    pub(crate) key: Vec<String>,
    pub left: SideStats,
    pub right: SideStats,
    pub differences: Vec<Difference>,
    /// Keys not compared this time: a row on either side was younger than the settle time.
    pub in_flight: u64,
    pub schema: Vec<SchemaFinding>,
    /// Shared columns not compared (a type recon cannot compare exactly), as the pair's
    /// `accept_uncompared` allowed.
    pub not_compared: Vec<crate::check::NotCompared>,
    /// What the segment work produced, when it was asked for.
    pub(crate) segments: Option<SegmentOutcome>,
}

/// How the rows that differ are found. Streaming asks the least of the databases (they only
/// read); bisection asks the least of the network (only digests and differing rows travel) but
/// has each database hash its rows, about three times the server CPU of a plain read.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Strategy {
    /// Stream every row of both sides in key order and merge-join them.
    #[default]
    Stream,
    /// Compare segment digests computed in both databases (PostgreSQL, MySQL/MariaDB) and
    /// narrow only the differing segments.
    Bisect,
}

/// What a comparison does beside comparing.
#[derive(Default, Clone, Copy)]
pub struct CompareOptions<'a> {
    /// Bumped for every row read, per side, for progress.
    pub rows_read: Option<&'a RowsRead>,
    pub strategy: Strategy,
    pub segmenting: Segmenting,
    /// Read the differing rows once more after this long, and report only what persists.
    pub recheck_after: Option<std::time::Duration>,
}

/// Compares the pair: both sides streamed in key order and merge-joined (or bisected, when
/// asked); rows compared by their SHA-256 row hash, changed columns named.
pub async fn compare_with(pair: &TablePair<'_>, options: CompareOptions<'_>) -> Result<Comparison> {
    compare_with_segments(pair, options, None).await
}

/// [`compare_with`], also cutting the rows into a seal's segments or checking them against a
/// seal's (`work`); only a streamed comparison sees every row, so `work` makes it stream.
pub(crate) async fn compare_with_segments(
    pair: &TablePair<'_>,
    options: CompareOptions<'_>,
    work: Option<SegmentWork<'_>>,
) -> Result<Comparison> {
    let plan = pair.plan().await?;
    let unused = RowsRead::default();
    let rows_read = options.rows_read.unwrap_or(&unused);
    // Sealing and re-verifying a seal see every row hash, which only a streamed comparison does.
    let bisect = options.strategy == Strategy::Bisect && work.is_none();
    if bisect
        && let Some(why) = [(pair.left, &plan.left), (pair.right, &plan.right)]
            .into_iter()
            .find_map(|(source, spec)| {
                pushdown::unsupported(source.engine, spec, plan.hashed, source.timezone)
                    .map(|why| format!("source {}: {why}", source.name))
            })
    {
        return Err(Error::bad_input(format!(
            "cannot bisect: {why}; use the stream strategy"
        )));
    }
    let found = if bisect {
        bisect::bisect(pair, &plan, rows_read, options.segmenting).await?
    } else {
        merge::merge_join(pair, &plan, rows_read, work).await?
    };
    let (differences, in_flight) = match options.recheck_after {
        None => (found.differences, found.in_flight),
        Some(delay) => {
            let (still, young) = judge::recheck(pair, &plan, found.differences, delay).await?;
            (still, found.in_flight + young)
        }
    };
    Ok(Comparison {
        key: plan.key_names(),
        left: found.left,
        right: found.right,
        differences,
        in_flight,
        schema: plan.schema,
        not_compared: plan.not_compared,
        segments: found.segments,
    })
}
