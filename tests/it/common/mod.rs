//! Helpers shared by the integration tests: real servers, fresh databases, the real binary.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::str::FromStr;
use std::sync::{Mutex, PoisonError};

use sqlx::sqlite::{SqliteConnectOptions, SqlitePoolOptions};

mod http;
pub mod pki;
mod pushgateway;
mod relay;
mod scenario;

pub use http::{HttpServer, Request, Response, Script, free_port};
pub use pushgateway::Pushgateway;
pub use relay::Relay;
pub use scenario::Scenario;

pub const DEFAULT_POSTGRES_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";

/// The real `recon` binary with `args`, environment `env`, in `cwd`, to run or start.
pub fn recon_command(args: &[&str], env: &[(&str, &str)], cwd: &Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_recon"));
    command
        .args(args)
        .current_dir(cwd)
        .env("RUST_LOG", "warn")
        .env_remove("RECON_LOG_FORMAT");
    for (k, v) in env {
        command.env(k, v);
    }
    command
}

/// Runs the real `recon` binary with `args`, environment `env`, in `cwd`.
pub fn recon(args: &[&str], env: &[(&str, &str)], cwd: &Path) -> Output {
    recon_command(args, env, cwd)
        .output()
        .expect("the recon binary runs")
}

pub fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

pub fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// The URL of the SQLite database (a side, or a test's store) in file `path`.
pub fn sqlite_url(path: impl AsRef<Path>) -> String {
    format!("sqlite://{}", path.as_ref().display())
}

/// Creates a SQLite database at `path` from SQL statements (test fixtures only).
pub async fn sqlite_db(path: &Path, statements: &[&str]) -> String {
    let url = sqlite_url(path);
    let options = SqliteConnectOptions::from_str(&url)
        .unwrap()
        .create_if_missing(true);
    let pool = SqlitePoolOptions::new()
        .max_connections(1)
        .connect_with(options)
        .await
        .unwrap();
    for sql in statements {
        sqlx::raw_sql(sqlx::AssertSqlSafe(sql.to_string()))
            .execute(&pool)
            .await
            .unwrap();
    }
    pool.close().await;
    url
}

/// Two SQLite sides in `dir` (`l.db`, `r.db`), each made by `schema` then its own statement,
/// and the URL of a store `s.db` beside them: (left, right, store).
pub async fn sqlite_sides(dir: &Path, schema: &str, left: &str, right: &str) -> [String; 3] {
    let l = sqlite_db(&dir.join("l.db"), &[schema, left]).await;
    let r = sqlite_db(&dir.join("r.db"), &[schema, right]).await;
    [l, r, sqlite_url(dir.join("s.db"))]
}

/// The arguments of `recon run` for `date` with the config `recon.toml`, outputs in `out`, and
/// `flags`.
pub fn run_args<'a>(date: &'a str, out: &'a str, flags: &[&'a str]) -> Vec<&'a str> {
    let mut args = vec![
        "run",
        "--config",
        "recon.toml",
        "--date",
        date,
        "--out",
        out,
    ];
    args.extend_from_slice(flags);
    args
}

/// A settlement check's `ledger` mapping: source `ledger`, `table` with columns `id`,
/// `amount_minor`, `currency` and `created_at`, then the `extra` fields.
pub fn ledger_mapping<'a>(table: &'a str, extra: &[(&'a str, &'a str)]) -> Vec<(&'a str, &'a str)> {
    let mut mapping = vec![
        ("source", "ledger"),
        ("table", table),
        ("id", "id"),
        ("amount", "amount_minor"),
        ("currency", "currency"),
        ("at", "created_at"),
    ];
    mapping.extend_from_slice(extra);
    mapping
}

/// `config` followed by the store (`STORE_URL`), source `ledger` (`LEDGER_URL`) and check
/// `cards`: a Stripe report `reports/stripe-{date}.csv` matched by reference against table
/// `payments` with its `status` (settled: `settled`) and `fee_minor`.
pub fn stripe_cards(config: TestConfig) -> TestConfig {
    config
        .store("STORE_URL")
        .source("ledger", "LEDGER_URL")
        .settlement("cards", "stripe")
        .set("report", "reports/stripe-{date}.csv")
        .set(
            "ledger",
            ledger_mapping("payments", &[("status", "status"), ("fee", "fee_minor")]),
        )
        .set("match_on", "reference")
        .set("settled_statuses", ["settled"])
}

/// `config` followed by sources `ledger` (L) and `payments` (R), the store (S) and check `t`
/// comparing their tables `t` by `id`: the setup [`sqlite_sides`] fills.
pub fn ledger_payments_t(config: TestConfig) -> String {
    config
        .source("ledger", "L")
        .source("payments", "R")
        .store("S")
        .integrity("t", "ledger.t", "payments.t", "id")
        .to_toml()
}

pub fn temp_dir() -> tempfile::TempDir {
    tempfile::tempdir().expect("a temporary folder")
}

pub fn path_str(p: &Path) -> String {
    p.display().to_string()
}

/// The `out/summary.json` a run with `--out out` wrote in `dir`.
pub fn summary(dir: &Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(dir.join("out/summary.json")).unwrap()).unwrap()
}

/// (kind, key as JSON text) of each discrepancy in a summary's list (`discrepancies`, `resolved`).
pub fn kinds_and_keys(list: &serde_json::Value) -> Vec<(String, String)> {
    list.as_array()
        .unwrap_or_else(|| panic!("not a list of discrepancies: {list}"))
        .iter()
        .map(|d| {
            (
                d["kind"].as_str().unwrap().to_string(),
                d["key"].to_string(),
            )
        })
        .collect()
}

pub fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

/// The name this process gives to test database (or role) `test`: `recon_t<pid>_<test>`.
/// The process id keeps two test runs on one machine (two checkouts, CI beside a session)
/// out of each other's databases; [`sweep_postgres`] and [`sweep_mysql`] read it back to
/// drop what a finished run left behind.
pub fn test_name(test: &str) -> String {
    format!("recon_t{}_{test}", std::process::id())
}

/// Whether `name` is a test database or role whose process has ended (or one named before
/// names carried a process id), so that it can be dropped.
fn is_stale(name: &str) -> bool {
    let Some(rest) = name.strip_prefix("recon_t") else {
        return false;
    };
    match rest.split_once('_').map(|(pid, _)| pid.parse::<u32>()) {
        Some(Ok(pid)) => pid != std::process::id() && !Path::new(&format!("/proc/{pid}")).exists(),
        _ => true,
    }
}

/// Claims database `name` on `server` for one test. Every test of this one binary runs in
/// parallel with the others, so two tests asking for the same name would drop and fill each
/// other's database: the second to ask fails at once instead. The first claim on a server
/// answers `true`: that test sweeps away what earlier runs left.
fn claim(server: &str, name: &str) -> bool {
    static CLAIMED: Mutex<BTreeSet<(String, String)>> = Mutex::new(BTreeSet::new());
    let mut claimed = CLAIMED.lock().unwrap_or_else(PoisonError::into_inner);
    let first_on_server = !claimed.iter().any(|(s, _)| s == server);
    let first = claimed.insert((server.to_string(), name.to_string()));
    assert!(
        first,
        "database {name} on {server} is already another test's: give this test its own name"
    );
    first_on_server
}

fn servers_required() -> bool {
    std::env::var("RECON_TEST_REQUIRE_SERVERS").is_ok_and(|v| v == "1")
}

/// A test whose server cannot be reached fails when servers are required, else is skipped
/// with a SKIPPED line.
fn unreachable<T>(test: &str, server: &str, admin: &str, e: impl std::fmt::Display) -> Option<T> {
    if servers_required() {
        panic!("{test}: {server} unreachable at {admin} and RECON_TEST_REQUIRE_SERVERS=1: {e}");
    }
    eprintln!("SKIPPED {test}: {server} unreachable at {admin}: {e}");
    None
}

async fn raw<DB: sqlx::Database>(pool: &sqlx::Pool<DB>, sql: String)
where
    for<'c> &'c sqlx::Pool<DB>: sqlx::Executor<'c, Database = DB>,
{
    sqlx::raw_sql(sqlx::AssertSqlSafe(sql.clone()))
        .execute(pool)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
}

async fn names<DB: sqlx::Database>(pool: &sqlx::Pool<DB>, sql: &str) -> Vec<String>
where
    for<'c> &'c sqlx::Pool<DB>: sqlx::Executor<'c, Database = DB>,
    for<'q> <DB as sqlx::Database>::Arguments: sqlx::IntoArguments<DB>,
    (String,): for<'r> sqlx::FromRow<'r, DB::Row>,
{
    sqlx::query_scalar::<DB, String>(sqlx::AssertSqlSafe(sql.to_string()))
        .fetch_all(pool)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
}

/// Drops the databases, then the roles, that finished test runs left on PostgreSQL.
async fn sweep_postgres(pool: &sqlx::PgPool) {
    let databases = names(
        pool,
        "SELECT datname::text FROM pg_database WHERE datname LIKE 'recon\\_t%'",
    )
    .await;
    for name in databases.into_iter().filter(|n| is_stale(n)) {
        raw(pool, format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")).await;
    }
    let roles = names(
        pool,
        "SELECT rolname::text FROM pg_roles WHERE rolname LIKE 'recon\\_t%'",
    )
    .await;
    for name in roles.into_iter().filter(|n| is_stale(n)) {
        raw(pool, format!("DROP ROLE IF EXISTS {name}")).await;
    }
}

/// Drops the databases and users that finished test runs left on MariaDB/MySQL.
async fn sweep_mysql(pool: &sqlx::MySqlPool) {
    let databases = names(
        pool,
        "SELECT CAST(schema_name AS CHAR) FROM information_schema.schemata \
         WHERE schema_name LIKE 'recon\\_t%'",
    )
    .await;
    for name in databases.into_iter().filter(|n| is_stale(n)) {
        raw(pool, format!("DROP DATABASE IF EXISTS {name}")).await;
    }
    let users = names(
        pool,
        "SELECT CAST(user AS CHAR) FROM mysql.user WHERE user LIKE 'recon\\_t%'",
    )
    .await;
    for name in users.into_iter().filter(|n| is_stale(n)) {
        raw(pool, format!("DROP USER IF EXISTS '{name}'@'%'")).await;
    }
}

/// Who acknowledges with `--actor ana` on the store at `store_url`, as recon says it: on
/// PostgreSQL the session's role (the URL's user) with `ana` beside it, elsewhere `ana`.
pub fn ana_on(store_url: &str) -> String {
    let role = store_url
        .strip_prefix("postgres://")
        .and_then(|rest| rest.split_once('@'))
        .map(|(user, _)| user.split(':').next().unwrap_or(user));
    match role {
        Some(role) => format!("{role} (ana)"),
        None => "ana".to_string(),
    }
}

/// A fresh, empty PostgreSQL database for one test, or `None` (with a SKIPPED line) when
/// the server cannot be reached and servers are not required.
pub async fn fresh_postgres(test: &str) -> Option<String> {
    let name = test_name(test);
    let sweep = claim("PostgreSQL", &name);
    let admin = std::env::var("RECON_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| DEFAULT_POSTGRES_URL.to_string());
    let pool = match sqlx::postgres::PgPoolOptions::new()
        .max_connections(1)
        .connect(&admin)
        .await
    {
        Ok(pool) => pool,
        Err(e) => return unreachable(test, "PostgreSQL", &admin, e),
    };
    if sweep {
        sweep_postgres(&pool).await;
    }
    raw(
        &pool,
        format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"),
    )
    .await;
    raw(&pool, format!("CREATE DATABASE {name}")).await;
    pool.close().await;
    let (base, _) = admin.rsplit_once('/').expect("the URL names a database");
    Some(format!("{base}/{name}"))
}

pub const DEFAULT_MYSQL_URL: &str = "mysql://root@127.0.0.1:3306/test";

/// A fresh, empty MariaDB/MySQL database for one test, or `None` (with a SKIPPED line) when
/// the server cannot be reached and servers are not required.
pub async fn fresh_mysql(test: &str) -> Option<String> {
    let name = test_name(test);
    let sweep = claim("MariaDB", &name);
    let admin =
        std::env::var("RECON_TEST_MYSQL_URL").unwrap_or_else(|_| DEFAULT_MYSQL_URL.to_string());
    let pool = match sqlx::mysql::MySqlPoolOptions::new()
        .max_connections(1)
        .connect(&admin)
        .await
    {
        Ok(pool) => pool,
        Err(e) => return unreachable(test, "MySQL/MariaDB", &admin, e),
    };
    if sweep {
        sweep_mysql(&pool).await;
    }
    raw(&pool, format!("DROP DATABASE IF EXISTS {name}")).await;
    raw(
        &pool,
        format!("CREATE DATABASE {name} CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci"),
    )
    .await;
    pool.close().await;
    let (base, _) = admin.rsplit_once('/').expect("the URL names a database");
    Some(format!("{base}/{name}"))
}

/// Runs fixture statements on a PostgreSQL database (test setup only; recon never writes).
pub async fn pg_exec(url: &str, statements: &[&str]) {
    let pool = sqlx::PgPool::connect(url).await.unwrap();
    for sql in statements {
        sqlx::raw_sql(sqlx::AssertSqlSafe(sql.to_string()))
            .execute(&pool)
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
    }
    pool.close().await;
}

/// Runs fixture statements on a MariaDB/MySQL database (test setup only).
pub async fn mysql_exec(url: &str, statements: &[&str]) {
    let pool = sqlx::MySqlPool::connect(url).await.unwrap();
    for sql in statements {
        sqlx::raw_sql(sqlx::AssertSqlSafe(sql.to_string()))
            .execute(&pool)
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
    }
    pool.close().await;
}

/// A test's `recon.toml`, built table by table in the order written. Each call opens a table;
/// `set` adds a `key = value` line to the table opened last.
///
/// ```text
/// TestConfig::new()
///     .store("STORE_URL")
///     .source("ledger", "LEDGER_URL")
///     .source("payments", "PAYMENTS_URL")
///     .integrity("entries", "ledger.entries", "payments.entries", "id")
///     .set("date_column", "created_at")
///     .to_toml()
/// ```
#[derive(Default)]
pub struct TestConfig {
    text: String,
}

impl TestConfig {
    pub fn new() -> Self {
        Self::default()
    }

    /// `[header]`, e.g. `job` or `job.retry`; its keys follow with `set`.
    pub fn table(mut self, header: &str) -> Self {
        self.text.push_str(&format!("\n[{header}]\n"));
        self
    }

    /// `[store]` whose URL is in the environment variable `url_env`.
    pub fn store(self, url_env: &str) -> Self {
        self.table("store").set("url_env", url_env)
    }

    /// `[sources.<name>]` whose URL is in the environment variable `url_env`.
    pub fn source(self, name: &str, url_env: &str) -> Self {
        self.table(&format!("sources.{name}"))
            .set("url_env", url_env)
    }

    /// `[[integrity]]` comparing `left` and `right`, each written `source.table`, by `key`.
    pub fn integrity(self, name: &str, left: &str, right: &str, key: &str) -> Self {
        self.integrity_by(name, left, right, [key])
    }

    /// `[[integrity]]` as [`Self::integrity`], by a key of several columns.
    pub fn integrity_by<const N: usize>(
        mut self,
        name: &str,
        left: &str,
        right: &str,
        key: [&str; N],
    ) -> Self {
        fn side(side: &str) -> [(&str, &str); 2] {
            let (source, table) = side.split_once('.').expect("`source.table`");
            [("source", source), ("table", table)]
        }
        self.text.push_str("\n[[integrity]]\n");
        self.set("name", name)
            .set("left", side(left))
            .set("right", side(right))
            .set("key", key)
    }

    /// `[[settlement]]` of a processor report in `format`; its report and ledger follow with `set`.
    pub fn settlement(mut self, name: &str, format: &str) -> Self {
        self.text.push_str("\n[[settlement]]\n");
        self.set("name", name).set("format", format)
    }

    /// `key = value` in the table opened last.
    pub fn set(mut self, key: &str, value: impl TomlValue) -> Self {
        self.text.push_str(&format!("{key} = {}\n", value.toml()));
        self
    }

    pub fn to_toml(&self) -> String {
        self.text.clone()
    }
}

/// A value as TOML writes it: a string quoted, an integer or a boolean as is, a list of strings as an
/// array, a list of `(key, string)` pairs as an inline table.
pub trait TomlValue {
    fn toml(&self) -> String;
}

impl TomlValue for &str {
    fn toml(&self) -> String {
        format!("\"{}\"", self.replace('\\', "\\\\").replace('"', "\\\""))
    }
}

impl TomlValue for String {
    fn toml(&self) -> String {
        self.as_str().toml()
    }
}

impl TomlValue for bool {
    fn toml(&self) -> String {
        self.to_string()
    }
}

impl TomlValue for i64 {
    fn toml(&self) -> String {
        self.to_string()
    }
}

impl<const N: usize> TomlValue for [&str; N] {
    fn toml(&self) -> String {
        let items: Vec<String> = self.iter().map(|s| s.toml()).collect();
        format!("[{}]", items.join(", "))
    }
}

impl<const N: usize> TomlValue for [(&str, &str); N] {
    fn toml(&self) -> String {
        self.to_vec().toml()
    }
}

impl TomlValue for Vec<(&str, &str)> {
    fn toml(&self) -> String {
        let pairs: Vec<String> = self
            .iter()
            .map(|(k, v)| format!("{k} = {}", v.toml()))
            .collect();
        format!("{{ {} }}", pairs.join(", "))
    }
}
