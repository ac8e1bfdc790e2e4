//! The mask key's length is counted in bytes after decoding its hex or base64: 32 hex digits
//! are 16 bytes, refused; 64 are 32 bytes, accepted.

use crate::common::*;

const CONFIG: &str = "
[job]
timezone = \"UTC\"
[sources.ledger]
url_env = \"LEDGER\"
[[integrity]]
name = \"entries\"
left = { source = \"ledger\", table = \"entries\" }
right = { source = \"ledger\", table = \"entries_copy\" }
key = [\"id\"]
sensitive_columns = [\"iban\"]
";

fn check(key: &str) -> std::process::Output {
    let dir = temp_dir();
    write(dir.path(), "recon.toml", CONFIG);
    let ledger = sqlite_url(dir.path().join("ledger.db"));
    recon(
        &["config", "check", "--config", "recon.toml"],
        &[
            ("LEDGER", &ledger),
            ("RECON_MASK_KEY", key),
            ("RECON_TEMP_DIR", "/tmp"),
        ],
        dir.path(),
    )
}

#[test]
fn a_mask_key_is_counted_in_decoded_bytes() {
    let sixteen = "0123456789abcdef0123456789abcdef";
    let out = check(sixteen);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(stdout(&out), "");
    assert_eq!(
        stderr(&out),
        "recon: recon.toml: job.mask_key_env: RECON_MASK_KEY is hex holding 16 bytes; a mask key needs at least 32 random bytes (e.g. `openssl rand -hex 32`: 64 hex digits)\n"
    );
    let passphrase = "correct horse battery staple and more";
    let out = check(passphrase);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        stderr(&out),
        "recon: recon.toml: job.mask_key_env: RECON_MASK_KEY is neither hex nor base64; a mask key is at least 32 random bytes written in hex or base64 (e.g. `openssl rand -hex 32`)\n"
    );
    let thirty_two = sixteen.repeat(2);
    let out = check(&thirty_two);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    // `openssl rand -base64 32`.
    let out = check("AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=");
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    for out in [check(sixteen), check(&thirty_two)] {
        let all = format!("{}{}", stdout(&out), stderr(&out));
        assert!(!all.contains(sixteen), "{all}");
    }
}
