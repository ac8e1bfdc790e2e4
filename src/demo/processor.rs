//! The demo's card payments: a ledger table and the Stripe report of the same day, generated
//! from one list, with one planted problem of each kind a settlement check can find.

use std::path::{Path, PathBuf};

use chrono::{DateTime, Duration, NaiveDate, Utc};

use super::{Planted, Rng, planted};
use crate::discrepancy::{Kind, SettlementKind};
use crate::error::{Error, Result};
use crate::money::{Currency, format_major};

/// The demo's settlement check, as named in config/demo.toml.
pub(crate) const CHECK: &str = "card_payments";

const PAYMENTS: i64 = 240;
const CURRENCIES: [&str; 4] = ["EUR", "USD", "GBP", "JPY"];

/// One card payment as the ledger books it.
struct Payment {
    id: String,
    amount: i64,
    currency: &'static str,
    fee: i64,
    status: &'static str,
    payout: Option<String>,
    created: DateTime<Utc>,
}

/// The payout a settled payment of `created` goes into: one a currency at the end of the day,
/// and the morning's EUR payments in an instant payout at noon (so the bank leg has a fifth
/// payout to trace; see [`super::bank`]).
fn payout_of(currency: &str, created: DateTime<Utc>) -> String {
    if currency == "EUR" && created < noon(created.date_naive()) {
        return INSTANT_PAYOUT.to_owned();
    }
    format!("po_demo_{}", currency.to_ascii_lowercase())
}

/// The EUR instant payout of the morning's payments.
const INSTANT_PAYOUT: &str = "po_demo_eur_instant";

fn noon(date: NaiveDate) -> DateTime<Utc> {
    date.and_time(chrono::NaiveTime::MIN).and_utc() + Duration::hours(12)
}

/// A payout line of the report: what Stripe sent to the bank, and when.
pub(crate) struct ReportedPayout {
    pub(crate) id: String,
    pub(crate) currency: &'static str,
    /// Positive, in minor units: what the payout line says left the Stripe balance.
    pub(crate) amount_minor: i64,
    pub(crate) created: DateTime<Utc>,
}

/// The report's payout lines of `date`, in the order they are written: what the ledger's
/// settled items of each payout net to (GBP's a cent short). `po_demo_jpy` is planted as paid
/// out on the Wednesday before (its line dated 2026-11-18, the 20th's items in it all the
/// same): the bank leg then finds it missing, its window passed by Friday's run.
pub(crate) fn reported_payouts(date: NaiveDate) -> Vec<ReportedPayout> {
    let all = payments(date);
    let end_of_day = all.last().map_or(noon(date), |p| p.created);
    let mut ids: Vec<(String, &'static str)> = CURRENCIES
        .iter()
        .map(|&c| (format!("po_demo_{}", c.to_ascii_lowercase()), c))
        .collect();
    ids.push((INSTANT_PAYOUT.to_owned(), "EUR"));
    ids.into_iter()
        .map(|(id, currency)| {
            let mut seen = std::collections::HashSet::new();
            let mut amount_minor: i64 = all
                .iter()
                .filter(|p| p.payout.as_deref() == Some(id.as_str()) && seen.insert(&p.id))
                .map(|p| p.amount - p.fee)
                .sum();
            if currency == "GBP" {
                amount_minor -= 1;
            }
            let created = match (id.as_str(), currency) {
                (INSTANT_PAYOUT, _) => noon(date),
                (_, "JPY") => end_of_day - Duration::days(2),
                _ => end_of_day,
            };
            ReportedPayout {
                id,
                currency,
                amount_minor,
                created,
            }
        })
        .collect()
}

/// The ledger's payments of `date`, deterministic.
fn payments(date: NaiveDate) -> Vec<Payment> {
    let mut rng = Rng(20_261_121);
    let start = date.and_time(chrono::NaiveTime::MIN).and_utc();
    (1..=PAYMENTS)
        .map(|n| {
            let currency = CURRENCIES[(n % 4) as usize];
            let mut amount = rng.below(90_000) as i64 + 500;
            let refund = n % 12 == 0;
            if refund {
                amount = -amount;
            }
            let fee = if refund {
                0
            } else if currency == "JPY" {
                amount * 36 / 1000
            } else {
                amount * 29 / 1000 + 30
            };
            let status = match n {
                9 => "pending",
                n if n % 25 == 0 => "failed",
                _ => "settled",
            };
            // In flight (n = 15), failed or pending payments are in no payout yet.
            let created = start + Duration::minutes(n * 5);
            let payout = (status == "settled" && n != 15).then(|| payout_of(currency, created));
            Payment {
                id: format!("ch_demo_{n:04}"),
                amount,
                currency,
                fee,
                status,
                payout,
                created,
            }
        })
        .collect()
}

/// Creates and fills `card_payments` in the ledger database (one id booked twice: n = 13).
pub(crate) async fn fill_ledger(
    tx: &mut sqlx::SqliteConnection,
    date: NaiveDate,
) -> std::result::Result<(), sqlx::Error> {
    sqlx::query(
        "CREATE TABLE card_payments (id TEXT NOT NULL, amount_minor INTEGER NOT NULL, currency TEXT NOT NULL,
                                     fee_minor INTEGER, status TEXT NOT NULL, payout_id TEXT,
                                     created_at TIMESTAMP NOT NULL)",
    )
    .execute(&mut *tx)
    .await?;
    for p in payments(date) {
        let times = if p.id == "ch_demo_0013" { 2 } else { 1 };
        for _ in 0..times {
            sqlx::query("INSERT INTO card_payments VALUES ($1, $2, $3, $4, $5, $6, $7)")
                .bind(&p.id)
                .bind(p.amount)
                .bind(p.currency)
                .bind(p.fee)
                .bind(p.status)
                .bind(&p.payout)
                .bind(super::timestamp(p.created))
                .execute(&mut *tx)
                .await?;
        }
    }
    Ok(())
}

/// Writes the Stripe balance report of `date` into `dir`; returns its path and the line of
/// the malformed row planted in it.
pub(crate) fn write_report(dir: &Path, date: NaiveDate) -> Result<(PathBuf, usize)> {
    let money = |minor: i64, code: &str| {
        Currency::parse(code)
            .map(|c| format_major(minor, c))
            .map_err(|e| Error::internal(e.to_string()))
    };
    let mut lines = vec![
        "balance_transaction_id,created_utc,currency,gross,fee,net,reporting_category,source_id,automatic_payout_id"
            .to_string(),
    ];
    let mut line = |txn: &str, p: &Payment, currency: &str, gross: i64, fee: i64| -> Result<()> {
        lines.push(format!(
            "{txn},{},{},{},{},{},{},{},{}",
            p.created.format("%Y-%m-%d %H:%M:%S"),
            currency.to_ascii_lowercase(),
            money(gross, currency)?,
            money(fee, currency)?,
            money(gross - fee, currency)?,
            if gross < 0 { "refund" } else { "charge" },
            p.id,
            p.payout.clone().unwrap_or_default()
        ));
        Ok(())
    };
    let all = payments(date);
    for (i, p) in all.iter().enumerate() {
        let txn = format!("txn_demo_{:04}", i + 1);
        match p.id.as_str() {
            _ if p.status == "failed" => {}
            "ch_demo_0015" => {} // in flight: not in today's report
            "ch_demo_0003" => line(&txn, p, p.currency, p.amount + 100, p.fee)?,
            "ch_demo_0005" => line(&txn, p, p.currency, p.amount, p.fee + 10)?,
            "ch_demo_0007" => line(&txn, p, "USD", p.amount, p.fee)?,
            "ch_demo_0011" => {
                line(&txn, p, p.currency, p.amount, p.fee)?;
                line(&format!("{txn}_again"), p, p.currency, p.amount, p.fee)?;
            }
            _ => line(&txn, p, p.currency, p.amount, p.fee)?,
        }
    }
    let stray = Payment {
        id: "ch_demo_stray".to_string(),
        amount: 4_200,
        currency: "EUR",
        fee: 152,
        status: "settled",
        payout: None,
        created: all[0].created,
    };
    line("txn_demo_stray", &stray, "EUR", stray.amount, stray.fee)?;
    lines.push(format!(
        "txn_demo_bad,{},usdx,10.00,0.59,9.41,charge,ch_demo_bad,",
        all[0].created.format("%Y-%m-%d %H:%M:%S")
    ));
    let malformed_line = lines.len();
    for payout in reported_payouts(date) {
        let (id, currency) = (&payout.id, payout.currency);
        lines.push(format!(
            "txn_{id},{},{},{},0,{},payout,{id},",
            payout.created.format("%Y-%m-%d %H:%M:%S"),
            currency.to_ascii_lowercase(),
            money(-payout.amount_minor, currency)?,
            money(-payout.amount_minor, currency)?,
        ));
    }
    crate::private_fs::create_dir_all(dir)
        .map_err(|e| Error::bad_input(format!("cannot create {}: {e}", dir.display())))?;
    let path = dir.join(format!("stripe-{date}.csv"));
    crate::private_fs::write_file(&path, (lines.join("\r\n") + "\r\n").as_bytes())
        .map_err(|e| Error::bad_input(format!("cannot write {}: {e}", path.display())))?;
    Ok((path, malformed_line))
}

/// The problems planted in the report; keys as the demo compares them (values joined by `/`).
pub(crate) fn planted_problems(report: &str, malformed_line: usize) -> Vec<Planted> {
    let s = |kind| Kind::Settlement(kind);
    vec![
        planted(
            CHECK,
            s(SettlementKind::MissingInLedger),
            "ch_demo_stray",
            &[],
        ),
        planted(
            CHECK,
            s(SettlementKind::AmountMismatch),
            "ch_demo_0003",
            &["amount"],
        ),
        planted(
            CHECK,
            s(SettlementKind::FeeMismatch),
            "ch_demo_0005",
            &["fee"],
        ),
        planted(
            CHECK,
            s(SettlementKind::CurrencyMismatch),
            "ch_demo_0007",
            &["currency"],
        ),
        planted(
            CHECK,
            s(SettlementKind::StatusMismatch),
            "ch_demo_0009",
            &["status"],
        ),
        planted(
            CHECK,
            s(SettlementKind::DuplicateInReport),
            "ch_demo_0011",
            &[],
        ),
        planted(
            CHECK,
            s(SettlementKind::DuplicateInLedger),
            "ch_demo_0013",
            &[],
        ),
        planted(
            CHECK,
            s(SettlementKind::PayoutTotalMismatch),
            "po_demo_gbp/GBP",
            &["payout_total"],
        ),
        planted(CHECK, s(SettlementKind::Timing), "ch_demo_0015", &[]),
        planted(
            CHECK,
            Kind::QuarantinedRow,
            &format!("{report}/{malformed_line}"),
            &[],
        ),
    ]
}
