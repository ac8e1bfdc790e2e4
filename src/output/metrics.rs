//! Metrics for a batch job, in the Prometheus text format: written to a file (for a node
//! exporter's textfile collector) or pushed to a Pushgateway, each pusher's in its own group.

use std::fmt::Write;
use std::path::Path;
use std::time::Duration;

use chrono::{DateTime, Utc};

use super::Summary;
use crate::error::{Error, Result};
use crate::retry::{RetryPolicy, with_retries};
use crate::secret::redact_urls;
use crate::store::BacklogItem;

/// A label value with `\`, `"` and newlines escaped as the text format requires.
fn label(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

fn family(out: &mut String, name: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} gauge");
}

/// The run's metrics. The last success comes from the store (the newest business date a run
/// completed), so it is there after a failed run too, and a rerun of an older date leaves it.
pub(crate) fn render(summary: &Summary) -> String {
    let mut out = String::new();
    let date = summary.business_date.to_string();
    let duration = (summary.finished_at - summary.started_at)
        .num_milliseconds()
        .max(0);

    family(
        &mut out,
        "recon_run_info",
        "The last run: its id, business date and outcome.",
    );
    let _ = writeln!(
        out,
        "recon_run_info{{business_date=\"{date}\",outcome=\"{}\",run_id=\"{}\"}} 1",
        summary.outcome.as_str(),
        summary.run_id
    );
    family(
        &mut out,
        "recon_run_exit_code",
        "The outcome code of the last run (src/exit.rs): 1 = discrepancies, even when --findings-exit-code 0 made the process exit 0.",
    );
    let _ = writeln!(out, "recon_run_exit_code {}", summary.exit_code);
    family(
        &mut out,
        "recon_audit_head_seq",
        "The audit chain's last sequence number after the run: a copy outside the store; a lower value later means entries were removed.",
    );
    let _ = writeln!(out, "recon_audit_head_seq {}", summary.audit_head.seq);
    family(
        &mut out,
        "recon_audit_head_signed",
        "1 when the run's audit entries are signed with a writer key (RECON_AUDIT_SIGNING_KEY), 0 when unsigned.",
    );
    let _ = writeln!(
        out,
        "recon_audit_head_signed {}",
        u8::from(summary.audit_head.key_id.is_some())
    );
    family(
        &mut out,
        "recon_run_duration_seconds",
        "How long the last run took.",
    );
    let _ = writeln!(
        out,
        "recon_run_duration_seconds {}.{:03}",
        duration / 1000,
        duration % 1000
    );

    family(
        &mut out,
        "recon_rows_compared",
        "Rows read on each side of each check.",
    );
    for c in &summary.checks {
        for (side, rows) in [("left", c.left.rows), ("right", c.right.rows)] {
            if let Some(rows) = rows {
                let _ = writeln!(
                    out,
                    "recon_rows_compared{{check=\"{}\",side=\"{side}\"}} {rows}",
                    label(&c.name)
                );
            }
        }
    }

    family(
        &mut out,
        "recon_discrepancies",
        "Discrepancies the last run saw, by check, kind and status (open = new, carried, acknowledged).",
    );
    let mut counts = std::collections::BTreeMap::<(&str, &str, &str), usize>::new();
    for d in &summary.discrepancies {
        *counts
            .entry((d.check.as_str(), d.kind, d.status.as_str()))
            .or_insert(0) += 1;
    }
    for ((check, kind, status), n) in counts {
        let _ = writeln!(
            out,
            "recon_discrepancies{{check=\"{}\",kind=\"{kind}\",status=\"{status}\"}} {n}",
            label(check)
        );
    }
    family(
        &mut out,
        "recon_discrepancies_needing_someone",
        "Discrepancies the last run saw that still need someone: new or carried over, not acknowledged.",
    );
    let _ = writeln!(
        out,
        "recon_discrepancies_needing_someone {}",
        summary.totals.needing_someone
    );
    family(
        &mut out,
        "recon_discrepancies_acknowledged",
        "Discrepancies the last run saw that an operator acknowledged, still as acknowledged.",
    );
    let _ = writeln!(
        out,
        "recon_discrepancies_acknowledged {}",
        summary.totals.acknowledged
    );

    family(
        &mut out,
        "recon_sync_retries",
        "Retries each check's sync needed (attempts beyond the first).",
    );
    for c in &summary.checks {
        let _ = writeln!(
            out,
            "recon_sync_retries{{check=\"{}\"}} {}",
            label(&c.name),
            c.attempts.saturating_sub(1)
        );
    }
    family(
        &mut out,
        "recon_sync_failed",
        "1 when a check's sync still failed after its retries.",
    );
    for c in &summary.checks {
        let failed = u8::from(c.status == crate::store::CheckStatus::Failed);
        let _ = writeln!(
            out,
            "recon_sync_failed{{check=\"{}\"}} {failed}",
            label(&c.name)
        );
    }

    family(
        &mut out,
        "recon_circuit_breakers_open",
        "Endpoints whose circuit breaker was still open when the last run ended.",
    );
    let breakers = &summary.circuit_breakers_opened;
    let _ = writeln!(
        out,
        "recon_circuit_breakers_open {}",
        breakers.iter().filter(|b| b.open_at_end).count()
    );
    if !breakers.is_empty() {
        family(
            &mut out,
            "recon_circuit_breaker_open",
            "1 when the endpoint's circuit breaker was still open when the last run ended; listed for endpoints whose breaker opened in it.",
        );
        for b in breakers {
            let _ = writeln!(
                out,
                "recon_circuit_breaker_open{{endpoint=\"{}\"}} {}",
                label(&b.endpoint),
                u8::from(b.open_at_end)
            );
        }
        family(
            &mut out,
            "recon_circuit_breaker_opened",
            "How often the endpoint's circuit breaker opened during the last run.",
        );
        for b in breakers {
            let _ = writeln!(
                out,
                "recon_circuit_breaker_opened{{endpoint=\"{}\"}} {}",
                label(&b.endpoint),
                b.times_opened
            );
        }
    }

    family(
        &mut out,
        "recon_at_stake_minor_units",
        "Money the last run's findings needing someone put in question, in minor units of each currency.",
    );
    for total in &summary.totals.at_stake {
        let _ = writeln!(
            out,
            "recon_at_stake_minor_units{{currency=\"{}\"}} {}",
            label(&total.currency),
            total
                .minor
                .map_or_else(|| "+Inf".to_string(), |m| m.to_string())
        );
    }
    family(
        &mut out,
        "recon_missed_dates",
        "Business dates no run completed since the last completed one (nightly runs).",
    );
    let _ = writeln!(out, "recon_missed_dates {}", summary.missed_dates.len());

    if let Some(last) = &summary.last_success {
        family(
            &mut out,
            "recon_last_success_timestamp_seconds",
            "When the newest business date a run completed (clean or with discrepancies) last completed.",
        );
        let _ = writeln!(
            out,
            "recon_last_success_timestamp_seconds {}",
            last.finished_at.timestamp()
        );
        family(
            &mut out,
            "recon_last_success_business_date",
            "The newest business date a run completed, as Unix seconds of its 00:00 UTC.",
        );
        let _ = writeln!(
            out,
            "recon_last_success_business_date {}",
            last.business_date
                .and_time(chrono::NaiveTime::MIN)
                .and_utc()
                .timestamp()
        );
    }
    out
}

/// How old a finding of the backlog is, from when a run first saw it: the `age_bucket` label.
fn age_bucket(age: chrono::Duration) -> &'static str {
    match age.num_days() {
        ..1 => "lt_1d",
        1..7 => "1d_to_7d",
        7..30 => "7d_to_30d",
        _ => "ge_30d",
    }
}

/// The open backlog across every business date (from the store, after the run): findings by
/// status, kind, currency of their stake and age; the money at stake in it; the oldest still
/// needing someone. Every family is written even when empty of findings, so an alert sees 0.
pub(crate) fn render_backlog(backlog: &[BacklogItem], now: DateTime<Utc>) -> String {
    use std::collections::BTreeMap;
    let mut out = String::new();
    family(
        &mut out,
        "recon_backlog_findings",
        "Findings of every business date still open, by status (open = new, carried, acknowledged), kind, currency of their stake (none without one) and age since first seen.",
    );
    let mut counts = BTreeMap::<(&str, &str, &str, &str), u64>::new();
    for item in backlog {
        let currency = item
            .at_stake
            .as_ref()
            .map_or("none", |s| s.currency.as_str());
        let bucket = age_bucket(now - item.first_seen_at);
        *counts
            .entry((item.status.as_str(), &item.kind, currency, bucket))
            .or_insert(0) += 1;
    }
    for ((status, kind, currency, bucket), n) in counts {
        let _ = writeln!(
            out,
            "recon_backlog_findings{{age_bucket=\"{bucket}\",currency=\"{}\",kind=\"{}\",status=\"{status}\"}} {n}",
            label(currency),
            label(kind)
        );
    }
    family(
        &mut out,
        "recon_backlog_needing_someone",
        "Findings of every business date that still need someone: new or carried over, not acknowledged.",
    );
    let needing: Vec<&BacklogItem> = backlog
        .iter()
        .filter(|i| i.status.needs_someone())
        .collect();
    let _ = writeln!(out, "recon_backlog_needing_someone {}", needing.len());
    family(
        &mut out,
        "recon_backlog_at_stake_minor_units",
        "Money the backlog's findings put in question, in minor units of each currency (2 decimals for EUR: 1050 = 10.50 EUR), by status; timing and payout_late findings (still in their window) left out.",
    );
    let mut stakes = BTreeMap::<(&str, &str), Option<i128>>::new();
    let in_flight = |kind: &str| {
        crate::discrepancy::Kind::parse(kind).is_some_and(crate::discrepancy::Kind::in_flight)
    };
    for item in backlog.iter().filter(|i| !in_flight(&i.kind)) {
        if let Some(stake) = &item.at_stake {
            let total = stakes
                .entry((item.status.as_str(), stake.currency.as_str()))
                .or_insert(Some(0));
            *total = total.and_then(|t| t.checked_add(stake.minor));
        }
    }
    for ((status, currency), minor) in stakes {
        let _ = writeln!(
            out,
            "recon_backlog_at_stake_minor_units{{currency=\"{}\",status=\"{status}\"}} {}",
            label(currency),
            minor.map_or_else(|| "+Inf".to_string(), |m| m.to_string())
        );
    }
    family(
        &mut out,
        "recon_backlog_oldest_needing_someone_age_seconds",
        "Age of the oldest finding that still needs someone, since a run first saw it (0 when none does).",
    );
    let oldest = needing
        .iter()
        .map(|i| (now - i.first_seen_at).num_seconds().max(0))
        .max()
        .unwrap_or(0);
    let _ = writeln!(
        out,
        "recon_backlog_oldest_needing_someone_age_seconds {oldest}"
    );
    out
}

/// Writes the metrics (the run's, then the backlog's when read) to `path`, replacing it
/// atomically, as textfile collectors expect.
pub fn write_file(path: &Path, summary: &Summary, backlog: Option<&[BacklogItem]>) -> Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        crate::private_fs::create_dir_all(dir)
            .map_err(|e| Error::bad_input(format!("cannot create {}: {e}", dir.display())))?;
    }
    let mut text = render(summary);
    if let Some(backlog) = backlog {
        text.push_str(&render_backlog(backlog, summary.finished_at));
    }
    super::write_atomically(path, text.as_bytes())
}

/// A controls check's metrics: how many controls fail (what `ReconControlsFailing` alerts on)
/// and, per control, 1 when it holds, 0 when it fails. `controls` is (name, holds).
pub fn render_controls(controls: &[(&str, bool)]) -> String {
    let mut out = String::new();
    family(
        &mut out,
        "recon_controls_failed",
        "How many controls the last controls check found failing.",
    );
    let failed = controls.iter().filter(|(_, ok)| !ok).count();
    let _ = writeln!(out, "recon_controls_failed {failed}");
    family(
        &mut out,
        "recon_control_ok",
        "1 when the control held at the last controls check, 0 when it failed.",
    );
    for (name, ok) in controls {
        let _ = writeln!(
            out,
            "recon_control_ok{{control=\"{}\"}} {}",
            label(name),
            u8::from(*ok)
        );
    }
    out
}

/// Writes a controls check's metrics (see [`render_controls`]) to `path`, atomically.
pub fn write_controls_file(path: &Path, controls: &[(&str, bool)]) -> Result<()> {
    super::write_atomically(path, render_controls(controls).as_bytes())
}

/// Who pushes a group of metrics: each its own grouping key under `job="recon"`, so one
/// push (which replaces its whole group) never wipes another's series.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pusher<'a> {
    /// A run of a business date: `pusher="run"`, and `shard` when sharded.
    Run { shard: Option<&'a str> },
    /// The open backlog across all dates, a fact of the store: `pusher="backlog"`, pushed by
    /// every run (and every shard) that read it; the newest push stands.
    Backlog,
    /// A controls check, when one pushes: `pusher="controls"`.
    Controls,
}

impl Pusher<'_> {
    /// The group's path under the Pushgateway's `/metrics`.
    pub fn grouping_path(&self) -> String {
        match self {
            Pusher::Run { shard: None } => "job/recon/pusher/run".to_string(),
            Pusher::Run { shard: Some(shard) } => {
                format!("job/recon/pusher/run/shard/{}", shard.replace('/', "-of-"))
            }
            Pusher::Backlog => "job/recon/pusher/backlog".to_string(),
            Pusher::Controls => "job/recon/pusher/controls".to_string(),
        }
    }
}

/// Pushes the run's metrics to a Pushgateway, in its group, and the backlog's (when read) in
/// theirs. Each is a PUT: the group's every series is replaced, so a family this push leaves
/// out (last night's money at stake after a clean run) is gone, not kept stale.
pub async fn push(
    gateway: &str,
    shard: Option<&str>,
    summary: &Summary,
    backlog: Option<&[BacklogItem]>,
) -> Result<()> {
    put_group(gateway, Pusher::Run { shard }, render(summary)).await?;
    if let Some(backlog) = backlog {
        put_group(
            gateway,
            Pusher::Backlog,
            render_backlog(backlog, summary.finished_at),
        )
        .await?;
    }
    Ok(())
}

/// Replaces `pusher`'s group on the Pushgateway with `body` (HTTP PUT), retrying transient
/// failures.
pub async fn put_group(gateway: &str, pusher: Pusher<'_>, body: String) -> Result<()> {
    let url = format!(
        "{}/metrics/{}",
        gateway.trim_end_matches('/'),
        pusher.grouping_path()
    );
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .map_err(|e| Error::internal(format!("HTTP client: {e}")))?;
    let policy = RetryPolicy {
        initial_delay_ms: 200,
        max_delay_ms: 5_000,
        max_total_secs: 60,
        max_attempts: 5,
    };
    let shown = redact_urls(&url);
    let (result, _) = with_retries(policy, "metrics push", || async {
        let response = client
            .put(&url)
            .header("Content-Type", "text/plain; version=0.0.4")
            .body(body.clone())
            .send()
            .await
            .map_err(|e| {
                Error::unavailable(format!(
                    "pushing metrics to {shown}: {}",
                    redact_urls(&e.to_string())
                ))
                .caused_by(e)
            })?;
        let status = response.status();
        if status.is_success() {
            Ok(())
        } else if status.is_server_error() || status.as_u16() == 429 {
            Err(Error::unavailable(format!(
                "pushing metrics to {shown}: HTTP {status}"
            )))
        } else {
            Err(Error::bad_input(format!(
                "pushing metrics to {shown}: HTTP {status}"
            )))
        }
    })
    .await;
    result
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::discrepancy::{AtStake, Status};

    #[test]
    fn each_pusher_has_its_own_group() {
        let paths = [
            Pusher::Run { shard: None },
            Pusher::Run { shard: Some("1/4") },
            Pusher::Backlog,
            Pusher::Controls,
        ]
        .map(|p| p.grouping_path());
        assert_eq!(
            paths,
            [
                "job/recon/pusher/run",
                "job/recon/pusher/run/shard/1-of-4",
                "job/recon/pusher/backlog",
                "job/recon/pusher/controls",
            ]
        );
    }

    #[test]
    fn the_backlog_counts_by_status_kind_currency_and_age_and_sums_its_stake_exactly() {
        let now = DateTime::parse_from_rfc3339("2026-12-07T12:00:00Z")
            .map(|t| t.with_timezone(&Utc))
            .unwrap_or_else(|e| panic!("{e}"));
        let item = |status, kind: &str, stake: Option<(&str, i128)>, days: i64| BacklogItem {
            status,
            kind: kind.to_string(),
            at_stake: stake.map(|(currency, minor)| AtStake {
                currency: currency.to_string(),
                minor,
            }),
            first_seen_at: now - chrono::Duration::days(days),
        };
        let backlog = [
            item(
                Status::Open,
                "changed",
                Some(("EUR", i128::from(i64::MAX))),
                0,
            ),
            item(Status::Carried, "changed", Some(("EUR", 10)), 8),
            item(Status::Carried, "timing", Some(("EUR", 99)), 40),
            item(
                Status::Acknowledged,
                "missing_in_right",
                Some(("JPY", 6100)),
                3,
            ),
            item(Status::Carried, "schema_mismatch", None, 1),
        ];
        let samples: Vec<String> = render_backlog(&backlog, now)
            .lines()
            .filter(|l| !l.starts_with('#'))
            .map(str::to_string)
            .collect();
        assert_eq!(
            samples,
            [
                "recon_backlog_findings{age_bucket=\"1d_to_7d\",currency=\"JPY\",kind=\"missing_in_right\",status=\"acknowledged\"} 1",
                "recon_backlog_findings{age_bucket=\"7d_to_30d\",currency=\"EUR\",kind=\"changed\",status=\"carried\"} 1",
                "recon_backlog_findings{age_bucket=\"1d_to_7d\",currency=\"none\",kind=\"schema_mismatch\",status=\"carried\"} 1",
                "recon_backlog_findings{age_bucket=\"ge_30d\",currency=\"EUR\",kind=\"timing\",status=\"carried\"} 1",
                "recon_backlog_findings{age_bucket=\"lt_1d\",currency=\"EUR\",kind=\"changed\",status=\"open\"} 1",
                "recon_backlog_needing_someone 4",
                "recon_backlog_at_stake_minor_units{currency=\"JPY\",status=\"acknowledged\"} 6100",
                "recon_backlog_at_stake_minor_units{currency=\"EUR\",status=\"carried\"} 10",
                "recon_backlog_at_stake_minor_units{currency=\"EUR\",status=\"open\"} 9223372036854775807",
                "recon_backlog_oldest_needing_someone_age_seconds 3456000",
            ]
        );
    }
}
