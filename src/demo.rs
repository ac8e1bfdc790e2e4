//! `recon demo`: two SQLite ledgers with planted differences, reconciled by a real run.
//!
//! The data is generated deterministically (a fixed seed), so every demo finds the same
//! discrepancies; the demo checks it found exactly the planted ones and nothing else.

use std::path::{Path, PathBuf};
use std::str::FromStr;

use chrono::{DateTime, Duration, NaiveDate, Utc};
use sqlx::SqlitePool;
use sqlx::sqlite::{SqliteConnectOptions, SqlitePoolOptions};

use crate::bank::check::Statements;
use crate::config::{Config, folder_of};
use crate::discrepancy::Kind;
use crate::error::{Error, Result};
use crate::mask::DEFAULT_MASK_KEY_ENV;
use crate::run::{self, RunReport};
use crate::secret::process_env;
use crate::settlement::fetch::{ReportLocation, report_name};

mod bank;
mod processor;

/// The business date the demo reconciles.
pub(crate) fn business_date() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 11, 20).unwrap_or_default()
}

/// The demo's configuration, shipped in the binary so `recon demo` works from any folder.
pub(crate) const CONFIG: &str = include_str!("../config/demo.toml");

/// A difference the demo plants on the payments side.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Planted {
    pub(crate) check: String,
    pub(crate) kind: Kind,
    /// The key's canonical text (every demo table has a one-column key).
    pub(crate) key: String,
    pub(crate) columns: Vec<String>,
}

fn planted(check: &str, kind: Kind, key: &str, columns: &[&str]) -> Planted {
    Planted {
        check: check.to_string(),
        kind,
        key: key.to_string(),
        columns: columns.iter().map(|c| c.to_string()).collect(),
    }
}

/// Every difference planted between the two databases inside the demo's business date (or in
/// a whole-table check); the processor report's problems are in [`processor`], the bank
/// statement's in [`bank`].
pub(crate) fn planted_differences() -> Vec<Planted> {
    let mut all = vec![
        planted("accounts", Kind::MissingInRight, "acct_0007", &[]),
        planted("accounts", Kind::Changed, "acct_0099", &["status"]),
        planted("accounts", Kind::Changed, "acct_0150", &["name"]),
        planted("ledger_entries", Kind::MissingInRight, "1017", &[]),
        planted("ledger_entries", Kind::Changed, "1042", &["amount_minor"]),
        planted("ledger_entries", Kind::Changed, "1100", &["status"]),
        planted("ledger_entries", Kind::Changed, "1203", &["memo"]),
        planted("ledger_entries", Kind::Changed, "1300", &["created_at"]),
        planted("ledger_entries", Kind::MissingInLeft, "9001", &[]),
        planted(
            "payouts",
            Kind::Changed,
            &payout_id(1, 10),
            &["amount_minor", "currency"],
        ),
        planted("payouts", Kind::MissingInLeft, &payout_id(1, 20), &[]),
    ];
    all.sort();
    all
}

/// What the demo did and whether it found what it planted.
pub struct DemoReport {
    pub run: RunReport,
    /// `Err` lists what was planted but not found, or found but not planted.
    pub verified: std::result::Result<usize, String>,
}

/// Builds the demo ledgers under `out/data`, a fresh store in `out`, and reconciles them.
pub async fn demo(out: &Path) -> Result<DemoReport> {
    let data = out.join("data");
    crate::private_fs::create_dir_all(&data)
        .map_err(|e| Error::bad_input(format!("cannot create {}: {e}", data.display())))?;
    let ledger = data.join("ledger.db");
    let payments = data.join("payments.db");
    let store = out.join("recon-store.db");
    for path in [&ledger, &payments, &store] {
        remove_database(path)?;
    }
    build(&ledger, Side::Ledger).await?;
    build(&payments, Side::Payments).await?;
    let reports = data.join("reports");
    let (report_file, malformed_line) = processor::write_report(&reports, business_date())?;
    let statements = data.join("bank");
    bank::write_statement(
        &statements,
        business_date(),
        &processor::reported_payouts(business_date()),
    )?;

    let urls = [
        ("RECON_DEMO_LEDGER_URL", sqlite_url(&ledger)),
        ("RECON_DEMO_PAYMENTS_URL", sqlite_url(&payments)),
        ("RECON_DEMO_STORE_URL", sqlite_url(&store)),
    ];
    let env = |name: &str| {
        let demo_value = urls
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, url)| url.clone());
        // A deployment sets its own secret mask key; the demo's data is made up, and so is its key
        // unless the environment gives one.
        match name {
            DEFAULT_MASK_KEY_ENV => process_env(name).or_else(|| Some(DEMO_MASK_KEY.to_string())),
            _ => demo_value,
        }
    };
    let mut config = Config::parse(Path::new("config/demo.toml"), CONFIG, &env)?;
    // The built-in configuration is read as if from the working directory: a report under it
    // is named relative to it, however --out was spelled.
    config.dir = folder_of(Path::new("recon.toml"));
    // The file names the default --out folder; the reports are under this demo's own.
    let pattern = std::path::absolute(reports.join("stripe-{date}.csv"))
        .map_err(|e| Error::bad_input(format!("cannot resolve {}: {e}", reports.display())))?;
    let statements_pattern = std::path::absolute(statements.join("camt053-{date}.xml"))
        .map_err(|e| Error::bad_input(format!("cannot resolve {}: {e}", statements.display())))?;
    for check in &mut config.settlement {
        check.location = ReportLocation::Files(pattern.display().to_string());
    }
    for leg in config.bank_legs.values_mut() {
        if let Statements::Files { location, .. } = &mut leg.statements {
            *location = ReportLocation::Files(statements_pattern.display().to_string());
        }
    }
    let report = run::run(&config, business_date(), out, run::RunOptions::default()).await?;

    let mut found: Vec<Planted> = report
        .summary
        .discrepancies
        .iter()
        .map(|d| Planted {
            check: d.check.clone(),
            kind: Kind::parse(d.kind).unwrap_or(Kind::SchemaMismatch),
            key: d
                .key
                .as_object()
                .map(|k| {
                    k.values()
                        .map(|v| v.as_str().unwrap_or("NULL"))
                        .collect::<Vec<_>>()
                        .join("/")
                })
                .unwrap_or_default(),
            columns: d.columns.clone(),
        })
        .collect();
    found.sort();
    let mut expected = planted_differences();
    expected.extend(processor::planted_problems(
        &report_name(&report_file, &config.dir),
        malformed_line,
    ));
    expected.extend(bank::planted_problems(business_date()));
    expected.sort();
    let verified = if found == expected {
        Ok(found.len())
    } else {
        let missed: Vec<_> = expected.iter().filter(|p| !found.contains(p)).collect();
        let extra: Vec<_> = found.iter().filter(|p| !expected.contains(p)).collect();
        Err(format!(
            "planted but not found: {missed:?}; found but not planted: {extra:?}"
        ))
    };
    Ok(DemoReport {
        run: report,
        verified,
    })
}

fn sqlite_url(path: &Path) -> String {
    format!("sqlite://{}", path.display())
}

fn remove_database(path: &Path) -> Result<()> {
    for suffix in ["", "-wal", "-shm"] {
        let file = PathBuf::from(format!("{}{suffix}", path.display()));
        if file.exists() {
            std::fs::remove_file(&file)
                .map_err(|e| Error::bad_input(format!("cannot remove {}: {e}", file.display())))?;
        }
    }
    Ok(())
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Side {
    Ledger,
    Payments,
}

/// SplitMix64: a tiny deterministic generator, so the demo needs no randomness crate.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// The demo's mask key when `RECON_MASK_KEY` is not set: made up like its data, never for a
/// deployment (which sets its own random key, e.g. `openssl rand -hex 32`).
const DEMO_MASK_KEY: &str = "64656d6f2d6f6e6c792d6d61736b2d6b65792d6d6164652d75702d6c696b652d74";

const DAYS: i64 = 3;
const ENTRIES_PER_DAY: i64 = 1000;
const PAYOUTS_PER_DAY: i64 = 100;
const ACCOUNTS: u64 = 200;
const CURRENCIES: [&str; 4] = ["EUR", "USD", "GBP", "JPY"];

/// A readable, deterministic payout id: day index and sequence in the last group.
fn payout_id(day: i64, index: i64) -> String {
    format!("00000000-0000-4000-8000-{:012}", day * 1000 + index)
}

fn day_start(day: i64) -> DateTime<Utc> {
    (business_date() + Duration::days(day - 1))
        .and_time(chrono::NaiveTime::MIN)
        .and_utc()
}

fn timestamp(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %H:%M:%S%.6f").to_string()
}

async fn build(path: &Path, side: Side) -> Result<()> {
    crate::private_fs::open_or_create_file(path)
        .map_err(|e| Error::bad_input(format!("cannot create {}: {e}", path.display())))?;
    let options = SqliteConnectOptions::from_str(&sqlite_url(path))
        .map_err(|e| Error::internal(e.to_string()))?
        .create_if_missing(true);
    let pool = SqlitePoolOptions::new()
        .max_connections(1)
        .connect_with(options)
        .await
        .map_err(|e| Error::internal(format!("creating {}: {e}", path.display())))?;
    fill(&pool, side)
        .await
        .map_err(|e| Error::internal(format!("filling {}: {e}", path.display())))?;
    pool.close().await;
    Ok(())
}

async fn fill(pool: &SqlitePool, side: Side) -> std::result::Result<(), sqlx::Error> {
    let payments = side == Side::Payments;
    let mut tx = pool.begin().await?;
    if side == Side::Ledger {
        processor::fill_ledger(&mut tx, business_date()).await?;
    }
    sqlx::query(
        "CREATE TABLE accounts (id TEXT PRIMARY KEY, name TEXT NOT NULL, currency TEXT NOT NULL,
                                status TEXT NOT NULL, opened_on DATE NOT NULL, credit_limit_minor INTEGER)",
    )
    .execute(&mut *tx)
    .await?;
    sqlx::query(
        "CREATE TABLE ledger_entries (id INTEGER PRIMARY KEY, account_id TEXT NOT NULL, amount_minor INTEGER NOT NULL,
                                      currency TEXT NOT NULL, status TEXT NOT NULL, external_id TEXT NOT NULL,
                                      memo TEXT, created_at TIMESTAMP NOT NULL)",
    )
    .execute(&mut *tx)
    .await?;
    sqlx::query(
        "CREATE TABLE payouts (id UUID PRIMARY KEY, account_id TEXT NOT NULL, amount_minor INTEGER NOT NULL,
                               currency TEXT NOT NULL, status TEXT NOT NULL, arrival_date DATE NOT NULL,
                               created_at TIMESTAMP NOT NULL)",
    )
    .execute(&mut *tx)
    .await?;

    let mut rng = Rng(20_261_120);
    let names = [
        "Atlas Freight",
        "Bloom & Co",
        "Zoë Café",
        "Kōbe Trading",
        "Nordlicht GmbH",
        "Señor Taco",
    ];
    for n in 1..=ACCOUNTS {
        let id = format!("acct_{n:04}");
        let mut name = format!("{} #{n}", names[rng.below(names.len() as u64) as usize]);
        let currency = CURRENCIES[(n % 4) as usize];
        let mut status = if rng.below(10) == 0 {
            "closed"
        } else {
            "active"
        };
        let opened = NaiveDate::from_ymd_opt(2020, 1, 1).unwrap_or_default()
            + Duration::days(rng.below(2000) as i64);
        let limit = if rng.below(4) == 0 {
            None
        } else {
            Some(rng.below(1_000) as i64 * 10_000)
        };
        if n == 150 {
            name = if payments {
                "Zoe Cafe #150".into()
            } else {
                "Zoë Café #150".into()
            };
        }
        if n == 99 {
            status = if payments { "frozen" } else { "active" };
        }
        if payments && n == 7 {
            continue;
        }
        sqlx::query("INSERT INTO accounts VALUES ($1, $2, $3, $4, $5, $6)")
            .bind(&id)
            .bind(&name)
            .bind(currency)
            .bind(status)
            .bind(opened)
            .bind(limit)
            .execute(&mut *tx)
            .await?;
    }

    let memos = [
        "invoice 2026-118",
        "Café ☕ refund",
        "💸 marketplace split",
        "chargeback fee",
        "FX top-up",
    ];
    for day in 0..DAYS {
        for i in 0..ENTRIES_PER_DAY {
            let id = day * ENTRIES_PER_DAY + i + 1;
            let account = rng.below(ACCOUNTS) + 1;
            let currency = CURRENCIES[(account % 4) as usize];
            let mut amount = (rng.below(50_000) as i64 + 1) * 10;
            if rng.below(10) == 0 {
                amount = -amount; // refunds and reversals
            }
            let mut status = if rng.below(10) < 9 {
                "settled"
            } else {
                "pending"
            };
            let external = format!("ch_{:016x}", rng.next());
            let mut memo = if rng.below(3) == 0 {
                None
            } else {
                Some(memos[rng.below(memos.len() as u64) as usize].to_string())
            };
            let mut created = day_start(day)
                + Duration::seconds(i * 86)
                + Duration::microseconds(rng.below(1_000_000) as i64);
            match id {
                1017 if payments => continue,
                1042 => amount = if payments { 12_050 } else { 12_500 },
                1100 => status = if payments { "pending" } else { "settled" },
                1203 => memo = if payments { Some(String::new()) } else { None },
                1300 if payments => created += Duration::microseconds(1),
                // A difference on the day before: not part of the demo date's results.
                500 if payments => amount += 1,
                _ => {}
            }
            insert_entry(
                &mut tx,
                id,
                account,
                amount,
                currency,
                status,
                &external,
                memo.as_deref(),
                created,
            )
            .await?;
        }
    }
    if payments {
        let created = day_start(1) + Duration::hours(12);
        insert_entry(
            &mut tx,
            9001,
            3,
            4_200,
            "GBP",
            "settled",
            "ch_only_in_payments",
            None,
            created,
        )
        .await?;
    }

    for day in 0..DAYS {
        for i in 0..PAYOUTS_PER_DAY {
            let account = rng.below(ACCOUNTS) + 1;
            let mut currency = CURRENCIES[(account % 4) as usize];
            let mut amount = (rng.below(200_000) as i64 + 1) * 100;
            let status = if rng.below(20) == 0 { "failed" } else { "paid" };
            let created = day_start(day) + Duration::minutes(i * 14);
            let arrival = (created + Duration::days(2)).date_naive();
            if day == 1 && i == 10 && payments {
                amount += 100;
                currency = if currency == "USD" { "EUR" } else { "USD" };
            }
            if day == 1 && i == 20 && !payments {
                continue;
            }
            sqlx::query("INSERT INTO payouts VALUES ($1, $2, $3, $4, $5, $6, $7)")
                .bind(payout_id(day, i))
                .bind(format!("acct_{account:04}"))
                .bind(amount)
                .bind(currency)
                .bind(status)
                .bind(arrival)
                .bind(timestamp(created))
                .execute(&mut *tx)
                .await?;
        }
    }
    tx.commit().await
}

#[allow(clippy::too_many_arguments)]
async fn insert_entry(
    tx: &mut sqlx::SqliteConnection,
    id: i64,
    account: u64,
    amount: i64,
    currency: &str,
    status: &str,
    external: &str,
    memo: Option<&str>,
    created: DateTime<Utc>,
) -> std::result::Result<(), sqlx::Error> {
    sqlx::query("INSERT INTO ledger_entries VALUES ($1, $2, $3, $4, $5, $6, $7, $8)")
        .bind(id)
        .bind(format!("acct_{account:04}"))
        .bind(amount)
        .bind(currency)
        .bind(status)
        .bind(external)
        .bind(memo)
        .bind(timestamp(created))
        .execute(tx)
        .await?;
    Ok(())
}
