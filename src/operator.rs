//! The operator's commands on the store: list and acknowledge discrepancies, verify and export
//! the audit trail.

use std::io::Write;

use crate::cli::{AckArgs, ExportArgs, KeygenArgs, ListArgs, RewrapArgs, VerifyArgs};
use crate::config::Config;
use crate::error::{Error, Result};
use crate::exit::Exit;
use crate::secret::process_env;
use crate::store::{DiscrepancyFilter, SchemaUse, Store, os_user};

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

/// `recon discrepancies list`
pub async fn list(args: &ListArgs, out: &mut dyn Write) -> Result<Exit> {
    let store = open_store(&args.config.config, false).await?;
    let filter = DiscrepancyFilter {
        open_only: args.open,
        date: args.date,
        check: args.check.clone(),
    };
    let listed = store.list_discrepancies(&filter).await;
    store.close().await;
    let listed = listed?;
    if !args.json {
        writeln!(
            out,
            "{:>6}  {:<20} {:<10} {:<17} {:<12} {:<24} WHAT",
            "ID", "CHECK", "PARTITION", "KIND", "STATUS", "KEY"
        )
        .map_err(write_err)?;
    }
    for l in &listed {
        let d = &l.recorded.discrepancy;
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
                "first_seen_run": l.recorded.first_run_id,
                "last_seen_run": l.last_run_id,
                "ack_note": l.ack_note,
                "ack_actor": l.ack_actor,
                "acknowledgements": l.acknowledgements,
            });
            writeln!(out, "{line}").map_err(write_err)?;
        } else {
            let notes: Vec<String> = l
                .acknowledgements
                .iter()
                .map(|a| format!("{} ({})", a.note, a.actor))
                .collect();
            let what = match (&l.ack_note, &d.detail) {
                (Some(_), _) => format!("acknowledged: {}", notes.join("; ")),
                (None, Some(detail)) => format!("{}: {detail}", d.columns.join(", ")),
                (None, None) => d.columns.join(", "),
            };
            writeln!(
                out,
                "{:>6}  {:<20} {:<10} {:<17} {:<12} {:<24} {what}",
                l.recorded.id,
                d.check,
                d.partition,
                d.kind.as_str(),
                l.recorded.status.as_str(),
                d.key_display()
            )
            .map_err(write_err)?;
        }
    }
    Ok(Exit::Clean)
}

/// `recon discrepancies ack`
pub async fn ack(args: &AckArgs, out: &mut dyn Write) -> Result<Exit> {
    let today = chrono::Utc::now().date_naive();
    if let Some(until) = args.until.filter(|until| *until < today) {
        return Err(Error::bad_input(format!(
            "--until {until} has passed (today is {today} UTC); give the last day the acknowledgement should hold"
        )));
    }
    let store = open_store(&args.config.config, true).await?;
    // The flag, else RECON_ACTOR (clap reads both); the store decides what it is worth.
    let claimed = args
        .actor
        .as_deref()
        .map(str::trim)
        .filter(|a| !a.is_empty());
    let acknowledged = store
        .acknowledge(args.id, &args.note, claimed, args.until)
        .await;
    store.close().await;
    let (recorded, actor) = acknowledged?;
    let until = args
        .until
        .map(|until| format!(" through {until}"))
        .unwrap_or_default();
    writeln!(
        out,
        "discrepancy {} ({} {} {}) acknowledged by {actor}{until}",
        recorded.id,
        recorded.discrepancy.check,
        recorded.discrepancy.kind.as_str(),
        recorded.discrepancy.key_display()
    )
    .map_err(write_err)?;
    Ok(Exit::Clean)
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
    let values = store.rewrap_details(&actor).await;
    store.close().await;
    let values = values?;
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
        "re-encrypted under data key {}: {values} discrepancy value(s), {downloads} kept download(s)",
        config.data_keys.as_ref().map_or("", |k| k.current_id())
    )
    .map_err(write_err)?;
    Ok(Exit::Clean)
}
