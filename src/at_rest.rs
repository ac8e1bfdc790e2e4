//! Encryption at rest: what recon keeps past a run (kept downloads, the store's row values) sealed
//! with AES-256-GCM (`ring`), under data keys wrapped by a key-encryption key from the environment.
//!
//! Envelope encryption: the key-encryption key (KEK) comes from `RECON_DATA_KEY` (or the variable
//! `job.data_key_env` names) as `<key id>:<32 bytes in hex or base64>`; during a rotation the old
//! one stays in `<variable>_PREVIOUS`, for decryption only. Each kept file gets its own random data
//! key; a store handle gets one per run for its fields. A data key is kept only wrapped (sealed
//! under the KEK, with the key id as authenticated data), beside the key id, in every header.
//! Every ciphertext's authenticated data names its place (a file's name; a field's table, column
//! and the discrepancy it belongs to), so a ciphertext moved elsewhere does not decrypt.
//!
//! A kept file is the STREAM construction (Hoang, Reyhanitabar, Rogaway, Vizár): the plaintext in
//! 64 KiB chunks, chunk `i` sealed under nonce `prefix ‖ i ‖ last`, so a file is written and read
//! in constant memory and no chunk can be dropped, reordered or appended unnoticed.

use std::io::Read;
use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ring::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use ring::rand::{SecureRandom, SystemRandom};

/// The variable holding the key-encryption key unless `job.data_key_env` names another.
pub const DEFAULT_DATA_KEY_ENV: &str = "RECON_DATA_KEY";

/// What is appended to the variable's name for the previous key, kept during a rotation.
pub const PREVIOUS_SUFFIX: &str = "_PREVIOUS";

/// The bytes of an AES-256 key.
pub const KEY_BYTES: usize = 32;

/// The bytes of plaintext in one chunk of a kept file.
pub const CHUNK_BYTES: usize = 64 * 1024;

const TAG_BYTES: usize = 16;

/// What a kept file starts with.
const FILE_MAGIC: &[u8; 8] = b"RCNAES1\n";

/// What a sealed field starts with.
const FIELD_PREFIX: &str = "aes256gcm:v1:";

/// The bytes of a file's nonce prefix: 12 − 4 (chunk counter) − 1 (last flag).
const PREFIX_BYTES: usize = NONCE_LEN - 5;

/// A wrapped data key: nonce, the key sealed, its tag.
const WRAPPED_BYTES: usize = NONCE_LEN + KEY_BYTES + TAG_BYTES;

/// Why something kept could not be sealed or opened; one line, never a key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AtRestError(pub String);

impl std::fmt::Display for AtRestError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for AtRestError {}

fn fail(message: impl Into<String>) -> AtRestError {
    AtRestError(message.into())
}

/// One key-encryption key and its id; `Debug` shows the id only.
#[derive(Clone)]
struct Kek {
    id: String,
    key: LessSafeKey,
}

impl std::fmt::Debug for Kek {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Kek({}, ..)", self.id)
    }
}

impl Kek {
    /// The key from `<key id>:<hex or base64>`; the key id is 1 to 32 of `A-Z a-z 0-9 . _ -`
    /// and the key exactly 32 bytes once decoded.
    fn parse(text: &str) -> Result<Kek, String> {
        let text = text.trim();
        let (id, encoded) = text.split_once(':').ok_or_else(|| {
            "is not `<key id>:<key>` (e.g. `k1:` followed by `openssl rand -hex 32`)".to_string()
        })?;
        let id_ok = (1..=32).contains(&id.len())
            && id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
        if !id_ok {
            return Err(
                "has a key id that is not 1 to 32 letters, digits, `.`, `_` or `-`".to_string(),
            );
        }
        let (encoding, bytes) = crate::key_text::decode(encoded.trim()).ok_or_else(|| {
            format!("(key {id}) is neither hex nor base64; a data key is {KEY_BYTES} random bytes (e.g. `openssl rand -hex 32`)")
        })?;
        if bytes.len() != KEY_BYTES {
            return Err(format!(
                "(key {id}) is {encoding} holding {} bytes; an AES-256 data key is exactly {KEY_BYTES} bytes (e.g. `openssl rand -hex 32`: 64 hex digits)",
                bytes.len()
            ));
        }
        Ok(Kek {
            id: id.to_string(),
            key: aes_key(&bytes)?,
        })
    }
}

fn aes_key(bytes: &[u8]) -> Result<LessSafeKey, String> {
    UnboundKey::new(&AES_256_GCM, bytes)
        .map(LessSafeKey::new)
        .map_err(|_| format!("an AES-256 key is exactly {KEY_BYTES} bytes"))
}

fn random<const N: usize>() -> Result<[u8; N], AtRestError> {
    let mut bytes = [0u8; N];
    SystemRandom::new()
        .fill(&mut bytes)
        .map_err(|_| fail("the system's random number generator failed"))?;
    Ok(bytes)
}

/// The authenticated data of a wrapped data key: it was made under key `id`.
fn wrap_aad(id: &str) -> Vec<u8> {
    [b"recon data key\0".as_slice(), id.as_bytes()].concat()
}

/// A data key, usable and wrapped under the current KEK.
#[derive(Clone)]
struct DataKey {
    key: LessSafeKey,
    wrapped: [u8; WRAPPED_BYTES],
}

impl DataKey {
    /// A new random data key, wrapped under `kek`.
    fn generate(kek: &Kek) -> Result<DataKey, AtRestError> {
        let bytes: [u8; KEY_BYTES] = random()?;
        let nonce: [u8; NONCE_LEN] = random()?;
        let mut sealed = bytes.to_vec();
        kek.key
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(wrap_aad(&kek.id)),
                &mut sealed,
            )
            .map_err(|_| fail("cannot wrap a data key"))?;
        let mut wrapped = [0u8; WRAPPED_BYTES];
        wrapped[..NONCE_LEN].copy_from_slice(&nonce);
        wrapped[NONCE_LEN..].copy_from_slice(&sealed);
        Ok(DataKey {
            key: aes_key(&bytes).map_err(fail)?,
            wrapped,
        })
    }
}

/// The keys recon seals and opens what it keeps with: the current KEK (everything new is sealed
/// under it) and, during a rotation, the previous one (opening only). `Debug` shows key ids only.
#[derive(Clone)]
pub struct DataKeys {
    current: Kek,
    previous: Option<Kek>,
    /// The variable the current key came from, for messages.
    var: String,
    /// This handle's data key for fields (one per run), wrapped under the current KEK.
    field_key: Arc<DataKey>,
}

impl std::fmt::Debug for DataKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DataKeys")
            .field("var", &self.var)
            .field("current", &self.current.id)
            .field("previous", &self.previous.as_ref().map(|k| &k.id))
            .finish_non_exhaustive()
    }
}

impl DataKeys {
    /// The keys from variable `var` and `<var>_PREVIOUS`; `None` when `var` is unset or blank
    /// (nothing is encrypted then). A malformed key, or a previous key without a current one,
    /// is an error naming the variable, never the key.
    pub fn from_env(
        var: &str,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Option<DataKeys>, String> {
        let value = |name: &str| env(name).filter(|v| !v.trim().is_empty());
        let previous_var = format!("{var}{PREVIOUS_SUFFIX}");
        let Some(current) = value(var) else {
            return match value(&previous_var) {
                Some(_) => Err(format!(
                    "{previous_var} is set but {var} is not: the previous data key only opens what it sealed; set the current key in {var}"
                )),
                None => Ok(None),
            };
        };
        let current = Kek::parse(&current).map_err(|m| format!("{var} {m}"))?;
        let previous = value(&previous_var)
            .map(|text| Kek::parse(&text).map_err(|m| format!("{previous_var} {m}")))
            .transpose()?;
        if previous.as_ref().is_some_and(|p| p.id == current.id) {
            return Err(format!(
                "{var} and {previous_var} have the same key id {}; a rotation gives the new key a new id",
                current.id
            ));
        }
        let field_key = DataKey::generate(&current).map_err(|e| e.0)?;
        Ok(Some(DataKeys {
            current,
            previous,
            var: var.to_string(),
            field_key: Arc::new(field_key),
        }))
    }

    /// Keys that live only in this process: a random KEK no one else ever holds, for files that
    /// must not outlive the run in a readable form (a settlement check's spilled buckets).
    pub fn ephemeral() -> Result<DataKeys, AtRestError> {
        let bytes: [u8; KEY_BYTES] = random()?;
        let current = Kek {
            id: "ephemeral".to_string(),
            key: aes_key(&bytes).map_err(fail)?,
        };
        let field_key = DataKey::generate(&current)?;
        Ok(DataKeys {
            current,
            previous: None,
            var: "(this process)".to_string(),
            field_key: Arc::new(field_key),
        })
    }

    /// The id of the key everything new is sealed under.
    pub fn current_id(&self) -> &str {
        &self.current.id
    }

    /// The id of the previous key, kept for opening during a rotation.
    pub fn previous_id(&self) -> Option<&str> {
        self.previous.as_ref().map(|k| k.id.as_str())
    }

    /// The KEK whose id is `id`, or an error saying which keys are configured.
    fn kek(&self, id: &str) -> Result<&Kek, AtRestError> {
        if self.current.id == id {
            return Ok(&self.current);
        }
        match &self.previous {
            Some(previous) if previous.id == id => Ok(previous),
            _ => Err(fail(format!(
                "it is encrypted under data key {id:?}, which neither {} ({}) nor {}{PREVIOUS_SUFFIX} ({}) holds; set the key it was written under",
                self.var,
                self.current.id,
                self.var,
                self.previous_id().unwrap_or("unset")
            ))),
        }
    }

    /// The data key `wrapped` holds, unwrapped under KEK `id`.
    fn unwrap(&self, id: &str, wrapped: &[u8]) -> Result<LessSafeKey, AtRestError> {
        let kek = self.kek(id)?;
        let wrong = || {
            fail(format!(
                "its data key does not open under data key {id:?}: the key in the environment is not the one it was written under, or the data was altered"
            ))
        };
        if wrapped.len() != WRAPPED_BYTES {
            return Err(wrong());
        }
        let (nonce, sealed) = wrapped.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| wrong())?;
        let mut sealed = sealed.to_vec();
        let bytes = kek
            .key
            .open_in_place(nonce, Aad::from(wrap_aad(id)), &mut sealed)
            .map_err(|_| wrong())?;
        aes_key(bytes).map_err(fail)
    }

    /// `plaintext` sealed for `place` (e.g. `discrepancies.detail_json` and the row's identity):
    /// `aes256gcm:v1:<key id>:<wrapped data key>:<nonce ‖ ciphertext ‖ tag>`, base64url.
    pub fn seal_field(&self, place: &[u8], plaintext: &[u8]) -> Result<String, AtRestError> {
        let nonce: [u8; NONCE_LEN] = random()?;
        let mut body = plaintext.to_vec();
        self.field_key
            .key
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(field_aad(&self.current.id, place)),
                &mut body,
            )
            .map_err(|_| fail("cannot seal a field"))?;
        let mut sealed = nonce.to_vec();
        sealed.extend_from_slice(&body);
        Ok(format!(
            "{FIELD_PREFIX}{}:{}:{}",
            self.current.id,
            URL_SAFE_NO_PAD.encode(self.field_key.wrapped),
            URL_SAFE_NO_PAD.encode(sealed)
        ))
    }

    /// The plaintext of a field [`DataKeys::seal_field`] sealed for `place`.
    pub fn open_field(&self, place: &[u8], text: &str) -> Result<Vec<u8>, AtRestError> {
        let malformed = || fail("it is not a well-formed encrypted field");
        let rest = text.strip_prefix(FIELD_PREFIX).ok_or_else(malformed)?;
        let mut parts = rest.splitn(3, ':');
        let (Some(id), Some(wrapped), Some(sealed)) = (parts.next(), parts.next(), parts.next())
        else {
            return Err(malformed());
        };
        let wrapped = URL_SAFE_NO_PAD.decode(wrapped).map_err(|_| malformed())?;
        let sealed = URL_SAFE_NO_PAD.decode(sealed).map_err(|_| malformed())?;
        let key = self.unwrap(id, &wrapped)?;
        if sealed.len() < NONCE_LEN + TAG_BYTES {
            return Err(malformed());
        }
        let (nonce, body) = sealed.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| malformed())?;
        let mut body = body.to_vec();
        let plain = key
            .open_in_place(nonce, Aad::from(field_aad(id, place)), &mut body)
            .map_err(|_| {
                fail("it does not decrypt where it is: it was moved from another row or altered")
            })?;
        Ok(plain.to_vec())
    }

    /// A [`Sealing`] stream for a file kept at `place` (its name), under a new data key.
    pub fn seal_stream(&self, place: &[u8]) -> Result<Sealing, AtRestError> {
        let data_key = DataKey::generate(&self.current)?;
        let prefix: [u8; PREFIX_BYTES] = random()?;
        let mut header = FILE_MAGIC.to_vec();
        header.push(u8::try_from(self.current.id.len()).unwrap_or(u8::MAX));
        header.extend_from_slice(self.current.id.as_bytes());
        header.extend_from_slice(&data_key.wrapped);
        header.extend_from_slice(&prefix);
        let aad = stream_aad(&header, place);
        Ok(Sealing {
            key: data_key.key,
            prefix,
            aad,
            counter: 0,
            pending: Vec::with_capacity(CHUNK_BYTES),
            out: header,
        })
    }

    /// A reader of the plaintext of a file [`DataKeys::seal_stream`] sealed for `place`.
    pub fn open_stream<R: Read>(&self, place: &[u8], mut inner: R) -> std::io::Result<Opening<R>> {
        let mut magic = [0u8; FILE_MAGIC.len()];
        inner
            .read_exact(&mut magic)
            .map_err(|_| invalid("it is not an encrypted file"))?;
        if &magic != FILE_MAGIC {
            return Err(invalid("it is not an encrypted file"));
        }
        let mut len = [0u8; 1];
        inner
            .read_exact(&mut len)
            .map_err(|_| invalid("its header is cut short"))?;
        let mut rest = vec![0u8; usize::from(len[0]) + WRAPPED_BYTES + PREFIX_BYTES];
        inner
            .read_exact(&mut rest)
            .map_err(|_| invalid("its header is cut short"))?;
        let (id, tail) = rest.split_at(usize::from(len[0]));
        let (wrapped, prefix) = tail.split_at(WRAPPED_BYTES);
        let id = std::str::from_utf8(id).map_err(|_| invalid("its header is malformed"))?;
        let key = self.unwrap(id, wrapped).map_err(|e| invalid(&e.0))?;
        let mut header = magic.to_vec();
        header.extend_from_slice(&len);
        header.extend_from_slice(&rest);
        let mut nonce_prefix = [0u8; PREFIX_BYTES];
        nonce_prefix.copy_from_slice(prefix);
        Ok(Opening {
            inner,
            key,
            prefix: nonce_prefix,
            aad: stream_aad(&header, place),
            key_id: id.to_string(),
            counter: 0,
            buffer: Vec::with_capacity(CHUNK_BYTES + TAG_BYTES + 1),
            plain: Vec::new(),
            at: 0,
            done: false,
        })
    }
}

/// Whether `text` is a field [`DataKeys::seal_field`] sealed.
pub fn is_sealed_field(text: &str) -> bool {
    text.starts_with(FIELD_PREFIX)
}

/// The key id a sealed field was sealed under.
pub fn field_key_id(text: &str) -> Option<&str> {
    text.strip_prefix(FIELD_PREFIX)?.split(':').next()
}

/// Whether `start`, a file's first bytes, is the header of a sealed file.
pub fn is_sealed_file(start: &[u8]) -> bool {
    start.starts_with(FILE_MAGIC)
}

/// The key id in a sealed file's header (`start` its first bytes).
pub fn file_key_id(start: &[u8]) -> Option<&str> {
    let rest = start.strip_prefix(FILE_MAGIC.as_slice())?;
    let len = usize::from(*rest.first()?);
    std::str::from_utf8(rest.get(1..1 + len)?).ok()
}

/// How many bytes of a file [`file_key_id`] needs to see.
pub const FILE_HEADER_PEEK: usize = FILE_MAGIC.len() + 1 + 255;

fn field_aad(id: &str, place: &[u8]) -> Vec<u8> {
    [b"recon field v1\0".as_slice(), id.as_bytes(), b"\0", place].concat()
}

fn stream_aad(header: &[u8], place: &[u8]) -> Vec<u8> {
    [b"recon file v1\0".as_slice(), header, b"\0", place].concat()
}

fn chunk_nonce(prefix: &[u8; PREFIX_BYTES], counter: u32, last: bool) -> Nonce {
    let mut nonce = [0u8; NONCE_LEN];
    nonce[..PREFIX_BYTES].copy_from_slice(prefix);
    nonce[PREFIX_BYTES..NONCE_LEN - 1].copy_from_slice(&counter.to_be_bytes());
    nonce[NONCE_LEN - 1] = u8::from(last);
    Nonce::assume_unique_for_key(nonce)
}

fn invalid(message: &str) -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::InvalidData, message.to_string())
}

/// A file being sealed: plaintext in, ciphertext out, a chunk at a time.
pub struct Sealing {
    key: LessSafeKey,
    prefix: [u8; PREFIX_BYTES],
    aad: Vec<u8>,
    counter: u32,
    pending: Vec<u8>,
    /// Ciphertext not yet taken (the header at first).
    out: Vec<u8>,
}

impl std::fmt::Debug for Sealing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Sealing(..)")
    }
}

impl Sealing {
    /// Takes `data`; returns the ciphertext ready to write (whole chunks, the header first).
    pub fn update(&mut self, mut data: &[u8]) -> Result<Vec<u8>, AtRestError> {
        // A chunk is sealed only once more data follows it: the last one carries the flag.
        while !data.is_empty() {
            if self.pending.len() == CHUNK_BYTES {
                self.seal_pending(false)?;
            }
            let take = (CHUNK_BYTES - self.pending.len()).min(data.len());
            self.pending.extend_from_slice(&data[..take]);
            data = &data[take..];
        }
        Ok(std::mem::take(&mut self.out))
    }

    /// The rest of the ciphertext: the last chunk, flagged last (empty for an empty file).
    pub fn finish(mut self) -> Result<Vec<u8>, AtRestError> {
        self.seal_pending(true)?;
        Ok(self.out)
    }

    fn seal_pending(&mut self, last: bool) -> Result<(), AtRestError> {
        let nonce = chunk_nonce(&self.prefix, self.counter, last);
        self.counter = self
            .counter
            .checked_add(1)
            .ok_or_else(|| fail("a file is too large to encrypt (2^32 chunks)"))?;
        let mut chunk = std::mem::replace(&mut self.pending, Vec::with_capacity(CHUNK_BYTES));
        self.key
            .seal_in_place_append_tag(nonce, Aad::from(self.aad.as_slice()), &mut chunk)
            .map_err(|_| fail("cannot seal a chunk"))?;
        self.out.extend_from_slice(&chunk);
        Ok(())
    }
}

/// The plaintext of a sealed file, read a chunk at a time; a chunk that does not open (wrong
/// place, altered, cut short, reordered) is an `InvalidData` error.
pub struct Opening<R> {
    inner: R,
    key: LessSafeKey,
    prefix: [u8; PREFIX_BYTES],
    aad: Vec<u8>,
    key_id: String,
    counter: u32,
    /// Ciphertext read ahead: one chunk and a byte, to tell the last chunk.
    buffer: Vec<u8>,
    plain: Vec<u8>,
    at: usize,
    done: bool,
}

impl<R> std::fmt::Debug for Opening<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Opening({}, ..)", self.key_id)
    }
}

impl<R: Read> Opening<R> {
    /// The id of the key the file was sealed under.
    pub fn key_id(&self) -> &str {
        &self.key_id
    }

    fn next_chunk(&mut self) -> std::io::Result<()> {
        let full = CHUNK_BYTES + TAG_BYTES;
        while self.buffer.len() <= full {
            let before = self.buffer.len();
            self.buffer.resize(full + 1, 0);
            let n = loop {
                match self.inner.read(&mut self.buffer[before..]) {
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                    other => break other?,
                }
            };
            self.buffer.truncate(before + n);
            if n == 0 {
                break;
            }
        }
        let last = self.buffer.len() <= full;
        let take = self.buffer.len().min(full);
        let mut chunk: Vec<u8> = self.buffer.drain(..take).collect();
        let nonce = chunk_nonce(&self.prefix, self.counter, last);
        let plain = self
            .key
            .open_in_place(nonce, Aad::from(self.aad.as_slice()), &mut chunk)
            .map_err(|_| {
                invalid(&format!(
                    "chunk {} does not decrypt: the file was renamed, cut short or altered",
                    self.counter
                ))
            })?;
        let len = plain.len();
        chunk.truncate(len);
        self.plain = chunk;
        self.at = 0;
        self.counter = self.counter.wrapping_add(1);
        self.done = last;
        Ok(())
    }
}

impl<R: Read> Read for Opening<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        while self.at == self.plain.len() {
            if self.done {
                return Ok(0);
            }
            self.next_chunk()?;
        }
        let n = buf.len().min(self.plain.len() - self.at);
        buf[..n].copy_from_slice(&self.plain[self.at..self.at + n]);
        self.at += n;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const K1: &str = "k1:6b33792d666f722d74657374732d6f6e6c792d30313233343536373839616263";
    const K2: &str = "k2:0000000000000000000000000000000000000000000000000000000000000002";

    fn keys(current: &str, previous: Option<&str>) -> DataKeys {
        let (current, previous) = (current.to_string(), previous.map(str::to_string));
        let env = move |name: &str| match name {
            "RECON_DATA_KEY" => Some(current.clone()),
            "RECON_DATA_KEY_PREVIOUS" => previous.clone(),
            _ => None,
        };
        DataKeys::from_env(DEFAULT_DATA_KEY_ENV, &env)
            .unwrap()
            .unwrap()
    }

    fn seal_file(keys: &DataKeys, place: &[u8], plain: &[u8], pieces: usize) -> Vec<u8> {
        let mut sealing = keys.seal_stream(place).unwrap();
        let mut out = Vec::new();
        for piece in plain.chunks(pieces.max(1)) {
            out.extend(sealing.update(piece).unwrap());
        }
        out.extend(sealing.finish().unwrap());
        out
    }

    fn open_file(keys: &DataKeys, place: &[u8], sealed: &[u8]) -> std::io::Result<Vec<u8>> {
        let mut plain = Vec::new();
        keys.open_stream(place, sealed)?.read_to_end(&mut plain)?;
        Ok(plain)
    }

    #[test]
    fn keys_are_an_id_and_32_bytes_counted_after_decoding() {
        let env = |v: &'static str| move |name: &str| (name == "K").then(|| v.to_string());
        let err = |v: &'static str| DataKeys::from_env("K", &env(v)).unwrap_err();
        assert_eq!(
            err("6b33792d666f722d74657374732d6f6e6c792d30313233343536373839616263"),
            "K is not `<key id>:<key>` (e.g. `k1:` followed by `openssl rand -hex 32`)"
        );
        // 32 characters of hex are 16 bytes.
        assert_eq!(
            err("k1:00112233445566778899aabbccddeeff"),
            "K (key k1) is hex holding 16 bytes; an AES-256 data key is exactly 32 bytes (e.g. `openssl rand -hex 32`: 64 hex digits)"
        );
        assert_eq!(
            err("k 1:00"),
            "K has a key id that is not 1 to 32 letters, digits, `.`, `_` or `-`"
        );
        // base64 of 32 bytes.
        let ok = DataKeys::from_env("K", &env("k9:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="))
            .unwrap()
            .unwrap();
        assert_eq!(ok.current_id(), "k9");
        assert!(DataKeys::from_env("K", &|_: &str| None).unwrap().is_none());
    }

    #[test]
    fn debug_shows_key_ids_never_key_bytes() {
        let shown = format!("{:?}", keys(K1, Some(K2)));
        assert_eq!(
            shown,
            "DataKeys { var: \"RECON_DATA_KEY\", current: \"k1\", previous: Some(\"k2\"), .. }"
        );
    }

    #[test]
    fn a_field_opens_only_in_its_place_and_under_its_key() {
        let k1 = keys(K1, None);
        let sealed = k1.seal_field(b"row 1", b"Jane Doe, limit 5000").unwrap();
        assert!(sealed.starts_with("aes256gcm:v1:k1:"), "{sealed}");
        assert!(!sealed.contains("Jane"));
        assert_eq!(field_key_id(&sealed), Some("k1"));
        assert_eq!(
            k1.open_field(b"row 1", &sealed).unwrap(),
            b"Jane Doe, limit 5000"
        );
        assert_eq!(
            k1.open_field(b"row 2", &sealed).unwrap_err().0,
            "it does not decrypt where it is: it was moved from another row or altered"
        );
        let k2 = keys(K2, None);
        assert_eq!(
            k2.open_field(b"row 1", &sealed).unwrap_err().0,
            "it is encrypted under data key \"k1\", which neither RECON_DATA_KEY (k2) nor RECON_DATA_KEY_PREVIOUS (unset) holds; set the key it was written under"
        );
        // The same id with other bytes: the wrapped data key does not open.
        let impostor = keys(
            "k1:1111111111111111111111111111111111111111111111111111111111111111",
            None,
        );
        assert!(
            impostor
                .open_field(b"row 1", &sealed)
                .unwrap_err()
                .0
                .starts_with("its data key does not open under data key \"k1\"")
        );
        // After a rotation the old field still opens, new ones are sealed under k2.
        let rotated = keys(K2, Some(K1));
        assert_eq!(
            rotated.open_field(b"row 1", &sealed).unwrap(),
            b"Jane Doe, limit 5000"
        );
        assert_eq!(
            field_key_id(&rotated.seal_field(b"x", b"y").unwrap()),
            Some("k2")
        );
    }

    #[test]
    fn a_file_round_trips_in_chunks_whatever_the_write_sizes() {
        let k1 = keys(K1, None);
        for len in [
            0,
            1,
            CHUNK_BYTES - 1,
            CHUNK_BYTES,
            CHUNK_BYTES + 1,
            3 * CHUNK_BYTES,
        ] {
            let plain: Vec<u8> = (0..len).map(|i| (i % 251) as u8).collect();
            for pieces in [1000, CHUNK_BYTES, 7 * CHUNK_BYTES] {
                let sealed = seal_file(&k1, b"f.csv", &plain, pieces);
                // A full last chunk is the last one: no empty chunk after it.
                let chunks = len.div_ceil(CHUNK_BYTES).max(1);
                assert_eq!(
                    sealed.len(),
                    FILE_MAGIC.len()
                        + 1
                        + 2
                        + WRAPPED_BYTES
                        + PREFIX_BYTES
                        + len
                        + chunks * TAG_BYTES,
                    "{len}"
                );
                assert_eq!(file_key_id(&sealed), Some("k1"));
                assert_eq!(
                    open_file(&k1, b"f.csv", &sealed).unwrap(),
                    plain,
                    "{len} {pieces}"
                );
            }
        }
    }

    #[test]
    fn a_renamed_cut_or_extended_file_does_not_open() {
        let k1 = keys(K1, None);
        let plain = vec![b'x'; 2 * CHUNK_BYTES + 10];
        let sealed = seal_file(&k1, b"f.csv", &plain, CHUNK_BYTES);
        let error =
            |bytes: &[u8], place: &[u8]| open_file(&k1, place, bytes).unwrap_err().to_string();
        assert_eq!(
            error(&sealed, b"g.csv"),
            "chunk 0 does not decrypt: the file was renamed, cut short or altered"
        );
        // Cut at a chunk boundary: the chunk read last was not sealed as the last one.
        let header = FILE_MAGIC.len() + 1 + 2 + WRAPPED_BYTES + PREFIX_BYTES;
        let cut = &sealed[..header + 2 * (CHUNK_BYTES + TAG_BYTES)];
        assert_eq!(
            error(cut, b"f.csv"),
            "chunk 1 does not decrypt: the file was renamed, cut short or altered"
        );
        let mut extended = sealed.clone();
        extended.extend_from_slice(&[0; TAG_BYTES]);
        assert_eq!(
            error(&extended, b"f.csv"),
            "chunk 2 does not decrypt: the file was renamed, cut short or altered"
        );
    }
}
