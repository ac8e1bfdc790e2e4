//! TLS that cannot silently fall back: a database link to anything but loopback must verify the
//! server's certificate and name, and a configured CA file reaches the driver.

use std::net::IpAddr;
use std::path::Path;
use std::str::FromStr;

use sqlx::mysql::{MySqlConnectOptions, MySqlSslMode};
use sqlx::postgres::{PgConnectOptions, PgSslMode};

use super::Engine;
use crate::secret::redact_urls;

/// Whether `host` is loopback by its spelling alone: the literal `localhost`, an address in
/// 127.0.0.0/8, or `::1`. A name is never resolved: what it resolves to can change.
pub(crate) fn is_loopback(host: &str) -> bool {
    let host = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    if host.eq_ignore_ascii_case("localhost") {
        return true;
    }
    match host.parse::<IpAddr>() {
        Ok(IpAddr::V4(v4)) => v4.is_loopback(),
        Ok(IpAddr::V6(v6)) => v6 == std::net::Ipv6Addr::LOCALHOST,
        Err(_) => false,
    }
}

/// Refuses a database URL that would reach a server other than loopback (or a Unix socket)
/// without verifying its certificate against the host name: PostgreSQL needs
/// `sslmode=verify-full`, MySQL/MariaDB `ssl-mode=VERIFY_IDENTITY`. Judged on the options the
/// driver will really use (the URL, and for PostgreSQL the `PG*` variables it also reads).
pub(crate) fn require_verified(url: &str) -> Result<(), String> {
    match Engine::from_url(url).map_err(|e| e.to_string())? {
        Engine::Sqlite => Ok(()),
        Engine::Postgres => {
            let options = PgConnectOptions::from_str(url)
                .map_err(|e| format!("bad PostgreSQL URL: {}", redact_urls(&e.to_string())))?;
            let local = options.get_socket().is_some() || is_loopback(options.get_host());
            match (local, options.get_ssl_mode()) {
                (true, _) | (false, PgSslMode::VerifyFull) => Ok(()),
                (false, mode) => Err(format!(
                    "the server {} is not loopback, so its URL must ask for sslmode=verify-full (it asks for {}): without it the link may fall back to plaintext or accept any certificate",
                    options.get_host(),
                    pg_mode_name(mode)
                )),
            }
        }
        Engine::MySql => {
            let options = MySqlConnectOptions::from_str(url)
                .map_err(|e| format!("bad MySQL URL: {}", redact_urls(&e.to_string())))?;
            let local = options.get_socket().is_some() || is_loopback(options.get_host());
            match (local, options.get_ssl_mode()) {
                (true, _) | (false, MySqlSslMode::VerifyIdentity) => Ok(()),
                (false, mode) => Err(format!(
                    "the server {} is not loopback, so its URL must ask for ssl-mode=VERIFY_IDENTITY (it asks for {}): without it the link may fall back to plaintext or accept any certificate",
                    options.get_host(),
                    mysql_mode_name(mode)
                )),
            }
        }
    }
}

/// `url` with `ca_file` as the CA its server's certificate must chain to: the driver's own
/// parameter (`sslrootcert` for PostgreSQL, `ssl-ca` for MySQL/MariaDB), so the connect options
/// sqlx builds from the URL carry it. A URL that names a CA itself as well is refused: one place
/// says which CA is trusted.
pub(crate) fn with_ca_file(url: &str, ca_file: &Path) -> Result<String, String> {
    let parameter = match Engine::from_url(url).map_err(|e| e.to_string())? {
        Engine::Sqlite => return Err("tls_ca_file is for PostgreSQL and MySQL URLs".to_string()),
        Engine::Postgres => "sslrootcert",
        Engine::MySql => "ssl-ca",
    };
    let mut parsed = url::Url::parse(url).map_err(|e| format!("bad URL: {e}"))?;
    let named = ["sslrootcert", "ssl-root-cert", "ssl-ca", "sslca"];
    if let Some((key, _)) = parsed
        .query_pairs()
        .find(|(k, _)| named.contains(&k.as_ref()))
    {
        return Err(format!(
            "the URL names a CA itself ({key}); give it either there or in tls_ca_file"
        ));
    }
    let path = ca_file
        .to_str()
        .ok_or_else(|| format!("tls_ca_file {} is not UTF-8", ca_file.display()))?;
    parsed.query_pairs_mut().append_pair(parameter, path);
    Ok(parsed.to_string())
}

fn pg_mode_name(mode: PgSslMode) -> &'static str {
    match mode {
        PgSslMode::Disable => "disable",
        PgSslMode::Allow => "allow",
        PgSslMode::Prefer => "prefer (the default)",
        PgSslMode::Require => "require",
        PgSslMode::VerifyCa => "verify-ca",
        PgSslMode::VerifyFull => "verify-full",
    }
}

fn mysql_mode_name(mode: MySqlSslMode) -> &'static str {
    match mode {
        MySqlSslMode::Disabled => "DISABLED",
        MySqlSslMode::Preferred => "PREFERRED (the default)",
        MySqlSslMode::Required => "REQUIRED",
        MySqlSslMode::VerifyCa => "VERIFY_CA",
        MySqlSslMode::VerifyIdentity => "VERIFY_IDENTITY",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_is_a_spelling_never_a_resolution() {
        for host in [
            "localhost",
            "LOCALHOST",
            "127.0.0.1",
            "127.9.8.7",
            "::1",
            "[::1]",
        ] {
            assert!(is_loopback(host), "{host}");
        }
        for host in [
            "db.internal",
            "localhost.example.com",
            "10.0.0.5",
            "128.0.0.1",
            "::ffff:127.0.0.1",
            "0.0.0.0",
            "",
        ] {
            assert!(!is_loopback(host), "{host}");
        }
    }

    #[test]
    fn a_remote_database_must_ask_for_verified_tls() {
        let refused = |url: &str| require_verified(url).unwrap_err();
        assert_eq!(
            refused("postgres://u@db.internal/x"),
            "the server db.internal is not loopback, so its URL must ask for sslmode=verify-full (it asks for prefer (the default)): without it the link may fall back to plaintext or accept any certificate"
        );
        assert!(refused("postgres://u@db.internal/x?sslmode=require").contains("asks for require"));
        assert!(refused("postgres://u@10.1.2.3/x?sslmode=verify-ca").contains("verify-ca"));
        // hostaddr decides where the driver connects: a loopback name does not excuse it.
        assert!(refused("postgres://u@localhost/x?hostaddr=10.1.2.3").contains("10.1.2.3"));
        assert_eq!(
            refused("mysql://u@db.internal/x?ssl-mode=REQUIRED"),
            "the server db.internal is not loopback, so its URL must ask for ssl-mode=VERIFY_IDENTITY (it asks for REQUIRED): without it the link may fall back to plaintext or accept any certificate"
        );
        for ok in [
            "postgres://u@db.internal/x?sslmode=verify-full",
            "postgres://u@DB.internal:5433/x?sslmode=VERIFY-FULL&sslrootcert=/ca.pem",
            "postgres://u@127.0.0.1/x",
            "postgres://u@localhost/x?sslmode=disable",
            "postgres://u@[::1]:5432/x",
            "postgres://u@%2Fvar%2Frun%2Fpostgresql/x",
            "postgres://u@db.internal/x?host=/var/run/postgresql",
            "mysql://u@db.internal/x?ssl-mode=VERIFY_IDENTITY",
            "mariadb://u@db.internal/x?sslmode=verify_identity",
            "mysql://u@localhost/x",
            "mysql://u@db.internal/x?socket=/run/mysqld/mysqld.sock",
            "sqlite://store.db",
        ] {
            assert_eq!(require_verified(ok), Ok(()), "{ok}");
        }
    }

    #[test]
    fn a_ca_file_becomes_the_drivers_own_parameter() {
        let ca = Path::new("/etc/recon/ca.pem");
        assert_eq!(
            with_ca_file("postgres://u@db/x?sslmode=verify-full", ca).unwrap(),
            "postgres://u@db/x?sslmode=verify-full&sslrootcert=%2Fetc%2Frecon%2Fca.pem"
        );
        assert_eq!(
            with_ca_file("mysql://u@db/x", ca).unwrap(),
            "mysql://u@db/x?ssl-ca=%2Fetc%2Frecon%2Fca.pem"
        );
        assert_eq!(
            with_ca_file("postgres://u@db/x?sslrootcert=/a.pem", ca).unwrap_err(),
            "the URL names a CA itself (sslrootcert); give it either there or in tls_ca_file"
        );
    }
}
