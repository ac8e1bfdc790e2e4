//! Where processor reports come from — local files, an HTTPS URL, Stripe's Reporting API,
//! Adyen's report download, an SFTP server — and their acquisition for one business day, each
//! download retried under the sync policy and kept, with its SHA-256, beside the run's reports.

mod adyen;
pub(crate) mod cap;
pub(crate) mod http;
mod keep;
mod prune;
mod sftp;
mod stripe_api;

use std::cell::Cell;
use std::path::{Path, PathBuf};

use chrono::NaiveDate;

pub(crate) use adyen::{AdyenDownload, BatchHistory};
pub(crate) use keep::{open_report, rewrap_downloads};
pub(crate) use prune::prune_downloads;
pub(crate) use sftp::SftpPickup;
pub(crate) use stripe_api::StripeApi;

use crate::breaker::Breakers;
use crate::day::BusinessDay;
use crate::error::{Error, Result};
use crate::retry::{RetryPolicy, with_retries, with_retries_hinted};
use crate::secret::{EnvLookup, redact_urls};

/// Where one check's reports are, before the date is filled in; its `Debug` shows a URL with
/// its secrets redacted.
#[derive(Clone, PartialEq, Eq)]
pub(crate) enum ReportLocation {
    /// A path or glob; `{date}` is `YYYY-MM-DD`, `{yyyymmdd}` is `YYYYMMDD`.
    Files(String),
    /// An HTTPS URL with the same placeholders, and the environment variable holding a bearer token.
    Url {
        url: String,
        token_env: Option<String>,
    },
    /// A report run of Stripe's Reporting API over the business day.
    StripeApi(StripeApi),
    /// Files of Adyen's Customer Area report download.
    Adyen(AdyenDownload),
    /// A file picked up from an SFTP server.
    Sftp(SftpPickup),
}

impl std::fmt::Debug for ReportLocation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ReportLocation::Files(pattern) => f.debug_tuple("Files").field(pattern).finish(),
            ReportLocation::Url { url, token_env } => f
                .debug_struct("Url")
                .field("url", &crate::secret::Redacted(url))
                .field("token_env", token_env)
                .finish(),
            ReportLocation::StripeApi(api) => f.debug_tuple("StripeApi").field(api).finish(),
            ReportLocation::Adyen(download) => f.debug_tuple("Adyen").field(download).finish(),
            ReportLocation::Sftp(pickup) => f.debug_tuple("Sftp").field(pickup).finish(),
        }
    }
}

/// A report ready to parse: its name in records and quarantines, and the local file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ReportFile {
    pub(crate) name: String,
    pub(crate) path: PathBuf,
}

pub(crate) use crate::check::Download;

/// What an acquisition needs besides the location.
pub(crate) struct Acquisition<'a> {
    pub(crate) check: &'a str,
    pub(crate) day: BusinessDay,
    /// Where fetched reports are kept.
    pub(crate) downloads: &'a Path,
    /// The configuration file's folder (absolute): a relative `report` path is under it.
    pub(crate) config_dir: &'a Path,
    pub(crate) policy: RetryPolicy,
    /// Where credentials are looked up.
    pub(crate) env: EnvLookup<'a>,
    /// The Adyen settlement batches earlier runs of this check fetched.
    pub(crate) batches: &'a BatchHistory,
    /// The run's circuit breakers: every request passes its server's (`host:port`).
    pub(crate) breakers: &'a Breakers,
    /// Where the generations of Stripe's idempotency keys are kept (the store).
    pub(crate) idempotency: &'a dyn crate::check::IdempotencyGenerations,
    /// The most bytes one downloaded report may have (`max_download_bytes`).
    pub(crate) max_download_bytes: u64,
    /// The CA bundle report servers are checked against (`tls_ca_file`), else the built-in roots.
    pub(crate) tls_ca_file: Option<&'a Path>,
    /// The keys kept reports are encrypted under; `None` keeps them in clear.
    pub(crate) data_keys: Option<&'a crate::at_rest::DataKeys>,
}

impl Acquisition<'_> {
    /// How this check's downloads are kept: capped, and encrypted when a data key is configured.
    pub(crate) fn keep_rules(&self) -> cap::KeepRules<'_> {
        cap::KeepRules {
            max_bytes: self.max_download_bytes,
            keys: self.data_keys,
        }
    }

    /// Where a fetched report named `name` is kept: `<downloads>/<date>-<check>-<name>`, made safe.
    pub(crate) fn kept_path(&self, name: &str) -> PathBuf {
        self.downloads.join(format!(
            "{}-{}-{}",
            self.day.date,
            self.check,
            sanitize(name)
        ))
    }
}

/// The reports of the day (or why not), the attempts the longest sync took, and what was
/// downloaded (kept even when a later download failed).
pub(crate) struct Acquired {
    pub(crate) files: Result<Vec<ReportFile>>,
    pub(crate) attempts: u32,
    pub(crate) downloads: Vec<Download>,
}

impl Acquired {
    fn failed(e: Error) -> Acquired {
        Acquired {
            files: Err(e),
            attempts: 1,
            downloads: Vec::new(),
        }
    }
}

/// `text` with the date placeholders filled in.
pub(crate) fn fill_date(text: &str, date: NaiveDate) -> String {
    text.replace("{date}", &date.format("%Y-%m-%d").to_string())
        .replace("{yyyymmdd}", &date.format("%Y%m%d").to_string())
}

/// Finds or fetches the reports of the day. A report that is not there yet is a transient
/// failure (exit 3 once the policy gives up: the processor may deliver it later); a refused
/// credential, a failed report run or a wrong host key is permanent.
pub(crate) async fn acquire(location: &ReportLocation, job: &Acquisition<'_>) -> Acquired {
    let date = job.day.date;
    match location {
        ReportLocation::Files(pattern) => {
            let pattern = lookup(job.config_dir, &fill_date(pattern, date));
            let (files, attempts) = with_retries(job.policy, "report", || async {
                local(&pattern, job.config_dir)
            })
            .await;
            Acquired {
                files,
                attempts,
                downloads: Vec::new(),
            }
        }
        ReportLocation::Url { url, token_env } => {
            let auth = match token_env {
                None => http::Auth::None,
                Some(var) => match secret(job.env, var, "the report token") {
                    Ok(token) => http::Auth::Bearer(token),
                    Err(e) => return Acquired::failed(e),
                },
            };
            let url = fill_date(url, date);
            let name = url
                .rsplit('/')
                .next()
                .filter(|n| !n.is_empty())
                .unwrap_or("report.csv");
            let target = job.kept_path(name);
            let shown = redact_urls(&url);
            let (kept, attempts) =
                download_url(job, &url, &auth, "check the report token", &target).await;
            let kept = match &auth {
                http::Auth::Bearer(token) => kept.map_err(|e| scrub(e, token)),
                _ => kept,
            };
            single((kept, attempts), shown, &target)
        }
        ReportLocation::StripeApi(api) => stripe_api::acquire(api, job).await,
        ReportLocation::Adyen(adyen) => adyen::acquire(adyen, job).await,
        ReportLocation::Sftp(pickup) => sftp::acquire(pickup, job).await,
    }
}

/// The value of environment variable `var`, which holds `what`.
pub(crate) fn secret(env: EnvLookup<'_>, var: &str, what: &str) -> Result<String> {
    env(var)
        .filter(|v| !v.is_empty())
        .ok_or_else(|| Error::bad_input(format!("environment variable {var} ({what}) is not set")))
}

/// `e` with every copy of `secret` masked: a server may echo what it was sent.
pub(crate) fn scrub(e: Error, secret: &str) -> Error {
    let message = e.to_string();
    if secret.is_empty() || !message.contains(secret) {
        return e;
    }
    let message = message.replace(secret, "***");
    match e.exit() {
        crate::exit::Exit::Incomplete => Error::unavailable(message),
        crate::exit::Exit::Internal => Error::internal(message),
        _ => Error::bad_input(message),
    }
}

/// A kept download and, when redirects took it elsewhere, its final URL.
type Landed = (keep::KeptFile, Option<String>);

/// GETs `url` into `target`, retried under the job's policy, honouring `Retry-After`, through
/// the server's circuit breaker.
async fn download_url(
    job: &Acquisition<'_>,
    url: &str,
    auth: &http::Auth,
    advice: &str,
    target: &Path,
) -> (Result<Landed>, u32) {
    let shown = format!("downloading {}", redact_urls(url));
    let hint = Cell::new(None);
    with_retries_hinted(job.policy, "report download", &hint, || async {
        let client = http::client(job.tls_ca_file, auth)?;
        let response = http::send(job.breakers, auth.apply(client.get(url)), &shown).await?;
        let response = http::successful(response, &shown, &hint, advice, http::silent).await?;
        let final_url = http::redirected_to(&response, url);
        let kept = http::save(response, &shown, target, job.keep_rules()).await?;
        Ok((kept, final_url))
    })
    .await
}

/// The acquisition of one downloaded file: its report and its record (with where redirects
/// took it, if anywhere).
fn single(result: (Result<Landed>, u32), source: String, target: &Path) -> Acquired {
    let (kept, attempts) = result;
    match kept {
        Ok((kept, final_url)) => Acquired {
            files: Ok(vec![ReportFile {
                name: source.clone(),
                path: target.to_path_buf(),
            }]),
            attempts,
            downloads: vec![Download {
                source,
                file: target.display().to_string(),
                sha256: kept.sha256,
                bytes: kept.bytes,
                attempts,
                batch: None,
                skipped_batches: Vec::new(),
                final_url,
            }],
        },
        Err(e) => Acquired {
            files: Err(e),
            attempts,
            downloads: Vec::new(),
        },
    }
}

/// Where a `report` pattern looks: the absolute glob, as shown, and the folder searched.
#[derive(Debug, PartialEq, Eq)]
struct Lookup {
    /// The glob to match: a relative pattern under the config folder (its glob characters escaped).
    glob: String,
    /// The absolute pattern as an operator reads it.
    shown: String,
    /// The folder searched: the pattern's path up to its first glob character, file name off.
    folder: PathBuf,
}

/// Where `pattern` looks: a relative one under `dir`, an absolute one as it is.
fn lookup(dir: &Path, pattern: &str) -> Lookup {
    let relative = pattern.strip_prefix("./").unwrap_or(pattern);
    let (base, rest) = match Path::new(pattern).is_absolute() {
        true => (PathBuf::new(), pattern),
        false => (dir.to_path_buf(), relative),
    };
    let escaped = glob::Pattern::escape(&base.display().to_string());
    let mut folder = base.clone();
    let path = Path::new(rest);
    for part in path.parent().unwrap_or(path).components() {
        if part.as_os_str().to_string_lossy().contains(['*', '?', '[']) {
            break;
        }
        folder.push(part);
    }
    Lookup {
        glob: Path::new(&escaped).join(rest).display().to_string(),
        shown: base.join(rest).display().to_string(),
        folder,
    }
}

/// A report's name in records and quarantines, the same however its path was spelled:
/// relative to `config_dir` when inside it, else its canonical absolute path.
pub(crate) fn report_name(path: &Path, config_dir: &Path) -> String {
    let canonical = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
    match canonical.strip_prefix(config_dir) {
        Ok(inside) if !inside.as_os_str().is_empty() => inside.display().to_string(),
        _ => canonical.display().to_string(),
    }
}

/// The files matching `pattern`, named by [`report_name`]; none is a transient
/// failure that names the pattern and the folder searched.
/// The local files `pattern` names for `date`, once, without retrying: `Err` when none is there.
pub(crate) fn local_files_of(
    pattern: &str,
    date: NaiveDate,
    config_dir: &Path,
) -> Result<Vec<ReportFile>> {
    local(&lookup(config_dir, &fill_date(pattern, date)), config_dir)
}

fn local(pattern: &Lookup, config_dir: &Path) -> Result<Vec<ReportFile>> {
    let paths = glob::glob(&pattern.glob)
        .map_err(|e| Error::bad_input(format!("report path {:?}: {e}", pattern.shown)))?;
    let mut files = Vec::new();
    for entry in paths {
        let path = entry.map_err(|e| {
            Error::unavailable(format!("reading {}: {}", e.path().display(), e.error()))
        })?;
        let name = checked_report(&path, &pattern.folder, config_dir)?;
        files.push(ReportFile { name, path });
    }
    files.sort_by(|a, b| a.name.cmp(&b.name));
    if files.is_empty() {
        let folder = &pattern.folder;
        let state = match folder.is_dir() {
            true => "it exists, no file in it matches",
            false => "it does not exist",
        };
        return Err(Error::unavailable(format!(
            "no report matches {} (not delivered yet?): searched folder {} ({state}; a relative report path is read from the configuration file's folder, {})",
            pattern.shown,
            folder.display(),
            config_dir.display()
        )));
    }
    Ok(files)
}

/// The name of a report the glob matched, once it is known to be a regular file inside the
/// report folder `folder`: a path that resolves outside that folder (through a symbolic link),
/// or that is not a regular file (a directory, a FIFO, a device), is refused before anything
/// opens it (a FIFO would block, a link could show another file's lines in the outputs).
///
/// Links inside the folder are followed: a Kubernetes ConfigMap or projected volume is
/// `file -> ..data/file` and `..data -> ..<timestamp>`, all in the mounted folder. The report
/// is named by its path through the links (`reports/x.csv`), not by where they lead, so its
/// lines keep their names when the volume is updated.
fn checked_report(path: &Path, folder: &Path, config_dir: &Path) -> Result<String> {
    let refuse = |why: String| {
        Error::bad_input(format!(
            "report path {}: {why}; refused without reading it",
            path.display()
        ))
    };
    let unreadable =
        |e: std::io::Error| Error::unavailable(format!("reading {}: {e}", path.display()));
    let real_folder = std::fs::canonicalize(folder).map_err(unreadable)?;
    let real = std::fs::canonicalize(path).map_err(unreadable)?;
    if !real.starts_with(&real_folder) {
        return Err(refuse(format!(
            "it leads to {} (through a symbolic link), outside the report folder {}",
            real.display(),
            real_folder.display()
        )));
    }
    let kind = std::fs::metadata(&real).map_err(unreadable)?.file_type();
    if !kind.is_file() {
        return Err(refuse(format!(
            "it is {}, not a regular file",
            file_kind(&kind)
        )));
    }
    let named = match path.strip_prefix(folder) {
        Ok(inside) => real_folder.join(inside),
        Err(_) => real,
    };
    Ok(match named.strip_prefix(config_dir) {
        Ok(inside) if !inside.as_os_str().is_empty() => inside.display().to_string(),
        _ => named.display().to_string(),
    })
}

/// What a file that is not a regular file is, for the refusal.
fn file_kind(kind: &std::fs::FileType) -> &'static str {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if kind.is_fifo() {
            return "a FIFO (named pipe)";
        }
        if kind.is_socket() {
            return "a socket";
        }
        if kind.is_block_device() || kind.is_char_device() {
            return "a device";
        }
    }
    if kind.is_dir() {
        return "a directory";
    }
    "not a file"
}

/// `name` as a safe file name: no query, no separators.
pub(crate) fn sanitize(name: &str) -> String {
    let clean: String = name
        .split(['?', '#'])
        .next()
        .unwrap_or_default()
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_') {
                c
            } else {
                '_'
            }
        })
        .collect();
    if clean.is_empty() {
        "report.csv".to_string()
    } else {
        clean
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_report_url_shows_in_debug_without_its_secrets() {
        let location = ReportLocation::Url {
            url: "https://u:hunter2@h/r.csv?date={date}&token=hunter3".to_string(),
            token_env: Some("TOKEN".to_string()),
        };
        assert_eq!(
            format!("{location:?}"),
            "Url { url: \"https://u:***@h/r.csv?date={date}&token=***\", token_env: Some(\"TOKEN\") }"
        );
    }

    #[test]
    fn placeholders_and_names() {
        let d = NaiveDate::from_ymd_opt(2026, 11, 20).unwrap();
        assert_eq!(
            fill_date("r/{date}/s_{yyyymmdd}.csv", d),
            "r/2026-11-20/s_20261120.csv"
        );
        assert_eq!(sanitize("balance.csv?token=x"), "balance.csv");
        assert_eq!(sanitize("a b/..c"), "a_b_..c");
    }

    #[test]
    fn relative_patterns_are_under_the_config_folder() {
        let dir = Path::new("/etc/recon [prod]");
        let absolute = lookup(dir, "/r/adyen/d/batch_*.csv");
        assert_eq!(absolute.glob, "/r/adyen/d/batch_*.csv");
        assert_eq!(absolute.shown, "/r/adyen/d/batch_*.csv");
        assert_eq!(absolute.folder, Path::new("/r/adyen/d"));
        let relative = lookup(dir, "./r/*/x.csv");
        assert_eq!(relative.glob, "/etc/recon [[]prod[]]/r/*/x.csv");
        assert_eq!(relative.shown, "/etc/recon [prod]/r/*/x.csv");
        assert_eq!(relative.folder, Path::new("/etc/recon [prod]/r"));
        assert_eq!(lookup(dir, "x.csv").folder, dir);
    }
}
