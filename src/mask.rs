//! Keeps card data out of everything recon writes: card numbers masked, sensitive columns hashed.
//!
//! A primary account number is 13 to 19 digits, written together or in groups separated by single
//! spaces or dashes, that passes the Luhn check; it is shown as its first six and last four digits
//! (`411111******1111`). A column declared sensitive is shown only as `hmac-sha256:` and the first
//! 128 bits (32 hex digits) of the HMAC-SHA256 of its canonical text under a secret key
//! ([`MaskKey`]): equal values still look equal, but without the key nobody can test a guess
//! (an unkeyed hash of a date of birth falls to trying the 47,000 days of a lifetime).
//! 128 bits because the key, not the length, stops guessing: the length only has to keep
//! different values from showing alike, and two of a billion values share a 128-bit prefix with
//! odds of about 10^-21.

use std::borrow::Cow;
use std::sync::Arc;

use hmac::{KeyInit, Mac};
use sha2::Sha256;

const MIN_DIGITS: usize = 13;
const MAX_DIGITS: usize = 19;

/// `text` with every card number in it masked.
pub fn mask_card_numbers(text: &str) -> Cow<'_, str> {
    if text.bytes().filter(u8::is_ascii_digit).count() < MIN_DIGITS {
        return Cow::Borrowed(text);
    }
    let bytes = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut copied = 0;
    let mut i = 0;
    while i < bytes.len() {
        if !bytes[i].is_ascii_digit() || (i > 0 && bytes[i - 1].is_ascii_digit()) {
            i += 1;
            continue;
        }
        // A run of digit groups joined by single spaces or dashes.
        let groups = digit_groups(bytes, i);
        match find_card(bytes, &groups) {
            Some((start, end, digits)) => {
                out.push_str(&text[copied..start]);
                out.push_str(&masked(&digits));
                copied = end;
                i = end;
            }
            None => i = groups.last().map_or(i + 1, |g| g.1),
        }
    }
    if copied == 0 {
        return Cow::Borrowed(text);
    }
    out.push_str(&text[copied..]);
    Cow::Owned(out)
}

/// The (start, end) byte ranges of the digit groups of the run starting at `start`.
fn digit_groups(bytes: &[u8], start: usize) -> Vec<(usize, usize)> {
    let mut groups = Vec::new();
    let mut at = start;
    loop {
        let end = at
            + bytes[at..]
                .iter()
                .take_while(|b| b.is_ascii_digit())
                .count();
        groups.push((at, end));
        let joined = end + 1 < bytes.len()
            && matches!(bytes[end], b' ' | b'-')
            && bytes[end + 1].is_ascii_digit();
        if !joined {
            return groups;
        }
        at = end + 1;
    }
}

/// The first window of whole groups holding a Luhn-valid 13–19 digit number.
fn find_card(bytes: &[u8], groups: &[(usize, usize)]) -> Option<(usize, usize, String)> {
    for first in 0..groups.len() {
        let mut digits = String::new();
        for group in &groups[first..] {
            digits.extend(bytes[group.0..group.1].iter().map(|&b| char::from(b)));
            if digits.len() > MAX_DIGITS {
                break;
            }
            if digits.len() >= MIN_DIGITS && luhn_valid(&digits) {
                return Some((groups[first].0, group.1, digits));
            }
        }
    }
    None
}

fn luhn_valid(digits: &str) -> bool {
    let mut sum = 0;
    for (i, b) in digits.bytes().rev().enumerate() {
        let mut d = u32::from(b - b'0');
        if i % 2 == 1 {
            d *= 2;
            if d > 9 {
                d -= 9;
            }
        }
        sum += d;
    }
    sum % 10 == 0
}

fn masked(digits: &str) -> String {
    format!(
        "{}{}{}",
        &digits[..6],
        "*".repeat(digits.len() - 10),
        &digits[digits.len() - 4..]
    )
}

/// The environment variable holding the key, unless `job.mask_key_env` names another.
pub const DEFAULT_MASK_KEY_ENV: &str = "RECON_MASK_KEY";

/// What the variable of the key a rotation retires is called: the mask key's variable with this
/// ending (`RECON_MASK_KEY_PREVIOUS`).
pub const PREVIOUS_KEY_SUFFIX: &str = "_PREVIOUS";

/// The fewest bytes a mask key may hold once decoded: 256 bits, as many as the hash
/// (`openssl rand -hex 32` gives 64 hex digits, `openssl rand -base64 32` 44 base64 characters).
pub const MIN_KEY_BYTES: usize = 32;

/// The longest key id: a short name (`k1`, `2026-12`), written in every mask.
const MAX_KEY_ID_CHARS: usize = 16;

/// What a sensitive column's keyed hash starts with.
const SENSITIVE_PREFIX: &str = "hmac-sha256:";

/// How many bytes of the HMAC a mask shows (128 bits; see the module's documentation).
const SHOWN_BYTES: usize = 16;

/// The secret sensitive columns are masked under, with the key it replaced during a rotation;
/// its bytes are never printed (`Debug` shows only the key ids).
///
/// The variable's text is `<key id>:<key>` (`k1:` and 64 hex digits): masks and digests then
/// name the key id (`hmac-sha256:k1:…`). A key written alone, as before key ids, keeps writing
/// exactly what it wrote then: sensitive values as `hmac-sha256:` and 32 hex digits, digests
/// under an id made of the first 8 hex digits of a SHA-256 of the key. Masks written under the
/// previous key, or in that form, are still recognised where recon matches a stored mask
/// ([`MaskKey::earlier_forms`]).
#[derive(Clone)]
pub struct MaskKey {
    current: Secret,
    previous: Option<Secret>,
}

/// One key: its id, its bytes as the HMAC takes them, and whether masks under it are written in
/// the form from before key ids (only to recognise masks written then).
#[derive(Clone)]
struct Secret {
    id: Arc<str>,
    bytes: Arc<[u8]>,
    before_key_ids: bool,
}

impl Secret {
    fn hmac(&self, message: &[u8]) -> Vec<u8> {
        let mut mac = <hmac::Hmac<Sha256> as KeyInit>::new_from_slice(&self.bytes)
            .unwrap_or_else(|_| unreachable!("HMAC takes a key of any length"));
        mac.update(message);
        mac.finalize().into_bytes().to_vec()
    }

    /// The id a key without a written id has, which digests carried before key ids could be
    /// written: the first 8 hex digits of SHA-256 over a fixed label and the key.
    fn derived_id(bytes: &[u8]) -> String {
        use sha2::Digest;
        let mut hash = Sha256::new();
        hash.update(b"recon mask key id\0");
        hash.update(bytes);
        hex::encode(&hash.finalize()[..4])
    }
}

impl MaskKey {
    /// The key from the variable's text, `<key id>:<key>` or the key alone; the key must be hex
    /// or base64 holding at least [`MIN_KEY_BYTES`] bytes once decoded (a short key could itself
    /// be guessed, and text counted by its characters holds fewer random bytes than it looks).
    /// The HMAC is keyed with the key's text as written, so masks made before the length was
    /// counted this way, or before the key had an id, keep their digits.
    pub fn new(text: &str) -> Result<MaskKey, String> {
        Ok(MaskKey {
            current: secret(text)?,
            previous: None,
        })
    }

    /// This key with `text` as the key it replaces: masks under that one are still recognised.
    /// Refused when both keys have one id but differ (a new key needs a new id).
    pub fn with_previous(self, text: &str) -> Result<MaskKey, String> {
        let previous = secret(text)?;
        if previous.bytes == self.current.bytes {
            return Ok(self);
        }
        if previous.id == self.current.id {
            return Err(format!(
                "has the key id {:?} of the current key but another key; give the new key a new id (`k2:` and the key)",
                &*previous.id
            ));
        }
        Ok(MaskKey {
            previous: Some(previous),
            ..self
        })
    }

    /// The id of the key masks are written under.
    pub fn id(&self) -> &str {
        &self.current.id
    }

    /// The id of the key a rotation retires, when one is configured.
    pub fn previous_id(&self) -> Option<&str> {
        self.previous.as_ref().map(|p| &*p.id)
    }

    /// The configured key whose id is `id` (the current one or the one a rotation retires, or
    /// either written alone, as before it had an id), as the key [`key_digest`] digests under:
    /// to check a digest written under any of them.
    pub(crate) fn with_id(&self, id: &str) -> Option<MaskKey> {
        std::iter::once(&self.current)
            .chain(&self.previous)
            .find_map(|secret| {
                let before_key_ids = if &*secret.id == id {
                    secret.before_key_ids
                } else if Secret::derived_id(&secret.bytes) == id {
                    true
                } else {
                    return None;
                };
                Some(MaskKey {
                    current: Secret {
                        before_key_ids,
                        ..secret.clone()
                    },
                    previous: None,
                })
            })
    }

    /// Every other way a mask of one value may have been written before: the current key's in
    /// the form before key ids, the previous key's with its id and in that form. A stored mask
    /// equal to one of them names the same value.
    pub(crate) fn earlier_forms(&self) -> Vec<MaskKey> {
        let earlier = |secret: &Secret, before_key_ids: bool| MaskKey {
            current: Secret {
                before_key_ids,
                ..secret.clone()
            },
            previous: None,
        };
        let mut forms = vec![earlier(&self.current, true)];
        if let Some(previous) = &self.previous {
            forms.push(earlier(previous, false));
            forms.push(earlier(previous, true));
        }
        forms
    }
}

impl MaskKey {
    /// The form of this key that wrote the sensitive mask `shown` (`hmac-sha256:<id>:…`, or
    /// without an id as before key ids): this key itself, or one of its earlier forms; `None`
    /// when no configured key wrote it. Two keys both written alone cannot be told apart by
    /// their masks: the previous one, the older, is taken.
    pub(crate) fn form_of(&self, shown: &str) -> Option<MaskKey> {
        let rest = shown.strip_prefix(SENSITIVE_PREFIX)?;
        let id = rest.rsplit_once(':').map(|(id, _)| id);
        let writes = |secret: &Secret| match id {
            Some(id) => !secret.before_key_ids && &*secret.id == id,
            None => secret.before_key_ids,
        };
        if writes(&self.current) && (id.is_some() || self.previous.is_none()) {
            return Some(self.clone());
        }
        let mut forms = self.earlier_forms();
        // Earlier forms are the current key's first: the previous key's win a tie.
        forms.reverse();
        forms.into_iter().find(|form| writes(&form.current))
    }
}

/// A key from its variable's text: `<id>:<key>` or the key alone (see [`MaskKey`]).
fn secret(text: &str) -> Result<Secret, String> {
    let (id, key) = match text.split_once(':') {
        Some((id, key)) => (Some(id.trim()), key),
        None => (None, text),
    };
    if let Some(id) = id {
        let valid = !id.is_empty()
            && id.chars().count() <= MAX_KEY_ID_CHARS
            && id.starts_with(|c: char| c.is_ascii_alphanumeric())
            && id
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
        if !valid {
            return Err(format!(
                "has a key id of its own before ':' that is not 1 to {MAX_KEY_ID_CHARS} letters, digits, '.', '_' or '-' starting with a letter or digit (e.g. `k1:` and the key)"
            ));
        }
    }
    let (encoding, bytes) = crate::key_text::decode(key.trim())
        .map(|(encoding, bytes)| (encoding, bytes.len()))
        .ok_or_else(|| {
        format!(
            "is neither hex nor base64; a mask key is at least {MIN_KEY_BYTES} random bytes written in hex or base64 (e.g. `openssl rand -hex 32`)"
        )
    })?;
    if bytes < MIN_KEY_BYTES {
        return Err(format!(
            "is {encoding} holding {bytes} bytes; a mask key needs at least {MIN_KEY_BYTES} random bytes (e.g. `openssl rand -hex 32`: 64 hex digits)"
        ));
    }
    let bytes: Arc<[u8]> = Arc::from(key.as_bytes());
    Ok(Secret {
        id: id
            .map_or_else(|| Secret::derived_id(&bytes), str::to_string)
            .into(),
        bytes,
        // A key written alone keeps writing masks as recon did before key ids.
        before_key_ids: id.is_none(),
    })
}

impl std::fmt::Debug for MaskKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.previous {
            None => write!(f, "MaskKey({}:..)", self.current.id),
            Some(previous) => write!(
                f,
                "MaskKey({}:.., previous {}:..)",
                self.current.id, previous.id
            ),
        }
    }
}

/// How a sensitive column's value is shown: `hmac-sha256:<key id>:` and the first 128 bits of
/// HMAC-SHA256(key, value) in hex, equal for equal values under one key.
pub fn sensitive(key: &MaskKey, value: &str) -> String {
    let secret = &key.current;
    let tag = hex::encode(&secret.hmac(value.as_bytes())[..SHOWN_BYTES]);
    match secret.before_key_ids {
        true => format!("{SENSITIVE_PREFIX}{tag}"),
        false => format!("{SENSITIVE_PREFIX}{}:{tag}", secret.id),
    }
}

/// A key or value as recon writes it anywhere a person or an auditor reads it: built only by
/// masking (card numbers masked, or a sensitive column's keyed hash), so no output path can
/// forget to mask. Read back from recon's own store or files, it is masked again on the way in
/// (masking a masked text changes nothing), so even a tampered store cannot hand one out raw.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(transparent)]
pub struct Shown(String);

impl Shown {
    /// `raw` with every card number in it masked.
    pub fn masked(raw: &str) -> Shown {
        Shown(mask_card_numbers(raw).into_owned())
    }

    /// `raw`, a sensitive column's value: its keyed hash ([`sensitive`]).
    pub fn keyed(key: &MaskKey, raw: &str) -> Shown {
        Shown(sensitive(key, raw))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether this is a sensitive value's keyed hash (`hmac-sha256:…`), which depends on the key.
    pub(crate) fn is_keyed(&self) -> bool {
        self.0.starts_with(SENSITIVE_PREFIX)
    }

    /// Whether masking would hide part of `raw` (it holds a card number): its shown text then
    /// no longer tells it from another card number masked alike, and identity must come from a
    /// keyed digest of `raw`.
    pub fn hides_card_number(raw: &str) -> bool {
        matches!(mask_card_numbers(raw), Cow::Owned(_))
    }
}

impl PartialEq<&str> for Shown {
    fn eq(&self, other: &&str) -> bool {
        self.0 == *other
    }
}

impl PartialEq<String> for Shown {
    fn eq(&self, other: &String) -> bool {
        &self.0 == other
    }
}

impl std::fmt::Display for Shown {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::fmt::Debug for Shown {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Debug::fmt(&self.0, f)
    }
}

impl Shown {
    /// A shown text as recon wrote it (to its store, a seal, a file), read back: a sensitive
    /// column's keyed hash stays as it is (its hex digits are no card number); anything else is
    /// masked again, so a tampered store cannot hand a raw card number out.
    pub fn read_back(text: &str) -> Shown {
        let Some(rest) = text.strip_prefix(SENSITIVE_PREFIX) else {
            return Shown::masked(text);
        };
        // `hmac-sha256:<hex>` from before key ids, or `hmac-sha256:<key id>:<hex>`; the id is
        // masked too, so a tampered store cannot pass a card number off as one.
        let (id, hex) = match rest.rsplit_once(':') {
            Some((id, hex)) => (Some(id), hex),
            None => (None, rest),
        };
        let keyed = !hex.is_empty() && hex.bytes().all(|b| b.is_ascii_hexdigit());
        match (keyed, id) {
            (true, None) => Shown(text.to_string()),
            (true, Some(id)) => Shown(format!("{SENSITIVE_PREFIX}{}:{hex}", mask_card_numbers(id))),
            (false, _) => Shown::masked(text),
        }
    }
}

impl<'de> serde::Deserialize<'de> for Shown {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        Ok(Shown::read_back(&text))
    }
}

/// The identity of a raw key that masking hid: `hmac-sha256:<key id>:` and the HMAC-SHA256 of
/// the key's canonical encoding under the mask key, in hex. Two card numbers that mask alike
/// have different digests; without the key nobody can test a guessed card number against it.
pub fn key_digest(key: &MaskKey, encoded_key: &[u8]) -> String {
    let secret = &key.current;
    let id = match secret.before_key_ids {
        true => Secret::derived_id(&secret.bytes),
        false => secret.id.to_string(),
    };
    format!(
        "{SENSITIVE_PREFIX}{id}:{}",
        hex::encode(secret.hmac(encoded_key))
    )
}

/// The key id a [`key_digest`] names (`hmac-sha256:<key id>:<hex>`); `None` for text of
/// another form.
pub(crate) fn key_digest_id(digest: &str) -> Option<&str> {
    let (id, hex) = digest.strip_prefix(SENSITIVE_PREFIX)?.split_once(':')?;
    (!id.is_empty() && !hex.is_empty() && hex.bytes().all(|b| b.is_ascii_hexdigit())).then_some(id)
}

/// An integrity check's sensitive columns and the key their values are masked under.
#[derive(Debug, Clone, Default)]
pub struct SensitiveColumns {
    columns: Vec<String>,
    /// Present whenever `columns` is not empty.
    key: Option<MaskKey>,
}

impl SensitiveColumns {
    /// `columns` masked under `key`.
    pub fn new(columns: Vec<String>, key: MaskKey) -> SensitiveColumns {
        SensitiveColumns {
            columns,
            key: Some(key),
        }
    }

    /// The column names, as configured.
    pub fn columns(&self) -> &[String] {
        &self.columns
    }

    /// `text`, a value of `column`, as every output shows it: masked with the key when the
    /// column is sensitive, else with its card numbers masked.
    pub fn show(&self, column: &str, text: &str) -> Shown {
        match &self.key {
            Some(key) => self.show_under(key, column, text),
            None => Shown::masked(text),
        }
    }

    /// The key the columns are masked under.
    pub(crate) fn key(&self) -> Option<&MaskKey> {
        self.key.as_ref()
    }

    /// The same columns masked under `key` (an earlier form of the configured key).
    pub(crate) fn under(&self, key: MaskKey) -> SensitiveColumns {
        SensitiveColumns {
            columns: self.columns.clone(),
            key: Some(key),
        }
    }

    /// `text` as [`SensitiveColumns::show`] shows it, a sensitive column's under `key` (an
    /// earlier form of the configured key, to recognise what was written under it).
    pub(crate) fn show_under(&self, key: &MaskKey, column: &str, text: &str) -> Shown {
        match self.columns.iter().any(|c| c == column) {
            true => Shown::keyed(key, text),
            false => Shown::masked(text),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn card_numbers_are_masked_wherever_they_stand() {
        assert_eq!(mask_card_numbers("4111111111111111"), "411111******1111");
        assert_eq!(
            mask_card_numbers("card 4111 1111 1111 1111 declined"),
            "card 411111******1111 declined"
        );
        assert_eq!(mask_card_numbers("5500-0000-0000-0004"), "550000******0004");
        assert_eq!(
            mask_card_numbers("amex 378282246310005."),
            "amex 378282*****0005."
        );
        assert_eq!(
            mask_card_numbers("a=4111111111111111;b=5555555555554444"),
            "a=411111******1111;b=555555******4444"
        );
        // A card number followed by another group of digits is still found.
        assert_eq!(
            mask_card_numbers("4111 1111 1111 1111 2026"),
            "411111******1111 2026"
        );
    }

    #[test]
    fn a_card_number_glued_to_letters_is_found() {
        assert_eq!(
            mask_card_numbers("ch_3PqR4111111111111111x"),
            "ch_3PqR411111******1111x"
        );
    }

    #[test]
    fn other_numbers_are_left_alone() {
        for text in [
            "4111111111111112", // fails Luhn
            "order 12345 of 2026-11-20",
            "00000000-0000-4000-8000-000000001010",
            "12345678901234567890123", // longer than any card number
        ] {
            assert_eq!(mask_card_numbers(text), text, "{text}");
        }
    }

    const KEY: &str = "6b33792d666f722d74657374732d6f6e6c792d303132333435363738396162636465";

    fn key(text: &str) -> MaskKey {
        MaskKey::new(text).unwrap()
    }

    #[test]
    fn sensitive_values_show_as_an_hmac_equal_for_equal_values() {
        // printf 'NL91ABNA0417164300' | openssl dgst -sha256 -hmac '6b33792d666f722d74657374732d6f6e6c792d303132333435363738396162636465'
        // A key written without an id masks as before key ids.
        assert_eq!(
            sensitive(&key(KEY), "NL91ABNA0417164300"),
            "hmac-sha256:27066278321463335a454928da60436b"
        );
        // Written with an id, the same key gives the same HMAC under that id.
        assert_eq!(
            sensitive(&key(&format!("k1:{KEY}")), "NL91ABNA0417164300"),
            "hmac-sha256:k1:27066278321463335a454928da60436b"
        );
        assert_eq!(
            sensitive(&key(KEY), "1984-03-07"),
            sensitive(&key(KEY), "1984-03-07")
        );
        assert_ne!(sensitive(&key(KEY), "a"), sensitive(&key(KEY), "b"));
        let other = &"ab".repeat(32);
        assert_ne!(
            sensitive(&key(KEY), "1984-03-07"),
            sensitive(&key(other), "1984-03-07")
        );
    }

    /// The attack the unkeyed `sha256:` prefix fell to: hash every date of birth from 1900 to
    /// 2030 (47,847 days) the old way and look the mask up.
    fn recover_date_of_birth(shown: &str) -> Option<String> {
        use sha2::Digest;
        let mut day = chrono::NaiveDate::from_ymd_opt(1900, 1, 1)?;
        let last = chrono::NaiveDate::from_ymd_opt(2030, 12, 31)?;
        while day <= last {
            let candidate = day.format("%Y-%m-%d").to_string();
            let unkeyed = hex::encode(Sha256::digest(candidate.as_bytes()));
            if shown == format!("sha256:{}", &unkeyed[..12]) {
                return Some(candidate);
            }
            day = day.succ_opt()?;
        }
        None
    }

    #[test]
    fn a_date_of_birth_is_not_recovered_by_trying_every_date() {
        use sha2::Digest;
        // The attack works on the old scheme…
        let unkeyed = format!(
            "sha256:{}",
            &hex::encode(Sha256::digest(b"1984-03-07"))[..12]
        );
        assert_eq!(
            recover_date_of_birth(&unkeyed).as_deref(),
            Some("1984-03-07")
        );
        // … and finds nothing in the keyed mask: no candidate gives it.
        assert_eq!(
            recover_date_of_birth(&sensitive(&key(KEY), "1984-03-07")),
            None
        );
    }

    #[test]
    fn a_short_key_is_refused_and_no_key_is_ever_printed() {
        assert_eq!(
            MaskKey::new("hunter2").unwrap_err(),
            "is neither hex nor base64; a mask key is at least 32 random bytes written in hex or base64 (e.g. `openssl rand -hex 32`)"
        );
        // 32 characters, but 16 bytes: counted after decoding.
        assert_eq!(
            MaskKey::new("0123456789abcdef0123456789abcdef").unwrap_err(),
            "is hex holding 16 bytes; a mask key needs at least 32 random bytes (e.g. `openssl rand -hex 32`: 64 hex digits)"
        );
        assert_eq!(
            MaskKey::new("AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHg==").unwrap_err(),
            "is base64 holding 31 bytes; a mask key needs at least 32 random bytes (e.g. `openssl rand -hex 32`: 64 hex digits)"
        );
        assert!(MaskKey::new(&"0123456789abcdef".repeat(4)).is_ok());
        assert!(MaskKey::new("AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=").is_ok());
        assert!(MaskKey::new("AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8").is_ok());
        assert!(MaskKey::new("-_-_AwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8").is_ok());
        // A key read from a file ends with a newline; it is counted without it.
        assert!(MaskKey::new(&format!("{}\n", "ab".repeat(32))).is_ok());
        let columns = SensitiveColumns::new(vec!["iban".into()], key(KEY));
        assert!(!format!("{columns:?}").contains(KEY));
        assert_eq!(
            columns.show("iban", "NL91ABNA0417164300"),
            "hmac-sha256:27066278321463335a454928da60436b"
        );
        assert_eq!(columns.show("memo", "4111111111111111"), "411111******1111");
        assert_eq!(SensitiveColumns::default().show("iban", "NL91"), "NL91");
    }

    #[test]
    fn shown_text_is_built_only_by_masking_and_read_back_masked() {
        assert_eq!(Shown::masked("id 4111111111111111"), "id 411111******1111");
        assert!(Shown::hides_card_number("4111111111111111"));
        assert!(!Shown::hides_card_number("ch_1042"));
        // A keyed hash read back stays as written, even when its hex digits run long.
        let keyed = "hmac-sha256:4111111111111111aaaaaaaaaaaaaaaa";
        assert_eq!(Shown::read_back(keyed), keyed);
        let keyed = "hmac-sha256:k1:4111111111111111aaaaaaaaaaaaaaaa";
        assert_eq!(Shown::read_back(keyed), keyed);
        // A key id is no hiding place for a card number.
        assert_eq!(
            Shown::read_back("hmac-sha256:4111111111111111:aa"),
            "hmac-sha256:411111******1111:aa"
        );
        // Anything else read back is masked again: a store edited by hand cannot leak a number.
        assert_eq!(
            Shown::read_back("hmac-sha256: 4111111111111111"),
            "hmac-sha256: 411111******1111"
        );
        assert_eq!(Shown::read_back("4111111111111111"), "411111******1111");
        let json: Shown = serde_json::from_str("\"5555555555554444\"").unwrap();
        assert_eq!(json, "555555******4444");
    }

    #[test]
    fn key_digests_tell_apart_what_masks_alike_and_name_their_key() {
        let k1 = key(KEY);
        let k2 = key("YW5vdGhlci1rZXktMDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODk=");
        let a = key_digest(&k1, b"4111111000071111");
        let b = key_digest(&k1, b"4111111000151111");
        assert_eq!(
            Shown::masked("4111111000071111"),
            Shown::masked("4111111000151111")
        );
        assert_ne!(a, b);
        assert_eq!(a, key_digest(&k1, b"4111111000071111"));
        assert_eq!(a.len(), "hmac-sha256:".len() + 8 + 1 + 64);
        assert!(a.starts_with(&format!("hmac-sha256:{}:", k1.id())), "{a}");
        assert_ne!(k1.id(), k2.id());
        assert_ne!(a, key_digest(&k2, b"4111111000071111"));
        assert!(!a.contains("4111111000071111"));
    }

    #[test]
    fn a_key_id_is_written_in_every_mask_and_refused_when_malformed() {
        let k1 = key(&format!("k1:{KEY}"));
        assert_eq!(k1.id(), "k1");
        assert_eq!(key(KEY).id(), "de3ecdf1");
        assert_eq!(format!("{k1:?}"), "MaskKey(k1:..)");
        assert!(key_digest(&k1, b"x").starts_with("hmac-sha256:k1:"));
        // The same key without its id keeps the digests it had before ids.
        assert_eq!(
            key_digest(&key(KEY), b"x")["hmac-sha256:de3ecdf1:".len()..],
            key_digest(&k1, b"x")["hmac-sha256:k1:".len()..]
        );
        assert_eq!(
            MaskKey::new(&format!("k 1:{KEY}")).unwrap_err(),
            "has a key id of its own before ':' that is not 1 to 16 letters, digits, '.', '_' or '-' starting with a letter or digit (e.g. `k1:` and the key)"
        );
        assert_eq!(
            MaskKey::new("k1:0123456789abcdef0123456789abcdef").unwrap_err(),
            "is hex holding 16 bytes; a mask key needs at least 32 random bytes (e.g. `openssl rand -hex 32`: 64 hex digits)"
        );
    }

    #[test]
    fn a_rotation_keeps_the_previous_key_for_recognising_old_masks() {
        let other = "ab".repeat(32);
        let rotated = key(&format!("k2:{other}"))
            .with_previous(&format!("k1:{KEY}"))
            .unwrap();
        assert_eq!(rotated.id(), "k2");
        assert_eq!(rotated.previous_id(), Some("k1"));
        assert_eq!(format!("{rotated:?}"), "MaskKey(k2:.., previous k1:..)");
        assert!(!format!("{rotated:?}").contains(KEY));
        let now = sensitive(&rotated, "NL91ABNA0417164300");
        assert!(now.starts_with("hmac-sha256:k2:"), "{now}");
        let earlier: Vec<String> = rotated
            .earlier_forms()
            .iter()
            .map(|k| sensitive(k, "NL91ABNA0417164300"))
            .collect();
        assert_eq!(
            earlier[1..],
            [
                "hmac-sha256:k1:27066278321463335a454928da60436b",
                "hmac-sha256:27066278321463335a454928da60436b",
            ]
        );
        assert_eq!(
            key(&format!("k1:{other}"))
                .with_previous(&format!("k1:{KEY}"))
                .unwrap_err(),
            "has the key id \"k1\" of the current key but another key; give the new key a new id (`k2:` and the key)"
        );
    }

    #[test]
    fn the_form_that_wrote_a_stored_mask_is_found() {
        let other = "ab".repeat(32);
        let named = |id: &str, k: &str| key(&format!("{id}:{k}"));
        let rotated = named("k2", &other)
            .with_previous(&format!("k1:{KEY}"))
            .unwrap();
        let value = "NL91ABNA0417164300";
        for written_by in [named("k2", &other), named("k1", KEY), key(KEY)] {
            let shown = sensitive(&written_by, value);
            let form = rotated.form_of(&shown).unwrap();
            assert_eq!(sensitive(&form, value), shown);
        }
        assert!(
            rotated
                .form_of(&sensitive(&named("k3", &other), value))
                .is_none()
        );
        assert!(rotated.form_of("not a mask").is_none());
        // Alone, a key written without an id is the form of masks without one.
        let alone = key(KEY);
        let shown = sensitive(&alone, value);
        assert_eq!(sensitive(&alone.form_of(&shown).unwrap(), value), shown);
    }
}
