//! `recon diff`: one table on two databases compared ad hoc, printed for a person or as JSON lines.

use std::io::Write;

use crate::canonical::Value;
use crate::cli::DiffArgs;
use crate::error::{Error, Result};
use crate::exit::Exit;
use crate::integrity::{self, Comparison, Difference, DifferenceKind, TablePair};
use crate::mask::mask_card_numbers;
use crate::source::filter::Filter;
use crate::source::{Source, ident};

/// Runs the comparison and prints it to `out` (results) and `err` (notes, and stats with `--json`).
pub async fn diff(args: &DiffArgs, out: &mut dyn Write, err: &mut dyn Write) -> Result<Exit> {
    for column in args
        .key
        .iter()
        .chain(args.columns.iter().flatten())
        .chain(args.settle_column.iter())
    {
        ident::validate_column(column).map_err(Error::bad_input)?;
    }
    let filter = args.filter.as_deref().map(Filter::parse).transpose()?;
    let (left, right) = tokio::try_join!(
        Source::connect_url("left", &args.left_url),
        Source::connect_url("right", &args.right_url)
    )?;
    let pair = TablePair {
        left: &left,
        left_table: &args.left_table,
        right: &right,
        right_table: &args.right_table,
        key: &args.key,
        columns: args.columns.as_deref(),
        day: None,
        filter: filter.as_ref(),
        settle: args
            .settle_column
            .as_deref()
            .map(|column| (column, chrono::Utc::now() - settle_time(args.settle_secs))),
    };
    let options = integrity::CompareOptions {
        strategy: args.strategy,
        recheck_after: args
            .settle_column
            .is_some()
            .then(|| std::time::Duration::from_secs(args.recheck_after_secs)),
        ..Default::default()
    };
    let comparison = integrity::compare_with(&pair, options).await;
    left.close().await;
    right.close().await;
    let comparison = comparison?;
    print(args, &comparison, out, err)
        .map_err(|e| Error::internal(format!("writing output: {e}")))?;
    Ok(if comparison.differences.is_empty() {
        Exit::Clean
    } else {
        Exit::Discrepancies
    })
}

fn settle_time(secs: u64) -> chrono::Duration {
    chrono::Duration::try_seconds(i64::try_from(secs).unwrap_or(i64::MAX))
        .unwrap_or(chrono::Duration::MAX)
}

fn print(
    args: &DiffArgs,
    c: &Comparison,
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
    for d in &c.differences {
        if args.json {
            serde_json::to_writer(&mut *out, &json_line(&c.key, d))?;
            writeln!(out)?;
        } else {
            writeln!(out, "{}", text_line(&c.key, d))?;
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

fn key_object(names: &[String], key: &[Value]) -> serde_json::Value {
    serde_json::Value::Object(
        names
            .iter()
            .zip(key)
            .map(|(n, v)| {
                let v = v
                    .canonical_text()
                    .map(|t| serde_json::Value::String(mask_card_numbers(&t).into_owned()));
                (n.clone(), v.unwrap_or(serde_json::Value::Null))
            })
            .collect(),
    )
}

/// `{"kind": …, "key": {…}, "columns": […]}`, `columns` only for `changed`.
pub(crate) fn json_line(key_names: &[String], d: &Difference) -> serde_json::Value {
    let mut line = serde_json::Map::new();
    line.insert("kind".into(), d.kind.as_str().into());
    line.insert("key".into(), key_object(key_names, &d.key));
    if d.kind == DifferenceKind::Changed {
        line.insert(
            "columns".into(),
            d.changed.iter().map(|c| c.column.clone()).collect(),
        );
    }
    serde_json::Value::Object(line)
}

fn text_line(key_names: &[String], d: &Difference) -> String {
    let key = mask_card_numbers(&crate::integrity::key_text_named(key_names, &d.key)).into_owned();
    match d.kind {
        DifferenceKind::MissingInLeft => format!("missing in left   {key}"),
        DifferenceKind::MissingInRight => format!("missing in right  {key}"),
        DifferenceKind::Changed => {
            let cols: Vec<String> = d
                .changed
                .iter()
                .map(|c| {
                    let show = |v: &Value| match v.canonical_text() {
                        None => "NULL".to_string(),
                        Some(t) if t.is_empty() => "''".to_string(),
                        Some(t) => mask_card_numbers(&t).into_owned(),
                    };
                    format!("{}: {} → {}", c.column, show(&c.left), show(&c.right))
                })
                .collect();
            format!("changed           {key}  {}", cols.join("; "))
        }
    }
}
