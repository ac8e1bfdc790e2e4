//! The command line: commands and flags, with help written for finance ops and on-call engineers.

use std::path::PathBuf;

use chrono::NaiveDate;
use clap::builder::{EnumValueParser, TypedValueParser};
use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::discrepancy::{Kind, Status};
use crate::exit::Exit;
use crate::integrity::Strategy;
use crate::shard::Shard;
use crate::store::AckReason;

#[derive(Debug, Parser)]
#[command(
    name = "recon",
    version,
    about = "Nightly reconciliation: proves two copies of the ledger agree, row by row, with SHA-256.",
    long_about = "recon compares critical ledger tables on two databases by SHA-256 digests, narrows \
every mismatch down to the row and column, keeps each discrepancy's life (open, carried over, \
resolved) in its store, and writes reports people can act on.\n\n\
Exit codes: 0 clean · 1 discrepancies found · 2 bad configuration or input · \
3 incomplete (safe to rerun) · 4 another run holds the lock · 5 internal error."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Reconcile one business date: every configured check, results stored, reports written.
    Run(RunArgs),
    /// Complete the latest run of a date: re-attempt only the checks that failed in it.
    Retry(RetryArgs),
    /// Compare one table on two databases, ad hoc: no configuration or store needed.
    Diff(DiffArgs),
    /// Build two demo ledgers with planted differences and reconcile them (see README).
    Demo(DemoArgs),
    /// Create or upgrade recon's own store tables: the only command that changes an existing
    /// store's schema (run it with the migrator's credentials, after a backup).
    Migrate(ConfigArg),
    /// Validate the configuration.
    Config {
        #[command(subcommand)]
        command: ConfigCommand,
    },
    /// List discrepancies, or acknowledge one with a note.
    Discrepancies {
        #[command(subcommand)]
        command: DiscrepanciesCommand,
    },
    /// Verify or export the tamper-evident audit trail.
    Audit {
        #[command(subcommand)]
        command: AuditCommand,
    },
    /// Check the controls PCI DSS asks to keep: key ages, retention, TLS, the audit chain, the
    /// last successful run, the advisory database's age.
    Controls {
        #[command(subcommand)]
        command: ControlsCommand,
    },
    /// Manage the data key what recon keeps is encrypted under at rest.
    Keys {
        #[command(subcommand)]
        command: KeysCommand,
    },
    /// Serve the triage pages: the backlog across dates, each finding's history, the nights'
    /// reports; acknowledge and assign in a browser (`[serve]` in the config says who may).
    Serve(ServeArgs),
}

#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct ServeArgs {
    #[command(subcommand)]
    pub command: Option<ServeCommand>,
    #[command(flatten)]
    pub config: ConfigArg,
    /// Listen here instead of `serve.listen` (address:port).
    #[arg(long)]
    pub listen: Option<std::net::SocketAddr>,
    /// Where the nights' reports are kept, instead of `job.out_dir` (`<out>/reports/<date>/`).
    #[arg(long)]
    pub out: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub enum ServeCommand {
    /// Per-user tokens, for `serve.identity = "tokens"`.
    Token {
        #[command(subcommand)]
        command: TokenCommand,
    },
}

#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Make a token for USER with a role: printed once, only its SHA-256 is kept in the store.
    Add(TokenAddArgs),
}

#[derive(Debug, Args)]
pub struct TokenAddArgs {
    /// The person the token identifies.
    pub user: String,
    /// What the person may do.
    #[arg(long, value_parser = ["viewer", "analyst", "approver"])]
    pub role: String,
    #[command(flatten)]
    pub config: ConfigArg,
}

#[derive(Debug, Subcommand)]
pub enum ControlsCommand {
    /// Check every control; exit 0 when all hold, 1 naming each failing one, 2 for bad
    /// configuration.
    Check(ControlsArgs),
}

#[derive(Debug, Args)]
pub struct ControlsArgs {
    #[command(flatten)]
    pub config: ConfigArg,
    /// One JSON object: the failing controls' names, then every control.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub metrics: MetricsArgs,
}

#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Re-encrypt everything kept (the store's discrepancy values, kept downloads) under the
    /// current data key, after a rotation; says how many items it moved. Safe to run again.
    Rewrap(RewrapArgs),
}

#[derive(Debug, Args)]
pub struct RewrapArgs {
    #[command(flatten)]
    pub(crate) config: ConfigArg,
    /// The run's output folder, whose downloads/ are re-encrypted (default: job.out_dir).
    #[arg(long)]
    pub(crate) out: Option<PathBuf>,
    /// Who re-encrypts, for the audit trail (default: RECON_ACTOR, then the operating-system user).
    #[arg(long, env = "RECON_ACTOR")]
    pub(crate) actor: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum DiscrepanciesCommand {
    /// List discrepancies from the store, oldest first, as the run's summary shows them.
    List(ListArgs),
    /// Mark discrepancies explained (several ids, or every one a filter takes) with a reason
    /// code and a note; each goes into the audit trail.
    Ack(AckArgs),
    /// One discrepancy's life night by night: each run that saw it, its status then, its
    /// acknowledgements.
    History(HistoryArgs),
}

/// Which discrepancies a command takes; an absent filter takes every one.
#[derive(Debug, Args)]
pub struct FilterArgs {
    /// Only those still needing someone (new or carried over).
    #[arg(long)]
    pub(crate) open: bool,
    /// Only those of this business date, YYYY-MM-DD (a whole-table check's findings are of the
    /// dates of the runs that saw them).
    #[arg(long, value_parser = parse_date, conflicts_with_all = ["from", "to"])]
    pub(crate) date: Option<NaiveDate>,
    /// Only those of business dates from this one on, YYYY-MM-DD.
    #[arg(long, value_parser = parse_date)]
    pub(crate) from: Option<NaiveDate>,
    /// Only those of business dates up to this one, YYYY-MM-DD.
    #[arg(long, value_parser = parse_date)]
    pub(crate) to: Option<NaiveDate>,
    /// Only those of this check (one the configuration or the store knows).
    #[arg(long)]
    pub(crate) check: Option<String>,
    /// Only those of this kind (repeat for several), e.g. `changed`, `amount_mismatch`.
    #[arg(long, value_name = "KIND", value_parser = parse_kind)]
    pub(crate) kind: Vec<Kind>,
    /// Only those with this status (repeat for several).
    #[arg(long, value_name = "STATUS",
          value_parser = EnumValueParser::<StatusArg>::new().map(Status::from))]
    pub(crate) status: Vec<Status>,
    /// Only those first seen at least DAYS days ago.
    #[arg(long, value_name = "DAYS")]
    pub(crate) older_than: Option<u32>,
}

impl FilterArgs {
    /// Whether any filter is given.
    pub(crate) fn any(&self) -> bool {
        self.open
            || self.date.is_some()
            || self.from.is_some()
            || self.to.is_some()
            || self.check.is_some()
            || !self.kind.is_empty()
            || !self.status.is_empty()
            || self.older_than.is_some()
    }
}

#[derive(Debug, Args)]
pub struct ListArgs {
    #[command(flatten)]
    pub(crate) config: ConfigArg,
    #[command(flatten)]
    pub(crate) filter: FilterArgs,
    /// One JSON object per discrepancy.
    #[arg(long)]
    pub(crate) json: bool,
}

#[derive(Debug, Args)]
pub struct AckArgs {
    #[command(flatten)]
    pub(crate) config: ConfigArg,
    /// The discrepancies' ids (the first column of `recon discrepancies list`); or give a
    /// filter instead, which takes those still needing someone unless --status says otherwise.
    #[arg(value_name = "ID")]
    pub(crate) ids: Vec<i64>,
    #[command(flatten)]
    pub(crate) filter: FilterArgs,
    /// Why it is not a problem, in words an auditor will read.
    #[arg(long)]
    pub(crate) note: String,
    /// What was done: explained (not a problem), write-off (the money is written off),
    /// adjustment-booked (a correcting entry is booked).
    #[arg(long, value_parser = EnumValueParser::<ReasonArg>::new().map(AckReason::from))]
    pub(crate) reason: AckReason,
    /// Who acknowledges it. On a PostgreSQL store the actor is the session's database role and
    /// this is only a display name beside it; on SQLite it is the actor (default: RECON_ACTOR,
    /// then the operating-system user, then "unknown"; in a pod, where there is no user, give it).
    #[arg(long, env = "RECON_ACTOR")]
    pub(crate) actor: Option<String>,
    /// The last day (YYYY-MM-DD, UTC) the acknowledgement holds; the first run after it reopens
    /// the finding. Without it, it holds until the finding changes or resolves.
    #[arg(long, value_name = "DATE")]
    pub(crate) until: Option<chrono::NaiveDate>,
}

#[derive(Debug, Args)]
pub struct HistoryArgs {
    #[command(flatten)]
    pub(crate) config: ConfigArg,
    /// The discrepancy's id.
    pub(crate) id: i64,
    /// One JSON object: the finding and its steps.
    #[arg(long)]
    pub(crate) json: bool,
}

/// `--status`'s values as the command line offers them.
#[derive(Debug, Clone, Copy, ValueEnum)]
enum StatusArg {
    /// First seen by the latest run that saw it (stored as `open`).
    #[value(alias = "open")]
    New,
    /// Seen before and still there.
    Carried,
    /// Explained by an operator, and still as acknowledged.
    Acknowledged,
    /// Gone at a later run.
    Resolved,
}

impl From<StatusArg> for Status {
    fn from(arg: StatusArg) -> Status {
        match arg {
            StatusArg::New => Status::Open,
            StatusArg::Carried => Status::Carried,
            StatusArg::Acknowledged => Status::Acknowledged,
            StatusArg::Resolved => Status::Resolved,
        }
    }
}

/// `--reason`'s values as the command line offers them.
#[derive(Debug, Clone, Copy, ValueEnum)]
enum ReasonArg {
    /// Not a problem: the note says why.
    Explained,
    /// The money is written off.
    WriteOff,
    /// A correcting entry is booked in the ledger.
    AdjustmentBooked,
}

impl From<ReasonArg> for AckReason {
    fn from(arg: ReasonArg) -> AckReason {
        match arg {
            ReasonArg::Explained => AckReason::Explained,
            ReasonArg::WriteOff => AckReason::WriteOff,
            ReasonArg::AdjustmentBooked => AckReason::AdjustmentBooked,
        }
    }
}

fn parse_kind(text: &str) -> Result<Kind, String> {
    Kind::parse(text).ok_or_else(|| {
        let known: Vec<&str> = Kind::all().map(Kind::as_str).collect();
        format!(
            "{text:?} is not a discrepancy kind; the kinds are {}",
            known.join(", ")
        )
    })
}

#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Walk the hash chain; exit 0 when intact, 1 naming every broken entry.
    Verify(VerifyArgs),
    /// Write the chain as JSON lines for an auditor to verify independently.
    Export(ExportArgs),
    /// Make a new Ed25519 key pair for one audit writer: the private key for
    /// RECON_AUDIT_SIGNING_KEY, the public key for `[audit] trusted_keys`.
    Keygen(KeygenArgs),
}

#[derive(Debug, Args)]
pub struct KeygenArgs {
    /// The key id its entries will name, e.g. `job-2026-12` or `ops-alice`.
    pub(crate) key_id: String,
    /// Write the private key to this new file (mode 0600) instead of printing it.
    #[arg(long)]
    pub(crate) out: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct VerifyArgs {
    #[command(flatten)]
    pub(crate) config: ConfigArg,
    /// Start at this sequence number, trusting the entry before it.
    #[arg(long, default_value_t = 1)]
    pub(crate) from: i64,
    /// A head kept outside the store (`SEQ:HASH`, from a run's log line or summary.json): the
    /// chain must still hold entry SEQ with exactly that hash.
    #[arg(long, value_name = "SEQ:HASH", value_parser = parse_head)]
    pub(crate) expect_head: Option<(i64, String)>,
}

fn parse_head(text: &str) -> Result<(i64, String), String> {
    let bad = || format!("{text:?} is not a head; write SEQ:HASH (e.g. 42:9f86d0…, 64 hex digits)");
    let (seq, hash) = text.split_once(':').ok_or_else(bad)?;
    let seq: i64 = seq.parse().map_err(|_| bad())?;
    if seq < 1 || hash.len() != 64 || !hash.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(bad());
    }
    Ok((seq, hash.to_ascii_lowercase()))
}

#[derive(Debug, Args)]
pub struct ExportArgs {
    #[command(flatten)]
    pub(crate) config: ConfigArg,
    /// Write to this file instead of stdout.
    #[arg(long)]
    pub(crate) out: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct ConfigArg {
    /// The configuration file.
    #[arg(long, short, env = "RECON_CONFIG", default_value = "config/recon.toml")]
    pub config: PathBuf,
}

#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Validate the file and print the resolved configuration, passwords masked.
    Check(ConfigArg),
}

#[derive(Debug, Args)]
pub struct RunArgs {
    #[command(flatten)]
    pub config: ConfigArg,
    /// The business date to reconcile, YYYY-MM-DD (default: yesterday in the job's time zone).
    #[arg(long, env = "RECON_DATE", value_parser = parse_date, conflicts_with_all = ["from", "to"])]
    pub date: Option<NaiveDate>,
    /// Catch up a range: one run per date from this one (YYYY-MM-DD) to --to, in order,
    /// stopping at the first run that fails (exit 2 to 5) with the dates left. Not with --date
    /// (nor RECON_DATE, which stands for it).
    #[arg(long, value_parser = parse_date, requires = "to", conflicts_with = "shard")]
    pub from: Option<NaiveDate>,
    /// The last date of a --from range, YYYY-MM-DD.
    #[arg(long, value_parser = parse_date, requires = "from")]
    pub to: Option<NaiveDate>,
    /// Run only this check (repeat for several): a rerun of those checks of the date, which
    /// moves only their findings (a finding is resolved only by a run of its own check).
    #[arg(long = "check", value_name = "NAME", conflicts_with_all = ["shard", "resume"])]
    pub checks: Vec<String>,
    /// Folder for summary.json and discrepancies.csv (default: job.out_dir, then ./recon-out).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Only this shard of the checks, I/N (e.g. `--shard $(JOB_COMPLETION_INDEX)/4`).
    #[arg(long, env = "RECON_SHARD")]
    pub shard: Option<Shard>,
    /// If the date's latest run is incomplete (exit 3), complete it instead of starting afresh.
    #[arg(long)]
    pub resume: bool,
    /// Once this shard's key range of a check split by key is stored, wait up to this many
    /// seconds for the other shards' ranges, so the run ends with the whole check (default 0:
    /// report the check incomplete at once, exit 3).
    #[arg(long, env = "RECON_WAIT_FOR_RANGES", default_value_t = 0)]
    pub wait_for_ranges: u64,
    #[command(flatten)]
    pub ending: EndingArgs,
}

/// How a run (or retry) ends: where its metrics go, and its exit code for findings.
#[derive(Debug, Args)]
pub struct EndingArgs {
    #[command(flatten)]
    pub metrics: MetricsArgs,
    #[command(flatten)]
    pub findings: FindingsArg,
}

/// The process exit code of a run that completed with discrepancies.
#[derive(Debug, Args)]
pub struct FindingsArg {
    /// Exit with this code (1 or 0) when the run completed and found discrepancies. A CronJob
    /// passes 0, so findings are a succeeded Job and only 2 to 5 fail it; summary.json and the
    /// metrics still say `discrepancies` (exit code 1).
    #[arg(long, env = "RECON_FINDINGS_EXIT_CODE", default_value_t = 1,
          value_parser = clap::value_parser!(u8).range(0..=1))]
    pub findings_exit_code: u8,
}

impl FindingsArg {
    /// What the process exits with for a run that ended with `outcome`.
    pub fn process_exit(&self, outcome: Exit) -> Exit {
        if outcome == Exit::Discrepancies && self.findings_exit_code == 0 {
            Exit::Clean
        } else {
            outcome
        }
    }
}

/// Where the run's metrics go, besides the reports.
/// Where metrics go; its `Debug` shows the Pushgateway URL with its password redacted.
#[derive(Args)]
pub struct MetricsArgs {
    /// Write the metrics in the Prometheus text format to this file.
    #[arg(long, env = "RECON_METRICS_FILE")]
    pub metrics_file: Option<PathBuf>,
    /// Push the metrics to this Prometheus Pushgateway (e.g. http://pushgateway:9091).
    #[arg(long, env = "RECON_METRICS_PUSH")]
    pub metrics_push: Option<String>,
}

impl std::fmt::Debug for MetricsArgs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MetricsArgs")
            .field("metrics_file", &self.metrics_file)
            .field(
                "metrics_push",
                &self.metrics_push.as_deref().map(crate::secret::Redacted),
            )
            .finish()
    }
}

#[derive(Debug, Args)]
pub struct RetryArgs {
    #[command(flatten)]
    pub config: ConfigArg,
    /// The business date whose latest run to complete (default: yesterday in the job's time zone).
    #[arg(long, env = "RECON_DATE", value_parser = parse_date)]
    pub date: Option<NaiveDate>,
    /// Folder for the rewritten reports (default: job.out_dir).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// The shard whose run to complete, I/N.
    #[arg(long, env = "RECON_SHARD")]
    pub shard: Option<Shard>,
    #[command(flatten)]
    pub ending: EndingArgs,
}

/// `recon diff`'s arguments; its `Debug` shows URLs with their passwords redacted.
#[derive(Args)]
pub struct DiffArgs {
    /// LEFT_URL LEFT_TABLE RIGHT_URL RIGHT_TABLE (a table is `table` or `schema.table`). A URL
    /// with a password is refused here, where `ps` would show it: leave that side's URL out and
    /// name the variable holding it with --left-url-env / --right-url-env.
    #[arg(
        value_name = "[LEFT_URL] LEFT_TABLE [RIGHT_URL] RIGHT_TABLE",
        num_args = 2..=4,
        required = true
    )]
    pub(crate) operands: Vec<String>,
    /// The environment variable holding the left database URL (instead of LEFT_URL).
    #[arg(long, value_name = "NAME")]
    pub(crate) left_url_env: Option<String>,
    /// The environment variable holding the right database URL (instead of RIGHT_URL).
    #[arg(long, value_name = "NAME")]
    pub(crate) right_url_env: Option<String>,
    /// A key column; repeat for a composite key.
    #[arg(long = "key", required = true)]
    pub(crate) key: Vec<String>,
    /// Compared columns, comma-separated (default: every column both tables share).
    #[arg(long, value_delimiter = ',')]
    pub(crate) columns: Option<Vec<String>>,
    /// Compare only the rows matching PREDICATE: `column op value` terms joined by AND, e.g.
    /// "currency = 'EUR' AND amount >= 10.5 AND memo IS NOT NULL" (op: = <> != < <= > >=,
    /// IN ('a', 'b'), IS [NOT] NULL). Values are bound, never pasted into SQL; see README.
    #[arg(long = "where", value_name = "PREDICATE")]
    pub(crate) filter: Option<String>,
    /// Columns shown only masked, as `hmac-sha256:…` under the key in RECON_MASK_KEY
    /// (comma-separated or repeated), like a check's sensitive_columns.
    #[arg(long, value_delimiter = ',')]
    pub(crate) sensitive: Vec<String>,
    /// Shared columns recon cannot compare exactly (floating point, arrays…) that may go
    /// uncompared (comma-separated or repeated); any other such column stops the diff (exit 2).
    #[arg(long, value_delimiter = ',', value_name = "COLUMN")]
    pub(crate) accept_uncompared: Vec<String>,
    /// One JSON object per difference on stdout, with both sides' values of changed columns.
    #[arg(long)]
    pub(crate) json: bool,
    /// Print row counts and difference counts.
    #[arg(long)]
    pub(crate) stats: bool,
    /// How differing rows are found: stream (read every row; lightest on the databases) or
    /// bisect (PostgreSQL and MySQL/MariaDB hash their own rows; only digests and differing
    /// rows cross the network).
    #[arg(long, default_value = "stream",
          value_parser = EnumValueParser::<StrategyArg>::new().map(Strategy::from))]
    pub(crate) strategy: Strategy,
    /// A timestamp column that ages rows: rows younger than --settle-secs on either side are
    /// in flight and not compared, and each difference is read again before it is printed.
    #[arg(long)]
    pub(crate) settle_column: Option<String>,
    /// How old a row must be (by --settle-column) to be compared.
    #[arg(long, default_value_t = 300, requires = "settle_column")]
    pub(crate) settle_secs: u64,
    /// How long to wait before reading the differing rows again.
    #[arg(long, default_value_t = 5, requires = "settle_column")]
    pub(crate) recheck_after_secs: u64,
}

impl std::fmt::Debug for DiffArgs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let operands: Vec<_> = self
            .operands
            .iter()
            .map(|o| crate::secret::Redacted(o))
            .collect();
        f.debug_struct("DiffArgs")
            .field("operands", &operands)
            .field("left_url_env", &self.left_url_env)
            .field("right_url_env", &self.right_url_env)
            .field("key", &self.key)
            .field("columns", &self.columns)
            .field("filter", &self.filter)
            .field("sensitive", &self.sensitive)
            .field("accept_uncompared", &self.accept_uncompared)
            .field("json", &self.json)
            .field("stats", &self.stats)
            .field("strategy", &self.strategy)
            .field("settle_column", &self.settle_column)
            .field("settle_secs", &self.settle_secs)
            .field("recheck_after_secs", &self.recheck_after_secs)
            .finish()
    }
}

/// `--strategy`'s values as the command line offers them; [`Strategy`] is the domain's own.
#[derive(Debug, Clone, Copy, ValueEnum)]
enum StrategyArg {
    /// Stream every row of both sides in key order and merge-join them.
    Stream,
    /// Compare segment digests computed in both databases (PostgreSQL, MySQL/MariaDB) and
    /// narrow only the differing segments.
    Bisect,
}

impl From<StrategyArg> for Strategy {
    fn from(arg: StrategyArg) -> Strategy {
        match arg {
            StrategyArg::Stream => Strategy::Stream,
            StrategyArg::Bisect => Strategy::Bisect,
        }
    }
}

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Folder for the demo databases, store and reports.
    #[arg(long, default_value = "demo-out")]
    pub out: PathBuf,
}

fn parse_date(text: &str) -> Result<NaiveDate, String> {
    NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .map_err(|_| format!("{text:?} is not a date; write YYYY-MM-DD"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_of_the_arguments_shows_no_password() {
        let cli = Cli::try_parse_from([
            "recon",
            "diff",
            "postgres://u:hunter2@h/db?sslpassword=hunter3",
            "t",
            "mysql://u@h/db?password=hunter4",
            "t",
            "--key",
            "id",
        ])
        .unwrap();
        let shown = format!("{cli:?}");
        for password in ["hunter2", "hunter3", "hunter4"] {
            assert!(!shown.contains(password), "{shown}");
        }
        assert!(
            shown.contains("\"postgres://u:***@h/db?sslpassword=***\", \"t\""),
            "{shown}"
        );
        let cli = Cli::try_parse_from([
            "recon",
            "run",
            "--metrics-push",
            "https://m:hunter5@pushgateway:9091",
        ])
        .unwrap();
        let shown = format!("{cli:?}");
        assert!(!shown.contains("hunter5"), "{shown}");
        assert!(
            shown.contains("\"https://m:***@pushgateway:9091\""),
            "{shown}"
        );
    }
}
