//! The Ed25519 keys that sign audit entries, one per writer under a key id, so that the store's
//! own credentials cannot rewrite the chain and an auditor verifies it with public keys alone.

use std::sync::OnceLock;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use ring::rand::SystemRandom;
use ring::signature::{ED25519, Ed25519KeyPair, KeyPair, UnparsedPublicKey};

/// The variable holding this writer's key: `<key id>:<base64 PKCS#8 document or 32-byte seed>`.
pub const SIGNING_KEY_ENV: &str = "RECON_AUDIT_SIGNING_KEY";

/// What a signature covers: this prefix, then the entry's hash (hex text).
const SIGNED_PREFIX: &[u8] = b"recon-audit-entry-v1\n";

/// One writer's private key and the id its entries name.
pub struct WriterKey {
    id: String,
    pair: Ed25519KeyPair,
}

impl std::fmt::Debug for WriterKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "WriterKey({})", self.id)
    }
}

/// A key id names a key in the config and in every entry: letters, digits, `-`, `_`, `.`.
fn valid_key_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 64
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

impl WriterKey {
    /// Reads `<key id>:<base64>`; the message never repeats the key.
    pub fn parse(text: &str) -> Result<WriterKey, String> {
        let (id, encoded) = text.trim().split_once(':').ok_or_else(|| {
            format!(
                "{SIGNING_KEY_ENV} must be <key id>:<base64 key> (`recon audit keygen` makes one)"
            )
        })?;
        if !valid_key_id(id) {
            return Err(format!(
                "{SIGNING_KEY_ENV}: the key id must be 1-64 letters, digits, '-', '_' or '.'"
            ));
        }
        let bytes = STANDARD
            .decode(encoded.trim())
            .map_err(|_| format!("{SIGNING_KEY_ENV}: the key after '{id}:' is not base64"))?;
        let pair = if bytes.len() == 32 {
            Ed25519KeyPair::from_seed_unchecked(&bytes)
        } else {
            Ed25519KeyPair::from_pkcs8_maybe_unchecked(&bytes)
        }
        .map_err(|_| {
            format!(
                "{SIGNING_KEY_ENV}: key '{id}' is neither an Ed25519 PKCS#8 document nor a 32-byte seed"
            )
        })?;
        Ok(WriterKey {
            id: id.to_string(),
            pair,
        })
    }

    pub fn id(&self) -> &str {
        &self.id
    }

    /// The public key, base64, as `[audit] trusted_keys` holds it.
    pub fn public_key(&self) -> String {
        STANDARD.encode(self.pair.public_key().as_ref())
    }

    /// The signature (base64) over an entry's hash.
    pub fn sign(&self, hash: &str) -> String {
        let mut message = SIGNED_PREFIX.to_vec();
        message.extend_from_slice(hash.as_bytes());
        STANDARD.encode(self.pair.sign(&message).as_ref())
    }
}

/// Whether `signature` (base64) is the signature over `hash` by the key whose public half is
/// `public_key` (base64).
pub fn verifies(public_key: &str, hash: &str, signature: &str) -> bool {
    let (Ok(public_key), Ok(signature)) = (STANDARD.decode(public_key), STANDARD.decode(signature))
    else {
        return false;
    };
    let mut message = SIGNED_PREFIX.to_vec();
    message.extend_from_slice(hash.as_bytes());
    UnparsedPublicKey::new(&ED25519, public_key)
        .verify(&message, &signature)
        .is_ok()
}

/// Whether `text` is a base64 Ed25519 public key (32 bytes).
pub fn is_public_key(text: &str) -> bool {
    STANDARD.decode(text).is_ok_and(|bytes| bytes.len() == 32)
}

/// A new key pair: the `RECON_AUDIT_SIGNING_KEY` value (private) and the public key.
pub fn generate(id: &str) -> Result<(String, String), String> {
    if !valid_key_id(id) {
        return Err("a key id must be 1-64 letters, digits, '-', '_' or '.'".to_string());
    }
    let pkcs8 = Ed25519KeyPair::generate_pkcs8(&SystemRandom::new())
        .map_err(|_| "the system random generator failed".to_string())?;
    let private = format!("{id}:{}", STANDARD.encode(pkcs8.as_ref()));
    let key = WriterKey::parse(&private)?;
    Ok((private, key.public_key()))
}

/// This process's writer key, read once from [`SIGNING_KEY_ENV`]; `None` when it is unset
/// (entries are then written unsigned, and the run says so).
pub fn writer() -> Result<Option<&'static WriterKey>, String> {
    static KEY: OnceLock<Result<Option<WriterKey>, String>> = OnceLock::new();
    KEY.get_or_init(|| match std::env::var(SIGNING_KEY_ENV) {
        Ok(text) if !text.trim().is_empty() => WriterKey::parse(&text).map(Some),
        _ => Ok(None),
    })
    .as_ref()
    .map(Option::as_ref)
    .map_err(Clone::clone)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signature_verifies_under_its_public_key_only_and_over_its_hash_only() {
        let (private, public) = generate("job-1").unwrap();
        let key = WriterKey::parse(&private).unwrap();
        assert_eq!(key.id(), "job-1");
        let sig = key.sign("ab12");
        assert!(verifies(&public, "ab12", &sig));
        assert!(!verifies(&public, "ab13", &sig));
        let (_, other) = generate("job-2").unwrap();
        assert!(!verifies(&other, "ab12", &sig));
        assert!(is_public_key(&public));
    }

    #[test]
    fn a_seed_is_accepted_and_bad_keys_are_named_without_the_key() {
        let seed = STANDARD.encode([7u8; 32]);
        let a = WriterKey::parse(&format!("ops-alice:{seed}")).unwrap();
        let b = WriterKey::parse(&format!("ops-alice:{seed}")).unwrap();
        assert_eq!(a.public_key(), b.public_key());
        let err = WriterKey::parse("ops-alice:c2VjcmV0").unwrap_err();
        assert_eq!(
            err,
            "RECON_AUDIT_SIGNING_KEY: key 'ops-alice' is neither an Ed25519 PKCS#8 document nor a 32-byte seed"
        );
        assert!(WriterKey::parse("no-colon").is_err());
        assert!(WriterKey::parse("bad id:AAAA").is_err());
    }
}
