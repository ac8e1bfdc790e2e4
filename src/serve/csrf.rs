//! Cross-site request forgery: every form carries a token, an HMAC of the person and the time
//! it was issued under the server's secret, checked on every POST with the browser's own
//! `Origin` and `Sec-Fetch-Site`.

use axum::http::{HeaderMap, header};
use hmac::{KeyInit, Mac};
use sha2::Sha256;

use crate::error::{Error, Result};

/// The variable holding the server's secret (32 bytes or more of text): every replica of the
/// server shares it, so a form served by one is accepted by another. Unset: a random secret
/// per process (forms then last as long as it).
pub const SECRET_ENV: &str = "RECON_SERVE_SECRET";

/// How long a form's token holds, in seconds.
const LIFETIME_SECS: i64 = 12 * 3600;

/// The secret tokens are made under.
pub(crate) struct Key(Vec<u8>);

impl Key {
    pub(crate) fn from_env(env: &dyn Fn(&str) -> Option<String>) -> Result<Key> {
        match env(SECRET_ENV) {
            Some(secret) if secret.len() >= 32 => Ok(Key(secret.into_bytes())),
            Some(_) => Err(Error::bad_input(format!(
                "{SECRET_ENV} is shorter than 32 characters: give it 32 random bytes or more (e.g. `openssl rand -hex 32`)"
            ))),
            None => {
                let mut bytes = vec![0u8; 32];
                ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut bytes)
                    .map_err(|_| Error::internal("the system's random source failed"))?;
                Ok(Key(bytes))
            }
        }
    }

    fn mac(&self, person: &str, issued: i64) -> hmac::Hmac<Sha256> {
        let mut mac = <hmac::Hmac<Sha256> as KeyInit>::new_from_slice(&self.0)
            .unwrap_or_else(|_| unreachable!("HMAC takes a key of any length"));
        mac.update(b"recon serve form\0");
        mac.update(person.as_bytes());
        mac.update(b"\0");
        mac.update(issued.to_string().as_bytes());
        mac
    }

    /// The token of a form served to `person` at `now` (Unix seconds): `<issued>.<hex HMAC>`.
    pub(crate) fn token(&self, person: &str, now: i64) -> String {
        format!(
            "{now}.{}",
            hex::encode(self.mac(person, now).finalize().into_bytes())
        )
    }

    /// True when `token` was issued to `person` by this secret, less than its lifetime before
    /// `now` (and not after it).
    pub(crate) fn holds(&self, token: &str, person: &str, now: i64) -> bool {
        let Some((issued, tag)) = token.split_once('.') else {
            return false;
        };
        let (Ok(issued), Ok(tag)) = (issued.parse::<i64>(), hex::decode(tag)) else {
            return false;
        };
        if issued > now || now - issued > LIFETIME_SECS {
            return false;
        }
        self.mac(person, issued).verify_slice(&tag).is_ok()
    }
}

/// Why the browser's own headers say a POST did not come from one of this server's pages:
/// `Sec-Fetch-Site` other than same-origin, or an `Origin` other than the `Host` asked (`null`
/// counts as the same only with `Sec-Fetch-Site: same-origin`).
pub(crate) fn cross_site(headers: &HeaderMap) -> Option<String> {
    let text = |name: header::HeaderName| headers.get(name).and_then(|v| v.to_str().ok());
    if let Some(site) = text(header::HeaderName::from_static("sec-fetch-site"))
        && site != "same-origin"
    {
        return Some(format!(
            "the form was sent from another site (Sec-Fetch-Site: {site})"
        ));
    }
    // Under `Referrer-Policy: no-referrer` a browser sends `Origin: null` on its own form
    // POSTs: believed only beside its `Sec-Fetch-Site: same-origin`.
    let same_site = text(header::HeaderName::from_static("sec-fetch-site")) == Some("same-origin");
    if let Some(origin) = text(header::ORIGIN).filter(|o| !(*o == "null" && same_site)) {
        let host = text(header::HOST).unwrap_or_default();
        let origin_host = origin
            .strip_prefix("https://")
            .or_else(|| origin.strip_prefix("http://"));
        if origin_host != Some(host) {
            return Some(format!("the form was sent from another origin ({origin})"));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_holds_for_its_person_within_its_lifetime_only() {
        let key = Key(b"0123456789abcdef0123456789abcdef".to_vec());
        let token = key.token("ana", 1_000_000);
        assert!(key.holds(&token, "ana", 1_000_000 + 60));
        assert!(!key.holds(&token, "bo", 1_000_060));
        assert!(!key.holds(&token, "ana", 1_000_000 + LIFETIME_SECS + 1));
        assert!(!key.holds(&token, "ana", 999_999));
        let other = Key(b"fedcba9876543210fedcba9876543210".to_vec());
        assert!(!other.holds(&token, "ana", 1_000_060));
        assert!(!key.holds("1000000.00", "ana", 1_000_060));
        assert!(!key.holds("", "ana", 1_000_060));
    }

    #[test]
    fn a_post_from_another_site_or_origin_is_named() {
        let mut headers = HeaderMap::new();
        headers.insert(header::HOST, "recon.example:8080".parse().unwrap());
        assert_eq!(cross_site(&headers), None);
        headers.insert(header::ORIGIN, "http://recon.example:8080".parse().unwrap());
        headers.insert("sec-fetch-site", "same-origin".parse().unwrap());
        assert_eq!(cross_site(&headers), None);
        headers.insert(header::ORIGIN, "null".parse().unwrap());
        assert_eq!(cross_site(&headers), None);
        headers.remove("sec-fetch-site");
        assert_eq!(
            cross_site(&headers),
            Some("the form was sent from another origin (null)".to_string())
        );
        headers.insert("sec-fetch-site", "same-origin".parse().unwrap());
        headers.insert(header::ORIGIN, "https://evil.example".parse().unwrap());
        assert_eq!(
            cross_site(&headers),
            Some("the form was sent from another origin (https://evil.example)".to_string())
        );
        headers.insert("sec-fetch-site", "cross-site".parse().unwrap());
        assert_eq!(
            cross_site(&headers),
            Some("the form was sent from another site (Sec-Fetch-Site: cross-site)".to_string())
        );
    }
}
