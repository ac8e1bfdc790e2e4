//! A comparison's findings as discrepancies: the kinds mapped, keys and values shown as reports
//! show them (card numbers masked, sensitive columns masked with their key).

use super::{Comparison, Difference, DifferenceKind, SchemaFinding};
use crate::canonical::Value;
use crate::day::Partition;
use crate::discrepancy::{
    AMOUNT_COLUMN, AtStake, CURRENCY_COLUMN, ColumnValues, Discrepancy, Kind, ShownKey, shown,
};
use crate::mask::{MaskKey, SensitiveColumns, Shown};
use crate::money::Currency;

impl Comparison {
    /// Every schema finding, then every differing row, as discrepancies of `check`'s
    /// `partition`; values of `sensitive` columns are shown masked, and a key that masking hid
    /// is identified by its digest under `mask`.
    pub(crate) fn discrepancies(
        &self,
        check: &str,
        partition: Partition,
        sensitive: &SensitiveColumns,
        mask: Option<&MaskKey>,
    ) -> Vec<Discrepancy> {
        let mut found: Vec<Discrepancy> = self
            .schema
            .iter()
            .map(|f| schema_discrepancy(check, partition, f))
            .collect();
        found.extend(
            self.differences
                .iter()
                .map(|d| row_discrepancy(check, partition, &self.key, d, sensitive, mask)),
        );
        found
    }
}

/// The discrepancy for one differing row.
fn row_discrepancy(
    check: &str,
    partition: Partition,
    key_names: &[String],
    d: &Difference,
    sensitive: &SensitiveColumns,
    mask: Option<&MaskKey>,
) -> Discrepancy {
    let kind = match d.kind {
        DifferenceKind::MissingInLeft => Kind::MissingInLeft,
        DifferenceKind::MissingInRight => Kind::MissingInRight,
        DifferenceKind::Changed => Kind::Changed,
    };
    // A missing row shows its values; a changed row its changed columns.
    let shown_columns = match d.kind {
        DifferenceKind::Changed => &d.changed,
        DifferenceKind::MissingInLeft | DifferenceKind::MissingInRight => &d.row,
    };
    Discrepancy {
        check: check.to_string(),
        partition,
        kind,
        key: ShownKey::of_row(key_names, &d.key, sensitive, mask),
        columns: d.changed.iter().map(|c| c.column.clone()).collect(),
        values: shown_columns
            .iter()
            .map(|c| ColumnValues {
                column: c.column.clone(),
                left: shown(&c.left, &c.column, sensitive),
                right: shown(&c.right, &c.column, sensitive),
            })
            .collect(),
        detail: None,
        at_stake: integrity_stake(d, sensitive),
    }
}

/// The money a differing row puts in question, when it has an integer `amount_minor` (within
/// 128 bits, so every `i64` amount and difference is exact) and a known `currency` (neither of them sensitive): a missing row's whole amount; a changed
/// row's difference between the sides' amounts in one currency, or the left amount when the
/// currency changed; nothing when neither changed.
fn integrity_stake(d: &Difference, sensitive: &SensitiveColumns) -> Option<AtStake> {
    if sensitive
        .columns()
        .iter()
        .any(|s| s == AMOUNT_COLUMN || s == CURRENCY_COLUMN)
    {
        return None;
    }
    let column = |name: &str| d.row.iter().find(|c| c.column == name);
    let (amount, currency) = (column(AMOUNT_COLUMN)?, column(CURRENCY_COLUMN)?);
    let minor = |v: &Value| v.canonical_text()?.parse::<i128>().ok();
    let code = |v: &Value| {
        let text = v.canonical_text()?;
        Currency::parse(&text).ok().map(|_| text.into_owned())
    };
    let stake = |minor: i128, currency: String| {
        Some(AtStake {
            currency,
            minor: minor.checked_abs()?,
        })
    };
    match d.kind {
        DifferenceKind::MissingInRight => stake(minor(&amount.left)?, code(&currency.left)?),
        DifferenceKind::MissingInLeft => stake(minor(&amount.right)?, code(&currency.right)?),
        DifferenceKind::Changed => {
            let (left, right) = (minor(&amount.left)?, code(&currency.left)?);
            if code(&currency.right).as_ref() != Some(&right) {
                return stake(left, right);
            }
            let difference = left.checked_sub(minor(&amount.right)?)?;
            if difference == 0 {
                return None;
            }
            stake(difference, right)
        }
    }
}

fn schema_discrepancy(check: &str, partition: Partition, finding: &SchemaFinding) -> Discrepancy {
    Discrepancy {
        check: check.to_string(),
        partition,
        kind: Kind::SchemaMismatch,
        key: ShownKey::default(),
        columns: vec![finding.column.clone()],
        values: Vec::new(),
        detail: Some(Shown::masked(&finding.detail)),
        at_stake: None,
    }
}
