//! `recon audit verify` over an untouched chain of 10,000 entries, beside the floor of reading
//! the same rows without checking them.
//!
//! `cargo bench --bench audit_verify [-- STORE_URL]`: by default a fresh SQLite store in a
//! temporary folder; give a PostgreSQL URL of an empty database to measure that engine. One run
//! whose check opens 10,000 discrepancies writes the entries (a run start, the check result,
//! one entry per discrepancy); then verification and the plain read each run three times and
//! the best of each is reported, with their ratio. The target: under a second.

use std::time::{Duration, Instant};

use chrono::{NaiveDate, Utc};
use recon::check::CheckOutcome;
use recon::day::Partition;
use recon::discrepancy::{Discrepancy, Kind, ShownKey};
use recon::exit::Exit;
use recon::store::{CheckKind, CheckRecord, CheckStatus, Store, TableSide};

const ENTRIES: usize = 10_000;

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let dir = std::env::temp_dir().join(format!("recon-audit-bench-{}", std::process::id()));
    let url = std::env::args()
        .skip(1)
        .find(|a| a != "--bench")
        .unwrap_or_else(|| format!("sqlite://{}", dir.join("store.db").display()));
    if url.starts_with("sqlite://") {
        let _ = std::fs::create_dir_all(&dir);
    }
    if let Err(e) = bench(&url).await {
        eprintln!("audit bench failed: {e}");
        std::process::exit(1);
    }
    let _ = std::fs::remove_dir_all(&dir);
}

async fn bench(url: &str) -> recon::error::Result<()> {
    let store = Store::open(url).await?;
    store.migrate().await?;
    let date = NaiveDate::from_ymd_opt(2026, 11, 20).unwrap_or_default();
    let run = store.begin_run(date, "", "bench", Utc::now()).await?;
    let side = |source: &str| TableSide {
        rows: Some(ENTRIES as u64),
        digest: Some("0".repeat(64)),
        ..TableSide::table(source, "ledger_entries")
    };
    let record = CheckRecord {
        check: "ledger_entries".to_string(),
        check_type: CheckKind::Integrity,
        partition: Partition::Day(date),
        status: CheckStatus::Discrepancies,
        left: side("ledger"),
        right: side("payments"),
        error: None,
        exit: Exit::Discrepancies,
        attempts: 1,
        duration_ms: 0,
        accounting: None,
        downloads: Vec::new(),
        not_compared: Vec::new(),
    };
    let found: Vec<Discrepancy> = (0..ENTRIES)
        .map(|i| Discrepancy {
            check: record.check.clone(),
            partition: record.partition,
            kind: Kind::MissingInRight,
            key: ShownKey::masked(&[("id", Some(&i.to_string()))], None),
            columns: Vec::new(),
            values: Vec::new(),
            detail: None,
            at_stake: None,
        })
        .collect();
    let write = Instant::now();
    let outcome = CheckOutcome {
        record,
        found,
        reexamined: Vec::new(),
    };
    store.record_check(run, &outcome).await?;
    let written = write.elapsed();

    let mut verify = Duration::MAX;
    let mut checked = 0;
    for _ in 0..3 {
        let started = Instant::now();
        let verification = store.verify_audit(0, &Default::default(), None).await?;
        verify = verify.min(started.elapsed());
        checked = verification.checked;
        if !verification.breaks.is_empty() {
            return Err(recon::error::Error::internal(
                "the untouched chain did not verify",
            ));
        }
    }
    let mut read = Duration::MAX;
    let mut bytes = 0;
    for _ in 0..3 {
        let started = Instant::now();
        let mut sink = Vec::new();
        store.export_audit(&mut sink).await?;
        read = read.min(started.elapsed());
        bytes = sink.len();
    }
    let copied = copy_floor(url).await?;
    println!("store\t{}", recon::secret::redact_urls(url));
    println!(
        "entries written\t{checked}\t{:.3} s (one check recording {ENTRIES} discrepancies)",
        written.as_secs_f64()
    );
    println!(
        "floor: the engine copying the rows written, table to table\t{:.3} s",
        copied.as_secs_f64()
    );
    println!(
        "ratio\trecording takes {:.2}x the copy",
        written.as_secs_f64() / copied.as_secs_f64()
    );
    println!(
        "audit verify\t{checked} entries\t{:.3} s",
        verify.as_secs_f64()
    );
    println!(
        "floor: audit export (read, no check)\t{bytes} bytes\t{:.3} s",
        read.as_secs_f64()
    );
    println!(
        "ratio\tverify takes {:.2}x the plain read",
        verify.as_secs_f64() / read.as_secs_f64()
    );
    store.close().await;
    Ok(())
}

/// The floor under recording: the store's engine copying the rows one recording wrote
/// (discrepancies, their links to the run, audit entries) into empty tables of the same shape,
/// with no client in the loop. Best of three.
async fn copy_floor(url: &str) -> recon::error::Result<Duration> {
    const TABLES: [&str; 3] = ["discrepancies", "run_discrepancies", "audit_log"];
    let internal = |e: sqlx::Error| recon::error::Error::internal(e.to_string());
    let mut best = Duration::MAX;
    for round in 0..3 {
        let create: Vec<String> = TABLES
            .iter()
            .map(|t| format!("CREATE TABLE floor_{round}_{t} AS SELECT * FROM {t} WHERE 1 = 0"))
            .collect();
        let copy: Vec<String> = TABLES
            .iter()
            .map(|t| format!("INSERT INTO floor_{round}_{t} SELECT * FROM {t}"))
            .collect();
        macro_rules! timed {
            ($pool:expr) => {{
                for sql in &create {
                    sqlx::query(sqlx::AssertSqlSafe(sql.clone()))
                        .execute(&$pool)
                        .await
                        .map_err(internal)?;
                }
                let started = Instant::now();
                let mut tx = $pool.begin().await.map_err(internal)?;
                for sql in &copy {
                    sqlx::query(sqlx::AssertSqlSafe(sql.clone()))
                        .execute(&mut *tx)
                        .await
                        .map_err(internal)?;
                }
                tx.commit().await.map_err(internal)?;
                let took = started.elapsed();
                $pool.close().await;
                took
            }};
        }
        let took = if url.starts_with("postgres") {
            let pool = sqlx::PgPool::connect(url).await.map_err(internal)?;
            timed!(pool)
        } else {
            let pool = sqlx::SqlitePool::connect(url).await.map_err(internal)?;
            timed!(pool)
        };
        best = best.min(took);
    }
    Ok(best)
}
