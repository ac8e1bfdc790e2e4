//! A comparison's findings as discrepancies: the kinds mapped, keys and values shown as reports
//! show them (card numbers masked, sensitive columns hashed).

use super::{Comparison, Difference, DifferenceKind, SchemaFinding};
use crate::discrepancy::{ColumnValues, Discrepancy, Kind, shown, shown_key};

impl Comparison {
    /// Every schema finding, then every differing row, as discrepancies of `check`'s
    /// `partition`; values of `sensitive` columns are shown hashed.
    pub(crate) fn discrepancies(
        &self,
        check: &str,
        partition: &str,
        sensitive: &[String],
    ) -> Vec<Discrepancy> {
        let mut found: Vec<Discrepancy> = self
            .schema
            .iter()
            .map(|f| schema_discrepancy(check, partition, f))
            .collect();
        found.extend(
            self.differences
                .iter()
                .map(|d| row_discrepancy(check, partition, &self.key, d, sensitive)),
        );
        found
    }
}

/// The discrepancy for one differing row.
fn row_discrepancy(
    check: &str,
    partition: &str,
    key_names: &[String],
    d: &Difference,
    sensitive: &[String],
) -> Discrepancy {
    let kind = match d.kind {
        DifferenceKind::MissingInLeft => Kind::MissingInLeft,
        DifferenceKind::MissingInRight => Kind::MissingInRight,
        DifferenceKind::Changed => Kind::Changed,
    };
    let is_sensitive = |column: &str| sensitive.iter().any(|s| s == column);
    Discrepancy {
        check: check.to_string(),
        partition: partition.to_string(),
        kind,
        key: shown_key(key_names, &d.key, sensitive),
        columns: d.changed.iter().map(|c| c.column.clone()).collect(),
        values: d
            .changed
            .iter()
            .map(|c| {
                let sensitive = is_sensitive(&c.column);
                ColumnValues {
                    column: c.column.clone(),
                    left: shown(&c.left, sensitive),
                    right: shown(&c.right, sensitive),
                }
            })
            .collect(),
        detail: None,
        at_stake: None,
    }
}

fn schema_discrepancy(check: &str, partition: &str, finding: &SchemaFinding) -> Discrepancy {
    Discrepancy {
        check: check.to_string(),
        partition: partition.to_string(),
        kind: Kind::SchemaMismatch,
        key: Vec::new(),
        columns: vec![finding.column.clone()],
        values: Vec::new(),
        detail: Some(finding.detail.clone()),
        at_stake: None,
    }
}
