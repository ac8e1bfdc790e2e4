//! Typed configuration: a TOML file plus environment variables, validated before anything connects.
//!
//! Secrets never live in the file: a connection names the environment variable that holds its
//! URL (`url_env`); a literal `url` is accepted only when it carries no password (in its user
//! info or a query parameter such as `?password=`).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use chrono_tz::Tz;
use serde::Deserialize;
use sha2::{Digest, Sha256};

use crate::at_rest::DataKeys;
use crate::breaker::BreakerPolicy;
use crate::error::{Error, Result};
use crate::integrity::spec::IntegritySpec;
use crate::mask::{DEFAULT_MASK_KEY_ENV, MaskKey, PREVIOUS_KEY_SUFFIX};
use crate::retry::RetryPolicy;
use crate::secret::{EnvLookup, PasswordAt, Redacted, redact_urls, url_password};
use crate::settlement::spec::SettlementSpec;
use crate::source::SourceSpec;
use crate::source::{ident, tls};
use crate::store::{STORE_CONNECT_TIMEOUT, StoreAccess};

mod controls;
mod integrity;
mod serve;
mod settlement;

pub use controls::ControlsSetup;
pub(crate) use controls::{KeyInEnv, KeySpec};

pub use serve::{Identity, IpNet, Role, ServeSettings};

pub(crate) use integrity::IntegrityFile;
pub(crate) use settlement::{SettlementFile, format_named};

/// The file as written.
/// No `Debug`: a URL written in the file is refused when it carries a password, and nothing
/// here may print one before that check.
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ConfigFile {
    #[serde(default)]
    pub(crate) job: JobFile,
    #[serde(default)]
    pub(crate) store: Option<ConnectionFile>,
    #[serde(default)]
    pub(crate) sources: BTreeMap<String, SourceFile>,
    #[serde(default)]
    pub(crate) integrity: Vec<IntegrityFile>,
    #[serde(default)]
    pub(crate) settlement: Vec<SettlementFile>,
    /// Mapped CSV formats by name, for `[[settlement]]` checks' `format`.
    #[serde(default)]
    pub(crate) formats: BTreeMap<String, toml::Table>,
    /// What `recon controls check` checks against (`[controls]`); a run ignores it.
    #[serde(default)]
    pub(crate) controls: Option<controls::ControlsFile>,
    #[serde(default)]
    pub(crate) audit: AuditFile,
    /// What `recon serve` listens on and whom it believes (`[serve]`); a run ignores it.
    #[serde(default)]
    pub(crate) serve: Option<serve::ServeFile>,
}

/// `[audit]`: the public keys audit entries are verified with, by key id. A rotated-out key
/// stays here (verify only) so the entries it signed stay verifiable.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct AuditFile {
    #[serde(default)]
    pub(crate) trusted_keys: BTreeMap<String, String>,
}

impl AuditFile {
    /// The trusted keys, each checked to be a base64 Ed25519 public key.
    fn trusted_keys(&self) -> std::result::Result<BTreeMap<String, String>, String> {
        for (id, key) in &self.trusted_keys {
            if !crate::audit_key::is_public_key(key) {
                return Err(format!(
                    "audit.trusted_keys.{id}: not a base64 Ed25519 public key (32 bytes)"
                ));
            }
        }
        Ok(self.trusted_keys.clone())
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct JobFile {
    /// The zone business days are cut in.
    #[serde(default = "default_timezone")]
    pub(crate) timezone: String,
    /// Where reports go when `--out` is not given.
    #[serde(default = "default_out_dir")]
    pub(crate) out_dir: PathBuf,
    /// How syncs are retried, unless a source says otherwise.
    #[serde(default)]
    pub(crate) retry: RetryPolicy,
    /// When an endpoint's circuit breaker opens, and for how long.
    #[serde(default)]
    pub(crate) circuit_breaker: BreakerPolicy,
    /// How many sealed days before the run's date each run re-verifies.
    #[serde(default = "default_seal_lookback")]
    pub(crate) seal_lookback_days: u32,
    /// How many days before the run's date a seal is kept; older seals are pruned (an audit
    /// entry says which). Longer than the look-back, so no day is pruned before it is verified.
    #[serde(default = "default_seal_retention")]
    pub(crate) seal_retention_days: u32,
    /// How many days before the run's date runs (with their check results and syncs) and
    /// resolved discrepancies are kept; older ones are pruned (an audit entry says which),
    /// except what is open, sealed or named by what is kept. At least the seal retention and
    /// [`MIN_HISTORY_RETENTION_DAYS`]; the audit log itself is never pruned.
    #[serde(default = "default_history_retention")]
    pub(crate) history_retention_days: u32,
    /// How many days before the run's date a report kept under `<out>/downloads/` is kept (by
    /// the business date its name starts with); older ones are removed (an audit entry says which).
    #[serde(default = "default_download_retention")]
    pub(crate) download_retention_days: u32,
    /// The most discrepancies one check may record in a run; more fails the check instead.
    #[serde(default = "default_max_discrepancies")]
    pub(crate) max_discrepancies: u64,
    /// The environment variable holding the key sensitive columns are masked with.
    #[serde(default = "default_mask_key_env")]
    pub(crate) mask_key_env: String,
    /// The environment variable holding the key what recon keeps is encrypted under at rest
    /// (`<key id>:<32 bytes, hex or base64>`); `<it>_PREVIOUS` holds the one before a rotation.
    #[serde(default = "default_data_key_env")]
    pub(crate) data_key_env: String,
    /// A writable folder for recon's temporary files (a clean day's seal spool); default
    /// `RECON_TEMP_DIR`, else the OS temp dir (see [`resolve_temp_dir`]).
    #[serde(default)]
    pub(crate) temp_dir: Option<PathBuf>,
}

fn default_mask_key_env() -> String {
    DEFAULT_MASK_KEY_ENV.to_string()
}

fn default_data_key_env() -> String {
    crate::at_rest::DEFAULT_DATA_KEY_ENV.to_string()
}

fn default_max_discrepancies() -> u64 {
    100_000
}

fn default_seal_lookback() -> u32 {
    7
}

fn default_seal_retention() -> u32 {
    90
}

/// The shortest run history recon accepts: PCI DSS 10.5.1 keeps audit history at least 12
/// months, and a run's history (its runs, results, syncs) is what its audit entries refer to.
pub(crate) const MIN_HISTORY_RETENTION_DAYS: u32 = 365;

/// Thirteen months: a year's audit with a month to spare.
fn default_history_retention() -> u32 {
    400
}

/// A month: the processor keeps its reports; recon's copies hold customer data.
fn default_download_retention() -> u32 {
    30
}

impl Default for JobFile {
    fn default() -> Self {
        JobFile {
            timezone: default_timezone(),
            out_dir: default_out_dir(),
            retry: RetryPolicy::default(),
            circuit_breaker: BreakerPolicy::default(),
            seal_lookback_days: default_seal_lookback(),
            seal_retention_days: default_seal_retention(),
            history_retention_days: default_history_retention(),
            download_retention_days: default_download_retention(),
            max_discrepancies: default_max_discrepancies(),
            mask_key_env: default_mask_key_env(),
            data_key_env: default_data_key_env(),
            temp_dir: None,
        }
    }
}

fn default_timezone() -> String {
    "UTC".to_string()
}

fn default_out_dir() -> PathBuf {
    PathBuf::from("recon-out")
}

/// No `Debug` (see [`ConfigFile`]).
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ConnectionFile {
    pub(crate) url: Option<String>,
    pub(crate) url_env: Option<String>,
    /// How reaching the store is retried when it cannot be reached (default: `[job.retry]`).
    pub(crate) retry: Option<RetryPolicy>,
    /// Longest one attempt waits for a connection to the store, in seconds (default 30).
    pub(crate) connect_timeout_secs: Option<u64>,
    /// The CA (PEM) the store's certificate must chain to (relative: to the file's folder).
    pub(crate) tls_ca_file: Option<PathBuf>,
}

/// No `Debug` (see [`ConfigFile`]).
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct SourceFile {
    pub(crate) url: Option<String>,
    pub(crate) url_env: Option<String>,
    /// Zone of timestamps stored without one (default UTC).
    #[serde(default = "default_timezone")]
    pub(crate) timezone: String,
    /// Most queries recon runs on this source at once.
    #[serde(default = "default_max_connections")]
    pub(crate) max_connections: u32,
    /// Longest one statement may run, in seconds.
    #[serde(default = "default_statement_timeout")]
    pub(crate) statement_timeout_secs: u64,
    /// Longest one attempt waits for a connection, in seconds (a down server is then retried).
    #[serde(default = "default_connect_timeout")]
    pub(crate) connect_timeout_secs: u64,
    /// How syncs on this source are retried (default: `[job.retry]`).
    pub(crate) retry: Option<RetryPolicy>,
    /// The CA (PEM) the source's certificate must chain to (relative: to the file's folder).
    pub(crate) tls_ca_file: Option<PathBuf>,
}

fn default_max_connections() -> u32 {
    2
}

fn default_statement_timeout() -> u64 {
    600
}

fn default_connect_timeout() -> u64 {
    10
}

/// What `recon serve` reads from the configuration.
pub struct ServeSetup {
    pub store_url: String,
    pub data_keys: Option<DataKeys>,
    /// The mask key acknowledgements' audit entries are digested under, as a run's.
    pub mask_key: Option<MaskKey>,
    /// Where the nights' reports are kept (`<out_dir>/reports/<date>/report.html`).
    pub out_dir: PathBuf,
    pub serve: ServeSettings,
}

/// The configuration after validation, with URLs resolved from the environment; its `Debug`
/// shows URLs with their passwords redacted and never the mask key.
#[derive(Clone)]
pub struct Config {
    /// The file it was read from, for messages.
    pub(crate) path: PathBuf,
    /// The folder the file is in, absolute (canonical when it exists): relative `report`
    /// paths are read from it, and a report inside it is named relative to it.
    pub(crate) dir: PathBuf,
    /// SHA-256 of the file's bytes, recorded with every run.
    pub(crate) digest: String,
    /// The job's zone: business days are cut in it.
    pub(crate) timezone: Tz,
    /// Where reports go unless `--out` says otherwise.
    pub out_dir: PathBuf,
    /// How many days back a run re-verifies sealed days (see `JobFile`).
    pub(crate) seal_lookback_days: u32,
    /// How long seals are kept.
    pub(crate) seal_retention_days: u32,
    /// How long runs and resolved discrepancies are kept.
    pub(crate) history_retention_days: u32,
    /// How long fetched reports are kept under `<out>/downloads/`.
    pub(crate) download_retention_days: u32,
    /// More discrepancies than this in one check fail it (see `JobFile::max_discrepancies`).
    pub(crate) max_discrepancies: u64,
    /// How syncs are retried unless a source says otherwise (`[job.retry]`).
    pub(crate) retry: RetryPolicy,
    /// When an endpoint's circuit breaker opens (`[job.circuit_breaker]`).
    pub(crate) circuit_breaker: BreakerPolicy,
    /// The variable the sensitive columns' mask key was read from (never the key).
    pub(crate) mask_key_env: String,
    /// The mask key, when the variable is set: sensitive columns are masked under it, and a
    /// finding whose key masking hid (a card number) is identified by a digest under it.
    pub(crate) mask_key: Option<MaskKey>,
    /// The variable the data key is read from (never the key).
    pub(crate) data_key_env: String,
    /// The keys what recon keeps is encrypted under at rest; `None` when the variable is unset
    /// (nothing is encrypted, and `config check`, the summary and the log say so).
    pub data_keys: Option<DataKeys>,
    /// Where recon writes its temporary files: `job.temp_dir`, else `RECON_TEMP_DIR`, else the
    /// OS temp dir. A read-only root file system needs a writable volume here.
    pub(crate) temp_dir: PathBuf,
    pub store_url: String,
    /// How a run reaches its store: `[store]`'s retry (`[job.retry]` by default) and connect timeout.
    pub(crate) store_access: StoreAccess,
    pub(crate) sources: BTreeMap<String, SourceSpec>,
    pub(crate) integrity: Vec<IntegritySpec>,
    pub(crate) settlement: Vec<SettlementSpec>,
    /// The settlement checks' bank legs (`[settlement.bank]`), by check name.
    pub(crate) bank_legs: BTreeMap<String, crate::bank::check::BankSpec>,
    /// The `[formats.<name>]` mappings as written (validated with the settlement checks).
    pub(crate) formats: BTreeMap<String, toml::Table>,
    /// `[audit] trusted_keys`: key id → base64 Ed25519 public key.
    pub(crate) audit_trusted_keys: BTreeMap<String, String>,
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("path", &self.path)
            .field("dir", &self.dir)
            .field("digest", &self.digest)
            .field("timezone", &self.timezone)
            .field("out_dir", &self.out_dir)
            .field("seal_lookback_days", &self.seal_lookback_days)
            .field("seal_retention_days", &self.seal_retention_days)
            .field("history_retention_days", &self.history_retention_days)
            .field("max_discrepancies", &self.max_discrepancies)
            .field("retry", &self.retry)
            .field("circuit_breaker", &self.circuit_breaker)
            .field("mask_key_env", &self.mask_key_env)
            .field("mask_key", &self.mask_key)
            .field("data_key_env", &self.data_key_env)
            .field("data_keys", &self.data_keys)
            .field("temp_dir", &self.temp_dir)
            .field("store_url", &Redacted(&self.store_url))
            .field("store_access", &self.store_access)
            .field("sources", &self.sources)
            .field("integrity", &self.integrity)
            .field("settlement", &self.settlement)
            .field("formats", &self.formats.keys().collect::<Vec<_>>())
            .field("audit_trusted_keys", &self.audit_trusted_keys)
            .finish()
    }
}

pub(crate) const DEFAULT_STORE_URL: &str = "sqlite://recon-store.db";

impl Config {
    /// Reads, parses and validates the file at `path`.
    pub fn load(path: &Path, env: EnvLookup<'_>) -> Result<Config> {
        Config::parse(path, &read_text(path)?, env)
    }

    /// Parses and validates configuration text; `path` is used in messages.
    pub fn parse(path: &Path, text: &str, env: EnvLookup<'_>) -> Result<Config> {
        let shown = path.display().to_string();
        let file = parse_file(path, text)?;
        let fail = |msg: String| Error::bad_input(format!("{shown}: {msg}"));

        file.job
            .retry
            .validate()
            .map_err(|m| fail(format!("job.retry: {m}")))?;
        let store_access = store_access(&file).map_err(fail)?;
        let audit_trusted_keys = file.audit.trusted_keys().map_err(fail)?;
        if let Some(serve) = &file.serve {
            serve.settings().map_err(fail)?;
        }
        file.job
            .circuit_breaker
            .validate()
            .map_err(|m| fail(format!("job.circuit_breaker: {m}")))?;
        let timezone =
            parse_timezone(&file.job.timezone).map_err(|m| fail(format!("job.timezone: {m}")))?;

        let missing = missing_variables(&file, env);
        if !missing.is_empty() {
            return Err(fail(format!(
                "not set in the environment: {}",
                missing.join(", ")
            )));
        }
        let store_url = store_url(path, &file, env).map_err(fail)?;

        let sources =
            validate_sources(&file.sources, file.job.retry, &folder_of(path), env).map_err(fail)?;
        let mask_key = mask_key(&file, env).map_err(fail)?;
        let data_keys = data_keys(&file, env).map_err(fail)?;

        let mut names = BTreeSet::new();
        let integrity =
            integrity::validate(&file.integrity, &sources, mask_key.clone(), &mut names)
                .map_err(fail)?;
        let source_names = sources.keys().cloned().collect();
        let (mut settlement, bank_legs) =
            settlement::validate(&file.settlement, &file.formats, &source_names, &mut names)
                .map_err(fail)?;
        for (i, check) in settlement.iter_mut().enumerate() {
            if let Some(file) = &check.tls_ca_file {
                let at = format!("settlement[{i}] ({:?})", check.name);
                check.tls_ca_file = Some(ca_file(&at, file, &folder_of(path)).map_err(fail)?);
            }
        }
        if file.job.max_discrepancies == 0 {
            return Err(fail(
                "job.max_discrepancies must be at least 1 (the most discrepancies one check may record)"
                    .to_string(),
            ));
        }
        if file.job.seal_retention_days <= file.job.seal_lookback_days {
            return Err(fail(format!(
                "job.seal_retention_days ({}) must be longer than job.seal_lookback_days ({}): a seal is kept until every run that re-verifies it is past",
                file.job.seal_retention_days, file.job.seal_lookback_days
            )));
        }
        if file.job.history_retention_days < MIN_HISTORY_RETENTION_DAYS {
            return Err(fail(format!(
                "job.history_retention_days ({}) must be at least {MIN_HISTORY_RETENTION_DAYS}: PCI DSS 10.5.1 keeps audit history at least 12 months",
                file.job.history_retention_days
            )));
        }
        if file.job.history_retention_days < file.job.seal_retention_days {
            return Err(fail(format!(
                "job.history_retention_days ({}) must be at least job.seal_retention_days ({}): the run that sealed a day is kept as long as its seal",
                file.job.history_retention_days, file.job.seal_retention_days
            )));
        }
        if file.job.download_retention_days == 0 {
            return Err(fail(
                "job.download_retention_days must be at least 1 (the days a fetched report is kept under <out>/downloads/)"
                    .to_string(),
            ));
        }
        if integrity.is_empty() && settlement.is_empty() {
            return Err(fail(
                "no checks configured: add at least one [[integrity]] table or [[settlement]] report"
                    .to_string(),
            ));
        }

        Ok(Config {
            path: path.to_path_buf(),
            dir: folder_of(path),
            digest: hex::encode(Sha256::digest(text.as_bytes())),
            timezone,
            out_dir: file.job.out_dir,
            seal_lookback_days: file.job.seal_lookback_days,
            seal_retention_days: file.job.seal_retention_days,
            history_retention_days: file.job.history_retention_days,
            download_retention_days: file.job.download_retention_days,
            max_discrepancies: file.job.max_discrepancies,
            retry: file.job.retry,
            circuit_breaker: file.job.circuit_breaker,
            temp_dir: resolve_temp_dir(file.job.temp_dir, env),
            mask_key_env: file.job.mask_key_env,
            mask_key,
            data_key_env: file.job.data_key_env,
            data_keys,
            store_url,
            store_access,
            sources,
            integrity,
            settlement,
            bank_legs,
            formats: file.formats,
            audit_trusted_keys,
        })
    }

    /// What `config check` says of audit signing: the writer key this process signs with and
    /// whether the config trusts it, or plainly that entries will be unsigned. A malformed
    /// key is an error.
    pub fn describe_audit_signing(&self) -> Result<String> {
        let env = crate::audit_key::SIGNING_KEY_ENV;
        let mut out = String::from("\n[audit.trusted_keys]\n");
        for (id, key) in &self.audit_trusted_keys {
            out.push_str(&format!("{id:?} = {key:?}\n"));
        }
        let note = match crate::audit_key::writer().map_err(Error::bad_input)? {
            None => format!(
                "# audit entries will be UNSIGNED: {env} is not set, so the store's own credentials can rewrite the chain undetected\n"
            ),
            Some(key) if self.audit_trusted_keys.get(key.id()) == Some(&key.public_key()) => {
                format!(
                    "# audit entries will be signed with key '{}' (in trusted_keys)\n",
                    key.id()
                )
            }
            Some(key) => format!(
                "# audit entries will be signed with key '{}', which trusted_keys does not hold with this public key: add {:?} = {:?}\n",
                key.id(),
                key.id(),
                key.public_key()
            ),
        };
        out.push_str(&note);
        Ok(out)
    }

    /// Reads only `[audit] trusted_keys`, for `audit verify`.
    pub(crate) fn load_trusted_keys(path: &Path) -> Result<BTreeMap<String, String>> {
        let file = parse_file(path, &read_text(path)?)?;
        file.audit
            .trusted_keys()
            .map_err(|m| Error::bad_input(format!("{}: {m}", path.display())))
    }

    /// Reads only the store's URL, the data keys and the mask key from the file, for the
    /// operator's commands (the sources' variables need not be set).
    /// The mask key is required as a run requires it when the command `writes` audit entries,
    /// else read when set.
    pub(crate) fn load_store_access(
        path: &Path,
        env: EnvLookup<'_>,
        writes: bool,
    ) -> Result<StoreKeys> {
        let file = parse_file(path, &read_text(path)?)?;
        let fail = |m: String| Error::bad_input(format!("{}: {m}", path.display()));
        Ok(StoreKeys {
            url: store_url(path, &file, env).map_err(fail)?,
            data_keys: data_keys(&file, env).map_err(fail)?,
            mask_key: mask_key_when(&file, env, writes && masks_columns(&file)).map_err(fail)?,
        })
    }

    /// Reads only the names of the configured checks (integrity, then settlement), for the
    /// operator's commands (no variable need be set).
    pub(crate) fn load_check_names(path: &Path) -> Result<Vec<String>> {
        let file = parse_file(path, &read_text(path)?)?;
        Ok(file
            .integrity
            .iter()
            .map(|c| c.name.clone())
            .chain(file.settlement.iter().map(|c| c.name.clone()))
            .collect())
    }

    /// The names of the configured checks, integrity ones first.
    pub fn check_names(&self) -> impl Iterator<Item = &str> {
        self.integrity
            .iter()
            .map(|c| c.name.as_str())
            .chain(self.settlement.iter().map(|c| c.name.as_str()))
    }

    /// Reads what `recon serve` needs: the store's URL, the data keys, where reports are kept
    /// (`job.out_dir`) and `[serve]` (the sources' variables need not be set).
    pub fn load_serve(path: &Path, env: EnvLookup<'_>) -> Result<ServeSetup> {
        let file = parse_file(path, &read_text(path)?)?;
        let fail = |m: String| Error::bad_input(format!("{}: {m}", path.display()));
        let serve = file
            .serve
            .as_ref()
            .ok_or_else(|| fail("no [serve] section: say how people are identified (see the README, \"Triage in a browser\")".to_string()))?
            .settings()
            .map_err(fail)?;
        Ok(ServeSetup {
            store_url: store_url(path, &file, env).map_err(fail)?,
            data_keys: data_keys(&file, env).map_err(fail)?,
            // The page writes acknowledgements, whose audit entries bind state under it.
            mask_key: mask_key_when(&file, env, masks_columns(&file)).map_err(fail)?,
            out_dir: file.job.out_dir.clone(),
            serve,
        })
    }

    /// One line on encryption at rest: under which key, or plainly that nothing is encrypted.
    pub fn at_rest_line(&self) -> String {
        at_rest_line(self.data_keys.as_ref(), &self.data_key_env)
    }

    /// The resolved configuration as TOML, defaults filled in and passwords masked: every
    /// key the file may set, so what a run will do can be read off it.
    pub fn describe(&self) -> String {
        let mut out = format!("# {} (sha256 {})\n", self.path.display(), self.digest);
        out.push_str(&format!(
            "[job]\ntimezone = {:?}\nout_dir = {:?}\nseal_lookback_days = {}\nseal_retention_days = {}\nhistory_retention_days = {}\ndownload_retention_days = {}\nmax_discrepancies = {}\nmask_key_env = {:?}\ndata_key_env = {:?}\ntemp_dir = {:?}\n",
            self.timezone.name(),
            self.out_dir.display().to_string(),
            self.seal_lookback_days,
            self.seal_retention_days,
            self.history_retention_days,
            self.download_retention_days,
            self.max_discrepancies,
            self.mask_key_env,
            self.data_key_env,
            self.temp_dir.display().to_string(),
        ));
        out.push_str(&describe_retry("job.retry", &self.retry));
        let b = &self.circuit_breaker;
        out.push_str(&format!(
            "\n[job.circuit_breaker]\nenabled = {}\nfailure_rate_percent = {}\nwindow = {}\nmin_calls = {}\ncool_down_secs = {}\n",
            b.enabled, b.failure_rate_percent, b.window, b.min_calls, b.cool_down_secs
        ));
        out.push_str(&format!(
            "\n[store]\nurl = {:?}\nconnect_timeout_secs = {}\n",
            redact_urls(&self.store_url),
            self.store_access.connect_timeout.as_secs()
        ));
        out.push_str(&describe_retry("store.retry", &self.store_access.retry));
        for s in self.sources.values() {
            out.push_str(&format!(
                "\n[sources.{}]\nurl = {:?}\ntimezone = {:?}\nmax_connections = {}\nstatement_timeout_secs = {}\nconnect_timeout_secs = {}\n",
                s.name,
                redact_urls(&s.url),
                s.timezone.name(),
                s.max_connections,
                s.statement_timeout_secs,
                s.connect_timeout_secs
            ));
            out.push_str(&describe_retry(
                &format!("sources.{}.retry", s.name),
                &s.retry,
            ));
        }
        for c in &self.integrity {
            out.push_str(&integrity::describe(c));
        }
        for c in &self.settlement {
            out.push_str(&settlement::describe(c, self.bank_legs.get(&c.name)));
        }
        for (name, table) in &self.formats {
            out.push_str(&describe_table(&format!("formats.{name}"), table));
        }
        out
    }
}

/// A table of the file as its `[at]` section, its sub-tables as sections after it.
fn describe_table(at: &str, table: &toml::Table) -> String {
    let mut out = format!("\n[{at}]\n");
    let mut sections = String::new();
    for (key, value) in table {
        match value {
            toml::Value::Table(inner) => {
                sections.push_str(&describe_table(&format!("{at}.{}", toml_key(key)), inner));
            }
            _ => out.push_str(&format!("{} = {}\n", toml_key(key), toml_value(value))),
        }
    }
    out + &sections
}

/// A key bare when TOML allows it, else quoted (`"D/C"`).
fn toml_key(key: &str) -> String {
    let bare = !key.is_empty()
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if bare {
        key.to_string()
    } else {
        format!("{key:?}")
    }
}

fn toml_value(value: &toml::Value) -> String {
    match value {
        toml::Value::String(s) => format!("{s:?}"),
        toml::Value::Integer(i) => i.to_string(),
        toml::Value::Float(f) => f.to_string(),
        toml::Value::Boolean(b) => b.to_string(),
        toml::Value::Datetime(d) => d.to_string(),
        toml::Value::Array(items) => format!(
            "[{}]",
            items.iter().map(toml_value).collect::<Vec<_>>().join(", ")
        ),
        toml::Value::Table(t) => format!(
            "{{ {} }}",
            t.iter()
                .map(|(k, v)| format!("{} = {}", toml_key(k), toml_value(v)))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

/// `[store]`'s retry policy (the job's unless it gives one) and connect timeout, validated.
fn store_access(file: &ConfigFile) -> std::result::Result<StoreAccess, String> {
    let store = file.store.as_ref();
    let retry = store.and_then(|s| s.retry).unwrap_or(file.job.retry);
    retry.validate().map_err(|m| format!("store.retry: {m}"))?;
    let connect_timeout = match store.and_then(|s| s.connect_timeout_secs) {
        None => STORE_CONNECT_TIMEOUT,
        Some(0) => return Err("store.connect_timeout_secs must be at least 1".to_string()),
        Some(secs) => std::time::Duration::from_secs(secs),
    };
    Ok(StoreAccess {
        retry,
        connect_timeout,
    })
}

/// A retry policy as its `[….retry]` section.
fn describe_retry(at: &str, r: &RetryPolicy) -> String {
    format!(
        "\n[{at}]\ninitial_delay_ms = {}\nmax_delay_ms = {}\nmax_total_secs = {}\nmax_attempts = {}\n",
        r.initial_delay_ms, r.max_delay_ms, r.max_total_secs, r.max_attempts
    )
}

/// Every environment variable the file names that is not set (or blank), each with the key
/// naming it: all of them at once, so one `config check` tells everything to set.
fn missing_variables(file: &ConfigFile, env: EnvLookup<'_>) -> Vec<String> {
    let mut named: Vec<(String, &str)> = Vec::new();
    if let Some(var) = file.store.as_ref().and_then(|s| s.url_env.as_deref()) {
        named.push(("store.url_env".to_string(), var));
    }
    for (name, source) in &file.sources {
        if let Some(var) = source.url_env.as_deref() {
            named.push((format!("sources.{name}.url_env"), var));
        }
    }
    if masks_columns(file) {
        named.push((
            "job.mask_key_env, the key of sensitive_columns".to_string(),
            &file.job.mask_key_env,
        ));
    }
    named
        .into_iter()
        .filter(|(_, var)| env_value(env, var).is_none())
        .map(|(at, var)| format!("{var} ({at})"))
        .collect()
}

/// True when some integrity check shows columns only masked.
fn masks_columns(file: &ConfigFile) -> bool {
    file.integrity
        .iter()
        .any(|c| !c.sensitive_columns.is_empty())
}

/// The variable naming the temp folder when the file does not (`job.temp_dir`).
pub(crate) const TEMP_DIR_ENV: &str = "RECON_TEMP_DIR";

/// The folder recon's temporary files go in: `job.temp_dir` as written, else `RECON_TEMP_DIR`
/// when set, else the OS temp dir (`TMPDIR`, then `/tmp`).
fn resolve_temp_dir(configured: Option<PathBuf>, env: EnvLookup<'_>) -> PathBuf {
    configured
        .filter(|dir| !dir.as_os_str().is_empty())
        .or_else(|| env_value(env, TEMP_DIR_ENV).map(PathBuf::from))
        .unwrap_or_else(std::env::temp_dir)
}

/// A variable's value, unless it is unset or blank.
fn env_value(env: EnvLookup<'_>, var: &str) -> Option<String> {
    env(var).filter(|value| !value.trim().is_empty())
}

/// The mask key, from the variable `job.mask_key_env` names: required when a check has
/// sensitive columns (there is no fallback to an unkeyed hash: without the key such a
/// configuration does not load), else read when set, for the identity of findings whose key
/// holds a card number. During a rotation the key it replaces is in the same variable's name
/// with `_PREVIOUS` after it, kept only to recognise masks written under it.
fn mask_key(file: &ConfigFile, env: EnvLookup<'_>) -> std::result::Result<Option<MaskKey>, String> {
    mask_key_when(file, env, masks_columns(file))
}

/// The mask key as [`mask_key`] reads it, an unset one refused when `required`.
fn mask_key_when(
    file: &ConfigFile,
    env: EnvLookup<'_>,
    required: bool,
) -> std::result::Result<Option<MaskKey>, String> {
    let var = &file.job.mask_key_env;
    let previous_var = format!("{var}{PREVIOUS_KEY_SUFFIX}");
    let Some(text) = env_value(env, var) else {
        if env_value(env, &previous_var).is_some() {
            return Err(format!(
                "job.mask_key_env: {previous_var} is set but {var} is not; a rotation keeps the new key in {var} and the one it replaces in {previous_var}"
            ));
        }
        return match required {
            true => Err(format!(
                "job.mask_key_env: environment variable {var} is not set"
            )),
            false => Ok(None),
        };
    };
    let key = MaskKey::new(&text).map_err(|m| format!("job.mask_key_env: {var} {m}"))?;
    match env_value(env, &previous_var) {
        None => Ok(Some(key)),
        Some(previous) => key
            .with_previous(&previous)
            .map(Some)
            .map_err(|m| format!("job.mask_key_env: {previous_var} {m}")),
    }
}

/// What opening the store takes: its URL, the keys its values are encrypted under, the mask
/// key the audit chain's state digests are keyed with.
pub(crate) struct StoreKeys {
    pub(crate) url: String,
    pub(crate) data_keys: Option<DataKeys>,
    pub(crate) mask_key: Option<MaskKey>,
}

/// The data keys, from the variable `job.data_key_env` names and its `_PREVIOUS`; `None` when
/// it is unset.
fn data_keys(
    file: &ConfigFile,
    env: EnvLookup<'_>,
) -> std::result::Result<Option<DataKeys>, String> {
    DataKeys::from_env(&file.job.data_key_env, env).map_err(|m| format!("job.data_key_env: {m}"))
}

/// What `config check`, the summary and the log say about encryption at rest.
pub fn at_rest_line(keys: Option<&DataKeys>, var: &str) -> String {
    match keys {
        Some(keys) => match keys.previous_id() {
            Some(previous) => format!(
                "data at rest is encrypted (AES-256-GCM) under data key {}; key {previous} is kept for reading only",
                keys.current_id()
            ),
            None => format!(
                "data at rest is encrypted (AES-256-GCM) under data key {}",
                keys.current_id()
            ),
        },
        None => format!("data at rest is not encrypted (set {var})"),
    }
}

/// The store's URL: the `[store]` section's, or the embedded SQLite default.
fn store_url(
    path: &Path,
    file: &ConfigFile,
    env: EnvLookup<'_>,
) -> std::result::Result<String, String> {
    match &file.store {
        None => Ok(DEFAULT_STORE_URL.to_string()),
        Some(store) => {
            let url = resolve_url("store", store.url.as_deref(), store.url_env.as_deref(), env)?;
            verified_url("store", url, store.tls_ca_file.as_deref(), &folder_of(path))
        }
    }
}

/// `url` with its CA file (`tls_ca_file`, read now so a missing one is said here), refused
/// unless a link to a server other than loopback verifies its certificate and name.
fn verified_url(
    at: &str,
    url: String,
    tls_ca_file: Option<&Path>,
    dir: &Path,
) -> std::result::Result<String, String> {
    let url = match tls_ca_file {
        None => url,
        Some(file) => {
            let file = ca_file(at, file, dir)?;
            tls::with_ca_file(&url, &file).map_err(|m| format!("{at}.tls_ca_file: {m}"))?
        }
    };
    tls::require_verified(&url).map_err(|m| format!("{at}: {m}"))?;
    Ok(url)
}

/// `{at}.tls_ca_file` made absolute (under `dir` when relative), read now so a missing or empty
/// bundle is said by `config check`, not by the first connection.
fn ca_file(at: &str, file: &Path, dir: &Path) -> std::result::Result<PathBuf, String> {
    let file = dir.join(file);
    let pem = std::fs::read(&file)
        .map_err(|e| format!("{at}.tls_ca_file: cannot read {}: {e}", file.display()))?;
    match pem.windows(27).any(|w| w == b"-----BEGIN CERTIFICATE-----") {
        true => Ok(file),
        false => Err(format!(
            "{at}.tls_ca_file: {} holds no PEM certificate",
            file.display()
        )),
    }
}

/// Validates the `[sources.*]` sections: names, URLs from the environment, zones, limits, and
/// each source's retry policy (the job's unless it gives its own).
fn validate_sources(
    files: &BTreeMap<String, SourceFile>,
    job_retry: RetryPolicy,
    dir: &Path,
    env: EnvLookup<'_>,
) -> std::result::Result<BTreeMap<String, SourceSpec>, String> {
    let mut sources = BTreeMap::new();
    for (name, source) in files {
        ident::validate_name(name).map_err(|m| format!("sources.{name}: {m}"))?;
        let at = format!("sources.{name}");
        let url = resolve_url(&at, source.url.as_deref(), source.url_env.as_deref(), env)?;
        let url = verified_url(&at, url, source.tls_ca_file.as_deref(), dir)?;
        let tz = parse_timezone(&source.timezone).map_err(|m| format!("{at}.timezone: {m}"))?;
        if source.max_connections == 0 {
            return Err(format!("{at}.max_connections must be at least 1"));
        }
        let retry = source.retry.unwrap_or(job_retry);
        retry.validate().map_err(|m| format!("{at}.retry: {m}"))?;
        for (key, secs) in [
            ("statement_timeout_secs", source.statement_timeout_secs),
            ("connect_timeout_secs", source.connect_timeout_secs),
        ] {
            if secs == 0 {
                return Err(format!("{at}.{key} must be at least 1"));
            }
        }
        sources.insert(
            name.clone(),
            SourceSpec {
                name: name.clone(),
                url,
                timezone: tz,
                max_connections: source.max_connections,
                statement_timeout_secs: source.statement_timeout_secs,
                connect_timeout_secs: source.connect_timeout_secs,
                retry,
            },
        );
    }
    Ok(sources)
}

/// The absolute folder of the file at `path` (canonical when it exists).
pub(crate) fn folder_of(path: &Path) -> PathBuf {
    let parent = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::canonicalize(parent)
        .or_else(|_| std::path::absolute(parent))
        .unwrap_or_else(|_| parent.to_path_buf())
}

fn read_text(path: &Path) -> Result<String> {
    std::fs::read_to_string(path).map_err(|e| {
        Error::bad_input(format!(
            "cannot read configuration {}: {e} (give the file with --config)",
            path.display()
        ))
    })
}

/// Parses the TOML into the file's shape; an error names the file, line and column.
fn parse_file(path: &Path, text: &str) -> Result<ConfigFile> {
    toml::from_str(text).map_err(|e| {
        let shown = path.display();
        let message = e.message().trim_end().replace('\n', " ");
        match e.span().map(|span| line_and_column(text, span.start)) {
            Some((line, column)) => Error::bad_input(format!("{shown}:{line}:{column}: {message}")),
            None => Error::bad_input(format!("{shown}: {message}")),
        }
    })
}

/// 1-based line and column of a byte offset, for messages that point into the file.
fn line_and_column(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, column)
}

fn parse_timezone(name: &str) -> std::result::Result<Tz, String> {
    name.parse::<Tz>().map_err(|_| {
        format!("{name:?} is not an IANA time zone (e.g. \"UTC\", \"Europe/Amsterdam\")")
    })
}

fn resolve_url(
    at: &str,
    url: Option<&str>,
    url_env: Option<&str>,
    env: EnvLookup<'_>,
) -> std::result::Result<String, String> {
    match (url, url_env) {
        (Some(_), Some(_)) => Err(format!("{at}: give either url or url_env, not both")),
        (None, None) => Err(format!(
            "{at}: give url_env (the environment variable holding the URL)"
        )),
        (Some(url), None) => match url_password(url) {
            None => Ok(url.to_string()),
            Some(PasswordAt::UserInfo) => Err(format!(
                "{at}.url carries a password; move the URL into an environment variable and name it with url_env"
            )),
            Some(PasswordAt::Query(parameter)) => Err(format!(
                "{at}.url carries a password in its query parameter {parameter:?}; move the URL into an environment variable and name it with url_env"
            )),
        },
        (None, Some(var)) => env_value(env, var)
            .ok_or_else(|| format!("{at}.url_env: environment variable {var} is not set")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(name: &str) -> Option<String> {
        match name {
            "LEDGER_URL" => Some("sqlite://l.db".into()),
            "PAY_URL" => Some("postgres://recon:hunter2@db/pay?sslmode=verify-full".into()),
            _ => None,
        }
    }

    const GOOD: &str = r#"
[job]
timezone = "Europe/Amsterdam"

[sources.ledger]
url_env = "LEDGER_URL"

[sources.payments]
url_env = "PAY_URL"
timezone = "America/New_York"

[[integrity]]
name = "entries"
left = { source = "ledger", table = "ledger_entries" }
right = { source = "payments", table = "public.ledger_entries" }
key = ["id"]
date_column = "created_at"
"#;

    fn parse(text: &str) -> Result<Config> {
        Config::parse(Path::new("recon.toml"), text, &env)
    }

    fn message(text: &str) -> String {
        match parse(text) {
            Ok(_) => panic!("expected an error"),
            Err(e) => {
                assert_eq!(e.exit(), crate::exit::Exit::BadInput);
                e.to_string()
            }
        }
    }

    #[test]
    fn a_good_file_resolves_urls_zones_and_defaults() {
        let config = parse(GOOD).unwrap();
        assert_eq!(config.timezone, chrono_tz::Europe::Amsterdam);
        assert_eq!(config.store_url, DEFAULT_STORE_URL);
        assert_eq!(
            config.sources["payments"].url,
            "postgres://recon:hunter2@db/pay?sslmode=verify-full"
        );
        assert_eq!(
            config.sources["payments"].timezone,
            chrono_tz::America::New_York
        );
        assert_eq!(config.sources["ledger"].max_connections, 2);
        assert_eq!(config.integrity[0].right.table, "public.ledger_entries");
        assert!(!config.describe().contains("hunter2"));
        assert!(
            config
                .describe()
                .contains("postgres://recon:***@db/pay?sslmode=verify-full")
        );
    }

    /// `job.temp_dir` as written, else `RECON_TEMP_DIR`, else the OS temp dir; shown by
    /// `config check`.
    #[test]
    fn the_temp_dir_is_the_files_then_the_variables_then_the_oss() {
        let with_var = |name: &str| match name {
            TEMP_DIR_ENV => Some("/scratch/env".to_string()),
            other => env(other),
        };
        let parse_in = |text: &str, lookup: EnvLookup<'_>| {
            Config::parse(Path::new("recon.toml"), text, lookup).map(|c| c.temp_dir)
        };
        assert_eq!(parse_in(GOOD, &env).unwrap(), std::env::temp_dir());
        assert_eq!(
            parse_in(GOOD, &with_var).unwrap(),
            PathBuf::from("/scratch/env")
        );
        let configured = GOOD.replace("[job]\n", "[job]\ntemp_dir = \"/scratch/file\"\n");
        let config = Config::parse(Path::new("recon.toml"), &configured, &with_var).unwrap();
        assert_eq!(config.temp_dir, PathBuf::from("/scratch/file"));
        assert!(
            config
                .describe()
                .contains("\ntemp_dir = \"/scratch/file\"\n")
        );
    }

    #[test]
    fn the_shipped_configurations_are_valid() {
        let any_env = |name: &str| match name {
            "RECON_MASK_KEY" => Some("0123456789abcdef".repeat(4)),
            "RECON_MASK_KEY_PREVIOUS" => None,
            "RECON_DATA_KEY" => Some(format!("k1:{}", "0123456789abcdef".repeat(4))),
            "RECON_DATA_KEY_PREVIOUS" => None,
            _ => Some(format!("sqlite://{name}-0123456789abcdef0123456789.db")),
        };
        for file in ["config/demo.toml", "config/recon.example.toml"] {
            let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(file);
            let config = Config::load(&path, &any_env).unwrap_or_else(|e| panic!("{file}: {e}"));
            assert!(!config.integrity.is_empty(), "{file}");
            assert!(!config.settlement.is_empty(), "{file}");
        }
    }

    #[test]
    fn every_missing_variable_is_named_at_once() {
        let text = format!(
            "[store]\nurl_env = \"STORE\"\n{}\nsensitive_columns = [\"iban\"]\n",
            GOOD.replace("LEDGER_URL", "NOPE_LEDGER")
                .replace("PAY_URL", "NOPE_PAY")
        );
        assert_eq!(
            message(&text),
            "recon.toml: not set in the environment: STORE (store.url_env), NOPE_LEDGER (sources.ledger.url_env), NOPE_PAY (sources.payments.url_env), RECON_MASK_KEY (job.mask_key_env, the key of sensitive_columns)"
        );
    }

    #[test]
    fn sensitive_columns_need_a_long_enough_mask_key_from_the_environment() {
        let text = format!(
            "{}\nsensitive_columns = [\"iban\"]\n",
            GOOD.replace("[job]", "[job]\nmask_key_env = \"MASK\"")
        );
        let with_key = |key: &'static str| {
            move |name: &str| match name {
                "MASK" => Some(key.to_string()),
                other => env(other),
            }
        };
        let short = Config::parse(Path::new("recon.toml"), &text, &with_key("short"));
        assert_eq!(
            short.err().map(|e| e.to_string()).as_deref(),
            Some(
                "recon.toml: job.mask_key_env: MASK is neither hex nor base64; a mask key is at least 32 random bytes written in hex or base64 (e.g. `openssl rand -hex 32`)"
            )
        );
        let sixteen = Config::parse(
            Path::new("recon.toml"),
            &text,
            &with_key("0123456789abcdef0123456789abcdef"),
        );
        assert_eq!(
            sixteen.err().map(|e| e.to_string()).as_deref(),
            Some(
                "recon.toml: job.mask_key_env: MASK is hex holding 16 bytes; a mask key needs at least 32 random bytes (e.g. `openssl rand -hex 32`: 64 hex digits)"
            )
        );
        let key = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
        let config = Config::parse(Path::new("recon.toml"), &text, &with_key(key)).unwrap();
        let masked = config.integrity[0].sensitive_columns.show("iban", "NL91");
        assert_eq!(
            masked,
            crate::mask::sensitive(&crate::mask::MaskKey::new(key).unwrap(), "NL91")
        );
        assert!(masked.as_str().starts_with("hmac-sha256:"), "{masked}");
        let shown = format!("{config:?}{}", config.describe());
        assert!(!shown.contains(key), "{shown}");
        assert!(config.describe().contains("mask_key_env = \"MASK\"\n"));
        assert!(
            config
                .describe()
                .contains("sensitive_columns = [\"iban\"]\n")
        );
    }

    #[test]
    fn a_where_filter_is_parsed_when_the_file_is_loaded() {
        let with = |filter: &str| {
            GOOD.replace(
                "date_column = \"created_at\"",
                &format!("date_column = \"created_at\"\nwhere = {filter:?}"),
            )
        };
        let config = parse(&with("currency = 'EUR'")).unwrap();
        let filter = config.integrity[0].filter.as_ref().map(|f| f.text.as_str());
        assert_eq!(filter, Some("currency = 'EUR'"));
        assert!(config.describe().contains("where = \"currency = 'EUR'\"\n"));
        assert_eq!(
            message(&with("currency = 'EUR' OR 1 = 1")),
            "recon.toml: integrity[0] (\"entries\").where: OR is not supported; terms are joined by AND only (at character 18)"
        );
    }

    #[test]
    fn a_settle_time_ages_rows_by_its_column_or_the_date_column() {
        let with = |extra: &str| {
            GOOD.replace(
                "date_column = \"created_at\"",
                &format!("date_column = \"created_at\"\n{extra}"),
            )
        };
        let config = parse(&with("settle_secs = 300")).unwrap();
        let settle = config.integrity[0].settle.as_ref().map(|s| {
            (
                s.column.as_str(),
                s.after.as_secs(),
                s.recheck_after.as_secs(),
            )
        });
        assert_eq!(settle, Some(("created_at", 300, 5)));
        let config = parse(&with(
            "settle_secs = 60\nsettle_column = \"updated_at\"\nrecheck_after_secs = 0",
        ))
        .unwrap();
        let settle = config.integrity[0].settle.as_ref().map(|s| {
            (
                s.column.as_str(),
                s.after.as_secs(),
                s.recheck_after.as_secs(),
            )
        });
        assert_eq!(settle, Some(("updated_at", 60, 0)));
        assert!(parse(GOOD).unwrap().integrity[0].settle.is_none());
        assert_eq!(
            message(&with("settle_column = \"updated_at\"")),
            "recon.toml: integrity[0] (\"entries\").settle_column: set settle_secs too, or leave the column out"
        );
        assert_eq!(
            message(&GOOD.replace("date_column = \"created_at\"", "settle_secs = 300")),
            "recon.toml: integrity[0] (\"entries\").settle_secs: name the timestamp column that ages rows (settle_column)"
        );
    }

    #[test]
    fn unknown_keys_are_named_with_their_place() {
        let msg = message(&GOOD.replace("date_column", "date_colum"));
        assert!(
            msg.starts_with("recon.toml:17:1: unknown field `date_colum`, expected one of"),
            "{msg}"
        );
        assert!(!msg.contains('\n'), "{msg}");
    }

    #[test]
    fn debug_shows_no_password_of_any_url() {
        let env = |name: &str| match name {
            "LEDGER_URL" => Some("postgres://u@h/db?password=hunter2&sslmode=verify-full".into()),
            "PAY_URL" => Some("postgres://recon:hunter3@db/pay?sslmode=verify-full".into()),
            "STORE" => Some("postgres://s@h/store?sslpassword=hunter4&sslmode=verify-full".into()),
            _ => None,
        };
        let text = format!("{GOOD}\n[store]\nurl_env = \"STORE\"\n");
        let config = Config::parse(Path::new("recon.toml"), &text, &env).unwrap();
        let shown = format!("{config:?} {config:#?}");
        for password in ["hunter2", "hunter3", "hunter4"] {
            assert!(!shown.contains(password), "{password} in {shown}");
        }
        assert!(
            shown.contains("\"postgres://u@h/db?password=***&sslmode=verify-full\""),
            "{shown}"
        );
        assert!(
            shown.contains("\"postgres://s@h/store?sslpassword=***&sslmode=verify-full\""),
            "{shown}"
        );
    }

    #[test]
    fn bad_references_and_values_say_what_to_fix() {
        let msg = message(&GOOD.replace("source = \"payments\"", "source = \"paymnts\""));
        assert_eq!(
            msg,
            "recon.toml: integrity[0] (\"entries\").right.source: \"paymnts\" is not defined under [sources] (defined: ledger, payments)"
        );
        let msg = message(&GOOD.replace("Europe/Amsterdam", "Mars/Olympus"));
        assert_eq!(
            msg,
            "recon.toml: job.timezone: \"Mars/Olympus\" is not an IANA time zone (e.g. \"UTC\", \"Europe/Amsterdam\")"
        );
        let msg = message(&GOOD.replace("url_env = \"LEDGER_URL\"", "url_env = \"NOPE\""));
        assert_eq!(
            msg,
            "recon.toml: not set in the environment: NOPE (sources.ledger.url_env)"
        );
        let msg =
            message(&GOOD.replace("url_env = \"LEDGER_URL\"", "url = \"postgres://u:pw@h/db\""));
        assert!(
            msg.contains("sources.ledger.url carries a password"),
            "{msg}"
        );
        assert_eq!(
            message(&GOOD.replace(
                "url_env = \"LEDGER_URL\"",
                "url = \"postgres://u@h/db?sslmode=require&password=hunter2\""
            )),
            "recon.toml: sources.ledger.url carries a password in its query parameter \"password\"; move the URL into an environment variable and name it with url_env"
        );
        assert_eq!(
            message(&format!(
                "{GOOD}\n[store]\nurl = \"mysql://u@h/db?SSL-Password=hunter2\"\n"
            )),
            "recon.toml: store.url carries a password in its query parameter \"SSL-Password\"; move the URL into an environment variable and name it with url_env"
        );
        let msg = message(&GOOD.replace(
            "ledger_entries\" }\nright",
            "ledger_entries; drop table x\" }\nright",
        ));
        assert!(
            msg.contains("integrity[0] (\"entries\").left.table"),
            "{msg}"
        );
        let msg = message(&GOOD.replace("key = [\"id\"]", "key = []"));
        assert!(msg.ends_with(".key: name at least one key column"), "{msg}");
    }

    #[test]
    fn settlement_sections_are_checked_before_anything_runs() {
        let with = |section: &str| format!("{GOOD}\n[[settlement]]\nname = \"s\"\n{section}");
        let ledger = r#"ledger = { source = "ledger", table = "p", id = "id", amount = "a", currency = "c", at = "t" }"#;
        let cases = [
            (
                format!("format = \"paypal\"\nreport = \"r.csv\"\n{ledger}"),
                "recon.toml: settlement[0] (\"s\").format: \"paypal\" is neither stripe, braintree, adyen nor a [formats.paypal] mapping (mappings: none)",
            ),
            (
                format!("format = \"stripe\"\nreport = \"r.csv\"\nreport_url = \"https://x/r.csv\"\n{ledger}"),
                "recon.toml: settlement[0] (\"s\"): give exactly one of report (a path or glob), report_url, stripe_api, adyen_download, sftp",
            ),
            (
                format!("format = \"braintree\"\nsftp = {{ host = \"h\", user = \"u\", host_key = \"ssh-ed25519 AAAA\", private_key_env = \"K\", path = \"/r.csv\" }}\n{ledger}"),
                "recon.toml: settlement[0] (\"s\").sftp: host_key \"ssh-ed25519 AAAA\" must be the server key's SHA-256 fingerprint, SHA256:… (ssh-keyscan HOST | ssh-keygen -lf -)",
            ),
            (
                format!("format = \"adyen\"\nadyen_download = {{ merchant_account = \"M\", company_account = \"C\", file = \"b_{{batch}}.csv\", api_key_env = \"K\" }}\n{ledger}"),
                "recon.toml: settlement[0] (\"s\").adyen_download: give merchant_account or company_account, exactly one",
            ),
            (
                format!("format = \"stripe\"\nstripe_api = {{ secret_key_env = \"K\", api_base = \"http://api.example\" }}\n{ledger}"),
                "recon.toml: settlement[0] (\"s\").stripe_api.api_base: reports are downloaded over https:// only (plain http only from this machine: 127.0.0.1, localhost)",
            ),
            (
                format!("format = \"stripe\"\nreport_url = \"http://reports.example/r.csv\"\n{ledger}"),
                "recon.toml: settlement[0] (\"s\").report_url: reports are downloaded over https:// only (plain http only from this machine: 127.0.0.1, localhost)",
            ),
            (
                "format = \"stripe\"\nreport = \"r.csv\"\nledger = { source = \"nope\", table = \"p\", id = \"id\", amount = \"a\", currency = \"c\", at = \"t\" }".to_string(),
                "recon.toml: settlement[0] (\"s\").ledger.source: \"nope\" is not defined under [sources]",
            ),
            (
                format!("format = \"stripe\"\nreport = \"r.csv\"\nsettled_statuses = [\"settled\"]\n{ledger}"),
                "recon.toml: settlement[0] (\"s\").settled_statuses: name the ledger's status column (ledger.status) too",
            ),
            (
                format!("format = \"stripe\"\nreport = \"r.csv\"\n{}", ledger.replace("amount = \"a\"", "amount = \"id\"")),
                "recon.toml: settlement[0] (\"s\").ledger: each column may have only one meaning",
            ),
        ];
        for (section, expected) in cases {
            assert_eq!(message(&with(&section)), expected, "{section}");
        }
        let ok = parse(&with(&format!(
            "format = \"STRIPE\"\nreport = \"r-{{date}}.csv\"\n{ledger}"
        )))
        .unwrap();
        assert_eq!(ok.settlement[0].format.processor(), "stripe");
        assert_eq!(ok.settlement[0].rules.timing_window_days, 3);
    }
}
