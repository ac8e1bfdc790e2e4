//! A throw-away PKI for the TLS tests, made with the openssl CLI: a CA, a second CA nobody
//! trusts, and server certificates signed by the first for the names a test chooses.

use std::path::{Path, PathBuf};
use std::process::Command;

/// The CA files of one test's PKI, in its folder.
pub struct Pki {
    dir: PathBuf,
    /// The CA every server certificate here chains to (PEM).
    pub ca: PathBuf,
    /// A CA that signed none of them (PEM).
    pub other_ca: PathBuf,
}

/// A server's certificate and key (PEM).
pub struct ServerCert {
    pub cert: PathBuf,
    pub key: PathBuf,
}

fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("openssl runs");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Whether the openssl CLI is there.
pub fn openssl_present() -> bool {
    Command::new("openssl").arg("version").output().is_ok()
}

fn make_ca(dir: &Path, name: &str) -> PathBuf {
    openssl(
        dir,
        &[
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-keyout",
            &format!("{name}.key"),
            "-out",
            &format!("{name}.pem"),
            "-days",
            "2",
            "-subj",
            &format!("/CN={name}"),
            "-addext",
            "basicConstraints=critical,CA:TRUE",
            "-addext",
            "keyUsage=critical,keyCertSign,cRLSign",
        ],
    );
    dir.join(format!("{name}.pem"))
}

impl Pki {
    pub fn new(dir: &Path) -> Pki {
        std::fs::create_dir_all(dir).unwrap();
        Pki {
            dir: dir.to_path_buf(),
            ca: make_ca(dir, "recon-test-ca"),
            other_ca: make_ca(dir, "untrusted-ca"),
        }
    }

    /// A server certificate named `name` in files, valid for `sans` (`IP:…`, `DNS:…`) only.
    pub fn server(&self, name: &str, sans: &[String]) -> ServerCert {
        let dir = &self.dir;
        let (key, csr, cert) = (
            format!("{name}.key"),
            format!("{name}.csr"),
            format!("{name}.pem"),
        );
        openssl(
            dir,
            &[
                "req",
                "-new",
                "-newkey",
                "ec",
                "-pkeyopt",
                "ec_paramgen_curve:prime256v1",
                "-nodes",
                "-keyout",
                &key,
                "-out",
                &csr,
                "-subj",
                &format!("/CN={name}"),
            ],
        );
        let ext = format!("{name}.ext");
        std::fs::write(
            dir.join(&ext),
            format!(
                "basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\nsubjectAltName={}\n",
                sans.join(",")
            ),
        )
        .unwrap();
        openssl(
            dir,
            &[
                "x509",
                "-req",
                "-in",
                &csr,
                "-CA",
                "recon-test-ca.pem",
                "-CAkey",
                "recon-test-ca.key",
                "-CAcreateserial",
                "-out",
                &cert,
                "-days",
                "2",
                "-extfile",
                &ext,
            ],
        );
        ServerCert {
            cert: dir.join(cert),
            key: dir.join(key),
        }
    }
}

/// This machine's first IPv4 address that is not loopback: a database URL naming it is not
/// exempt from TLS, yet the server listening there is the test's own.
pub fn non_loopback_address() -> Option<String> {
    let out = Command::new("hostname").arg("-I").output().ok()?;
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .find(|a| {
            a.parse::<std::net::Ipv4Addr>()
                .is_ok_and(|ip| !ip.is_loopback() && !ip.is_unspecified())
        })
        .map(str::to_string)
}
