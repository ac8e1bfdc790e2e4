//! `recon diff`: one table on two databases compared ad hoc, printed for a person or as JSON lines.

use std::io::Write;

use crate::canonical::Value;
use crate::cli::DiffArgs;
use crate::error::{Error, Result};
use crate::exit::Exit;
use crate::integrity::spec::{IntegritySpec, Settle, TableRef};
use crate::integrity::{self, Comparison, Difference, DifferenceKind};
use crate::mask::{DEFAULT_MASK_KEY_ENV, MaskKey, SensitiveColumns};
use crate::progress::Progress;
use crate::secret::{EnvLookup, url_has_password};
use crate::source::filter::Filter;
use crate::source::{Source, ident};

/// Runs the comparison and prints it to `out` (results) and `err` (notes, and stats with `--json`).
/// Exits 0 when nothing differs, 1 when something does; an error carries 2 (bad input), 3 (a
/// database could not be reached or read, for a reason that may pass) or 5 (a bug).
pub async fn diff(
    args: &DiffArgs,
    env: EnvLookup<'_>,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Result<Exit> {
    for column in args
        .key
        .iter()
        .chain(args.columns.iter().flatten())
        .chain(args.settle_column.iter())
        .chain(args.sensitive.iter())
    {
        ident::validate_column(column).map_err(Error::bad_input)?;
    }
    let sides = Sides::of(args, env)?;
    let sensitive = sensitive_columns(&args.sensitive, env)?;
    let filter = args.filter.as_deref().map(Filter::parse).transpose()?;
    let (left, right) = tokio::try_join!(
        Source::connect_url("left", &sides.left_url),
        Source::connect_url("right", &sides.right_url)
    )?;
    let spec = spec_of(args, &sides, filter, sensitive.clone());
    let settled_before = args
        .settle_column
        .as_ref()
        .map(|_| chrono::Utc::now() - settle_time(args.settle_secs));
    let pair = integrity::check::table_pair(&spec, (&left, &right), None, settled_before, None);
    let progress = Progress::on_terminal(&sides.left_table);
    let options = integrity::CompareOptions {
        rows_read: Some(progress.rows()),
        strategy: args.strategy,
        recheck_after: args
            .settle_column
            .is_some()
            .then(|| std::time::Duration::from_secs(args.recheck_after_secs)),
        ..Default::default()
    };
    let comparison = integrity::compare_with(&pair, options).await;
    progress.finish().await;
    left.close().await;
    right.close().await;
    let comparison = comparison?;
    print(args, &comparison, &sensitive, out, err)
        .map_err(|e| Error::internal(format!("writing output: {e}")))?;
    Ok(if comparison.differences.is_empty() {
        Exit::Clean
    } else {
        Exit::Discrepancies
    })
}

/// The ad-hoc check the arguments describe, as a configured one would be.
fn spec_of(
    args: &DiffArgs,
    sides: &Sides,
    filter: Option<Filter>,
    sensitive: SensitiveColumns,
) -> IntegritySpec {
    let table = |source: &str, table: &str| TableRef {
        source: source.to_string(),
        table: table.to_string(),
    };
    IntegritySpec {
        uuid_columns: Vec::new(),
        name: sides.left_table.clone(),
        left: table("left", &sides.left_table),
        right: table("right", &sides.right_table),
        key: args.key.clone(),
        columns: args.columns.clone(),
        date_column: None,
        filter,
        sensitive_columns: sensitive,
        accept_uncompared: args.accept_uncompared.clone(),
        seal: false,
        strategy: args.strategy,
        settle: args.settle_column.clone().map(|column| Settle {
            column,
            after: std::time::Duration::from_secs(args.settle_secs),
            recheck_after: std::time::Duration::from_secs(args.recheck_after_secs),
        }),
        split_by_key: false,
    }
}

/// The two tables and the URLs of their databases: each URL from the command line, or from
/// the environment variable `--left-url-env` / `--right-url-env` names.
struct Sides {
    left_url: String,
    left_table: String,
    right_url: String,
    right_table: String,
}

impl Sides {
    fn of(args: &DiffArgs, env: EnvLookup<'_>) -> Result<Sides> {
        let (left_env, right_env) = (args.left_url_env.as_deref(), args.right_url_env.as_deref());
        let expected = usize::from(left_env.is_none()) + usize::from(right_env.is_none()) + 2;
        if args.operands.len() != expected {
            let want = [
                left_env.map_or("LEFT_URL ", |_| ""),
                "LEFT_TABLE ",
                right_env.map_or("RIGHT_URL ", |_| ""),
                "RIGHT_TABLE",
            ]
            .concat();
            return Err(Error::bad_input(format!(
                "recon diff takes {want} here ({} given): a side whose URL comes from --left-url-env or --right-url-env gives only its table",
                args.operands.len()
            )));
        }
        let mut operands = args.operands.iter();
        let mut side = |name: &str, var: Option<&str>| -> Result<(String, String)> {
            let url = match var {
                Some(var) => env(var).filter(|v| !v.trim().is_empty()).ok_or_else(|| {
                    Error::bad_input(format!(
                        "--{name}-url-env: environment variable {var} is not set"
                    ))
                })?,
                None => {
                    let url = operands.next().cloned().unwrap_or_default();
                    if url_has_password(&url) {
                        return Err(Error::bad_input(format!(
                            "the {name} URL carries a password, which the command line shows to anyone on the machine (ps): put the URL in an environment variable and name it with --{name}-url-env"
                        )));
                    }
                    url
                }
            };
            Ok((url, operands.next().cloned().unwrap_or_default()))
        };
        let (left_url, left_table) = side("left", left_env)?;
        let (right_url, right_table) = side("right", right_env)?;
        Ok(Sides {
            left_url,
            left_table,
            right_url,
            right_table,
        })
    }
}

fn settle_time(secs: u64) -> chrono::Duration {
    chrono::Duration::try_seconds(i64::try_from(secs).unwrap_or(i64::MAX))
        .unwrap_or(chrono::Duration::MAX)
}

/// The `--sensitive` columns, masked under the key in `RECON_MASK_KEY` (no key, no diff).
fn sensitive_columns(columns: &[String], env: EnvLookup<'_>) -> Result<SensitiveColumns> {
    if columns.is_empty() {
        return Ok(SensitiveColumns::default());
    }
    let text = env(DEFAULT_MASK_KEY_ENV)
        .filter(|v| !v.trim().is_empty())
        .ok_or_else(|| {
            Error::bad_input(format!(
                "--sensitive needs the mask key: environment variable {DEFAULT_MASK_KEY_ENV} is not set"
            ))
        })?;
    let key =
        MaskKey::new(&text).map_err(|m| Error::bad_input(format!("{DEFAULT_MASK_KEY_ENV} {m}")))?;
    Ok(SensitiveColumns::new(columns.to_vec(), key))
}

fn print(
    args: &DiffArgs,
    c: &Comparison,
    sensitive: &SensitiveColumns,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> std::io::Result<()> {
    for finding in &c.schema {
        writeln!(
            err,
            "note: column {:?} not compared: {}",
            finding.column, finding.detail
        )?;
    }
    for column in &c.not_compared {
        writeln!(
            err,
            "note: column {:?} not compared (--accept-uncompared): {}",
            column.column, column.reason
        )?;
    }
    for d in &c.differences {
        if args.json {
            serde_json::to_writer(&mut *out, &json_line(&c.key, d, sensitive))?;
            writeln!(out)?;
        } else {
            writeln!(out, "{}", text_line(&c.key, d, sensitive))?;
        }
    }
    if args.stats {
        let count = |kind: DifferenceKind| c.differences.iter().filter(|d| d.kind == kind).count();
        let stats = serde_json::json!({
            "left_rows": c.left.rows,
            "right_rows": c.right.rows,
            "missing_in_left": count(DifferenceKind::MissingInLeft),
            "missing_in_right": count(DifferenceKind::MissingInRight),
            "changed": count(DifferenceKind::Changed),
            "differences": c.differences.len(),
            "in_flight": c.in_flight,
            "left_digest": c.left.digest,
            "right_digest": c.right.digest,
            "not_compared": c.not_compared,
        });
        if args.json {
            writeln!(err, "{stats}")?;
        } else {
            writeln!(
                out,
                "rows: left {}, right {} · differences: {} ({} missing in left, {} missing in right, {} changed)",
                c.left.rows,
                c.right.rows,
                c.differences.len(),
                count(DifferenceKind::MissingInLeft),
                count(DifferenceKind::MissingInRight),
                count(DifferenceKind::Changed)
            )?;
        }
    }
    Ok(())
}

/// A value as printed: its canonical text masked (`None` for NULL).
fn shown(column: &str, v: &Value, sensitive: &SensitiveColumns) -> Option<String> {
    crate::discrepancy::shown(v, column, sensitive).map(|s| s.to_string())
}

/// `{"kind": …, "key": {…}, "columns": […], "values": [{"column", "left", "right"}…]}`;
/// `columns` and `values` (both sides' canonical text, masked; null for NULL) only for `changed`.
fn json_line(
    key_names: &[String],
    d: &Difference,
    sensitive: &SensitiveColumns,
) -> serde_json::Value {
    let mut line = serde_json::Map::new();
    line.insert("kind".into(), d.kind.as_str().into());
    let key = crate::discrepancy::ShownKey::of_row(key_names, &d.key, sensitive, None);
    line.insert("key".into(), key.to_json());
    if d.kind == DifferenceKind::Changed {
        line.insert(
            "columns".into(),
            d.changed.iter().map(|c| c.column.clone()).collect(),
        );
        line.insert(
            "values".into(),
            d.changed
                .iter()
                .map(|c| {
                    serde_json::json!({
                        "column": c.column,
                        "left": shown(&c.column, &c.left, sensitive),
                        "right": shown(&c.column, &c.right, sensitive),
                    })
                })
                .collect(),
        );
    }
    serde_json::Value::Object(line)
}

fn text_line(key_names: &[String], d: &Difference, sensitive: &SensitiveColumns) -> String {
    let key = key_names
        .iter()
        .zip(&d.key)
        .map(|(n, v)| {
            format!(
                "{n}={}",
                shown(n, v, sensitive).unwrap_or_else(|| "NULL".to_string())
            )
        })
        .collect::<Vec<_>>()
        .join(", ");
    match d.kind {
        DifferenceKind::MissingInLeft => format!("missing in left   {key}"),
        DifferenceKind::MissingInRight => format!("missing in right  {key}"),
        DifferenceKind::Changed => {
            let cols: Vec<String> = d
                .changed
                .iter()
                .map(|c| {
                    let show = |v: &Value| match shown(&c.column, v, sensitive) {
                        None => "NULL".to_string(),
                        Some(t) if t.is_empty() => "''".to_string(),
                        Some(t) => t,
                    };
                    format!("{}: {} → {}", c.column, show(&c.left), show(&c.right))
                })
                .collect();
            format!("changed           {key}  {}", cols.join("; "))
        }
    }
}
