//! The `[controls]` section, and what `recon controls check` reads of the file: every link's
//! verdict instead of a refusal at load, so a plaintext URL is a failing control, not exit 2.

use std::path::{Path, PathBuf};

use chrono::NaiveDate;
use serde::Deserialize;

use super::{ConfigFile, folder_of, missing_variables, resolve_url, store_url, verified_url};
use crate::error::{Error, Result};
use crate::secret::EnvLookup;

/// `[controls]` as written.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ControlsFile {
    /// Every key recon uses, with its id and when it was made (`[[controls.keys]]`).
    #[serde(default)]
    pub(crate) keys: Vec<KeyFile>,
    /// Longest time since the last successful run before the control fails (default 26 hours:
    /// a nightly, with two hours' grace).
    pub(crate) max_hours_since_success: Option<u32>,
    /// The offline advisory database (the folder holding `materialize`); relative: to the
    /// working directory. Default `../shared/advisory-db`.
    pub(crate) advisory_db: Option<PathBuf>,
    /// Oldest the advisory database's snapshot may be, in days (default 30).
    pub(crate) advisory_db_max_age_days: Option<u32>,
}

/// One `[[controls.keys]]` entry.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct KeyFile {
    /// What the key is for: `mask`, `data`, `audit`, …
    pub(crate) name: String,
    /// The key's id, as its holder writes it before the key (`<id>:<key>`).
    pub(crate) id: String,
    /// The day the key was made, `YYYY-MM-DD`.
    pub(crate) created: String,
    /// Its rotation period, in days.
    pub(crate) rotate_after_days: u32,
    /// The environment variable holding `<id>:<key>`, when its id is to be compared with `id`.
    pub(crate) env: Option<String>,
}

const DEFAULT_MAX_HOURS_SINCE_SUCCESS: u32 = 26;
const DEFAULT_ADVISORY_DB: &str = "../shared/advisory-db";
const DEFAULT_ADVISORY_DB_MAX_AGE_DAYS: u32 = 30;

/// What the controls are checked against.
#[derive(Debug, Clone)]
pub struct ControlsSetup {
    /// The store's URL when its link passes the TLS rule (it is then opened), else why not.
    pub(crate) store_url: std::result::Result<String, String>,
    /// Each source's name and its link's verdict: the URL, or why it is refused.
    pub(crate) sources: Vec<(String, std::result::Result<String, String>)>,
    pub(crate) history_retention_days: u32,
    pub(crate) keys: Vec<KeySpec>,
    pub(crate) max_hours_since_success: u32,
    pub(crate) advisory_db: PathBuf,
    pub(crate) advisory_db_max_age_days: u32,
    /// `[audit] trusted_keys`: the public keys the chain's signatures are checked with.
    pub(crate) trusted_keys: std::collections::BTreeMap<String, String>,
    /// The data keys, so the chain's state digests are compared over decrypted values.
    pub(crate) data_keys: Option<crate::at_rest::DataKeys>,
    /// The mask key, so the chain's keyed state digests are checked.
    pub(crate) mask_key: Option<crate::mask::MaskKey>,
}

/// A key to check, validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct KeySpec {
    pub(crate) name: String,
    pub(crate) id: String,
    pub(crate) created: NaiveDate,
    pub(crate) rotate_after_days: u32,
    pub(crate) in_env: KeyInEnv,
}

/// What the environment says of a key's id: the seam where a key holder's own id parsing
/// (mask key ids, data key ids) plugs in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum KeyInEnv {
    /// No `env` given: the id in use cannot be known here.
    NotNamed,
    /// The variable is not set.
    Unset(String),
    /// The variable holds no `<id>:` prefix.
    WithoutId(String),
    /// The id before the first `:` (the key after it is never kept).
    Id { var: String, id: String },
}

impl super::Config {
    /// Reads what `recon controls check` needs: a file that does not parse, a variable not set
    /// or a bad `[controls]` entry is bad input (exit 2); a link that would be refused is not.
    pub fn load_controls(path: &Path, env: EnvLookup<'_>) -> Result<ControlsSetup> {
        let text = super::read_text(path)?;
        let file = super::parse_file(path, &text)?;
        let fail = |msg: String| Error::bad_input(format!("{}: {msg}", path.display()));
        let missing = missing_variables(&file, env);
        if !missing.is_empty() {
            return Err(fail(format!(
                "not set in the environment: {}",
                missing.join(", ")
            )));
        }
        let controls = file.controls.clone().unwrap_or_default();
        let keys = controls
            .keys
            .iter()
            .enumerate()
            .map(|(i, key)| {
                key_spec(key, env).map_err(|m| fail(format!("controls.keys[{i}]: {m}")))
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(ControlsSetup {
            store_url: store_url(path, &file, env),
            sources: source_links(&file, &folder_of(path), env),
            history_retention_days: file.job.history_retention_days,
            keys,
            max_hours_since_success: controls
                .max_hours_since_success
                .unwrap_or(DEFAULT_MAX_HOURS_SINCE_SUCCESS),
            advisory_db: controls
                .advisory_db
                .unwrap_or_else(|| PathBuf::from(DEFAULT_ADVISORY_DB)),
            advisory_db_max_age_days: controls
                .advisory_db_max_age_days
                .unwrap_or(DEFAULT_ADVISORY_DB_MAX_AGE_DAYS),
            trusted_keys: file.audit.trusted_keys().map_err(&fail)?,
            data_keys: super::data_keys(&file, env).map_err(&fail)?,
            mask_key: super::mask_key_when(&file, env, false).map_err(&fail)?,
        })
    }
}

fn source_links(
    file: &ConfigFile,
    dir: &Path,
    env: EnvLookup<'_>,
) -> Vec<(String, std::result::Result<String, String>)> {
    file.sources
        .iter()
        .map(|(name, source)| {
            let at = format!("sources.{name}");
            let url = resolve_url(&at, source.url.as_deref(), source.url_env.as_deref(), env)
                .and_then(|url| verified_url(&at, url, source.tls_ca_file.as_deref(), dir));
            (name.clone(), url)
        })
        .collect()
}

fn key_spec(key: &KeyFile, env: EnvLookup<'_>) -> std::result::Result<KeySpec, String> {
    if key.name.trim().is_empty() || key.id.trim().is_empty() {
        return Err("name and id must not be empty".to_string());
    }
    let created = NaiveDate::parse_from_str(&key.created, "%Y-%m-%d")
        .map_err(|e| format!("created {:?} is not a date YYYY-MM-DD: {e}", key.created))?;
    if key.rotate_after_days == 0 {
        return Err("rotate_after_days must be at least 1".to_string());
    }
    let in_env = match &key.env {
        None => KeyInEnv::NotNamed,
        Some(var) => match env(var) {
            None => KeyInEnv::Unset(var.clone()),
            Some(value) => match value.split_once(':') {
                Some((id, _)) if !id.is_empty() => KeyInEnv::Id {
                    var: var.clone(),
                    id: id.to_string(),
                },
                _ => KeyInEnv::WithoutId(var.clone()),
            },
        },
    };
    Ok(KeySpec {
        name: key.name.clone(),
        id: key.id.clone(),
        created,
        rotate_after_days: key.rotate_after_days,
        in_env,
    })
}
