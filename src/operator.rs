//! The operator's commands on the store: list and acknowledge discrepancies, verify and export
//! the audit trail.

use std::io::Write;

use chrono::{DateTime, Utc};

use crate::cli::{
    AckArgs, ExportArgs, FilterArgs, HistoryArgs, KeygenArgs, ListArgs, RewrapArgs, VerifyArgs,
};
use crate::config::Config;
use crate::discrepancy::Status;
use crate::error::{Error, Result};
use crate::exit::Exit;
use crate::output::DiscrepancyEntry;
use crate::secret::process_env;
use crate::store::{AckRequest, DiscrepancyFilter, ListedDiscrepancy, SchemaUse, Store, os_user};

/// Opens the store without touching its schema: these commands never migrate, and the
/// read-only ones work under a SELECT-only role. One that `writes` audit entries needs the mask
/// key whenever a run does (the state they bind is digested under it); the others use it when set.
async fn open_store(config: &std::path::Path, writes: bool) -> Result<Store> {
    let access = Config::load_store_access(config, &process_env, writes)?;
    Ok(Store::open_for(&access.url, SchemaUse::Current)
        .await?
        .with_data_keys(access.data_keys)
        .with_mask_keys(access.mask_key))
}

fn write_err(e: std::io::Error) -> Error {
    Error::internal(format!("writing output: {e}"))
}

/// The store's filter for what `filter` asks, `--older-than` counted back from `now`.
fn store_filter(filter: &FilterArgs, now: DateTime<Utc>) -> DiscrepancyFilter {
    DiscrepancyFilter {
        open_only: filter.open,
        date: filter.date,
        check: filter.check.clone(),
        kinds: filter.kind.clone(),
        statuses: filter.status.clone(),
        from: filter.from,
        to: filter.to,
        first_seen_by: filter
            .older_than
            .map(|days| now - chrono::Duration::days(i64::from(days))),
        ids: Vec::new(),
    }
}

/// An error naming the known checks when `--check` names one neither the configuration nor the
/// store knows (a typo would otherwise list nothing and look clean).
async fn ensure_known_check(
    store: &Store,
    config: &std::path::Path,
    filter: &FilterArgs,
) -> Result<()> {
    let Some(check) = &filter.check else {
        return Ok(());
    };
    let mut known = Config::load_check_names(config)?;
    known.extend(store.known_checks().await?);
    known.sort();
    known.dedup();
    if known.contains(check) {
        return Ok(());
    }
    Err(Error::bad_input(format!(
        "no check {check:?} in the configuration or the store; the checks are: {}",
        match known.is_empty() {
            true => "none yet".to_string(),
            false => known.join(", "),
        }
    )))
}

/// The discrepancies `filter` takes, the check it names verified first.
async fn listed(
    store: &Store,
    config: &std::path::Path,
    filter: &FilterArgs,
    now: DateTime<Utc>,
) -> Result<Vec<ListedDiscrepancy>> {
    ensure_known_check(store, config, filter).await?;
    store.list_discrepancies(&store_filter(filter, now)).await
}

/// A finding's status as people read it: `new` for one first seen by its latest run.
fn status_word(status: Status) -> &'static str {
    match status {
        Status::Open => "new",
        other => other.as_str(),
    }
}

/// Whole days since it was first seen.
fn age_days(listed: &ListedDiscrepancy, now: DateTime<Utc>) -> i64 {
    (now - listed.first_seen_at).num_days().max(0)
}

/// The finding as the run's summary shows it (one description for both).
fn entry(l: &ListedDiscrepancy) -> DiscrepancyEntry {
    DiscrepancyEntry::new(&l.recorded, l.acknowledgements.last(), l.reopened)
}

/// `acknowledged (write-off) by ana through 2026-12-31: note`, or why it no longer holds;
/// `None` for a finding never acknowledged.
fn acknowledgement_line(l: &ListedDiscrepancy) -> Option<String> {
    let last = l.acknowledgements.last()?;
    let reason = last
        .reason
        .map(|r| format!(" ({})", r.as_str()))
        .unwrap_or_default();
    let until = l
        .ack_until
        .map(|until| format!(" through {until}"))
        .unwrap_or_default();
    let made = format!("{reason} by {}{until}: {}", last.actor, last.note);
    Some(match (l.recorded.status, l.reopened) {
        (Status::Acknowledged, _) => format!("acknowledged{made}"),
        (status, Some(why)) if status.needs_someone() => {
            format!("reopened ({}): was acknowledged{made}", why.as_str())
        }
        _ => format!("was acknowledged{made}"),
    })
}

/// `recon discrepancies list`
pub async fn list(args: &ListArgs, out: &mut dyn Write) -> Result<Exit> {
    let store = open_store(&args.config.config, false).await?;
    let now = Utc::now();
    let found = listed(&store, &args.config.config, &args.filter, now).await;
    store.close().await;
    let found = found?;
    if !args.json {
        writeln!(
            out,
            "{:>6}  {:<20} {:<10} {:<17} {:<12} {:>4} {:>16}  {:<20} WHAT",
            "ID", "CHECK", "PARTITION", "KIND", "STATUS", "AGE", "AT STAKE", "KEY"
        )
        .map_err(write_err)?;
    }
    for l in &found {
        let d = &l.recorded.discrepancy;
        let shown = entry(l);
        let ack = acknowledgement_line(l);
        if args.json {
            let line = serde_json::json!({
                "id": l.recorded.id,
                "check": d.check,
                "partition": d.partition,
                "kind": d.kind.as_str(),
                "status": l.recorded.status.as_str(),
                "key": d.key_json(),
                "columns": d.columns,
                "values": d.values,
                "detail": d.detail,
                "what": shown.what_differs(),
                "at_stake": d.at_stake.as_ref().map(|s| serde_json::json!({
                    "minor": s.minor.to_string(),
                    "currency": s.currency,
                    "amount": s.shown(),
                })),
                "age_days": age_days(l, now),
                "first_seen_at": l.first_seen_at,
                "first_seen_run": l.recorded.first_run_id,
                "last_seen_run": l.last_run_id,
                "ack_note": l.ack_note,
                "ack_actor": l.ack_actor,
                "ack_reason": l.acknowledgements.last().and_then(|a| a.reason).map(|r| r.as_str()),
                "ack_until": l.ack_until,
                "reopened": l.reopened.map(|r| r.as_str()),
                "acknowledgements": l.acknowledgements,
            });
            writeln!(out, "{line}").map_err(write_err)?;
        } else {
            let stake = d.at_stake.as_ref().map_or("-".to_string(), |s| s.shown());
            writeln!(
                out,
                "{:>6}  {:<20} {:<10} {:<17} {:<12} {:>3}d {:>16}  {:<20} {}",
                l.recorded.id,
                d.check,
                d.partition.to_string(),
                d.kind.as_str(),
                status_word(l.recorded.status),
                age_days(l, now),
                stake,
                shown.key_text(),
                shown.what_differs()
            )
            .map_err(write_err)?;
            if let Some(ack) = ack {
                writeln!(out, "{:>8}{ack}", "").map_err(write_err)?;
            }
        }
    }
    if !args.json && found.is_empty() {
        writeln!(out, "no discrepancy matches").map_err(write_err)?;
    }
    Ok(Exit::Clean)
}

/// `recon discrepancies history`
pub async fn history(args: &HistoryArgs, out: &mut dyn Write) -> Result<Exit> {
    let store = open_store(&args.config.config, false).await?;
    let history = store.finding_history(args.id).await;
    store.close().await;
    let history = history?;
    let l = &history.finding;
    let d = &l.recorded.discrepancy;
    let shown = entry(l);
    if args.json {
        let line = serde_json::json!({
            "id": l.recorded.id,
            "check": d.check,
            "partition": d.partition,
            "kind": d.kind.as_str(),
            "status": l.recorded.status.as_str(),
            "key": d.key_json(),
            "what": shown.what_differs(),
            "values": d.values,
            "at_stake": d.at_stake.as_ref().map(|s| s.shown()),
            "steps": history.steps,
        });
        writeln!(out, "{line}").map_err(write_err)?;
        return Ok(Exit::Clean);
    }
    writeln!(
        out,
        "discrepancy {} · {} · {} · {} · {}",
        l.recorded.id,
        d.check,
        d.kind.as_str(),
        d.partition,
        shown.key_text()
    )
    .map_err(write_err)?;
    writeln!(out, "  what (as last seen): {}", shown.what_differs()).map_err(write_err)?;
    if let Some(stake) = &d.at_stake {
        writeln!(out, "  at stake: {}", stake.shown()).map_err(write_err)?;
    }
    let now = acknowledgement_line(l).unwrap_or_default();
    writeln!(
        out,
        "  status now: {}{}",
        status_word(l.recorded.status),
        match now.is_empty() {
            true => String::new(),
            false => format!(" · {now}"),
        }
    )
    .map_err(write_err)?;
    writeln!(out, "{:<10}  {:>6}  {:<12}  EVENT", "DATE", "RUN", "STATUS").map_err(write_err)?;
    for step in &history.steps {
        writeln!(
            out,
            "{:<10}  {:>6}  {:<12}  {}",
            step.business_date
                .map_or_else(|| step.at.format("%Y-%m-%d").to_string(), |d| d.to_string()),
            step.run_id.map_or("-".to_string(), |r| r.to_string()),
            step.status,
            step.event.as_deref().unwrap_or("")
        )
        .map_err(write_err)?;
    }
    Ok(Exit::Clean)
}

/// `recon discrepancies ack`: the ids given, or every one the filter takes (those needing
/// someone unless `--status` says otherwise), all acknowledged in one transaction or none.
pub async fn ack(args: &AckArgs, out: &mut dyn Write) -> Result<Exit> {
    let now = Utc::now();
    let today = now.date_naive();
    if let Some(until) = args.until.filter(|until| *until < today) {
        return Err(Error::bad_input(format!(
            "--until {until} has passed (today is {today} UTC); give the last day the acknowledgement should hold"
        )));
    }
    match (args.ids.is_empty(), args.filter.any()) {
        (true, false) => {
            return Err(Error::bad_input(
                "give the ids to acknowledge, or a filter (--check, --kind, --date, --from/--to, --status, --older-than, --open)",
            ));
        }
        (false, true) => {
            return Err(Error::bad_input("give either ids or a filter, not both"));
        }
        _ => {}
    }
    let store = open_store(&args.config.config, true).await?;
    let acknowledged = acknowledge(&store, args, now).await;
    store.close().await;
    let (recorded, actor) = acknowledged?;
    let until = args
        .until
        .map(|until| format!(" through {until}"))
        .unwrap_or_default();
    for r in &recorded {
        writeln!(
            out,
            "discrepancy {} ({} {} {}) acknowledged ({}) by {actor}{until}",
            r.id,
            r.discrepancy.check,
            r.discrepancy.kind.as_str(),
            r.discrepancy.key_display(),
            args.reason.as_str()
        )
        .map_err(write_err)?;
    }
    if recorded.len() > 1 {
        writeln!(out, "{} discrepancies acknowledged", recorded.len()).map_err(write_err)?;
    }
    Ok(Exit::Clean)
}

/// The acknowledgement `args` asks for, on `store`.
async fn acknowledge(
    store: &Store,
    args: &AckArgs,
    now: DateTime<Utc>,
) -> Result<(Vec<crate::discrepancy::Recorded>, String)> {
    let ids = match args.ids.is_empty() {
        false => args.ids.clone(),
        true => {
            let mut filter = store_filter(&args.filter, now);
            if filter.statuses.is_empty() {
                filter.statuses = vec![Status::Open, Status::Carried];
            }
            ensure_known_check(store, &args.config.config, &args.filter).await?;
            let ids: Vec<i64> = store
                .list_discrepancies(&filter)
                .await?
                .iter()
                .map(|l| l.recorded.id)
                .collect();
            if ids.is_empty() {
                return Err(Error::bad_input(
                    "no discrepancy matches the filter: nothing acknowledged",
                ));
            }
            ids
        }
    };
    // The flag, else RECON_ACTOR (clap reads both); the store decides what it is worth.
    let claimed = args
        .actor
        .as_deref()
        .map(str::trim)
        .filter(|a| !a.is_empty());
    let request = AckRequest {
        note: &args.note,
        reason: Some(args.reason),
        claimed,
        until: args.until,
    };
    store.acknowledge_all(&ids, &request).await
}

/// `recon audit verify`: exit 0 when the chain is intact, every signature verifies under the
/// config's trusted keys, the kept head (`--expect-head`) is still there and every discrepancy
/// and seal agrees with its last entry; 1 naming each problem.
pub async fn verify(args: &VerifyArgs, out: &mut dyn Write) -> Result<Exit> {
    let trusted = Config::load_trusted_keys(&args.config.config)?;
    let store = open_store(&args.config.config, false).await?;
    let verification = store
        .verify_audit(args.from, &trusted, args.expect_head.clone())
        .await;
    store.close().await;
    let v = verification?;
    if let Some((first, last)) = v.unsigned_before {
        let entries = match first == last {
            true => format!("entry {first}"),
            false => format!("entries {first}-{last}"),
        };
        writeln!(out, "{entries}: unsigned (written before signatures)").map_err(write_err)?;
    }
    for b in &v.breaks {
        writeln!(out, "entry {}: {}", b.seq, b.problem).map_err(write_err)?;
    }
    for d in &v.disagreements {
        writeln!(out, "{d}").map_err(write_err)?;
    }
    if v.not_compared > 0 {
        writeln!(
            out,
            "{} discrepancies' values not compared: encrypted at rest and no data key configured",
            v.not_compared
        )
        .map_err(write_err)?;
    }
    for u in &v.unverifiable {
        writeln!(out, "{u}").map_err(write_err)?;
    }
    if v.breaks.is_empty() && v.disagreements.is_empty() && v.unverifiable.is_empty() {
        let signed = match &v.head_signature {
            Some((key_id, _)) => format!(" signed by {key_id}"),
            None => " unsigned".to_string(),
        };
        writeln!(
            out,
            "audit chain intact: {} entries checked; head {} {}{signed}",
            v.checked, v.head_seq, v.head_hash
        )
        .map_err(write_err)?;
        Ok(Exit::Clean)
    } else if v.breaks.is_empty() && v.disagreements.is_empty() {
        // Nothing found changed, yet not everything could be checked: not "intact".
        writeln!(
            out,
            "audit chain NOT VERIFIED: {} row(s) whose state is digested under a mask key not given, in {} entries checked (give a retired key as the mask key's {} variable)",
            v.unverifiable.len(),
            v.checked,
            crate::mask::PREVIOUS_KEY_SUFFIX,
        )
        .map_err(write_err)?;
        Ok(Exit::Discrepancies)
    } else {
        let rows = match v.disagreements.len() {
            0 => String::new(),
            n => format!("; {n} row(s) unlike the chain"),
        };
        let unverifiable = match v.unverifiable.len() {
            0 => String::new(),
            n => format!("; {n} row(s) not verifiable without their mask key"),
        };
        writeln!(
            out,
            "audit chain BROKEN: {} problem(s) in {} entries checked{rows}{unverifiable}",
            v.breaks.len(),
            v.checked,
        )
        .map_err(write_err)?;
        Ok(Exit::Discrepancies)
    }
}

/// `recon audit keygen`: a new key pair. The private key goes to a new 0600 file, or to stdout
/// once with a warning; it is never logged.
pub fn keygen(args: &KeygenArgs, out: &mut dyn Write) -> Result<Exit> {
    let (private, public) = crate::audit_key::generate(&args.key_id).map_err(Error::bad_input)?;
    let env = crate::audit_key::SIGNING_KEY_ENV;
    match &args.out {
        Some(path) => {
            let mut file = crate::private_fs::create_file(path)
                .map_err(|e| Error::bad_input(format!("cannot write {}: {e}", path.display())))?;
            writeln!(file, "{private}").map_err(write_err)?;
            writeln!(
                out,
                "private key written to {} (mode 0600): give its content to the writer as {env}",
                path.display()
            )
            .map_err(write_err)?;
        }
        None => {
            writeln!(out, "# PRIVATE: shown once, never stored by recon; give it to this writer only, as {env}").map_err(write_err)?;
            writeln!(out, "{env}={private}").map_err(write_err)?;
        }
    }
    writeln!(out, "# public: add to the config of every verifier").map_err(write_err)?;
    writeln!(out, "[audit.trusted_keys]\n{:?} = {public:?}", args.key_id).map_err(write_err)?;
    Ok(Exit::Clean)
}

/// `recon audit export`
pub async fn export(args: &ExportArgs, out: &mut dyn Write) -> Result<Exit> {
    let store = open_store(&args.config.config, false).await?;
    let written = match &args.out {
        Some(path) => {
            let file = crate::private_fs::create_file(path)
                .map_err(|e| Error::bad_input(format!("cannot write {}: {e}", path.display())))?;
            let mut file = std::io::BufWriter::new(file);
            let n = store.export_audit(&mut file).await;
            file.flush().map_err(write_err)?;
            n
        }
        None => store.export_audit(out).await,
    };
    store.close().await;
    let written = written?;
    if args.out.is_some() {
        writeln!(out, "{written} audit entries written").map_err(write_err)?;
    }
    Ok(Exit::Clean)
}

/// `recon keys rewrap`: everything kept re-encrypted under the current data key, counted per
/// kind; run again, it moves nothing.
pub async fn rewrap(args: &RewrapArgs, out: &mut dyn Write) -> Result<Exit> {
    let config = Config::load(&args.config.config, &process_env)?;
    let keys = config.data_keys.clone().ok_or_else(|| {
        Error::bad_input(format!(
            "no data key is configured: set {} to `<key id>:<key>` (the key to encrypt under) and, during a rotation, {}{} to the old one",
            config.data_key_env,
            config.data_key_env,
            crate::at_rest::PREVIOUS_SUFFIX
        ))
    })?;
    let actor = args
        .actor
        .clone()
        .filter(|a| !a.trim().is_empty())
        .unwrap_or_else(os_user);
    let store = Store::open_for(&config.store_url, SchemaUse::Current)
        .await?
        .with_data_keys(Some(keys.clone()))
        .with_mask_keys(config.mask_key.clone());
    let moved = async {
        let values = store.rewrap_details(&actor).await?;
        let entries = store.rewrap_synced_entries(&actor).await?;
        Ok::<_, Error>((values, entries))
    }
    .await;
    store.close().await;
    let (values, entries) = moved?;
    let folder = args
        .out
        .clone()
        .unwrap_or_else(|| config.out_dir.clone())
        .join("downloads");
    let downloads = tokio::task::spawn_blocking(move || {
        crate::settlement::fetch::rewrap_downloads(&folder, &keys)
    })
    .await
    .map_err(|e| Error::internal(format!("re-encrypting downloads: {e}")))??;
    writeln!(
        out,
        "re-encrypted under data key {}: {values} discrepancy value(s), {entries} bank entry(ies), {downloads} kept download(s)",
        config.data_keys.as_ref().map_or("", |k| k.current_id())
    )
    .map_err(write_err)?;
    Ok(Exit::Clean)
}
