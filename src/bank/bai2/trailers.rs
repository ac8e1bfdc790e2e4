//! BAI2's trailers (`49` account, `98` group, `99` file) checked against what was read under their header: control total, number of accounts or groups, number of records.

use super::fields::{count_field, signed_amount};
use super::records::Fields;
use crate::money::{Currency, format_major_wide};

/// Amounts and records counted under one header, for its trailer.
#[derive(Debug, Default)]
pub(super) struct Counted {
    pub(super) line: u64,
    pub(super) total: i128,
    pub(super) records: u64,
    /// Accounts under a group, groups under the file.
    pub(super) members: u64,
}

/// A trailer's control total, its number of accounts or groups (`members`, when it has
/// one) and its number of records, against what was read.
pub(super) fn problems(
    what: &str,
    fields: &mut Fields<'_>,
    counted: &Counted,
    members: Option<&str>,
    currency: Option<Currency>,
) -> Vec<String> {
    let mut problems = Vec::new();
    let total = fields.next_field().map(signed_amount);
    let stated_members = members.map(|_| count_field(fields.next_field()));
    let records = count_field(fields.next_field());
    let figure = |minor: i128| match currency {
        Some(c) => format!("{} {}", format_major_wide(minor, c), c.code()),
        None => minor.to_string(),
    };
    match total {
        Some(Ok(Some(stated))) if i128::from(stated) != counted.total => problems.push(format!(
            "{what}: control total {} but the amounts read add up to {}",
            figure(i128::from(stated)),
            figure(counted.total)
        )),
        Some(Ok(Some(_))) => {}
        _ => problems.push(format!("{what}: no readable control total")),
    }
    if let (Some(name), Some(stated)) = (members, stated_members) {
        match stated {
            Some(n) if n == counted.members => {}
            Some(n) => problems.push(format!(
                "{what}: {n} {name} but {} were read",
                counted.members
            )),
            None => problems.push(format!("{what}: no readable number of {name}")),
        }
    }
    match records {
        Some(n) if n == counted.records => {}
        Some(n) => problems.push(format!(
            "{what}: {n} records but {} were read",
            counted.records
        )),
        None => problems.push(format!("{what}: no readable number of records")),
    }
    problems
}
