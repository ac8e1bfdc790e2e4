//! `report.html`: one self-contained page (inline CSS and SVG, no script, no network) with the
//! verdict first, then totals, charts and the tables an analyst scans.

use std::collections::BTreeMap;
use std::fmt::Write;

use super::{DiscrepancyEntry, Summary, describe_exit, describe_outcome};
use crate::discrepancy::{AMOUNT_COLUMN, CURRENCY_COLUMN, Kind, in_currency};
use crate::exit::Exit;

/// Escapes text for HTML element content and attribute values.
pub(crate) fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// The report's styles, which the triage pages share.
pub(crate) const STYLE: &str = "
body{font:14px/1.45 system-ui,-apple-system,'Segoe UI',sans-serif;margin:0;color:#1d2430;background:#f6f7f9}
main{max-width:1180px;margin:0 auto;padding:16px 24px 24px}
h1{font-size:20px;margin:0 0 4px}h2{font-size:16px;margin:28px 0 8px}h3{font-size:15px;margin:0 0 4px}
.verdict{padding:18px 24px;color:#fff;border-radius:0 0 6px 6px}
.verdict.clean{background:#1f7a4d}.verdict.discrepancies{background:#b3261e}
.verdict.incomplete{background:#a15c00}.verdict.other{background:#5b2a86}
.verdict p{margin:0;opacity:.92}
.lead{display:grid;grid-template-columns:repeat(auto-fit,minmax(260px,1fr));gap:12px}
.card{background:#fff;border:1px solid #e2e6ea;border-radius:6px;padding:12px 16px}
.card h2{margin:0 0 6px;font-size:13px;text-transform:uppercase;letter-spacing:.04em;color:#4a5568}
.big{font-size:22px;font-weight:600;margin:0;font-variant-numeric:tabular-nums}
.card p{margin:2px 0}.card ul{margin:0;padding:0;list-style:none;columns:2}
.kind{background:#fff;border:1px solid #e2e6ea;border-radius:6px;padding:12px 16px;margin:0 0 12px}
.kind table{margin-top:8px}.todo{margin:2px 0}.todo b{color:#b3261e}
.facts{display:grid;grid-template-columns:repeat(auto-fill,minmax(220px,1fr));gap:6px 18px;color:#4a5568}
.facts b{color:#1d2430;font-weight:600}
table{border-collapse:collapse;width:100%;background:#fff;font-size:13px}
th,td{border-bottom:1px solid #e2e6ea;padding:6px 8px;text-align:left;vertical-align:top}
.wide{overflow-x:auto}tr.sum td{font-weight:600;border-top:2px solid #cbd2d9}
.ack{color:#4a5568;font-size:12px;margin-top:2px}
th{background:#eef1f4;font-weight:600}td.n{text-align:right;font-variant-numeric:tabular-nums}
td.date,.stake{white-space:nowrap}
code{font:12px ui-monospace,Menlo,Consolas,monospace}
code.id{word-break:normal;overflow-wrap:break-word}
details{margin:28px 0 0}summary{cursor:pointer;font-weight:600;font-size:16px}
.status-failed{color:#a15c00;font-weight:600}.status-discrepancies{color:#b3261e;font-weight:600}
.not-compared{color:#5f4b00}
.status-clean,.status-acknowledged{color:#1f7a4d}.muted{color:#6b7280}
.charts{display:grid;grid-template-columns:1fr 1fr;gap:18px}
.chart{background:#fff;padding:12px;border:1px solid #e2e6ea}
svg text{font:11px system-ui,sans-serif;fill:#374151}
";

fn verdict_class(exit: Exit) -> &'static str {
    match exit {
        Exit::Clean => "clean",
        Exit::Discrepancies => "discrepancies",
        Exit::Incomplete => "incomplete",
        Exit::BadInput | Exit::Locked | Exit::Internal => "other",
    }
}

/// The headline a person reads first.
pub(crate) fn verdict(summary: &Summary) -> String {
    let t = &summary.totals;
    match summary.outcome {
        Exit::Clean if summary.nothing_compared => {
            "Nothing compared: 0 rows on either side".to_string()
        }
        Exit::Clean if t.acknowledged > 0 => format!(
            "Clean: nothing needs anyone ({} acknowledged)",
            t.acknowledged
        ),
        Exit::Clean => format!("Clean: all {} checks agree", t.checks),
        Exit::Discrepancies if t.acknowledged > 0 => format!(
            "{} discrepancies found ({} new; {} more acknowledged)",
            t.needing_someone, t.new, t.acknowledged
        ),
        Exit::Discrepancies => format!("{} discrepancies found ({} new)", t.needing_someone, t.new),
        Exit::Incomplete => format!(
            "Incomplete: {} of {} checks could not be read",
            t.checks_failed, t.checks
        ),
        other => format!("Failed: {}", describe_exit(other)),
    }
}

/// The whole page.
pub(crate) fn render(summary: &Summary) -> String {
    let mut h = String::with_capacity(32 * 1024);
    let _ = write!(
        h,
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>recon {} — {}</title><style>{STYLE}</style></head><body>",
        summary.business_date,
        esc(&verdict(summary))
    );
    let _ = write!(
        h,
        "<header class=\"verdict {}\" id=\"verdict\"><h1>{}</h1><p>Business date {} ({}) · run {} · exit {} — {}</p></header><main>",
        verdict_class(summary.outcome),
        esc(&verdict(summary)),
        summary.business_date,
        esc(&summary.timezone),
        summary.run_id,
        summary.exit_code,
        esc(&describe_outcome(summary))
    );
    lead(&mut h, summary);
    let (needing, acknowledged): (Vec<&DiscrepancyEntry>, Vec<&DiscrepancyEntry>) = summary
        .discrepancies
        .iter()
        .partition(|d| d.status.needs_someone());
    findings_by_kind(&mut h, &needing);
    discrepancy_table(
        &mut h,
        "Acknowledged",
        &by_stake(acknowledged),
        "No acknowledged discrepancies in this run.",
    );
    discrepancy_table(
        &mut h,
        "Resolved since the last run",
        &summary.resolved.iter().collect::<Vec<_>>(),
        "Nothing was resolved by this run.",
    );
    checks(&mut h, summary);
    totals_by_kind(&mut h, summary);
    h.push_str("<div class=charts>");
    chart_by_kind(&mut h, summary);
    chart_history(&mut h, summary);
    h.push_str(
        "</div><p class=muted>At stake: the money the open discrepancies put in question — a \
         missing row's or line's amount, the difference of a changed amount (integrity rows with \
         <code>amount_minor</code> and <code>currency</code> columns, settlement mismatches), a \
         duplicate's extra copies. Acknowledged ones and <code>timing</code> rows still inside \
         their window are not counted.</p><h2>This run</h2>",
    );
    facts(&mut h, summary);
    h.push_str("</main></body></html>\n");
    h
}

/// What the first screen shows under the verdict: the money at stake per currency, what needs
/// someone, the kinds found (each a link to its findings), checks that could not be read and
/// circuit breakers that opened.
fn lead(h: &mut String, s: &Summary) {
    let t = &s.totals;
    h.push_str("<section class=lead><div class=card id=at-stake><h2>Money at stake</h2>");
    if t.at_stake.is_empty() {
        h.push_str("<p class=big>Nothing</p>");
    }
    for total in &t.at_stake {
        let _ = write!(h, "<p class=\"big stake\">{}</p>", esc(&total.amount));
    }
    h.push_str(
        "<p class=muted>Open findings only: acknowledged ones and <code>timing</code> rows \
         still inside their window are not counted.</p></div>",
    );
    let _ = write!(
        h,
        "<div class=card id=needs-someone><h2>Needs someone</h2><p class=big>{}</p>\
         <p>{} new · {} carried over{}</p><p class=muted>{} acknowledged · {} resolved since the last run</p></div>",
        t.needing_someone,
        t.new,
        t.carried,
        match t.reopened {
            0 => String::new(),
            n => format!(" ({n} reopened)"),
        },
        t.acknowledged,
        t.resolved
    );
    let kinds = kinds_needing_someone(s);
    if !kinds.is_empty() {
        h.push_str("<div class=card id=kinds><h2>Findings by kind</h2><ul>");
        for ((_, kind), count) in kinds {
            let kind = esc(kind);
            let _ = write!(
                h,
                "<li><a href=\"#kind-{kind}\"><code>{kind}</code></a> {count}</li>"
            );
        }
        h.push_str("</ul></div>");
    }
    h.push_str("</section>");
    for c in s.checks.iter().filter(|c| c.error.is_some()) {
        let _ = write!(
            h,
            "<p class=status-failed>Not read: {} ({}): {}</p>",
            esc(&c.name),
            esc(&c.partition),
            esc(c.error.as_deref().unwrap_or_default())
        );
    }
    for line in super::circuit_breaker_lines(&s.circuit_breakers_opened).lines() {
        let _ = write!(h, "<p class=\"breaker\"><strong>{}</strong></p>", esc(line));
    }
}

/// The findings that need someone, counted per kind, in kind order.
fn kinds_needing_someone(s: &Summary) -> BTreeMap<(usize, &'static str), usize> {
    let mut counts = BTreeMap::new();
    for d in s.discrepancies.iter().filter(|d| d.status.needs_someone()) {
        *counts.entry((kind_order(d.kind), d.kind)).or_insert(0) += 1;
    }
    counts
}

/// A kind's place in [`Kind::all`]: integrity kinds first, settlement ones, quarantined rows.
fn kind_order(kind: &str) -> usize {
    Kind::all()
        .position(|k| k.as_str() == kind)
        .unwrap_or(usize::MAX)
}

/// Largest stake first. Amounts are compared only within one currency, as integers of minor
/// units (no exchange rate makes 5961 JPY comparable with 42.00 GBP): findings with a stake
/// come by currency in code order, the largest first in each, then those without one; ties by id.
pub(crate) fn by_stake(mut entries: Vec<&DiscrepancyEntry>) -> Vec<&DiscrepancyEntry> {
    entries.sort_by(|a, b| {
        let key = |d: &DiscrepancyEntry| {
            d.at_stake
                .as_ref()
                .map(|s| (s.currency.clone(), std::cmp::Reverse(s.minor)))
        };
        match (key(a), key(b)) {
            (Some(x), Some(y)) => x.cmp(&y),
            (Some(_), None) => std::cmp::Ordering::Less,
            (None, Some(_)) => std::cmp::Ordering::Greater,
            (None, None) => std::cmp::Ordering::Equal,
        }
        .then(a.id.cmp(&b.id))
    });
    entries
}

/// The findings that need someone, one section per kind (in kind order) with what to do about
/// it, each kind's findings largest stake first.
fn findings_by_kind(h: &mut String, needing: &[&DiscrepancyEntry]) {
    let _ = write!(
        h,
        "<h2 id=findings>Findings that need someone ({})</h2>",
        needing.len()
    );
    if needing.is_empty() {
        h.push_str("<p class=muted>Nothing in this run needs anyone.</p>");
        return;
    }
    let mut groups: BTreeMap<(usize, &'static str), Vec<&DiscrepancyEntry>> = BTreeMap::new();
    for d in needing {
        groups
            .entry((kind_order(d.kind), d.kind))
            .or_default()
            .push(d);
    }
    for ((_, name), entries) in groups {
        let kind = Kind::parse(name);
        let stake = match kind {
            Some(kind) if kind.in_flight() => " · not yet at stake".to_string(),
            _ => match super::stake_line(&super::sum_stakes(
                entries.iter().filter_map(|d| d.at_stake.as_ref()),
            )) {
                line if line.is_empty() => String::new(),
                line => format!(" · {}", esc(&line)),
            },
        };
        let _ = write!(
            h,
            "<section class=kind id=\"kind-{name}\"><h3><code>{name}</code> · {count}{stake}</h3>\
             <p class=todo><b>What to do:</b> {todo}</p><p class=muted>{meaning}</p>",
            name = esc(name),
            count = entries.len(),
            todo = esc(kind.map_or("", super::what_to_do::what_to_do)),
            meaning = esc(kind.map_or("", Kind::explanation)),
        );
        rows_table(h, &by_stake(entries), false);
        h.push_str("</section>");
    }
}

fn facts(h: &mut String, s: &Summary) {
    let _ = write!(
        h,
        "<div class=\"facts\"><div>Started <b>{}</b></div><div>Finished <b>{}</b></div>\
         <div>recon <b>{}</b></div><div>Configuration <code>{}</code></div>\
         <div>Audit head <b>{}</b> <code>{}</code></div>{}</div>",
        s.started_at.format("%Y-%m-%d %H:%M:%S UTC"),
        s.finished_at.format("%Y-%m-%d %H:%M:%S UTC"),
        esc(s.recon_version),
        esc(&s.config_digest[..s.config_digest.len().min(16)]),
        s.audit_head.seq,
        esc(&s.audit_head.hash[..s.audit_head.hash.len().min(16)]),
        s.days
            .iter()
            .map(|d| format!(
                "<div class=\"day-{}\">Day <b>{}</b></div>",
                if d.closed { "closed" } else { "open" },
                esc(&d.to_string())
            ))
            .collect::<String>()
    );
}

fn rows(n: Option<u64>) -> String {
    n.map_or_else(|| "–".to_string(), |n| n.to_string())
}

fn checks(h: &mut String, s: &Summary) {
    h.push_str(
        "<h2>Checks</h2><table><thead><tr><th>Check</th><th>Partition</th><th>Status</th>\
         <th>Left</th><th class=n>Rows</th><th>Right</th><th class=n>Rows</th>\
         <th class=n>Discrepancies</th><th class=n>Attempts</th><th class=n>Seconds</th></tr></thead><tbody>",
    );
    // A table as `source.table`; a settlement check's reports as `stripe report: <files>`.
    let side = |t: &super::SideSummary| {
        if t.source.ends_with(" report") {
            format!("{}: {}", t.source, t.table)
        } else {
            format!("{}.{}", t.source, t.table)
        }
    };
    for c in &s.checks {
        let _ = write!(
            h,
            "<tr><td>{}</td><td class=date>{}</td><td class=\"status-{}\">{}</td><td>{}</td><td class=n>{}</td>\
             <td>{}</td><td class=n>{}</td><td class=n>{}</td><td class=n>{}</td><td class=n>{:.1}</td></tr>",
            esc(&c.name),
            esc(&c.partition),
            c.shown_status(),
            c.shown_status(),
            esc(&side(&c.left)),
            rows(c.left.rows),
            esc(&side(&c.right)),
            rows(c.right.rows),
            c.discrepancies,
            c.attempts,
            c.duration_ms as f64 / 1000.0
        );
        if let Some(error) = &c.error {
            let _ = write!(
                h,
                "<tr><td></td><td colspan=9 class=\"status-failed\">{}</td></tr>",
                esc(error)
            );
        }
        if let Some(line) = super::not_compared_line(&c.not_compared) {
            let _ = write!(
                h,
                "<tr><td></td><td colspan=9 class=not-compared>{}</td></tr>",
                esc(&line)
            );
        }
        for part in c.accounting.iter().flat_map(|a| &a.0) {
            let _ = write!(
                h,
                "<tr><td></td><td colspan=9 class=accounting>= {}</td></tr>",
                esc(&part.to_string())
            );
        }
    }
    h.push_str("</tbody></table>");
}

/// Discrepancy counts per kind, in kind order.
fn by_kind(s: &Summary) -> BTreeMap<&'static str, usize> {
    let mut counts = BTreeMap::new();
    for d in &s.discrepancies {
        *counts.entry(d.kind).or_insert(0) += 1;
    }
    counts
}

/// One row per kind found (what it means, its count per check, its total), one column per
/// check: kinds are many and their names long, so they run down the page, not across it.
fn totals_by_kind(h: &mut String, s: &Summary) {
    let kinds = by_kind(s);
    h.push_str(
        "<details id=totals-by-check><summary>Counts by kind and check</summary><div class=wide><table id=totals><thead><tr><th>Kind</th><th>What it means</th>",
    );
    for c in &s.checks {
        let _ = write!(h, "<th class=n>{}</th>", esc(&c.name));
    }
    h.push_str("<th class=n>All</th></tr></thead><tbody>");
    for (kind, total) in &kinds {
        let meaning = Kind::parse(kind).map_or("", Kind::explanation);
        let _ = write!(
            h,
            "<tr><td><code>{}</code></td><td>{}</td>",
            esc(kind),
            esc(meaning)
        );
        for c in &s.checks {
            let n = s
                .discrepancies
                .iter()
                .filter(|d| d.check == c.name && d.kind == *kind)
                .count();
            let _ = write!(h, "<td class=n>{n}</td>");
        }
        let _ = write!(h, "<td class=n>{total}</td></tr>");
    }
    h.push_str("<tr class=sum><td>All</td><td></td>");
    for c in &s.checks {
        let _ = write!(h, "<td class=n>{}</td>", c.discrepancies);
    }
    let _ = write!(
        h,
        "<td class=n>{}</td></tr></tbody></table></div>",
        s.totals.discrepancies
    );
    h.push_str("</details>");
}

/// A horizontal bar chart as inline SVG.
fn bars(h: &mut String, title: &str, items: &[(String, i64)]) {
    let _ = write!(h, "<div class=chart><h2>{}</h2>", esc(title));
    if items.is_empty() {
        h.push_str("<p class=muted>Nothing to chart.</p></div>");
        return;
    }
    let max = items.iter().map(|(_, v)| *v).max().unwrap_or(0).max(1);
    let row = 20;
    let height = items.len() * row + 4;
    let _ = write!(
        h,
        "<svg role=img viewBox=\"0 0 520 {height}\" width=\"100%\" aria-label=\"{}\">",
        esc(title)
    );
    for (i, (label, value)) in items.iter().enumerate() {
        let y = i * row + 2;
        let width = (*value as f64 / max as f64 * 300.0)
            .round()
            .max(if *value > 0 { 2.0 } else { 0.0 });
        let _ = write!(
            h,
            "<text x=\"0\" y=\"{}\">{}</text><rect x=\"160\" y=\"{y}\" width=\"{width}\" height=\"14\" fill=\"#b3261e\"/>\
             <text x=\"{}\" y=\"{}\">{value}</text>",
            y + 11,
            esc(label),
            166.0 + width,
            y + 11
        );
    }
    h.push_str("</svg></div>");
}

fn chart_by_kind(h: &mut String, s: &Summary) {
    let items: Vec<(String, i64)> = by_kind(s)
        .into_iter()
        .map(|(k, n)| (k.to_string(), n as i64))
        .collect();
    bars(h, "Discrepancies by kind", &items);
}

fn chart_history(h: &mut String, s: &Summary) {
    let items: Vec<(String, i64)> = s
        .recent_runs
        .iter()
        .map(|p| {
            (
                format!("{} (run {})", p.business_date, p.run_id),
                p.discrepancies,
            )
        })
        .collect();
    bars(h, "Discrepancies in the last runs", &items);
}

fn discrepancy_table(h: &mut String, title: &str, entries: &[&DiscrepancyEntry], empty: &str) {
    let _ = write!(h, "<h2>{} ({})</h2>", esc(title), entries.len());
    if entries.is_empty() {
        let _ = write!(h, "<p class=muted>{}</p>", esc(empty));
        return;
    }
    rows_table(h, entries, true);
}

/// One row per discrepancy, each with an anchor `#d-<id>`; its kind in a column unless the
/// table is one kind's.
fn rows_table(h: &mut String, entries: &[&DiscrepancyEntry], with_kind: bool) {
    let _ = write!(
        h,
        "<div class=wide><table><thead><tr><th class=n>Id</th><th>Check</th><th>Partition</th>{}<th>Status</th>\
         <th>Key</th><th>What differs (left → right; a missing row: its values)</th><th class=n>At stake</th></tr></thead><tbody>",
        if with_kind { "<th>Kind</th>" } else { "" }
    );
    for d in entries {
        let key = d.key_text();
        let what = what_differs(d);
        let stake = d.at_stake.as_ref().map(|a| a.shown()).unwrap_or_default();
        let status = match &d.acknowledgement {
            Some(ack) => format!(
                "{}<div class=ack>{}: {}</div>",
                d.status.as_str(),
                esc(&ack.actor),
                esc(&ack.note)
            ),
            None => d.status.as_str().to_string(),
        };
        let status = match d.reopened {
            Some(reason) => format!(
                "{status}<div class=ack>reopened: acknowledgement {}</div>",
                match reason {
                    crate::store::Reopened::Changed => "lapsed, the finding changed",
                    crate::store::Reopened::Expired => "expired",
                }
            ),
            None => status,
        };
        let kind = match with_kind {
            true => format!("<td>{}</td>", esc(d.kind)),
            false => String::new(),
        };
        let _ = write!(
            h,
            "<tr id=d-{id}><td class=n>{id}</td><td>{}</td><td class=date>{}</td>{kind}<td>{status}</td><td><code class=id>{}</code></td><td><code>{}</code></td><td class=\"n stake\">{}</td></tr>",
            esc(&d.check),
            esc(&d.partition),
            esc(&key),
            esc(&what),
            esc(&stake),
            id = d.id,
        );
    }
    h.push_str("</tbody></table></div>");
}

/// What differs, with an integrity row's `amount_minor` in its currency's major units (the
/// currency of its stake): `amount_minor: 125.00 EUR → 120.50 EUR`.
pub(crate) fn what_differs(d: &DiscrepancyEntry) -> String {
    // A changed row whose currency changed too has no one currency: its amounts stay raw.
    let currency_changed =
        d.kind == Kind::Changed.as_str() && d.values.iter().any(|v| v.column == CURRENCY_COLUMN);
    let currency = match currency_changed {
        true => None,
        false => d.at_stake.as_ref().map(|a| a.currency.as_str()),
    };
    d.what_differs_with(|column, value| {
        match (
            column == AMOUNT_COLUMN,
            currency,
            value.map(str::parse::<i64>),
        ) {
            (true, Some(currency), Some(Ok(minor))) => in_currency(minor, currency),
            _ => super::shown(value),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_escaped() {
        assert_eq!(
            esc("<b>\"Zoë\" & 'co'</b>"),
            "&lt;b&gt;&quot;Zoë&quot; &amp; &#39;co&#39;&lt;/b&gt;"
        );
    }
}
