//! The aggregator syncs against local servers that keep each API's documented contract: Plaid's
//! `/transactions/sync` (its body fields, `has_more` paging, a mutation during pagination that
//! restarts the sync, 429 and 500 passing, the cursor kept and resumed from) and GoCardless Bank
//! Account Data (its token, booked and pending lists, the per-account budget headers and the
//! refusal to spend the reserve): the exact entries, places and quarantines, and no secret in
//! any byte recon keeps or says.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use chrono::NaiveDate;
use recon::bank::sync_door::{self, Outcome, Synced};
use recon::exit::Exit;
use recon::store::Store;
use serde_json::Value;

use crate::common::*;

const CLIENT_ID: &str = "client-5f3a9c";
const SECRET: &str = "plaid-secret-S3CR3T-7d1e";
const ACCESS_TOKEN: &str = "access-production-T0KEN-88b2";

fn plaid_env() -> HashMap<String, String> {
    HashMap::from([
        ("PLAID_CLIENT_ID".to_string(), CLIENT_ID.to_string()),
        ("PLAID_SECRET".to_string(), SECRET.to_string()),
        ("PLAID_ACCESS_TOKEN".to_string(), ACCESS_TOKEN.to_string()),
    ])
}

fn plaid_section(base: &str) -> String {
    format!(
        r#"base_url = "{base}"
item = "main-checking"
client_id_env = "PLAID_CLIENT_ID"
secret_env = "PLAID_SECRET"
access_token_env = "PLAID_ACCESS_TOKEN"
count = 2
"#
    )
}

// Transactions as Plaid's API reference shows them (fields recon does not read left in).
const P1: &str = r#"{"account_id":"acc-chk","amount":42.5,"iso_currency_code":"USD","unofficial_currency_code":null,"category_id":"19013000","date":"2026-12-01","authorized_date":"2026-11-30","datetime":null,"name":"ACME SUPPLIES","merchant_name":"Acme","original_description":"ACME SUPPLIES 1234","payment_channel":"in store","payment_meta":{"by_order_of":null,"payee":null,"payer":null,"payment_method":null,"payment_processor":null,"ppd_id":null,"reason":null,"reference_number":null},"pending":true,"pending_transaction_id":null,"transaction_code":null,"transaction_id":"P1","transaction_type":"place"}"#;
const T1: &str = r#"{"account_id":"acc-chk","amount":12.3,"iso_currency_code":"USD","unofficial_currency_code":null,"date":"2026-12-01","authorized_date":"2026-12-01","name":"Uber 063015 SF**POOL**","merchant_name":"Uber","original_description":null,"payment_meta":{"ppd_id":null,"reference_number":"REF-77"},"pending":false,"pending_transaction_id":null,"transaction_code":"purchase","transaction_id":"T1"}"#;
const T2: &str = r#"{"account_id":"acc-chk","amount":-500,"iso_currency_code":"USD","unofficial_currency_code":null,"date":"2026-12-01","authorized_date":null,"name":"STRIPE PAYOUT","merchant_name":null,"original_description":null,"payment_meta":{"ppd_id":"1234567890","reference_number":null},"pending":false,"pending_transaction_id":null,"transaction_code":null,"transaction_id":"T2"}"#;
const BTC: &str = r#"{"account_id":"acc-chk","amount":0.0001,"iso_currency_code":null,"unofficial_currency_code":"BTC","date":"2026-12-01","authorized_date":null,"name":"COINBASE","merchant_name":null,"original_description":null,"payment_meta":null,"pending":false,"pending_transaction_id":null,"transaction_code":null,"transaction_id":"Q1"}"#;
const T3: &str = r#"{"account_id":"acc-chk","amount":42.5,"iso_currency_code":"USD","unofficial_currency_code":null,"date":"2026-12-02","authorized_date":"2026-11-30","name":"ACME SUPPLIES","merchant_name":"Acme","original_description":"ACME SUPPLIES 1234","payment_meta":{"ppd_id":null,"reference_number":null},"pending":false,"pending_transaction_id":"P1","transaction_code":null,"transaction_id":"T3"}"#;
const P2: &str = r#"{"account_id":"acc-sav","amount":7,"iso_currency_code":"EUR","unofficial_currency_code":null,"date":"2026-12-03","authorized_date":"2026-12-03","name":"COFFEE","merchant_name":null,"original_description":null,"payment_meta":null,"pending":true,"pending_transaction_id":null,"transaction_code":null,"transaction_id":"P2"}"#;
const T2_MODIFIED: &str = r#"{"account_id":"acc-chk","amount":-500,"iso_currency_code":"USD","unofficial_currency_code":null,"date":"2026-12-01","authorized_date":null,"name":"STRIPE PAYOUT po_1QxA2026","merchant_name":null,"original_description":null,"payment_meta":{"ppd_id":"1234567890","reference_number":null},"pending":false,"pending_transaction_id":null,"transaction_code":null,"transaction_id":"T2"}"#;

fn page(added: &[&str], modified: &[&str], removed: &[&str], next: &str, more: bool) -> String {
    let removed: Vec<String> = removed
        .iter()
        .map(|id| format!(r#"{{"account_id":"acc-chk","transaction_id":"{id}"}}"#))
        .collect();
    format!(
        r#"{{"accounts":[],"added":[{}],"modified":[{}],"removed":[{}],"next_cursor":"{next}","has_more":{more},"request_id":"req-{next}","transactions_update_status":"HISTORICAL_UPDATE_COMPLETE"}}"#,
        added.join(","),
        modified.join(","),
        removed.join(",")
    )
}

fn plaid_error(status: &str, error_type: &str, code: &str, message: &str) -> Response {
    Response::json(
        status,
        &format!(
            r#"{{"display_message":null,"error_code":"{code}","error_message":"{message}","error_type":"{error_type}","request_id":"r1"}}"#
        ),
    )
}

/// Plaid's `/transactions/sync` for one item: it checks each request's body as the API
/// reference states it, answers by cursor, and fails on its first asks as the test scripts.
/// At `c4` it refuses the cursor, or, when it `rests`, has nothing new (an empty page at `c4`).
fn plaid_server(cursors_seen: Arc<Mutex<Vec<Option<String>>>>, rests: bool) -> HttpServer {
    let mut hits: HashMap<Option<String>, u32> = HashMap::new();
    HttpServer::serve(40, move |request| {
        if request.route() != "POST /transactions/sync" {
            return Response::new("404 Not Found");
        }
        let body: Value = match serde_json::from_str(&request.body) {
            Ok(body) => body,
            Err(_) => {
                return plaid_error(
                    "400 Bad Request",
                    "INVALID_REQUEST",
                    "INVALID_BODY",
                    "not JSON",
                );
            }
        };
        if body["client_id"] != CLIENT_ID || body["secret"] != SECRET {
            return plaid_error(
                "400 Bad Request",
                "INVALID_INPUT",
                "INVALID_API_KEYS",
                "invalid client_id or secret provided",
            );
        }
        if body["access_token"] != ACCESS_TOKEN {
            return plaid_error(
                "400 Bad Request",
                "INVALID_INPUT",
                "INVALID_ACCESS_TOKEN",
                "provided access token is in an invalid format",
            );
        }
        if body["count"] != 2
            || request.headers.get("content-type").map(String::as_str) != Some("application/json")
        {
            return plaid_error(
                "400 Bad Request",
                "INVALID_REQUEST",
                "INVALID_FIELD",
                "count",
            );
        }
        let cursor = body
            .get("cursor")
            .and_then(Value::as_str)
            .map(str::to_string);
        cursors_seen.lock().unwrap().push(cursor.clone());
        let hit = hits.entry(cursor.clone()).or_default();
        *hit += 1;
        match (cursor.as_deref(), *hit) {
            (None, _) => Response::json("200 OK", &page(&[P1, T1], &[], &[], "c1", true)),
            (Some("c1"), 1) => plaid_error(
                "400 Bad Request",
                "TRANSACTIONS_ERROR",
                "TRANSACTIONS_SYNC_MUTATION_DURING_PAGINATION",
                "Underlying transaction data changed since last page was fetched. Please restart pagination from last update.",
            ),
            (Some("c1"), 2) => plaid_error(
                "429 Too Many Requests",
                "RATE_LIMIT_EXCEEDED",
                "TRANSACTIONS_SYNC_LIMIT",
                "rate limit exceeded",
            )
            .header("Retry-After", "1"),
            (Some("c1"), _) => Response::json("200 OK", &page(&[T2, BTC], &[], &[], "c2", true)),
            (Some("c2"), 1) => plaid_error(
                "500 Internal Server Error",
                "API_ERROR",
                "INTERNAL_SERVER_ERROR",
                "an unexpected error occurred",
            ),
            (Some("c2"), _) => Response::json("200 OK", &page(&[T3], &[], &["P1"], "c3", false)),
            (Some("c3"), _) => {
                Response::json("200 OK", &page(&[P2], &[T2_MODIFIED], &["T1"], "c4", false))
            }
            (Some("c4"), _) if rests => Response::json("200 OK", &page(&[], &[], &[], "c4", false)),
            (Some(_), _) => plaid_error(
                "400 Bad Request",
                "INVALID_INPUT",
                "INVALID_CURSOR",
                "cursor not recognised",
            ),
        }
    })
}

fn synced(outcome: Outcome) -> (Synced, u32) {
    match outcome.result {
        Ok(synced) => (synced, outcome.attempts),
        Err(e) => panic!("the sync failed: {e}"),
    }
}

/// Every byte of the files in `dir` (the store and its journals).
fn bytes_under(dir: &std::path::Path) -> Vec<u8> {
    let mut all = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_file() {
            all.extend(std::fs::read(path).unwrap());
        }
    }
    all
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|w| w == needle.as_bytes())
}

/// Log lines written while it is the thread's subscriber (the test's runtime is this thread).
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Captured {
    /// Captures every event at debug and above, of every target, until the guard is dropped.
    fn start(&self) -> tracing::subscriber::DefaultGuard {
        let writer = self.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::new("debug"))
            .with_writer(move || writer.clone())
            .with_ansi(false)
            .finish();
        tracing::subscriber::set_default(subscriber)
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

#[tokio::test]
async fn plaid_pages_restarts_and_resumes_from_the_stored_cursor() {
    let dir = temp_dir();
    let store = Store::open(&sqlite_url(dir.path().join("store.db")))
        .await
        .unwrap();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let server = plaid_server(seen.clone(), false);
    let section = plaid_section(&server.base());
    let env = plaid_env();
    let logs = Captured::default();
    let logging = logs.start();

    let (first, attempts) = synced(sync_door::plaid(&section, &store, &env, true).await);
    // page 1, the mutation, page 1 again, 429 then page 2, 500 then page 3
    assert_eq!(attempts, 7);
    assert_eq!(
        *seen.lock().unwrap(),
        [
            None,
            Some("c1"),
            None,
            Some("c1"),
            Some("c1"),
            Some("c2"),
            Some("c2")
        ]
        .map(|c| c.map(str::to_string))
    );
    let at = "plaid:main-checking";
    assert_eq!(
        first,
        Synced {
            entries: vec![
                format!(
                    "acc-chk booked 2026-12-01 value=- debit -1230 USD ref=T1 cref=REF-77 e2e=- code=purchase text=Uber 063015 SF**POOL** / Uber at {at}/1:2 added[1]"
                ),
                format!(
                    "acc-chk booked 2026-12-01 value=- credit 50000 USD ref=T2 cref=1234567890 e2e=- code=- text=STRIPE PAYOUT at {at}/2:1 added[0]"
                ),
                format!(
                    "acc-chk booked 2026-12-02 value=- debit -4250 USD ref=T3 cref=- e2e=- code=- text=ACME SUPPLIES / Acme / ACME SUPPLIES 1234 at {at}/3:1 added[0]"
                ),
            ],
            quarantined: vec![format!(
                "{at}/2:2 unofficial_currency_code \"BTC\" is not an ISO 4217 currency; recon keeps amounts in ISO 4217 currencies only | {BTC}"
            )],
            removed: vec!["P1".to_string()],
            modified: vec![],
            superseded: vec!["T3 <- P1".to_string()],
            start_cursor: None,
            next_cursor: "c3".to_string(),
            pages: 3,
            restarts: 1,
            accounted: true,
        }
    );

    // The next sync's entries are not handled (no commit): the cursor stays, the next run
    // fetches the same changes again.
    seen.lock().unwrap().clear();
    let (unhandled, _) = synced(sync_door::plaid(&section, &store, &env, false).await);
    let (second, attempts) = synced(sync_door::plaid(&section, &store, &env, true).await);
    assert_eq!(unhandled, second);
    assert_eq!(attempts, 1);
    assert_eq!(
        *seen.lock().unwrap(),
        [Some("c3".to_string()), Some("c3".to_string())]
    );
    assert_eq!(
        second,
        Synced {
            entries: vec![
                format!(
                    "acc-sav pending 2026-12-03 value=- debit -700 EUR ref=P2 cref=- e2e=- code=- text=COFFEE at {at}/1:1 added[0]"
                ),
                format!(
                    "acc-chk booked 2026-12-01 value=- credit 50000 USD ref=T2 cref=1234567890 e2e=- code=- text=STRIPE PAYOUT po_1QxA2026 at {at}/1:1 modified[0]"
                ),
            ],
            quarantined: vec![],
            removed: vec!["T1".to_string()],
            modified: vec!["T2".to_string()],
            superseded: vec![],
            start_cursor: Some("c3".to_string()),
            next_cursor: "c4".to_string(),
            pages: 1,
            restarts: 0,
            accounted: true,
        }
    );
    // The third sync asks from the last handled cursor.
    seen.lock().unwrap().clear();
    let failed = sync_door::plaid(&section, &store, &env, true).await;
    assert_eq!(*seen.lock().unwrap(), [Some("c4".to_string())]);
    let e = failed.result.unwrap_err();
    assert_eq!(e.exit(), Exit::BadInput);
    assert_eq!(
        e.to_string(),
        "Plaid /transactions/sync of item main-checking: HTTP 400: INVALID_INPUT INVALID_CURSOR: cursor not recognised"
    );

    // The secrets went to the server, and nowhere else: not the store, the outcome, the logs.
    drop(logging);
    let logged = logs.text();
    assert!(
        logged.contains("Plaid transactions changed during pagination"),
        "{logged}"
    );
    assert!(logged.contains("HTTP 429 Too Many Requests"), "{logged}");
    assert!(
        logged.contains("HTTP 500 Internal Server Error"),
        "{logged}"
    );
    let sent: String = server.requests().iter().map(|r| r.body.clone()).collect();
    store.close().await;
    let kept = bytes_under(dir.path());
    assert!(contains(&kept, "c4"), "the store keeps the cursor");
    for secret in [CLIENT_ID, SECRET, ACCESS_TOKEN] {
        assert!(sent.contains(secret));
        assert!(!contains(&kept, secret), "{secret} is in the store");
        assert!(!format!("{first:?}{second:?}").contains(secret));
        assert!(!logged.contains(secret), "{secret} is in the logs");
    }
}

#[tokio::test]
async fn a_plaid_error_echoing_a_secret_is_said_without_it() {
    let dir = temp_dir();
    let store = Store::open(&sqlite_url(dir.path().join("store.db")))
        .await
        .unwrap();
    let server = HttpServer::sequence([plaid_error(
        "400 Bad Request",
        "INVALID_INPUT",
        "INVALID_ACCESS_TOKEN",
        &format!("provided access token {ACCESS_TOKEN} is invalid for client {CLIENT_ID}"),
    )]);
    let outcome =
        sync_door::plaid(&plaid_section(&server.base()), &store, &plaid_env(), true).await;
    let e = outcome.result.unwrap_err();
    assert_eq!(
        e.to_string(),
        "Plaid /transactions/sync of item main-checking: HTTP 400: INVALID_INPUT INVALID_ACCESS_TOKEN: provided access token *** is invalid for client ***"
    );
    // and the missing variable is named, not guessed at
    let outcome = sync_door::plaid(
        &plaid_section(&server.base()),
        &store,
        &HashMap::new(),
        true,
    )
    .await;
    assert_eq!(
        outcome.result.unwrap_err().to_string(),
        "environment variable PLAID_CLIENT_ID (the Plaid client id) is not set"
    );
}

const DATA_KEY: &str = "k1:6b33792d666f722d74657374732d6f6e6c792d30313233343536373839616263";

fn data_keys() -> recon::at_rest::DataKeys {
    let env = |name: &str| (name == "RECON_DATA_KEY").then(|| DATA_KEY.to_string());
    recon::at_rest::DataKeys::from_env("RECON_DATA_KEY", &env)
        .unwrap()
        .unwrap()
}

/// A run per business day reading the item as the bank leg does: each sync's changes kept by
/// transaction id with the cursor, and the day's entries read from what is kept.
async fn plaid_days_read_the_kept_entries(store: &Store) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let server = plaid_server(seen.clone(), true);
    let section = plaid_section(&server.base());
    let env = plaid_env();
    let day = |d: u32| NaiveDate::from_ymd_opt(2026, 12, d).unwrap();
    let at = "plaid:main-checking";
    let t2 = format!(
        "acc-chk booked 2026-12-01 value=- credit 50000 USD ref=T2 cref=1234567890 e2e=- code=- text=STRIPE PAYOUT at {at}/2:1 added[0]"
    );

    // D: the first sync also brings T3, booked on D+1; D's run reads D's entries only.
    let (d1, _) = synced(sync_door::plaid_day(&section, store, &env, day(1)).await);
    assert_eq!(
        d1,
        Synced {
            entries: vec![
                format!(
                    "acc-chk booked 2026-12-01 value=- debit -1230 USD ref=T1 cref=REF-77 e2e=- code=purchase text=Uber 063015 SF**POOL** / Uber at {at}/1:2 added[1]"
                ),
                t2.clone(),
            ],
            quarantined: vec![format!(
                "{at}/2:2 unofficial_currency_code \"BTC\" is not an ISO 4217 currency; recon keeps amounts in ISO 4217 currencies only | {BTC}"
            )],
            accounted: true,
            ..Synced::default()
        }
    );

    // D+1: the sync from c3 brings nothing booked on D+1 (P2 of D+2, T2 modified, T1
    // removed); T3 comes back from the store, at the place the first sync read it.
    seen.lock().unwrap().clear();
    let (d2, _) = synced(sync_door::plaid_day(&section, store, &env, day(2)).await);
    assert_eq!(*seen.lock().unwrap(), [Some("c3".to_string())]);
    assert_eq!(
        d2,
        Synced {
            entries: vec![format!(
                "acc-chk booked 2026-12-02 value=- debit -4250 USD ref=T3 cref=- e2e=- code=- text=ACME SUPPLIES / Acme / ACME SUPPLIES 1234 at {at}/3:1 added[0]"
            )],
            accounted: true,
            ..Synced::default()
        }
    );

    // D again, the server having nothing new: T1 is gone, T2 is its modified version.
    seen.lock().unwrap().clear();
    let (rerun, _) = synced(sync_door::plaid_day(&section, store, &env, day(1)).await);
    assert_eq!(*seen.lock().unwrap(), [Some("c4".to_string())]);
    assert_eq!(
        rerun,
        Synced {
            entries: vec![format!(
                "acc-chk booked 2026-12-01 value=- credit 50000 USD ref=T2 cref=1234567890 e2e=- code=- text=STRIPE PAYOUT po_1QxA2026 at {at}/1:1 modified[0]"
            )],
            accounted: true,
            ..Synced::default()
        }
    );

    // D+2: the pending P2, kept as pending.
    let (d3, _) = synced(sync_door::plaid_day(&section, store, &env, day(3)).await);
    assert_eq!(
        d3.entries,
        [format!(
            "acc-sav pending 2026-12-03 value=- debit -700 EUR ref=P2 cref=- e2e=- code=- text=COFFEE at {at}/1:1 added[0]"
        )]
    );
    assert_eq!(
        server.requests().len(),
        10,
        "7 for the first sync, then one each"
    );
}

/// The kept bodies, by transaction id, are sealed under `k1`: no account, amount, reference or
/// text of an entry in them.
fn assert_sealed(bodies: &[(String, String)]) {
    let ids: Vec<&str> = bodies.iter().map(|(id, _)| id.as_str()).collect();
    assert_eq!(ids, ["P2", "T2", "T3"]);
    for (id, body) in bodies {
        assert!(body.starts_with("aes256gcm:v1:k1:"), "{id}: {body}");
        for clear in [
            "acc-chk",
            "acc-sav",
            "50000",
            "4250",
            "STRIPE",
            "ACME",
            "COFFEE",
            "1234567890",
            "plaid:",
        ] {
            assert!(!body.contains(clear), "{id}'s body holds {clear}");
        }
    }
}

const BODIES: &str = "SELECT transaction_id, body FROM bank_synced_entries ORDER BY transaction_id";

#[tokio::test]
async fn plaid_entries_are_kept_encrypted_and_read_by_booking_day() {
    let dir = temp_dir();
    let url = sqlite_url(dir.path().join("store.db"));
    let store = Store::open(&url)
        .await
        .unwrap()
        .with_data_keys(Some(data_keys()));
    plaid_days_read_the_kept_entries(&store).await;
    store.close().await;

    let pool = sqlx::SqlitePool::connect(&url).await.unwrap();
    let bodies: Vec<(String, String)> = sqlx::query_as(BODIES).fetch_all(&pool).await.unwrap();
    pool.close().await;
    assert_sealed(&bodies);
    let kept = bytes_under(dir.path());
    for clear in ["acc-chk", "STRIPE PAYOUT", "ACME SUPPLIES", "COFFEE"] {
        assert!(!contains(&kept, clear), "{clear} is in the store's files");
    }
}

#[tokio::test]
async fn plaid_entries_are_kept_encrypted_on_a_postgres_store() {
    let Some(url) = fresh_postgres("bank_synced_entries").await else {
        return;
    };
    let store = Store::open(&url)
        .await
        .unwrap()
        .with_data_keys(Some(data_keys()));
    plaid_days_read_the_kept_entries(&store).await;
    store.close().await;

    let pool = sqlx::PgPool::connect(&url).await.unwrap();
    let bodies: Vec<(String, String)> = sqlx::query_as(BODIES).fetch_all(&pool).await.unwrap();
    pool.close().await;
    assert_sealed(&bodies);
}

pub(crate) const SECRET_ID: &str = "gc-secret-id-4e1f";
pub(crate) const SECRET_KEY: &str = "gc-secret-key-K3Y-90aa";
const GC_ACCESS: &str = "gc-access-T0K-eyJ0";

// Transactions laid out as GoCardless's Bank Account Data documentation shows them.
const BOOKED_PAYOUT: &str = r#"{"transactionId":"2026120100001","bookingDate":"2026-12-01","valueDate":"2026-12-01","transactionAmount":{"amount":"12345.67","currency":"EUR"},"debtorName":"Stripe Payments Europe","debtorAccount":{"iban":"IE29AIBK93115212345678"},"endToEndId":"po_1QxA2026","remittanceInformationUnstructured":"STRIPE PAYOUT po_1QxA2026","bankTransactionCode":"PMNT-RCDT-ESCT"}"#;
const BOOKED_DEBIT: &str = r#"{"internalTransactionId":"int-77","bookingDate":"2026-12-01","transactionAmount":{"amount":"-99.50","currency":"EUR"},"creditorName":"Supplier GmbH","endToEndId":"NOTPROVIDED","remittanceInformationUnstructuredArray":["RE-77","Supplier GmbH"],"proprietaryBankTransactionCode":"DD"}"#;
const BOOKED_BAD: &str = r#"{"transactionId":"2026120100003","bookingDate":"2026-12-01","transactionAmount":{"amount":"12.345","currency":"EUR"}}"#;
const PENDING_CARD: &str = r#"{"valueDate":"2026-12-02","transactionAmount":{"amount":"-5.00","currency":"EUR"},"remittanceInformationUnstructured":"CARD 1234"}"#;

fn gocardless_section(base: &str) -> String {
    format!(
        r#"base_url = "{base}"
account_id = "acc-1"
secret_id_env = "GC_SECRET_ID"
secret_key_env = "GC_SECRET_KEY"
"#
    )
}

/// GoCardless's token and transactions endpoints: the token only for the user secrets, the
/// transactions only with its access token; the budget headers as its help centre names them.
fn gocardless_server(transactions: Vec<Response>) -> HttpServer {
    gocardless_serving("acc-1", "2026-12-01", "2026-12-02", transactions)
}

/// The same for `account`'s transactions from `from` to `to`, answered in turn by
/// `transactions`.
pub(crate) fn gocardless_serving(
    account: &str,
    from: &str,
    to: &str,
    transactions: Vec<Response>,
) -> HttpServer {
    let mut transactions = transactions.into_iter();
    let route =
        format!("GET /api/v2/accounts/{account}/transactions/?date_from={from}&date_to={to}");
    HttpServer::serve(20, move |request| match request.route().as_str() {
        "POST /api/v2/token/new/" => {
            let body: Value = serde_json::from_str(&request.body).unwrap_or_default();
            if body["secret_id"] != SECRET_ID || body["secret_key"] != SECRET_KEY {
                return Response::json(
                    "401 Unauthorized",
                    r#"{"summary":"Authentication failed","detail":"No active account found with the given credentials","status_code":401}"#,
                );
            }
            Response::json(
                "200 OK",
                &format!(
                    r#"{{"access":"{GC_ACCESS}","access_expires":86400,"refresh":"gc-refresh","refresh_expires":2592000}}"#
                ),
            )
        }
        asked if asked == route => {
            if request.headers.get("authorization") != Some(&format!("Bearer {GC_ACCESS}")) {
                return Response::json(
                    "401 Unauthorized",
                    r#"{"summary":"Invalid token","detail":"Token is invalid or expired","status_code":401}"#,
                );
            }
            transactions
                .next()
                .unwrap_or_else(|| Response::new("410 Gone").body("no more answers scripted"))
        }
        _ => Response::new("404 Not Found"),
    })
}

pub(crate) fn gocardless_env() -> HashMap<String, String> {
    HashMap::from([
        ("GC_SECRET_ID".to_string(), SECRET_ID.to_string()),
        ("GC_SECRET_KEY".to_string(), SECRET_KEY.to_string()),
    ])
}

pub(crate) fn budget(response: Response, remaining: u32) -> Response {
    response
        .header("HTTP_X_RATELIMIT_LIMIT", "100")
        .header("X-RateLimit-Account-Success-Limit", "4")
        .header(
            "X-RateLimit-Account-Success-Remaining",
            &remaining.to_string(),
        )
        .header("X-RateLimit-Account-Success-Reset", "3600")
}

#[tokio::test]
async fn gocardless_booked_and_pending_within_the_daily_budget() {
    let dir = temp_dir();
    let store = Store::open(&sqlite_url(dir.path().join("store.db")))
        .await
        .unwrap();
    let answer = format!(
        r#"{{"transactions":{{"booked":[{BOOKED_PAYOUT},{BOOKED_DEBIT},{BOOKED_BAD}],"pending":[{PENDING_CARD}]}}}}"#
    );
    let rate_limited = Response::json(
        "429 Too Many Requests",
        r#"{"summary":"Rate limit exceeded","detail":"The rate limit for this resource is 100/minute. Please try again in 1 seconds","status_code":429}"#,
    )
    .header("Retry-After", "1");
    let server = gocardless_server(vec![
        rate_limited.clone(),
        budget(Response::json("200 OK", &answer), 2),
        // the next day's sync: a 429 saying only the reserve is left is not retried
        budget(rate_limited, 1),
    ]);
    let section = gocardless_section(&server.base());
    let env = gocardless_env();
    let (from, to) = (
        NaiveDate::from_ymd_opt(2026, 12, 1).unwrap(),
        NaiveDate::from_ymd_opt(2026, 12, 2).unwrap(),
    );

    let (synced, attempts) = synced(sync_door::gocardless(&section, &store, &env, from, to).await);
    // the token, then 429 and the answer
    assert_eq!(attempts, 3);
    let at = "gocardless:acc-1/2026-12-01..2026-12-02";
    assert_eq!(
        synced,
        Synced {
            entries: vec![
                format!(
                    "acc-1 booked 2026-12-01 value=2026-12-01 credit 1234567 EUR ref=2026120100001 cref=- e2e=po_1QxA2026 code=PMNT-RCDT-ESCT text=STRIPE PAYOUT po_1QxA2026 at {at}:1 booked[0]"
                ),
                format!(
                    "acc-1 booked 2026-12-01 value=- debit -9950 EUR ref=int-77 cref=- e2e=- code=DD text=RE-77 Supplier GmbH at {at}:2 booked[1]"
                ),
                format!(
                    "acc-1 pending 2026-12-02 value=2026-12-02 debit -500 EUR ref=- cref=- e2e=- code=- text=CARD 1234 at {at}:1 pending[0]"
                ),
            ],
            quarantined: vec![format!(
                "{at}:3 transactionAmount.amount: `12.345` has more decimal places than EUR allows (2) | {BOOKED_BAD}"
            )],
            accounted: true,
            ..Synced::default()
        }
    );

    // Two calls left: one may be spent. Its 429 says one is left, the reserve: not retried.
    let refused = sync_door::gocardless(&section, &store, &env, from, to).await;
    assert_eq!(refused.attempts, 3);
    let e = refused.result.unwrap_err();
    assert_eq!(e.exit(), Exit::Incomplete);
    let said = e.to_string();
    assert!(
        said.starts_with("GoCardless account acc-1: 1 call(s) of today's transactions budget left, 1 kept in reserve: not synced until the budget resets at "),
        "{said}"
    );
    assert!(said.ends_with("Z (then `recon retry`)"), "{said}");

    // And the next sync is refused before it asks anything, not even a token.
    let asked = server.requests().len();
    assert_eq!(asked, 5);
    let again = sync_door::gocardless(&section, &store, &env, from, to).await;
    assert_eq!(again.result.unwrap_err().to_string(), said);
    assert_eq!(server.requests().len(), asked);

    store.close().await;
    let kept = bytes_under(dir.path());
    for secret in [SECRET_ID, SECRET_KEY, GC_ACCESS] {
        assert!(!contains(&kept, secret), "{secret} is in the store");
        assert!(!format!("{synced:?}{said}").contains(secret));
    }
}

#[tokio::test]
async fn the_cursor_and_the_budget_are_kept_on_a_postgres_store() {
    let Some(url) = fresh_postgres("bank_sync_store").await else {
        return;
    };
    let store = Store::open(&url).await.unwrap();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let plaid = plaid_server(seen.clone(), false);
    let section = plaid_section(&plaid.base());
    let (first, _) = synced(sync_door::plaid(&section, &store, &plaid_env(), true).await);
    assert_eq!(
        (first.start_cursor, first.next_cursor),
        (None, "c3".to_string())
    );
    seen.lock().unwrap().clear();
    let (second, _) = synced(sync_door::plaid(&section, &store, &plaid_env(), true).await);
    assert_eq!(*seen.lock().unwrap(), [Some("c3".to_string())]);
    assert_eq!(second.next_cursor, "c4");

    let answer = format!(r#"{{"transactions":{{"booked":[{BOOKED_PAYOUT}],"pending":[]}}}}"#);
    let gocardless = gocardless_server(vec![budget(Response::json("200 OK", &answer), 1)]);
    let section = gocardless_section(&gocardless.base());
    let day = NaiveDate::from_ymd_opt(2026, 12, 1).unwrap();
    let to = day.succ_opt().unwrap();
    let (synced, _) =
        synced(sync_door::gocardless(&section, &store, &gocardless_env(), day, to).await);
    assert_eq!(synced.entries.len(), 1);
    let refused = sync_door::gocardless(&section, &store, &gocardless_env(), day, to).await;
    assert_eq!(refused.attempts, 1);
    assert!(refused.result.unwrap_err().to_string().starts_with(
        "GoCardless account acc-1: 1 call(s) of today's transactions budget left, 1 kept in reserve"
    ));
    assert_eq!(gocardless.requests().len(), 2);
    store.close().await;
}
