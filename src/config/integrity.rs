//! The `[[integrity]]` checks of the configuration file: two tables, as written and as validated.

use std::collections::{BTreeMap, BTreeSet};

use serde::Deserialize;

use crate::integrity::Strategy;
use crate::integrity::spec::{IntegritySpec, Settle, TableRef};
use crate::mask::{MaskKey, SensitiveColumns};
use crate::source::SourceSpec;
use crate::source::filter::Filter;
use crate::source::ident;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct TableRefFile {
    pub(crate) source: String,
    pub(crate) table: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct IntegrityFile {
    pub(crate) name: String,
    pub(crate) left: TableRefFile,
    pub(crate) right: TableRefFile,
    pub(crate) key: Vec<String>,
    /// Compared columns; default: every column both tables share, keys excepted.
    pub(crate) columns: Option<Vec<String>>,
    /// Column that places a row in a business day; without it the whole table is one partition.
    pub(crate) date_column: Option<String>,
    /// Compare only the rows this predicate keeps (the grammar of `recon diff --where`).
    #[serde(rename = "where")]
    pub(crate) filter: Option<String>,
    /// Columns whose values are shown only as an HMAC-SHA256 under the mask key in every output.
    #[serde(default)]
    pub(crate) sensitive_columns: Vec<String>,
    /// Shared columns recon cannot compare exactly (floating point, arrays…) that may go
    /// uncompared: the check lists them as not compared. Any other such column fails the check
    /// (exit 2) rather than let it come out clean without having compared it.
    #[serde(default)]
    pub(crate) accept_uncompared: Vec<String>,
    /// Seal each clean business day and re-verify sealed days (dated checks; default true).
    #[serde(default = "default_true")]
    pub(crate) seal: bool,
    /// How differing rows are found: "stream" (default) or "bisect" (digests computed in
    /// PostgreSQL or MySQL/MariaDB). A day that seals is always streamed: its seal keeps every
    /// row hash.
    #[serde(default)]
    pub(crate) strategy: Strategy,
    /// Rows whose `settle_column` is younger than this many seconds at the start of the check
    /// are in flight: left for a later run, and every difference is read once more after
    /// `recheck_after_secs` before it is reported (0: off).
    #[serde(default)]
    pub(crate) settle_secs: u64,
    /// The timestamp column that says how old a row is (default: `date_column`).
    pub(crate) settle_column: Option<String>,
    #[serde(default = "default_recheck_after")]
    pub(crate) recheck_after_secs: u64,
    /// Under `--shard I/N`, every shard compares key range I of N of this check (default false:
    /// the check goes whole to the shard of its position). A check that seals seals range by
    /// range (see `run::split`).
    #[serde(default)]
    pub(crate) split_by_key: bool,
    /// Columns whose type the schema cannot say, by name: `{ id = "uuid" }` reads a
    /// `char(36)` or `binary(16)` column as UUIDs on both sides.
    #[serde(default)]
    pub(crate) column_types: BTreeMap<String, String>,
}

fn default_recheck_after() -> u64 {
    5
}

fn default_true() -> bool {
    true
}

/// The check as `config check` prints it: every key, defaults filled in.
pub(crate) fn describe(c: &IntegritySpec) -> String {
    let mut out = format!(
        "\n[[integrity]]\nname = {:?}\nleft = {{ source = {:?}, table = {:?} }}\nright = {{ source = {:?}, table = {:?} }}\nkey = {:?}\n",
        c.name, c.left.source, c.left.table, c.right.source, c.right.table, c.key
    );
    match &c.columns {
        Some(cols) => out.push_str(&format!("columns = {cols:?}\n")),
        None => out.push_str("# columns: every column both tables share\n"),
    }
    match &c.date_column {
        Some(d) => out.push_str(&format!("date_column = {d:?}\n")),
        None => out.push_str("# date_column: none, the whole table is compared every run\n"),
    }
    if let Some(f) = &c.filter {
        out.push_str(&format!("where = {:?}\n", f.text));
    }
    out.push_str(&format!(
        "sensitive_columns = {:?}\naccept_uncompared = {:?}\nseal = {}\nstrategy = {:?}\n",
        c.sensitive_columns.columns(),
        c.accept_uncompared,
        c.seal,
        match c.strategy {
            Strategy::Stream => "stream",
            Strategy::Bisect => "bisect",
        }
    ));
    match &c.settle {
        Some(s) => out.push_str(&format!(
            "settle_secs = {}\nsettle_column = {:?}\nrecheck_after_secs = {}\n",
            s.after.as_secs(),
            s.column,
            s.recheck_after.as_secs()
        )),
        None => out.push_str("settle_secs = 0\n"),
    }
    out.push_str(&format!("split_by_key = {}\n", c.split_by_key));
    if !c.uuid_columns.is_empty() {
        let types: Vec<String> = c
            .uuid_columns
            .iter()
            .map(|name| format!("{name} = \"uuid\""))
            .collect();
        out.push_str(&format!("column_types = {{ {} }}\n", types.join(", ")));
    }
    out
}

/// Validates the integrity sections against the sources defined; `taken_names` collects check
/// names so that no two checks share one. Sensitive columns are masked under `mask_key`, which
/// the caller must have read whenever a check lists any. Messages name the section and key to fix.
pub(crate) fn validate(
    checks: &[IntegrityFile],
    sources: &BTreeMap<String, SourceSpec>,
    mask_key: Option<MaskKey>,
    taken_names: &mut BTreeSet<String>,
) -> Result<Vec<IntegritySpec>, String> {
    let mut integrity = Vec::new();
    for (i, check) in checks.iter().enumerate() {
        let at = format!("integrity[{i}] ({:?})", check.name);
        ident::validate_name(&check.name).map_err(|m| format!("{at}.name: {m}"))?;
        if !taken_names.insert(check.name.clone()) {
            return Err(format!(
                "{at}: another check is already named {:?}",
                check.name
            ));
        }
        for (side, table) in [("left", &check.left), ("right", &check.right)] {
            if !sources.contains_key(&table.source) {
                let known: Vec<_> = sources.keys().map(String::as_str).collect();
                return Err(format!(
                    "{at}.{side}.source: {:?} is not defined under [sources] (defined: {})",
                    table.source,
                    if known.is_empty() {
                        "none".to_string()
                    } else {
                        known.join(", ")
                    }
                ));
            }
            ident::validate_table(&table.table).map_err(|m| format!("{at}.{side}.table: {m}"))?;
        }
        if check.key.is_empty() {
            return Err(format!("{at}.key: name at least one key column"));
        }
        for column in check
            .key
            .iter()
            .chain(check.columns.iter().flatten())
            .chain(check.date_column.iter())
            .chain(check.sensitive_columns.iter())
            .chain(check.accept_uncompared.iter())
        {
            ident::validate_column(column).map_err(|m| format!("{at}: column {column:?}: {m}"))?;
        }
        if let Some(k) = check
            .columns
            .iter()
            .flatten()
            .find(|c| check.key.contains(c))
        {
            return Err(format!(
                "{at}.columns: {k:?} is a key column; list it only under key"
            ));
        }
        if let Some(c) = check.accept_uncompared.iter().find(|c| {
            check.key.contains(c) || check.columns.iter().flatten().any(|listed| listed == *c)
        }) {
            return Err(format!(
                "{at}.accept_uncompared: {c:?} is listed to be compared (key or columns); a column is either compared or accepted uncompared"
            ));
        }
        let settle = match (check.settle_secs, &check.settle_column, &check.date_column) {
            (0, None, _) => None,
            (0, Some(_), _) => {
                return Err(format!(
                    "{at}.settle_column: set settle_secs too, or leave the column out"
                ));
            }
            (_, None, None) => {
                return Err(format!(
                    "{at}.settle_secs: name the timestamp column that ages rows (settle_column)"
                ));
            }
            (secs, Some(column), _) | (secs, None, Some(column)) => {
                ident::validate_column(column).map_err(|m| format!("{at}.settle_column: {m}"))?;
                Some(Settle {
                    column: column.clone(),
                    after: std::time::Duration::from_secs(secs),
                    recheck_after: std::time::Duration::from_secs(check.recheck_after_secs),
                })
            }
        };
        let sensitive_columns = match (&mask_key, check.sensitive_columns.is_empty()) {
            (_, true) => SensitiveColumns::default(),
            (Some(key), false) => {
                SensitiveColumns::new(check.sensitive_columns.clone(), key.clone())
            }
            (None, false) => {
                return Err(format!(
                    "{at}.sensitive_columns: no mask key was read (job.mask_key_env)"
                ));
            }
        };
        let mut uuid_columns = Vec::new();
        for (column, kind) in &check.column_types {
            ident::validate_column(column)
                .map_err(|m| format!("{at}.column_types: column {column:?}: {m}"))?;
            if kind != "uuid" {
                return Err(format!(
                    "{at}.column_types.{column}: {kind:?} is not a type a column can be declared as (only \"uuid\")"
                ));
            }
            uuid_columns.push(column.clone());
        }
        let seal = check.seal && check.date_column.is_some();
        if check.split_by_key && check.strategy == Strategy::Bisect {
            return Err(format!(
                "{at}.split_by_key: a check split by key is streamed; leave strategy = \"bisect\" out"
            ));
        }
        integrity.push(IntegritySpec {
            name: check.name.clone(),
            left: TableRef {
                source: check.left.source.clone(),
                table: check.left.table.clone(),
            },
            right: TableRef {
                source: check.right.source.clone(),
                table: check.right.table.clone(),
            },
            key: check.key.clone(),
            columns: check.columns.clone(),
            date_column: check.date_column.clone(),
            filter: check
                .filter
                .as_deref()
                .map(Filter::parse)
                .transpose()
                .map_err(|e| format!("{at}.{e}"))?,
            sensitive_columns,
            accept_uncompared: check.accept_uncompared.clone(),
            seal,
            strategy: check.strategy,
            settle,
            split_by_key: check.split_by_key,
            uuid_columns,
        });
    }
    Ok(integrity)
}
