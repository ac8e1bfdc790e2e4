//! A real OpenSSH sshd on 127.0.0.1 with its own host key and authorized_keys, and an SFTP
//! subsystem; and a TCP proxy that drops its first connection.

use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::common::*;

/// sshd serving SFTP; killed when dropped.
pub struct Sshd {
    pub port: u16,
    /// The host key's fingerprint, `SHA256:…`.
    pub fingerprint: String,
    /// The client's private key (OpenSSH format) and the user it logs in as.
    pub client_key: String,
    pub user: String,
    child: Child,
}

impl Drop for Sshd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

const SSHD: &str = "/usr/sbin/sshd";

pub fn keygen(path: &Path) {
    let status = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-C", "recon-test", "-f"])
        .arg(path)
        .status()
        .unwrap();
    assert!(status.success(), "ssh-keygen failed");
}

pub fn fingerprint(public_key: &Path) -> String {
    let out = Command::new("ssh-keygen")
        .arg("-lf")
        .arg(public_key)
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .nth(1)
        .unwrap()
        .to_string()
}

/// Starts sshd in `dir`; `None` (the test skips) when OpenSSH is not installed, unless
/// `RECON_TEST_REQUIRE_SERVERS=1`, where that fails the test.
pub fn start_sshd(dir: &Path) -> Option<Sshd> {
    if !Path::new(SSHD).exists() || Command::new("ssh-keygen").arg("-?").output().is_err() {
        assert!(
            std::env::var("RECON_TEST_REQUIRE_SERVERS").as_deref() != Ok("1"),
            "OpenSSH's sshd ({SSHD}) and ssh-keygen are needed for the SFTP tests \
             (apt-get install openssh-server; .ci/run installs it)"
        );
        eprintln!("SKIPPED an SFTP test: no {SSHD} (apt-get install openssh-server)");
        return None;
    }
    let ssh = dir.join("ssh");
    std::fs::create_dir_all(&ssh).unwrap();
    keygen(&ssh.join("host_key"));
    keygen(&ssh.join("client_key"));
    std::fs::copy(ssh.join("client_key.pub"), ssh.join("authorized_keys")).unwrap();
    // sshd's privilege separation needs its empty directory (as root; unprivileged it has none).
    let _ = std::fs::create_dir_all("/run/sshd");
    let port = free_port();
    let user = String::from_utf8(Command::new("id").arg("-un").output().unwrap().stdout)
        .unwrap()
        .trim()
        .to_string();
    let config = format!(
        "Port {port}\nListenAddress 127.0.0.1\nHostKey {host_key}\nPidFile none\n\
         AuthorizedKeysFile {keys}\nPubkeyAuthentication yes\nPasswordAuthentication no\n\
         KbdInteractiveAuthentication no\nPermitRootLogin prohibit-password\nStrictModes no\n\
         UsePAM no\nSubsystem sftp internal-sftp\nLogLevel ERROR\n",
        host_key = ssh.join("host_key").display(),
        keys = ssh.join("authorized_keys").display(),
    );
    let config_path = write(&ssh, "sshd_config", &config);
    let child = Command::new(SSHD)
        .args(["-D", "-e", "-f"])
        .arg(&config_path)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let sshd = Sshd {
        port,
        fingerprint: fingerprint(&ssh.join("host_key.pub")),
        client_key: std::fs::read_to_string(ssh.join("client_key")).unwrap(),
        user,
        child,
    };
    let deadline = Instant::now() + Duration::from_secs(10);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "sshd did not listen on {port}");
        std::thread::sleep(Duration::from_millis(50));
    }
    Some(sshd)
}

/// A TCP proxy to `port` that drops its first connection (the injected failure) and forwards
/// the next ones (at most 20).
pub fn flaky_proxy(port: u16) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let own = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for n in 0..20 {
            let Ok((client, _)) = listener.accept() else {
                return;
            };
            if n == 0 {
                drop(client);
                continue;
            }
            let Ok(server) = TcpStream::connect(("127.0.0.1", port)) else {
                return;
            };
            for (mut from, mut to) in [
                (client.try_clone().unwrap(), server.try_clone().unwrap()),
                (server, client),
            ] {
                std::thread::spawn(move || {
                    let _ = std::io::copy(&mut from, &mut to);
                    let _ = to.shutdown(std::net::Shutdown::Write);
                });
            }
        }
    });
    own
}
