//! The `[[settlement]]` checks and `[formats.<name>]` mappings of the configuration file.

use std::collections::{BTreeMap, BTreeSet};

use serde::Deserialize;

use crate::bank::check::{BankSpec, StatementFormat, Statements};
use crate::bank::gocardless::GoCardlessSync;
use crate::bank::plaid::PlaidSync;
use crate::bank::trace::TraceRules;
use crate::bank::{BatchBookings, BatchPolicy};
use crate::settlement::Format;
use crate::settlement::fetch::{AdyenDownload, ReportLocation, SftpPickup, StripeApi};
use crate::settlement::matching::{MatchOn, MatchRules};
use crate::settlement::report::mapped::{MappedFormat, Plan};
use crate::settlement::report::{adyen, braintree, stripe};
use crate::settlement::spec::{AmountUnit, LedgerSpec, SettlementSpec};
use crate::source::ident;

/// One `[[settlement]]` section as written. No `Debug`: `report_url` may carry a token.
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct SettlementFile {
    pub(crate) name: String,
    /// `stripe`, `braintree`, `adyen`, or the name of a `[formats.<name>]` mapping.
    pub(crate) format: String,
    /// Options of a built-in format, as the processor offers them when the report is run
    /// (`[settlement.format_options]`; see each format's module doc).
    pub(crate) format_options: Option<toml::Table>,
    /// A local path or glob; `{date}` is `YYYY-MM-DD`, `{yyyymmdd}` is `YYYYMMDD`.
    pub(crate) report: Option<String>,
    /// An HTTPS URL with the same placeholders.
    pub(crate) report_url: Option<String>,
    /// The environment variable holding the bearer token for `report_url`.
    pub(crate) report_token_env: Option<String>,
    /// A report run of Stripe's Reporting API.
    pub(crate) stripe_api: Option<StripeApi>,
    /// Adyen's Customer Area report download.
    pub(crate) adyen_download: Option<AdyenDownload>,
    /// An SFTP pick-up.
    pub(crate) sftp: Option<SftpPickup>,
    pub(crate) ledger: LedgerSpec,
    /// Which report field equals the ledger's id column.
    #[serde(default)]
    pub(crate) match_on: MatchOn,
    /// Leftover lines and ledger rows may pair when amounts differ by at most this (minor units).
    #[serde(default)]
    pub(crate) amount_tolerance_minor: i64,
    /// … and their dates by at most this many days (0: tolerance pairing off).
    #[serde(default)]
    pub(crate) date_window_days: u32,
    /// Ledger statuses the processor must have settled; others are not expected in a report.
    /// Empty: every ledger row is expected.
    #[serde(default)]
    pub(crate) settled_statuses: Vec<String>,
    /// Days a ledger row may wait for its report line (in flight) before it is missing.
    #[serde(default = "default_timing_window")]
    pub(crate) timing_window_days: u32,
    /// The most bytes one downloaded report may have (default 2 GiB).
    #[serde(default = "default_max_download_bytes")]
    pub(crate) max_download_bytes: u64,
    /// The memory (MiB) the check's matching holds its lines and rows in; past it they are
    /// spilled, sealed, to `job.temp_dir` (default 128).
    #[serde(default = "default_memory_mb")]
    pub(crate) memory_mb: u64,
    /// The CA bundle (PEM) report servers must chain to instead of the built-in roots
    /// (relative: to the file's folder).
    pub(crate) tls_ca_file: Option<std::path::PathBuf>,
    /// The bank leg: the payout account's statements the report's payouts are traced to.
    pub(crate) bank: Option<BankFile>,
}

/// `[settlement.bank]` as written: where the payout account's statements come from (exactly one
/// of `statements`, `sftp`, `plaid`, `gocardless`) and how payouts are traced to them.
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct BankFile {
    /// `camt` (camt.052/.053/.054), `mt940` (and MT942) or `bai2`, for `statements` and `sftp`.
    pub(crate) format: Option<String>,
    /// A local path or glob of the day's statement files; `{date}` and `{yyyymmdd}` as for reports.
    pub(crate) statements: Option<String>,
    pub(crate) sftp: Option<SftpPickup>,
    pub(crate) plaid: Option<PlaidSync>,
    pub(crate) gocardless: Option<GoCardlessSync>,
    /// `split` (one entry per transaction detail of a batch booking, the default) or `keep`.
    #[serde(default)]
    pub(crate) batch_bookings: BatchBookingsFile,
    /// Accounts whose batch bookings are kept otherwise: `{ "DE89…" = "keep" }`.
    #[serde(default)]
    pub(crate) batch_bookings_by_account: BTreeMap<String, BatchBookingsFile>,
    /// The payout accounts (IBAN or account number as statements name it); empty: all.
    #[serde(default)]
    pub(crate) accounts: Vec<String>,
    /// `[settlement.bank.trace]`: the window, calendar, patterns and tolerances.
    #[serde(default)]
    pub(crate) trace: TraceRules,
}

/// How batch bookings are kept, as written.
#[derive(Clone, Copy, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum BatchBookingsFile {
    #[default]
    Split,
    Keep,
}

/// The bank leg of settlement check `at`, validated.
fn bank(file: &BankFile, at: &str) -> Result<BankSpec, String> {
    let at = format!("{at}.bank");
    let given = [
        file.statements.is_some(),
        file.sftp.is_some(),
        file.plaid.is_some(),
        file.gocardless.is_some(),
    ];
    if given.iter().filter(|g| **g).count() != 1 {
        return Err(format!(
            "{at}: give exactly one of statements (a path or glob), sftp, plaid, gocardless"
        ));
    }
    let kept = |written: BatchBookingsFile| match written {
        BatchBookingsFile::Split => BatchBookings::Split,
        BatchBookingsFile::Keep => BatchBookings::Keep,
    };
    let batch = BatchPolicy {
        default: kept(file.batch_bookings),
        by_account: file
            .batch_bookings_by_account
            .iter()
            .map(|(account, written)| (account.clone(), kept(*written)))
            .collect(),
    };
    let format = || match &file.format {
        Some(name) => StatementFormat::named(name).ok_or_else(|| {
            format!("{at}.format: {name:?} is not a statement format (camt, mt940, bai2)")
        }),
        None => Err(format!(
            "{at}.format: name the statements' format (camt, mt940, bai2)"
        )),
    };
    let statements = if let Some(path) = &file.statements {
        Statements::Files {
            location: ReportLocation::Files(path.clone()),
            format: format()?,
            batch: batch.clone(),
        }
    } else if let Some(sftp) = &file.sftp {
        sftp.validate().map_err(|m| format!("{at}.sftp: {m}"))?;
        Statements::Files {
            location: ReportLocation::Sftp(sftp.clone()),
            format: format()?,
            batch,
        }
    } else {
        if file.format.is_some() {
            return Err(format!(
                "{at}.format: an aggregator's transactions have no file format; leave it out"
            ));
        }
        match (&file.plaid, &file.gocardless) {
            (Some(plaid), _) => {
                plaid.validate().map_err(|m| format!("{at}.{m}"))?;
                Statements::Plaid(plaid.clone())
            }
            (None, Some(gocardless)) => {
                gocardless.validate().map_err(|m| format!("{at}.{m}"))?;
                Statements::GoCardless(gocardless.clone())
            }
            (None, None) => return Err(format!("{at}: no statements")),
        }
    };
    Ok(BankSpec {
        statements,
        accounts: file.accounts.clone(),
        rules: file.trace.clone(),
    })
}

fn default_max_download_bytes() -> u64 {
    crate::settlement::fetch::cap::DEFAULT_MAX_DOWNLOAD_BYTES
}

fn default_memory_mb() -> u64 {
    crate::settlement::matching::streamed::DEFAULT_MEMORY_MB
}

fn default_timing_window() -> u32 {
    3
}

/// The check as `config check` prints it (report URLs with credentials masked), with its bank leg.
pub(crate) fn describe(check: &SettlementSpec, bank: Option<&BankSpec>) -> String {
    let report = describe_location(&check.location);
    let l = &check.ledger;
    let optional = |key: &str, v: &Option<String>| {
        v.as_ref()
            .map(|c| format!(", {key} = {c:?}"))
            .unwrap_or_default()
    };
    format!(
        "\n[[settlement]]\nname = {:?}\nformat = {:?}\n{}{report}ledger = {{ source = {:?}, table = {:?}, id = {:?}, amount = {:?}, currency = {:?}, at = {:?}{}{}{}, amount_unit = {:?} }}\nmatch_on = {:?}\namount_tolerance_minor = {}\ndate_window_days = {}\nsettled_statuses = {:?}\ntiming_window_days = {}\n",
        check.name,
        check.format.processor(),
        options_line(&check.format)
            .map(|line| format!("format_options = {line}\n"))
            .unwrap_or_default(),
        l.source,
        l.table,
        l.id,
        l.amount,
        l.currency,
        l.at,
        optional("status", &l.status),
        optional("fee", &l.fee),
        optional("payout", &l.payout),
        match l.amount_unit {
            AmountUnit::Minor => "minor",
            AmountUnit::Major => "major",
        },
        match check.rules.match_on {
            MatchOn::RecordId => "record_id",
            MatchOn::Reference => "reference",
        },
        check.rules.amount_tolerance_minor,
        check.rules.date_window_days,
        check.rules.settled_statuses,
        check.rules.timing_window_days,
    ) + &match check.max_download_bytes {
        default if default == default_max_download_bytes() => String::new(),
        set => format!("max_download_bytes = {set}\n"),
    } + &match check.memory_mb {
        default if default == default_memory_mb() => String::new(),
        set => format!("memory_mb = {set}\n"),
    } + &check
        .tls_ca_file
        .as_ref()
        .map(|file| format!("tls_ca_file = {:?}\n", file.display().to_string()))
        .unwrap_or_default()
        + &bank.map(describe_bank).unwrap_or_default()
}

fn batch_name(batch: BatchBookings) -> &'static str {
    match batch {
        BatchBookings::Split => "split",
        BatchBookings::Keep => "keep",
    }
}

/// The bank leg as `config check` prints it: where statements come from, the accounts, and
/// the trace rules in a line.
fn describe_bank(bank: &BankSpec) -> String {
    let source = match &bank.statements {
        Statements::Files {
            location,
            format,
            batch,
        } => format!(
            "{}format = {:?}\nbatch_bookings = {:?}\n{}",
            describe_location(location).replace("report = ", "statements = "),
            match format {
                StatementFormat::Camt => "camt",
                StatementFormat::Mt940 => "mt940",
                StatementFormat::Bai2 => "bai2",
            },
            batch_name(batch.default),
            match batch.by_account.is_empty() {
                true => String::new(),
                false => format!(
                    "batch_bookings_by_account = {{ {} }}\n",
                    batch
                        .by_account
                        .iter()
                        .map(|(account, kept)| format!("{account:?} = {:?}", batch_name(*kept)))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            },
        ),
        Statements::Plaid(plaid) => format!(
            "plaid = {{ item = {:?}, base_url = {:?} }}\n",
            plaid.item,
            crate::secret::redact_urls(&plaid.base_url)
        ),
        Statements::GoCardless(account) => format!(
            "gocardless = {{ account_id = {:?}, base_url = {:?}, daily_calls = {}, reserve_calls = {} }}\n",
            account.account_id,
            crate::secret::redact_urls(&account.base_url),
            account.daily_calls,
            account.reserve_calls
        ),
    };
    let r = &bank.rules;
    format!(
        "[settlement.bank]\n{source}accounts = {:?}\n# trace: window_business_days = {}, max_subset_items = {}, {}, remittance patterns for {:?}, {} amount rule(s)\n",
        bank.accounts,
        r.window_business_days,
        r.max_subset_items,
        r.calendar.describe(),
        r.remittance_patterns.keys().collect::<Vec<_>>(),
        r.amount_rules.len(),
    )
}

/// A built-in format with the options written for it (a `[settlement.format_options]`
/// table); `Err` names what is wrong with them. `None` when `name` is not built in.
fn builtin_with(name: &str, options: &toml::Table) -> Option<Result<Format, String>> {
    fn read<T: serde::de::DeserializeOwned>(table: &toml::Table) -> Result<T, String> {
        T::deserialize(toml::Value::Table(table.clone()))
            .map_err(|e| e.message().trim_end().to_owned())
    }
    Some(match Format::builtin(name)? {
        Format::Stripe(_) => {
            read::<stripe::Options>(options).and_then(|o| o.validate().map(|()| Format::Stripe(o)))
        }
        Format::Braintree(_) => read::<braintree::Options>(options)
            .and_then(|o| o.validate().map(|()| Format::Braintree(o))),
        Format::Adyen(_) => read::<adyen::Options>(options).map(Format::Adyen),
        Format::Mapped(_) => return None,
    })
}

/// The checked plan of the `[formats.<name>]` mapping `table`; `Err` says what cannot work.
fn mapped_plan(name: &str, table: &toml::Table) -> Result<Plan, String> {
    let mut table = table.clone();
    table.insert("name".to_string(), toml::Value::String(name.to_string()));
    let format: MappedFormat = table
        .try_into()
        .map_err(|e: toml::de::Error| e.message().trim_end().to_owned())?;
    Plan::new(format)
}

/// The format a check names, as validation builds it: a built-in format with `table` as its
/// `[settlement.format_options]`, else the mapping `[formats.<name>]` that `table` is.
pub(crate) fn format_named(name: &str, table: &toml::Table) -> Result<Format, String> {
    match builtin_with(name, table) {
        Some(format) => format,
        None => mapped_plan(name, table).map(|plan| Format::Mapped(Box::new(plan))),
    }
}

/// The options that differ from the defaults, as a TOML inline table (for `config check`).
fn options_line(format: &Format) -> Option<String> {
    match format {
        Format::Stripe(options) if *options != stripe::Options::default() => Some(format!(
            "{{ timezone = {:?}, decimal_separator = \"{}\", report_type = \"{}\" }}",
            options.timezone,
            options.decimal_separator,
            options.report_type.as_str()
        )),
        Format::Braintree(options) if *options != braintree::Options::default() => {
            let currencies: Vec<String> = options
                .currencies
                .iter()
                .map(|(account, code)| format!("{account:?} = {code:?}"))
                .collect();
            Some(format!(
                "{{ report_type = \"settlement_batch_summary\", currencies = {{ {} }}{} }}",
                currencies.join(", "),
                options
                    .group_by_custom_field
                    .as_ref()
                    .map(|field| format!(", group_by_custom_field = {field:?}"))
                    .unwrap_or_default()
            ))
        }
        Format::Adyen(options) if *options != adyen::Options::default() => Some(format!(
            "{{ capture_key = \"{}\", fee_key = \"{}\" }}",
            options.capture_key.as_str(),
            options.fee_key.as_str()
        )),
        _ => None,
    }
}

/// Where the check's reports come from, as `config check` prints it: no secret is in the
/// configuration (only the names of the variables holding them), URLs are masked anyway.
fn describe_location(location: &ReportLocation) -> String {
    let quoted = |items: &[(&str, Option<&String>)]| {
        items
            .iter()
            .filter_map(|(k, v)| v.map(|v| format!("{k} = {v:?}")))
            .collect::<Vec<_>>()
            .join(", ")
    };
    match location {
        ReportLocation::Files(pattern) => format!("report = {pattern:?}\n"),
        ReportLocation::Url { url, token_env } => format!(
            "report_url = {:?}\n{}",
            crate::secret::redact_urls(url),
            token_env
                .as_ref()
                .map(|v| format!("report_token_env = {v:?}\n"))
                .unwrap_or_default()
        ),
        ReportLocation::StripeApi(api) => format!(
            "stripe_api = {{ {}, columns = {:?} }}\n",
            quoted(&[
                ("secret_key_env", Some(&api.secret_key_env)),
                ("report_type", Some(&api.plan.report_type)),
                ("api_base", Some(&api.api_base)),
                ("files_base", Some(&api.files_base)),
            ]),
            api.columns
        ),
        ReportLocation::Adyen(a) => format!(
            "adyen_download = {{ {}, first_batch = {}, probe_ahead = {} }}\n",
            quoted(&[
                ("base_url", Some(&a.base_url)),
                ("merchant_account", a.merchant_account.as_ref()),
                ("company_account", a.company_account.as_ref()),
                ("file", Some(&a.file)),
                ("api_key_env", a.api_key_env.as_ref()),
                ("report_user", a.report_user.as_ref()),
                ("password_env", a.password_env.as_ref()),
            ]),
            a.first_batch,
            a.probe_ahead
        ),
        ReportLocation::Sftp(p) => format!(
            "sftp = {{ {}, port = {} }}\n",
            quoted(&[
                ("host", Some(&p.host)),
                ("user", Some(&p.user)),
                ("host_key", Some(&p.host_key)),
                ("private_key_path", p.private_key_path.as_ref()),
                ("private_key_env", p.private_key_env.as_ref()),
                ("path", Some(&p.path)),
            ]),
            p.port
        ),
    }
}

/// The check's report location: exactly one of `report`, `report_url`, `stripe_api`,
/// `adyen_download`, `sftp`.
fn location(check: &SettlementFile, at: &str) -> Result<ReportLocation, String> {
    let given = [
        check.report.is_some(),
        check.report_url.is_some(),
        check.stripe_api.is_some(),
        check.adyen_download.is_some(),
        check.sftp.is_some(),
    ];
    if given.iter().filter(|g| **g).count() != 1 {
        return Err(format!(
            "{at}: give exactly one of report (a path or glob), report_url, stripe_api, adyen_download, sftp"
        ));
    }
    if check.report_token_env.is_some() && check.report_url.is_none() {
        return Err(format!(
            "{at}.report_token_env: a token is only for report_url"
        ));
    }
    let https = |key: &str, url: &str| {
        if is_allowed_report_url(url) {
            Ok(())
        } else {
            Err(format!(
                "{at}.{key}: reports are downloaded over https:// only (plain http only from this machine: 127.0.0.1, localhost)"
            ))
        }
    };
    if let Some(path) = &check.report {
        return Ok(ReportLocation::Files(path.clone()));
    }
    if let Some(url) = &check.report_url {
        https("report_url", url)?;
        return Ok(ReportLocation::Url {
            url: url.clone(),
            token_env: check.report_token_env.clone(),
        });
    }
    if let Some(api) = &check.stripe_api {
        https("stripe_api.api_base", &format!("{}/", api.api_base))?;
        https("stripe_api.files_base", &format!("{}/", api.files_base))?;
        return Ok(ReportLocation::StripeApi(api.clone()));
    }
    if let Some(adyen) = &check.adyen_download {
        https("adyen_download.base_url", &format!("{}/", adyen.base_url))?;
        adyen
            .validate()
            .map_err(|m| format!("{at}.adyen_download: {m}"))?;
        return Ok(ReportLocation::Adyen(adyen.clone()));
    }
    match &check.sftp {
        Some(sftp) => {
            sftp.validate().map_err(|m| format!("{at}.sftp: {m}"))?;
            Ok(ReportLocation::Sftp(sftp.clone()))
        }
        None => Err(format!("{at}: no report location")),
    }
}

/// The `stripe_api` location with its report run planned from the format: only the `stripe`
/// format reads a Stripe report, and its options are the run's parameters.
fn stripe_run(
    api: &StripeApi,
    format: &Format,
    check: &SettlementFile,
    at: &str,
) -> Result<StripeApi, String> {
    match format {
        Format::Stripe(options) => api
            .planned(options)
            .map_err(|(key, message)| format!("{at}.{key}: {message}")),
        _ => Err(format!(
            "{at}.stripe_api: a Stripe report run is read by format = \"stripe\" (whose format_options are the run's timezone and decimal_separator), not by {:?}",
            check.format
        )),
    }
}

/// HTTPS anywhere; plain HTTP only on the loopback interface (a local proxy or sidecar).
fn is_allowed_report_url(url: &str) -> bool {
    url.starts_with("https://")
        || [
            "http://127.0.0.1:",
            "http://127.0.0.1/",
            "http://localhost:",
            "http://localhost/",
        ]
        .iter()
        .any(|prefix| url.starts_with(prefix))
}

/// Validates the settlement sections against the sources and formats defined; `at`-prefixed
/// messages name the section and key to fix.
pub(crate) fn validate(
    checks: &[SettlementFile],
    formats: &BTreeMap<String, toml::Table>,
    sources: &BTreeSet<String>,
    taken_names: &mut BTreeSet<String>,
) -> Result<(Vec<SettlementSpec>, BTreeMap<String, BankSpec>), String> {
    let mut mapped = BTreeMap::new();
    for (name, table) in formats {
        ident::validate_name(name).map_err(|m| format!("formats.{name}: {m}"))?;
        if Format::builtin(name).is_some() {
            return Err(format!(
                "formats.{name}: {name:?} is a built-in format; give the mapping another name"
            ));
        }
        let plan = mapped_plan(name, table).map_err(|m| format!("formats.{name}: {m}"))?;
        mapped.insert(name.clone(), plan);
    }
    let mut out = Vec::new();
    let mut legs = BTreeMap::new();
    for (i, check) in checks.iter().enumerate() {
        let at = format!("settlement[{i}] ({:?})", check.name);
        ident::validate_name(&check.name).map_err(|m| format!("{at}.name: {m}"))?;
        if !taken_names.insert(check.name.clone()) {
            return Err(format!(
                "{at}: another check is already named {:?}",
                check.name
            ));
        }
        if check.max_download_bytes == 0 {
            return Err(format!(
                "{at}.max_download_bytes: must be at least 1 (the default is {} bytes, 2 GiB)",
                default_max_download_bytes()
            ));
        }
        if check.memory_mb == 0 || check.memory_mb > 1 << 20 {
            return Err(format!(
                "{at}.memory_mb: must be 1 to 1048576 MiB (the default is {} MiB); past it matching spills to job.temp_dir",
                default_memory_mb()
            ));
        }
        let builtin = match &check.format_options {
            Some(options) => match builtin_with(&check.format, options) {
                Some(format) => Some(format.map_err(|m| format!("{at}.format_options: {m}"))?),
                None => {
                    return Err(format!(
                        "{at}.format_options: options are for the built-in formats (stripe, braintree, adyen); a [formats.{}] mapping has its options in its own table",
                        check.format
                    ));
                }
            },
            None => Format::builtin(&check.format),
        };
        let format = match builtin {
            Some(format) => format,
            None => match mapped.get(&check.format) {
                Some(plan) => Format::Mapped(Box::new(plan.clone())),
                None => {
                    return Err(format!(
                        "{at}.format: {:?} is neither stripe, braintree, adyen nor a [formats.{}] mapping (mappings: {})",
                        check.format,
                        check.format,
                        if mapped.is_empty() {
                            "none".to_string()
                        } else {
                            mapped.keys().cloned().collect::<Vec<_>>().join(", ")
                        }
                    ));
                }
            },
        };
        let location = match location(check, &at)? {
            ReportLocation::StripeApi(api) => {
                ReportLocation::StripeApi(stripe_run(&api, &format, check, &at)?)
            }
            other => other,
        };
        if !sources.contains(&check.ledger.source) {
            return Err(format!(
                "{at}.ledger.source: {:?} is not defined under [sources]",
                check.ledger.source
            ));
        }
        ident::validate_table(&check.ledger.table)
            .map_err(|m| format!("{at}.ledger.table: {m}"))?;
        let columns = check.ledger.columns();
        for column in &columns {
            ident::validate_column(column).map_err(|m| format!("{at}.ledger: {m}"))?;
        }
        if columns.iter().collect::<BTreeSet<_>>().len() != columns.len() {
            return Err(format!(
                "{at}.ledger: each column may have only one meaning"
            ));
        }
        if check.amount_tolerance_minor < 0 {
            return Err(format!("{at}.amount_tolerance_minor must be 0 or more"));
        }
        if check.ledger.status.is_none() && !check.settled_statuses.is_empty() {
            return Err(format!(
                "{at}.settled_statuses: name the ledger's status column (ledger.status) too"
            ));
        }
        out.push(SettlementSpec {
            name: check.name.clone(),
            format,
            location,
            ledger: check.ledger.clone(),
            rules: MatchRules {
                match_on: check.match_on,
                amount_tolerance_minor: check.amount_tolerance_minor,
                date_window_days: check.date_window_days,
                settled_statuses: check.settled_statuses.clone(),
                timing_window_days: check.timing_window_days,
            },
            max_download_bytes: check.max_download_bytes,
            memory_mb: check.memory_mb,
            tls_ca_file: check.tls_ca_file.clone(),
        });
        if let Some(file) = &check.bank {
            legs.insert(check.name.clone(), bank(file, &at)?);
        }
    }
    Ok((out, legs))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Validates one check of `format` whose section ends with `extra`.
    fn check(format: &str, extra: &str) -> Result<Vec<SettlementSpec>, String> {
        let text = format!(
            "name = \"s\"\nformat = \"{format}\"\nreport = \"r.csv\"\n\
             ledger = {{ source = \"ledger\", table = \"t\", id = \"id\", amount = \"a\", currency = \"c\", at = \"at\" }}\n{extra}"
        );
        let file: SettlementFile = toml::from_str(&text).map_err(|e| e.to_string())?;
        let sources = BTreeSet::from(["ledger".to_owned()]);
        validate(&[file], &BTreeMap::new(), &sources, &mut BTreeSet::new()).map(|(specs, _)| specs)
    }

    /// The bank legs of one check of `format` whose section ends with `extra`.
    fn legs(format: &str, extra: &str) -> Result<BTreeMap<String, BankSpec>, String> {
        let text = format!(
            "name = \"s\"\nformat = \"{format}\"\nreport = \"r.csv\"\n\
             ledger = {{ source = \"ledger\", table = \"t\", id = \"id\", amount = \"a\", currency = \"c\", at = \"at\" }}\n{extra}"
        );
        let file: SettlementFile = toml::from_str(&text).map_err(|e| e.to_string())?;
        let sources = BTreeSet::from(["ledger".to_owned()]);
        validate(&[file], &BTreeMap::new(), &sources, &mut BTreeSet::new()).map(|(_, legs)| legs)
    }

    #[test]
    fn max_download_bytes_defaults_to_2_gib_and_is_at_least_1() {
        let specs = check("stripe", "").expect("valid");
        assert_eq!(specs[0].max_download_bytes, 2_147_483_648);
        assert!(!describe(&specs[0], None).contains("max_download_bytes"));
        let specs = check("stripe", "max_download_bytes = 1000").expect("valid");
        assert_eq!(specs[0].max_download_bytes, 1000);
        assert!(describe(&specs[0], None).ends_with("max_download_bytes = 1000\n"));
        assert_eq!(
            check("stripe", "max_download_bytes = 0").err().as_deref(),
            Some(
                "settlement[0] (\"s\").max_download_bytes: must be at least 1 (the default is 2147483648 bytes, 2 GiB)"
            )
        );
        assert!(check("stripe", "max_download_bytes = -1").is_err());
    }

    #[test]
    fn memory_mb_defaults_to_128_and_is_1_mib_to_1_tib() {
        let specs = check("stripe", "").expect("valid");
        assert_eq!(specs[0].memory_mb, 128);
        assert!(!describe(&specs[0], None).contains("memory_mb"));
        let specs = check("stripe", "memory_mb = 16").expect("valid");
        assert_eq!(specs[0].memory_mb, 16);
        assert!(describe(&specs[0], None).ends_with("memory_mb = 16\n"));
        assert!(check("stripe", "memory_mb = 1048576").is_ok());
        for refused in ["0", "1048577"] {
            assert_eq!(
                check("stripe", &format!("memory_mb = {refused}"))
                    .err()
                    .as_deref(),
                Some(
                    "settlement[0] (\"s\").memory_mb: must be 1 to 1048576 MiB (the default is 128 MiB); past it matching spills to job.temp_dir"
                )
            );
        }
    }

    #[test]
    fn format_options_are_read_for_the_builtin_format_and_checked() {
        let specs = check(
            "stripe",
            "[format_options]\nreport_type = \"payout_reconciliation\"\ntimezone = \"Europe/Paris\"",
        )
        .expect("valid options");
        assert!(specs[0].format.spans_days());
        assert!(describe(&specs[0], None).contains(
            "format = \"stripe\"\nformat_options = { timezone = \"Europe/Paris\", decimal_separator = \".\", report_type = \"payout_reconciliation\" }\n"
        ));
        assert_eq!(
            check("stripe", "[format_options]\ndecimal_separator = \"'\"").unwrap_err(),
            "settlement[0] (\"s\").format_options: decimal_separator: '\\'' is not one Stripe offers (\".\" or \",\")"
        );
        assert!(
            check("stripe", "[format_options]\ncolumns = [\"gross\"]")
                .unwrap_err()
                .starts_with("settlement[0] (\"s\").format_options: unknown field `columns`")
        );
        assert_eq!(
            check("acme", "[format_options]\ntimezone = \"UTC\"").unwrap_err(),
            "settlement[0] (\"s\").format_options: options are for the built-in formats (stripe, braintree, adyen); a [formats.acme] mapping has its options in its own table"
        );
    }

    #[test]
    fn a_stripe_api_run_is_planned_from_the_stripe_format_only() {
        let with_api = |format: &str, api: &str, options: &str| {
            let text = format!(
                "name = \"s\"\nformat = \"{format}\"\nstripe_api = {{ secret_key_env = \"K\"{api} }}\n\
                 ledger = {{ source = \"ledger\", table = \"t\", id = \"id\", amount = \"a\", currency = \"c\", at = \"at\" }}\n{options}"
            );
            let file: SettlementFile = toml::from_str(&text).map_err(|e| e.to_string())?;
            let sources = BTreeSet::from(["ledger".to_owned()]);
            validate(&[file], &BTreeMap::new(), &sources, &mut BTreeSet::new())
                .map(|(specs, _)| specs)
        };
        let comma = "[format_options]\ndecimal_separator = \",\"\n";
        let specs = with_api("stripe", "", comma).expect("planned");
        let ReportLocation::StripeApi(api) = &specs[0].location else {
            panic!("{:?}", specs[0].location)
        };
        assert_eq!(
            (api.plan.report_type.as_str(), api.plan.decimal_separator),
            ("balance_change_from_activity.itemized.3", Some(','))
        );
        assert!(describe(&specs[0], None).contains(
            "stripe_api = { secret_key_env = \"K\", report_type = \"balance_change_from_activity.itemized.3\", "
        ));
        assert_eq!(
            with_api("braintree", "", "").unwrap_err(),
            "settlement[0] (\"s\").stripe_api: a Stripe report run is read by format = \"stripe\" (whose format_options are the run's timezone and decimal_separator), not by \"braintree\""
        );
        assert_eq!(
            with_api("stripe", ", parameters = { currency = \"usd\" }", "").unwrap_err(),
            "settlement[0] (\"s\").stripe_api.parameters.currency: recon does not send currency of balance_change_from_activity.itemized.3: it filters the report while the ledger side stays whole, so every ledger row it leaves out would show as missing"
        );
    }

    #[test]
    fn builtin_format_options() {
        let table = |text: &str| -> toml::Table { toml::from_str(text).expect("toml") };
        let stripe = builtin_with(
            "stripe",
            &table(
                "report_type = \"payout_reconciliation\"\ntimezone = \"Europe/Berlin\"\ndecimal_separator = \",\"",
            ),
        );
        let Some(Ok(format)) = stripe else {
            panic!("{stripe:?}")
        };
        assert!(format.spans_days());
        assert_eq!(
            options_line(&format).as_deref(),
            Some(
                "{ timezone = \"Europe/Berlin\", decimal_separator = \",\", report_type = \"payout_reconciliation\" }"
            )
        );
        assert!(!Format::Stripe(Default::default()).spans_days());
        let err = |name: &str, text: &str| match builtin_with(name, &table(text)) {
            Some(Err(message)) => message,
            other => panic!("{other:?}"),
        };
        let versioned = builtin_with(
            "stripe",
            &table("report_type = \"payout_reconciliation.itemized.5\""),
        );
        assert!(
            matches!(versioned, Some(Ok(ref f)) if f.spans_days()),
            "{versioned:?}"
        );
        assert!(
            err("stripe", "report_type = \"ending_balance_reconciliation.itemized.4\"")
                .starts_with("\"ending_balance_reconciliation.itemized.4\" is not an itemized report this format reads")
        );
        assert!(Format::Adyen(Default::default()).spans_days());
        assert_eq!(
            err("stripe", "decimal_separator = \";\""),
            "decimal_separator: ';' is not one Stripe offers (\".\" or \",\")"
        );
        assert_eq!(
            err("stripe", "timezone = \"Mars/Olympus\""),
            "timezone: \"Mars/Olympus\" is not a time zone (an IANA name such as \"America/New_York\")"
        );
        let summary = builtin_with(
            "braintree",
            &table(
                "report_type = \"settlement_batch_summary\"\ncurrencies = { acme_usd = \"USD\" }",
            ),
        );
        let Some(Ok(summary)) = summary else {
            panic!("{summary:?}")
        };
        assert_eq!(
            options_line(&summary).as_deref(),
            Some(
                "{ report_type = \"settlement_batch_summary\", currencies = { \"acme_usd\" = \"USD\" } }"
            )
        );
        assert_eq!(
            err("braintree", "report_type = \"settlement_batch_summary\""),
            "currencies: the settlement batch summary does not name its currency; map each merchant account to its currency code"
        );
        assert_eq!(
            err(
                "braintree",
                "report_type = \"settlement_batch_summary\"\ncurrencies = { a = \"EUX\" }"
            ),
            "currencies.a: \"EUX\" is not an ISO 4217 currency code"
        );
        assert_eq!(
            err("braintree", "currencies = { a = \"EUR\" }"),
            "currencies and group_by_custom_field are options of report_type = \"settlement_batch_summary\""
        );
        assert!(err("adyen", "timezone = \"CET\"").starts_with("unknown field `timezone`"));
        assert!(err("braintree", "x = 1").starts_with("unknown field `x`"));
        assert_eq!(builtin_with("acme", &table("")), None);
    }

    #[test]
    fn adyen_ledger_design_options() {
        let table = |text: &str| -> toml::Table { toml::from_str(text).expect("toml") };
        let adyen = builtin_with(
            "adyen",
            &table("capture_key = \"capture_reference\"\nfee_key = \"label\""),
        );
        let Some(Ok(format)) = adyen else {
            panic!("{adyen:?}")
        };
        assert_eq!(
            options_line(&format).as_deref(),
            Some("{ capture_key = \"capture_reference\", fee_key = \"label\" }")
        );
        assert_eq!(
            options_line(&Format::Adyen(Default::default())),
            None,
            "the defaults are not shown"
        );
        assert_eq!(
            check("adyen", "[format_options]\ncapture_key = \"capture\"").unwrap_err(),
            "settlement[0] (\"s\").format_options: capture_key: \"capture\" is not \"payment\" (the ledger books a payment once) or \"capture_reference\" (a row per capture)"
        );
        assert_eq!(
            check("adyen", "[format_options]\nfee_key = \"month\"").unwrap_err(),
            "settlement[0] (\"s\").format_options: fee_key: \"month\" is not \"batch\" (<account>/<batch>/Fee/<label>) or \"label\" (the label alone)"
        );
    }

    /// `[bank]` (the `[settlement.bank]` of a check): one statement source, a file format for
    /// files only, trace rules read with unknown keys refused.
    #[test]
    fn bank_leg_sections() {
        let text = "[bank]\nformat = \"camt.053\"\nstatements = \"bank/{date}.xml\"\naccounts = [\"DE89370400440532013000\"]\nbatch_bookings_by_account = { \"DE89370400440532013000\" = \"keep\" }\n[bank.trace]\nwindow_business_days = 3\ncalendar = { holidays = [\"2026-12-25\"] }";
        let specs = check("stripe", text).expect("valid");
        let bank_legs = legs("stripe", text).expect("valid");
        let bank = bank_legs.get("s").expect("a bank leg");
        match &bank.statements {
            Statements::Files {
                location: ReportLocation::Files(path),
                format: StatementFormat::Camt,
                batch,
            } => {
                assert_eq!(path, "bank/{date}.xml");
                assert_eq!(batch.of("DE89370400440532013000"), BatchBookings::Keep);
                assert_eq!(batch.of("NL91ABNA0417164300"), BatchBookings::Split);
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(bank.accounts, ["DE89370400440532013000"]);
        assert_eq!(bank.rules.window_business_days, 3);
        assert!(
            describe(&specs[0], Some(bank)).ends_with(
                "[settlement.bank]\nstatements = \"bank/{date}.xml\"\nformat = \"camt\"\nbatch_bookings = \"split\"\nbatch_bookings_by_account = { \"DE89370400440532013000\" = \"keep\" }\naccounts = [\"DE89370400440532013000\"]\n# trace: window_business_days = 3, max_subset_items = 4, weekend Sat, Sun; 1 holiday(s), remittance patterns for [], 0 amount rule(s)\n"
            ),
            "{}",
            describe(&specs[0], Some(bank))
        );
        assert!(legs("stripe", "").expect("valid").is_empty());
        // a password written into an aggregator's URL is never printed back
        let specs = check("stripe", "").expect("valid");
        for section in [
            "plaid = { base_url = \"https://u:S3CR3T@plaid.example\", item = \"main\", client_id_env = \"C\", secret_env = \"S\", access_token_env = \"T\" }",
            "gocardless = { base_url = \"https://u:S3CR3T@gc.example\", account_id = \"acc-1\", secret_id_env = \"I\", secret_key_env = \"K\" }",
        ] {
            let bank_legs = legs("stripe", &format!("[bank]\n{section}")).expect("valid");
            let shown = describe(&specs[0], bank_legs.get("s"));
            assert!(shown.contains("u:***@"), "{shown}");
            assert!(!shown.contains("S3CR3T"), "{shown}");
        }

        let at = "settlement[0] (\"s\").bank";
        assert_eq!(
            check("stripe", "[bank]\nformat = \"camt\"").unwrap_err(),
            format!(
                "{at}: give exactly one of statements (a path or glob), sftp, plaid, gocardless"
            )
        );
        assert_eq!(
            check("stripe", "[bank]\nstatements = \"b.sta\"").unwrap_err(),
            format!("{at}.format: name the statements' format (camt, mt940, bai2)")
        );
        assert_eq!(
            check("stripe", "[bank]\nformat = \"ofx\"\nstatements = \"b.ofx\"").unwrap_err(),
            format!("{at}.format: \"ofx\" is not a statement format (camt, mt940, bai2)")
        );
        assert_eq!(
            check(
                "stripe",
                "[bank]\nformat = \"camt\"\ngocardless = { account_id = \"acc-1\", secret_id_env = \"I\", secret_key_env = \"K\" }"
            )
            .unwrap_err(),
            format!("{at}.format: an aggregator's transactions have no file format; leave it out")
        );
        let unknown = check(
            "stripe",
            "[bank]\nformat = \"mt940\"\nstatements = \"b.sta\"\n[bank.trace]\nwindow_days = 2",
        );
        assert!(
            unknown
                .as_ref()
                .is_err_and(|e| e.contains("unknown field `window_days`")),
            "{:?}",
            unknown.map(|_| ())
        );
    }
}
