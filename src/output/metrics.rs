//! Metrics for a batch job, in the Prometheus text format: written to a file (for a node
//! exporter's textfile collector) or pushed to a Pushgateway.

use std::fmt::Write;
use std::path::Path;
use std::time::Duration;

use super::Summary;
use crate::error::{Error, Result};
use crate::retry::{RetryPolicy, with_retries};
use crate::secret::redact_urls;

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
        "Discrepancies the last run saw, by check and kind.",
    );
    let mut counts = std::collections::BTreeMap::<(&str, &str), usize>::new();
    for d in &summary.discrepancies {
        *counts.entry((d.check.as_str(), d.kind)).or_insert(0) += 1;
    }
    for ((check, kind), n) in counts {
        let _ = writeln!(
            out,
            "recon_discrepancies{{check=\"{}\",kind=\"{kind}\"}} {n}",
            label(check)
        );
    }

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
        "Money the last run's open findings put in question, in minor units of each currency.",
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

/// Writes the metrics to `path` (replacing it atomically, as textfile collectors expect).
pub fn write_file(path: &Path, summary: &Summary) -> Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        crate::private_fs::create_dir_all(dir)
            .map_err(|e| Error::bad_input(format!("cannot create {}: {e}", dir.display())))?;
    }
    super::write_atomically(path, render(summary).as_bytes())
}

/// Pushes the metrics to a Pushgateway under `job="recon"` (and the shard, when sharded),
/// retrying transient failures. POST keeps metrics this push leaves out, such as the last
/// success time after a failed run.
pub async fn push(gateway: &str, shard: Option<&str>, summary: &Summary) -> Result<()> {
    let mut url = format!("{}/metrics/job/recon", gateway.trim_end_matches('/'));
    if let Some(shard) = shard {
        url.push_str(&format!("/shard/{}", shard.replace('/', "-of-")));
    }
    let body = render(summary);
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
            .post(&url)
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
