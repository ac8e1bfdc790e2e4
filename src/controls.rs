//! `recon controls check`: the controls PCI DSS asks a payments company to keep, checked every
//! day by the machine (key ages, retention, TLS, the audit chain, the last run, the advisory
//! database), each named with the requirement it answers.

use std::io::Write;
use std::path::Path;
use std::str::FromStr;

use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;

use crate::cli::ControlsArgs;
use crate::config::{Config, ControlsSetup, KeyInEnv, KeySpec, MIN_HISTORY_RETENTION_DAYS};
use crate::error::{Error, Result};
use crate::exit::Exit;
use crate::output::metrics::{Pusher, put_group, render_controls, write_controls_file};
use crate::secret::process_env;
use crate::source::tls::{Link, link_of};
use crate::store::{SchemaUse, Store};

/// One control's verdict.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Control {
    /// Stable, for alerts and scripts: `key_rotation.<key>`, `retention`, `tls`,
    /// `audit_chain`, `last_success`, `advisory_db`.
    pub name: String,
    /// The PCI DSS v4.0 requirement(s) it answers.
    pub requirement: &'static str,
    pub status: Status,
    /// One line: what was found.
    pub detail: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Pass,
    Fail,
}

impl Control {
    fn new(name: impl Into<String>, requirement: &'static str, verdict: Verdict) -> Control {
        let (status, detail) = match verdict {
            Ok(detail) => (Status::Pass, detail),
            Err(detail) => (Status::Fail, detail),
        };
        Control {
            name: name.into(),
            requirement,
            status,
            detail,
        }
    }

    fn holds(&self) -> bool {
        self.status == Status::Pass
    }
}

/// What a control found: `Ok` when it holds, `Err` when it fails, each with its detail.
type Verdict = std::result::Result<String, String>;

const KEY_ROTATION: &str = "PCI DSS 3.6.4, 3.7.4";
const RETENTION: &str = "PCI DSS 10.5.1";
const TLS: &str = "PCI DSS 4.2.1";
const AUDIT_CHAIN: &str = "PCI DSS 10.3.2";
const LAST_SUCCESS: &str = "PCI DSS 10.7.2";
const ADVISORY_DB: &str = "PCI DSS 6.3.1, 6.3.3";

/// What `recon controls check --json` prints.
#[derive(Debug, Serialize)]
struct Report<'a> {
    ok: bool,
    failed: Vec<&'a str>,
    controls: &'a [Control],
}

/// `recon controls check`: exit 0 when every control holds, 1 naming each failing one.
pub async fn check(args: &ControlsArgs, out: &mut dyn Write) -> Result<Exit> {
    let setup = Config::load_controls(&args.config.config, &process_env)?;
    let controls = check_all(&setup, Utc::now()).await;
    let failed: Vec<&str> = controls
        .iter()
        .filter(|c| !c.holds())
        .map(|c| c.name.as_str())
        .collect();
    let written = if args.json {
        let report = Report {
            ok: failed.is_empty(),
            failed: failed.clone(),
            controls: &controls,
        };
        let json = serde_json::to_string(&report)
            .map_err(|e| Error::internal(format!("controls as JSON: {e}")))?;
        writeln!(out, "{json}")
    } else {
        render_text(out, &controls, &failed)
    };
    written.map_err(|e| Error::internal(format!("writing output: {e}")))?;
    let verdicts: Vec<(&str, bool)> = controls
        .iter()
        .map(|c| (c.name.as_str(), c.holds()))
        .collect();
    if let Some(path) = &args.metrics.metrics_file {
        write_controls_file(path, &verdicts)?;
    }
    if let Some(gateway) = &args.metrics.metrics_push {
        // As for a run: a metrics failure is said, and the controls' verdict stands.
        if let Err(e) = put_group(gateway, Pusher::Controls, render_controls(&verdicts)).await {
            tracing::warn!(error = %e, "controls metrics were not pushed");
        }
    }
    Ok(if failed.is_empty() {
        Exit::Clean
    } else {
        Exit::Discrepancies
    })
}

fn render_text(out: &mut dyn Write, controls: &[Control], failed: &[&str]) -> std::io::Result<()> {
    for c in controls {
        let status = if c.holds() { "pass" } else { "FAIL" };
        writeln!(out, "{status} {} [{}]: {}", c.name, c.requirement, c.detail)?;
    }
    if failed.is_empty() {
        writeln!(out, "all {} controls hold", controls.len())
    } else {
        writeln!(out, "failing controls: {}", failed.join(", "))
    }
}

/// Every control, in a fixed order, judged at `now`.
pub async fn check_all(setup: &ControlsSetup, now: DateTime<Utc>) -> Vec<Control> {
    let today = now.date_naive();
    let mut controls = key_rotation(&setup.keys, today);
    controls.push(Control::new(
        "retention",
        RETENTION,
        retention(setup.history_retention_days),
    ));
    controls.push(Control::new("tls", TLS, tls(setup)));
    let (audit, last) = store_controls(setup, now).await;
    controls.push(Control::new("audit_chain", AUDIT_CHAIN, audit));
    controls.push(Control::new("last_success", LAST_SUCCESS, last));
    controls.push(Control::new(
        "advisory_db",
        ADVISORY_DB,
        advisory_db(&setup.advisory_db, setup.advisory_db_max_age_days, today),
    ));
    controls
}

/// One control per configured key; none configured is itself a failure: nothing shows the
/// keys are rotated.
fn key_rotation(keys: &[KeySpec], today: NaiveDate) -> Vec<Control> {
    if keys.is_empty() {
        return vec![Control::new(
            "key_rotation",
            KEY_ROTATION,
            Err("no key is listed under [[controls.keys]], so no key's age is known".to_string()),
        )];
    }
    keys.iter()
        .map(|key| {
            Control::new(
                format!("key_rotation.{}", key.name),
                KEY_ROTATION,
                key_age(key, today),
            )
        })
        .collect()
}

fn key_age(key: &KeySpec, today: NaiveDate) -> Verdict {
    let age = (today - key.created).num_days();
    let dated = format!("id {} created {}", key.id, key.created);
    if age < 0 {
        return Err(format!("{dated}, a date in the future"));
    }
    let in_env = match &key.in_env {
        KeyInEnv::NotNamed => "the id in use is not checked (no env named)".to_string(),
        KeyInEnv::Unset(var) => return Err(format!("{dated}, but {var} is not set")),
        KeyInEnv::WithoutId(var) => format!("{var} holds a key without an id"),
        KeyInEnv::Id { var, id } if *id == key.id => format!("{var} holds it"),
        KeyInEnv::Id { var, id } => {
            return Err(format!(
                "{dated}, but {var} holds key {id}: the configured id is not the key in use"
            ));
        }
    };
    let period = key.rotate_after_days;
    if age > i64::from(period) {
        Err(format!(
            "{dated}, {age} days old: past its rotation period of {period} days"
        ))
    } else {
        Ok(format!(
            "{dated}, {age} days old (rotate after {period}); {in_env}"
        ))
    }
}

fn retention(history_retention_days: u32) -> Verdict {
    let said = format!(
        "job.history_retention_days = {history_retention_days} (at least {MIN_HISTORY_RETENTION_DAYS})"
    );
    if history_retention_days >= MIN_HISTORY_RETENTION_DAYS {
        Ok(said)
    } else {
        Err(said)
    }
}

/// The store's and every source's link, as `require_verified` judges them.
fn tls(setup: &ControlsSetup) -> Verdict {
    let links = std::iter::once(("store".to_string(), &setup.store_url)).chain(
        setup
            .sources
            .iter()
            .map(|(name, url)| (format!("sources.{name}"), url)),
    );
    let mut held = Vec::new();
    let mut refused = Vec::new();
    for (at, url) in links {
        match url.as_ref().map_err(Clone::clone).and_then(|u| link_of(u)) {
            Ok(Link::File) => held.push(format!("{at} file")),
            Ok(Link::Loopback) => held.push(format!("{at} loopback")),
            Ok(Link::Verified) => held.push(format!("{at} verified TLS")),
            // The refusal names its place already (`store: …`, `sources.x: …`).
            Err(message) if message.starts_with(&at) => refused.push(message),
            Err(message) => refused.push(format!("{at}: {message}")),
        }
    }
    if refused.is_empty() {
        Ok(held.join(", "))
    } else {
        Err(refused.join("; "))
    }
}

/// The audit chain (through the code path of `recon audit verify`) and the last success, both
/// read from the store; a store not reached fails both.
async fn store_controls(setup: &ControlsSetup, now: DateTime<Utc>) -> (Verdict, Verdict) {
    let url = match &setup.store_url {
        Ok(url) => url,
        Err(_) => {
            let why = "the store was not opened: its link is refused (see tls)".to_string();
            return (Err(why.clone()), Err(why));
        }
    };
    // A read-only check creates nothing: opening a missing SQLite file would make a new store.
    if let Some(missing) = missing_sqlite_file(url) {
        let why = format!("the store {} does not exist", missing.display());
        return (Err(why.clone()), Err(why));
    }
    // Read-only: the schema must be current, nothing is migrated (a SELECT-only role will do).
    let store = match Store::open_for(url, SchemaUse::Current).await {
        Ok(store) => store,
        Err(e) => {
            let why = format!("the store was not opened: {e}");
            return (Err(why.clone()), Err(why));
        }
    };
    let store = store
        .with_data_keys(setup.data_keys.clone())
        .with_mask_keys(setup.mask_key.clone());
    let audit = audit_chain(&store, &setup.trusted_keys).await;
    let last = last_success(&store, setup.max_hours_since_success, now).await;
    store.close().await;
    (audit, last)
}

/// The file of a SQLite store URL, when it does not exist.
fn missing_sqlite_file(url: &str) -> Option<std::path::PathBuf> {
    if !url.starts_with("sqlite:") {
        return None;
    }
    let options = sqlx::sqlite::SqliteConnectOptions::from_str(url).ok()?;
    let path = options.get_filename();
    (!path.exists()).then(|| path.to_path_buf())
}

/// The chain verified as `recon audit verify` verifies it: hashes, signatures under the trusted
/// keys, and every row's state against its last entry.
async fn audit_chain(
    store: &Store,
    trusted: &std::collections::BTreeMap<String, String>,
) -> Verdict {
    let v = store
        .verify_audit(1, trusted, None)
        .await
        .map_err(|e| format!("not verified: {e}"))?;
    if v.breaks.is_empty() && v.disagreements.is_empty() && v.unverifiable.is_empty() {
        return Ok(format!("intact: {} entries checked", v.checked));
    }
    let named: Vec<String> = v
        .breaks
        .iter()
        .map(|b| format!("entry {}: {}", b.seq, b.problem))
        .chain(v.disagreements.iter().cloned())
        .chain(v.unverifiable.iter().cloned())
        .collect();
    // Nothing found changed, yet not all could be checked (a mask key not given): not intact.
    let verdict = match v.breaks.is_empty() && v.disagreements.is_empty() {
        true => "NOT VERIFIED",
        false => "BROKEN",
    };
    Err(format!(
        "{verdict}: {} problem(s) in {} entries checked: {}",
        named.len(),
        v.checked,
        named.join("; ")
    ))
}

async fn last_success(store: &Store, max_hours: u32, now: DateTime<Utc>) -> Verdict {
    let finished = store
        .last_successful_finish()
        .await
        .map_err(|e| format!("not read: {e}"))?
        .ok_or_else(|| "no run has completed in this store".to_string())?;
    let hours = (now - finished).num_hours();
    let said = format!("the last completed run finished {hours} h ago (at most {max_hours} h)");
    if hours <= i64::from(max_hours) {
        Ok(said)
    } else {
        Err(said)
    }
}

/// The snapshot's date is the `SNAPSHOT_DATE="<RFC 3339>"` line of `<db>/materialize`: the
/// date `cargo deny` is given for it.
fn advisory_db(db: &Path, max_age_days: u32, today: NaiveDate) -> Verdict {
    let script = db.join("materialize");
    let text = std::fs::read_to_string(&script)
        .map_err(|e| format!("no advisory database at {}: {e}", script.display()))?;
    let taken = snapshot_date(&text).ok_or_else(|| {
        format!(
            "{} names no SNAPSHOT_DATE=\"<RFC 3339 time>\"",
            script.display()
        )
    })?;
    let age = (today - taken).num_days();
    let said = format!("snapshot of {taken}, {age} days old (at most {max_age_days})");
    if (0..=i64::from(max_age_days)).contains(&age) {
        Ok(said)
    } else {
        Err(said)
    }
}

fn snapshot_date(script: &str) -> Option<NaiveDate> {
    script.lines().find_map(|line| {
        let value = line.trim().strip_prefix("SNAPSHOT_DATE=")?;
        let value = value.split_whitespace().next()?.trim_matches('"');
        DateTime::parse_from_rfc3339(value)
            .ok()
            .map(|at| at.date_naive())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(text: &str) -> NaiveDate {
        text.parse().unwrap()
    }

    fn key(in_env: KeyInEnv) -> KeySpec {
        KeySpec {
            name: "mask".to_string(),
            id: "k1".to_string(),
            created: date("2026-01-01"),
            rotate_after_days: 365,
            in_env,
        }
    }

    #[test]
    fn a_key_holds_through_its_period_and_fails_the_day_after() {
        assert_eq!(
            key_age(&key(KeyInEnv::NotNamed), date("2027-01-01")),
            Ok("id k1 created 2026-01-01, 365 days old (rotate after 365); the id in use is not checked (no env named)".to_string())
        );
        assert_eq!(
            key_age(&key(KeyInEnv::NotNamed), date("2027-01-02")),
            Err(
                "id k1 created 2026-01-01, 366 days old: past its rotation period of 365 days"
                    .to_string()
            )
        );
        assert_eq!(
            key_age(&key(KeyInEnv::NotNamed), date("2025-12-31")),
            Err("id k1 created 2026-01-01, a date in the future".to_string())
        );
    }

    #[test]
    fn a_key_whose_id_is_not_the_one_in_the_environment_fails() {
        let day = date("2026-02-01");
        let held = KeyInEnv::Id {
            var: "RECON_MASK_KEY".to_string(),
            id: "k1".to_string(),
        };
        assert_eq!(
            key_age(&key(held), day),
            Ok(
                "id k1 created 2026-01-01, 31 days old (rotate after 365); RECON_MASK_KEY holds it"
                    .to_string()
            )
        );
        let other = KeyInEnv::Id {
            var: "RECON_MASK_KEY".to_string(),
            id: "k2".to_string(),
        };
        assert_eq!(
            key_age(&key(other), day),
            Err("id k1 created 2026-01-01, but RECON_MASK_KEY holds key k2: the configured id is not the key in use".to_string())
        );
        assert_eq!(
            key_age(&key(KeyInEnv::Unset("RECON_MASK_KEY".to_string())), day),
            Err("id k1 created 2026-01-01, but RECON_MASK_KEY is not set".to_string())
        );
    }

    #[test]
    fn the_snapshot_date_is_read_from_the_materialize_script() {
        let script = "set -e\nSNAPSHOT_DATE=\"2026-08-21T08:28:40+02:00\"   # commit bf5c0d2\n";
        assert_eq!(snapshot_date(script), Some(date("2026-08-21")));
        assert_eq!(snapshot_date("SNAPSHOT_DATE=\"yesterday\"\n"), None);
        assert_eq!(snapshot_date("echo hi\n"), None);
    }

    fn setup(store_url: std::result::Result<String, String>) -> ControlsSetup {
        ControlsSetup {
            store_url,
            sources: vec![
                (
                    "ledger".to_string(),
                    Ok("postgres://r@db.internal/ledger?sslmode=verify-full".to_string()),
                ),
                (
                    "payments".to_string(),
                    Ok("mysql://r@127.0.0.1/pay".to_string()),
                ),
            ],
            history_retention_days: 400,
            keys: Vec::new(),
            max_hours_since_success: 26,
            advisory_db: std::path::PathBuf::from("/nonexistent/advisory-db"),
            advisory_db_max_age_days: 30,
            trusted_keys: std::collections::BTreeMap::new(),
            data_keys: None,
            mask_key: None,
        }
    }

    #[test]
    fn tls_names_how_each_link_is_protected_or_why_it_is_refused() {
        assert_eq!(
            tls(&setup(Ok("sqlite://s.db".to_string()))),
            Ok("store file, sources.ledger verified TLS, sources.payments loopback".to_string())
        );
        assert_eq!(
            tls(&setup(Err(
                "store: the server db is not loopback".to_string()
            ))),
            Err("store: the server db is not loopback".to_string())
        );
    }

    #[tokio::test]
    async fn a_store_whose_link_is_refused_is_not_opened_and_fails_what_it_holds() {
        let refused = setup(Err("store: the server db is not loopback".to_string()));
        let controls = check_all(&refused, Utc::now()).await;
        let failing: Vec<(&str, &str)> = controls
            .iter()
            .filter(|c| !c.holds())
            .map(|c| (c.name.as_str(), c.detail.as_str()))
            .collect();
        let not_opened = "the store was not opened: its link is refused (see tls)";
        assert_eq!(
            failing,
            [
                (
                    "key_rotation",
                    "no key is listed under [[controls.keys]], so no key's age is known"
                ),
                ("tls", "store: the server db is not loopback"),
                ("audit_chain", not_opened),
                ("last_success", not_opened),
                (
                    "advisory_db",
                    "no advisory database at /nonexistent/advisory-db/materialize: No such file or directory (os error 2)"
                ),
            ]
        );
    }

    #[tokio::test]
    async fn a_missing_sqlite_store_is_not_created() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.db");
        let absent = setup(Ok(format!("sqlite://{}", path.display())));
        let controls = check_all(&absent, Utc::now()).await;
        let why = format!("the store {} does not exist", path.display());
        assert_eq!(controls[3].detail, why);
        assert_eq!(controls[4].detail, why);
        assert_eq!(controls[3].status, Status::Fail);
        assert!(!path.exists());
    }

    #[test]
    fn retention_below_a_year_fails() {
        assert!(retention(365).is_ok());
        assert_eq!(
            retention(30),
            Err("job.history_retention_days = 30 (at least 365)".to_string())
        );
    }
}
