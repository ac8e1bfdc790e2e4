//! A comparison's findings as discrepancies: the kinds mapped, keys and values shown as reports
//! show them (card numbers masked, sensitive columns masked with their key).

use super::{Comparison, Difference, DifferenceKind, SchemaFinding};
use crate::discrepancy::{ColumnValues, Discrepancy, Kind, shown, shown_key};
use crate::mask::SensitiveColumns;

impl Comparison {
    /// Every schema finding, then every differing row, as discrepancies of `check`'s
    /// `partition`; values of `sensitive` columns are shown masked.
    pub(crate) fn discrepancies(
        &self,
        check: &str,
        partition: &str,
        sensitive: &SensitiveColumns,
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
    sensitive: &SensitiveColumns,
) -> Discrepancy {
    let kind = match d.kind {
        DifferenceKind::MissingInLeft => Kind::MissingInLeft,
        DifferenceKind::MissingInRight => Kind::MissingInRight,
        DifferenceKind::Changed => Kind::Changed,
    };
    Discrepancy {
        check: check.to_string(),
        partition: partition.to_string(),
        kind,
        key: shown_key(key_names, &d.key, sensitive),
        columns: d.changed.iter().map(|c| c.column.clone()).collect(),
        values: d
            .changed
            .iter()
            .map(|c| ColumnValues {
                column: c.column.clone(),
                left: shown(&c.left, &c.column, sensitive),
                right: shown(&c.right, &c.column, sensitive),
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
