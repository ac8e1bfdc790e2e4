//! SFTP pick-up (Braintree, banks): the server's host key pinned by its SHA-256 fingerprint,
//! key-based login, one remote file per business day (`{date}` in its path), on russh.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use russh::client;
use russh::keys::{HashAlg, PrivateKey, PrivateKeyWithHashAlg, PublicKeyOrCertificate};
use russh_sftp::client::SftpSession;
use russh_sftp::protocol::StatusCode;
use serde::Deserialize;
use tokio::io::AsyncReadExt;

use super::cap::CappedKept;
use super::keep::KeptFile;
use super::{Acquired, Acquisition, fill_date, secret};
use crate::error::{Error, Result};
use crate::retry::with_retries;

/// No attempt (connect, log in, read the file) runs longer than this.
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(300);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(30);

/// `sftp = { … }` of a `[[settlement]]` check.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct SftpPickup {
    pub(crate) host: String,
    #[serde(default = "default_port")]
    pub(crate) port: u16,
    pub(crate) user: String,
    /// The server's host key fingerprint, `SHA256:…` as `ssh-keygen -l` prints it.
    pub(crate) host_key: String,
    /// The private key (OpenSSH format, unencrypted): a file…
    pub(crate) private_key_path: Option<String>,
    /// … or an environment variable holding it.
    pub(crate) private_key_env: Option<String>,
    /// The remote file; `{date}` is `YYYY-MM-DD`, `{yyyymmdd}` is `YYYYMMDD`.
    pub(crate) path: String,
}

fn default_port() -> u16 {
    22
}

impl SftpPickup {
    /// What is wrong with the section, if anything.
    pub(crate) fn validate(&self) -> std::result::Result<(), String> {
        if !self.host_key.starts_with("SHA256:") || self.host_key.len() < 20 {
            return Err(format!(
                "host_key {:?} must be the server key's SHA-256 fingerprint, SHA256:… (ssh-keyscan HOST | ssh-keygen -lf -)",
                self.host_key
            ));
        }
        if self.private_key_path.is_some() == self.private_key_env.is_some() {
            return Err("give private_key_path or private_key_env, exactly one".to_string());
        }
        if self.path.trim().is_empty() {
            return Err("path must name the remote file".to_string());
        }
        Ok(())
    }
}

/// Accepts the server only if its host key has the pinned fingerprint; says what it saw.
struct Pinned {
    expected: String,
    seen: Arc<Mutex<Option<String>>>,
}

impl client::Handler for Pinned {
    type Error = russh::Error;

    async fn check_server_key(
        &mut self,
        key: &PublicKeyOrCertificate,
    ) -> std::result::Result<bool, Self::Error> {
        let data = match key {
            PublicKeyOrCertificate::PublicKey { key, .. } => key.key_data().clone(),
            PublicKeyOrCertificate::Certificate(cert) => cert.public_key().clone(),
        };
        let fingerprint = data.fingerprint(HashAlg::Sha256).to_string();
        let trusted = fingerprint == self.expected;
        if let Ok(mut seen) = self.seen.lock() {
            *seen = Some(fingerprint);
        }
        Ok(trusted)
    }
}

pub(super) async fn acquire(pickup: &SftpPickup, job: &Acquisition<'_>) -> Acquired {
    let key = match private_key(pickup, job) {
        Ok(key) => Arc::new(key),
        Err(e) => return Acquired::failed(e),
    };
    let path = fill_date(&pickup.path, job.day.date);
    let shown = format!(
        "sftp://{}@{}:{}/{}",
        pickup.user,
        pickup.host,
        pickup.port,
        path.trim_start_matches('/')
    );
    let name = path.rsplit('/').next().unwrap_or(&path);
    let target = job.kept_path(name);
    let result = with_retries(job.policy, "SFTP pick-up", || async {
        match tokio::time::timeout(
            ATTEMPT_TIMEOUT,
            pick_up(pickup, &key, &path, &shown, &target, job.keep_rules()),
        )
        .await
        {
            Ok(result) => result,
            Err(_) => Err(Error::unavailable(format!(
                "{shown}: no answer within {} s",
                ATTEMPT_TIMEOUT.as_secs()
            ))),
        }
    })
    .await;
    let (kept, attempts) = result;
    super::single((kept.map(|kept| (kept, None)), attempts), shown, &target)
}

fn private_key(pickup: &SftpPickup, job: &Acquisition<'_>) -> Result<PrivateKey> {
    let (text, from) = match (&pickup.private_key_path, &pickup.private_key_env) {
        (Some(file), _) => (
            std::fs::read_to_string(file).map_err(|e| {
                Error::bad_input(format!("sftp.private_key_path {file}: cannot read it: {e}"))
            })?,
            format!("the file {file}"),
        ),
        (None, Some(var)) => (
            secret(job.env, var, "the SFTP private key")?,
            format!("environment variable {var}"),
        ),
        (None, None) => {
            return Err(Error::bad_input(
                "sftp: give private_key_path or private_key_env",
            ));
        }
    };
    client_key(&text, &from)
}

/// The login key in `text` (read from `from`), refused when it is RSA: signing with it runs the
/// `rsa` crate's private-key operations, open to the Marvin timing attack (RUSTSEC-2023-0071, no
/// fixed version). RSA stays accepted for the server's host key, which is only verified (a
/// public-key operation), since banks' SFTP servers often have nothing else.
fn client_key(text: &str, from: &str) -> Result<PrivateKey> {
    // The key's text is never part of a message, only where it came from.
    let key = russh::keys::decode_secret_key(text, None).map_err(|_| {
        Error::bad_input(format!(
            "{from} does not hold an unencrypted OpenSSH private key"
        ))
    })?;
    if key.algorithm().is_rsa() {
        return Err(Error::bad_input(format!(
            "{from} holds an RSA key, which recon does not log in with (RUSTSEC-2023-0071: RSA private-key operations open to a timing attack); use an Ed25519 key (ssh-keygen -t ed25519) and add its public key to the server"
        )));
    }
    Ok(key)
}

/// One attempt: connect, check the host key, log in, read the file into `target`.
async fn pick_up(
    pickup: &SftpPickup,
    key: &Arc<PrivateKey>,
    path: &str,
    shown: &str,
    target: &std::path::Path,
    rules: super::cap::KeepRules<'_>,
) -> Result<KeptFile> {
    let seen = Arc::new(Mutex::new(None));
    let handler = Pinned {
        expected: pickup.host_key.clone(),
        seen: seen.clone(),
    };
    let config = Arc::new(client::Config {
        inactivity_timeout: Some(Duration::from_secs(60)),
        ..Default::default()
    });
    let address = (pickup.host.as_str(), pickup.port);
    let connected =
        tokio::time::timeout(CONNECT_TIMEOUT, client::connect(config, address, handler))
            .await
            .map_err(|_| Error::unavailable(format!("{shown}: no connection within 30 s")))?;
    let mut session = match connected {
        Ok(session) => session,
        Err(e) => {
            let seen = seen.lock().ok().and_then(|s| s.clone());
            return Err(match seen {
                Some(fingerprint) if fingerprint != pickup.host_key => Error::bad_input(format!(
                    "{shown}: the server's host key is {fingerprint}, not the pinned {} (sftp.host_key): not connecting. If the server's key really changed, pin the new fingerprint",
                    pickup.host_key
                )),
                _ => Error::unavailable(format!("{shown}: {e}")),
            });
        }
    };
    // No RSA hash to choose: `client_key` refuses RSA login keys.
    let login = session
        .authenticate_publickey(&pickup.user, PrivateKeyWithHashAlg::new(key.clone(), None))
        .await
        .map_err(|e| Error::unavailable(format!("{shown}: logging in: {e}")))?;
    if !login.success() {
        return Err(Error::bad_input(format!(
            "{shown}: the server refused the key for user {} (check the key and the server's authorized_keys)",
            pickup.user
        )));
    }
    let lost = |e: &dyn std::fmt::Display| Error::unavailable(format!("{shown}: {e}"));
    let channel = session.channel_open_session().await.map_err(|e| lost(&e))?;
    channel
        .request_subsystem(true, "sftp")
        .await
        .map_err(|e| lost(&e))?;
    let sftp = SftpSession::new(channel.into_stream())
        .await
        .map_err(|e| lost(&e))?;
    let mut file = sftp.open(path).await.map_err(|e| match &e {
        russh_sftp::client::error::Error::Status(status)
            if status.status_code == StatusCode::NoSuchFile =>
        {
            Error::unavailable(format!("{shown}: no such file (not delivered yet?)"))
        }
        russh_sftp::client::error::Error::Status(status)
            if status.status_code == StatusCode::PermissionDenied =>
        {
            Error::bad_input(format!(
                "{shown}: permission denied for user {}",
                pickup.user
            ))
        }
        _ => lost(&e),
    })?;
    let announced = file.metadata().await.ok().and_then(|m| m.size);
    let mut kept = CappedKept::create(target, rules, announced, shown).await?;
    let mut buffer = vec![0u8; 64 * 1024];
    loop {
        let n = file.read(&mut buffer).await.map_err(|e| lost(&e))?;
        if n == 0 {
            break;
        }
        kept.write(buffer.get(..n).unwrap_or_default(), shown)
            .await?;
    }
    let kept = kept.finish().await?;
    let _ = sftp.close().await;
    let _ = session
        .disconnect(russh::Disconnect::ByApplication, "", "en")
        .await;
    Ok(kept)
}

#[cfg(test)]
mod tests {
    use super::client_key;

    /// A fresh unencrypted OpenSSH private key of `kind` from ssh-keygen.
    fn generated_key(kind: &str) -> String {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("key");
        let status = std::process::Command::new("ssh-keygen")
            .args(["-q", "-t", kind, "-N", "", "-C", "recon-test", "-f"])
            .arg(&path)
            .status()
            .expect("ssh-keygen runs (openssh-client; .ci/run installs it)");
        assert!(status.success(), "ssh-keygen -t {kind} failed");
        std::fs::read_to_string(&path).unwrap()
    }

    #[test]
    fn an_rsa_login_key_is_refused_and_an_ed25519_one_accepted() {
        let refused = client_key(&generated_key("rsa"), "the file k").unwrap_err();
        assert_eq!(
            refused.to_string(),
            "the file k holds an RSA key, which recon does not log in with (RUSTSEC-2023-0071: RSA private-key operations open to a timing attack); use an Ed25519 key (ssh-keygen -t ed25519) and add its public key to the server"
        );
        assert_eq!(refused.exit(), crate::exit::Exit::BadInput);
        let accepted = client_key(&generated_key("ed25519"), "the file k").unwrap();
        assert_eq!(accepted.algorithm(), russh::keys::Algorithm::Ed25519);
    }
}
