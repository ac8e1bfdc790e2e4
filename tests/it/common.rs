//! Helpers shared by the integration tests: real servers, fresh databases, the real binary.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::str::FromStr;

use sqlx::sqlite::{SqliteConnectOptions, SqlitePoolOptions};

pub const DEFAULT_POSTGRES_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";

/// Runs the real `recon` binary with `args`, environment `env`, in `cwd`.
pub fn recon(args: &[&str], env: &[(&str, &str)], cwd: &Path) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_recon"));
    command
        .args(args)
        .current_dir(cwd)
        .env("RUST_LOG", "warn")
        .env_remove("RECON_LOG_FORMAT");
    for (k, v) in env {
        command.env(k, v);
    }
    command.output().expect("the recon binary runs")
}

pub fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

pub fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// Creates a SQLite database at `path` from SQL statements (test fixtures only).
pub async fn sqlite_db(path: &Path, statements: &[&str]) -> String {
    let url = format!("sqlite://{}", path.display());
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

pub fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

fn servers_required() -> bool {
    std::env::var("RECON_TEST_REQUIRE_SERVERS").is_ok_and(|v| v == "1")
}

/// A fresh, empty PostgreSQL database for one test, or `None` (with a SKIPPED line) when
/// the server cannot be reached and servers are not required.
pub async fn fresh_postgres(test: &str) -> Option<String> {
    let admin = std::env::var("RECON_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| DEFAULT_POSTGRES_URL.to_string());
    let pool = match sqlx::postgres::PgPoolOptions::new()
        .max_connections(1)
        .connect(&admin)
        .await
    {
        Ok(pool) => pool,
        Err(e) => {
            if servers_required() {
                panic!(
                    "{test}: PostgreSQL unreachable at {admin} and RECON_TEST_REQUIRE_SERVERS=1: {e}"
                );
            }
            eprintln!("SKIPPED {test}: PostgreSQL unreachable at {admin}: {e}");
            return None;
        }
    };
    let name = format!("recon_t_{test}");
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
        "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
    )))
    .execute(&pool)
    .await
    .unwrap();
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(&pool)
        .await
        .unwrap();
    pool.close().await;
    let (base, _) = admin.rsplit_once('/').expect("the URL names a database");
    Some(format!("{base}/{name}"))
}

pub const DEFAULT_MYSQL_URL: &str = "mysql://root@127.0.0.1:3306/test";

/// A fresh, empty MariaDB/MySQL database for one test, or `None` (with a SKIPPED line) when
/// the server cannot be reached and servers are not required.
pub async fn fresh_mysql(test: &str) -> Option<String> {
    let admin =
        std::env::var("RECON_TEST_MYSQL_URL").unwrap_or_else(|_| DEFAULT_MYSQL_URL.to_string());
    let pool = match sqlx::mysql::MySqlPoolOptions::new()
        .max_connections(1)
        .connect(&admin)
        .await
    {
        Ok(pool) => pool,
        Err(e) => {
            if servers_required() {
                panic!(
                    "{test}: MySQL/MariaDB unreachable at {admin} and RECON_TEST_REQUIRE_SERVERS=1: {e}"
                );
            }
            eprintln!("SKIPPED {test}: MySQL/MariaDB unreachable at {admin}: {e}");
            return None;
        }
    };
    let name = format!("recon_t_{test}");
    for sql in [
        format!("DROP DATABASE IF EXISTS {name}"),
        format!("CREATE DATABASE {name} CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci"),
    ] {
        sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
            .execute(&pool)
            .await
            .unwrap();
    }
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
