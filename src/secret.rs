//! Keeps passwords out of everything recon prints: logs, errors, reports, `config check`.
//!
//! A URL carries a password in its user info (`postgres://recon:…@db/ledger`) or in a query
//! parameter ([`SECRET_QUERY_PARAMETERS`]: `?password=…`, `?sslpassword=…`); both are shown as
//! `***` and both keep a URL out of the configuration file.

/// Looks up an environment variable; a function so the demo and tests can supply their own.
pub(crate) type EnvLookup<'a> = &'a dyn Fn(&str) -> Option<String>;

/// The process environment.
pub fn process_env(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

/// The query parameters whose value is a secret, as compared: the name percent-decoded,
/// lower-cased, `-` and `_` left out (so `ssl-password` and `SSL_PASSWORD` are `sslpassword`).
/// PostgreSQL's libpq takes `password` and `sslpassword`; MySQL drivers `password`; the others
/// are the spellings drivers and HTTP endpoints use for the same thing.
pub(crate) const SECRET_QUERY_PARAMETERS: &[&str] = &[
    "password",
    "passwd",
    "pass",
    "pwd",
    "sslpassword",
    "sslkeypassword",
    "secret",
    "token",
    "accesstoken",
    "apikey",
];

/// Where a URL carries a password.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum PasswordAt {
    /// In `user:password@`.
    UserInfo,
    /// In the query parameter of this name (as written).
    Query(String),
}

/// Replaces every password in the URLs in `text` with `***`: the user info's
/// (`scheme://user:***@host`) and the value of every secret query parameter
/// (`?password=***&sslmode=require`); the rest of the text is kept byte for byte.
pub fn redact_urls(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find("://") {
        let (head, tail) = rest.split_at(at + 3);
        out.push_str(head);
        let end = tail.find(ends_url).unwrap_or(tail.len());
        let (redacted, _) = redact_url_tail(&tail[..end]);
        out.push_str(&redacted);
        rest = &tail[end..];
    }
    out.push_str(rest);
    out
}

/// Where `url` carries a password, the first place found (such a URL belongs in an environment
/// variable, never in the configuration file).
pub(crate) fn url_password(url: &str) -> Option<PasswordAt> {
    let tail = url.find("://").map_or(url, |at| &url[at + 3..]);
    redact_url_tail(tail).1.into_iter().next()
}

/// True when a URL carries a password.
pub(crate) fn url_has_password(url: &str) -> bool {
    url_password(url).is_some()
}

/// A URL in running text ends at whitespace or a quote.
fn ends_url(c: char) -> bool {
    c.is_whitespace() || c == '"' || c == '\''
}

/// The part of a URL after `://`, its passwords replaced, and where they were.
fn redact_url_tail(tail: &str) -> (String, Vec<PasswordAt>) {
    let mut found = Vec::new();
    let mut out = String::with_capacity(tail.len());
    // The authority ends at the first '/', '?' or '#'; a password sits before its last '@'.
    let authority_end = tail.find(['/', '?', '#']).unwrap_or(tail.len());
    let authority = &tail[..authority_end];
    match authority.rfind('@') {
        Some(at_sign) => {
            let userinfo = &authority[..at_sign];
            match userinfo.find(':') {
                Some(colon) => {
                    out.push_str(&userinfo[..colon]);
                    out.push_str(":***");
                    found.push(PasswordAt::UserInfo);
                }
                None => out.push_str(userinfo),
            }
            out.push_str(&authority[at_sign..]);
        }
        None => out.push_str(authority),
    }
    let after = &tail[authority_end..];
    let Some(question) = after.find('?') else {
        out.push_str(after);
        return (out, found);
    };
    out.push_str(&after[..=question]);
    let query_and_fragment = &after[question + 1..];
    let query_end = query_and_fragment
        .find('#')
        .unwrap_or(query_and_fragment.len());
    let query = &query_and_fragment[..query_end];
    for (i, pair) in query.split('&').enumerate() {
        if i > 0 {
            out.push('&');
        }
        match pair.split_once('=') {
            Some((name, _)) if is_secret_parameter(name) => {
                out.push_str(name);
                out.push_str("=***");
                found.push(PasswordAt::Query(name.to_string()));
            }
            _ => out.push_str(pair),
        }
    }
    out.push_str(&query_and_fragment[query_end..]);
    (out, found)
}

/// True when a query parameter's name (as written: percent-encoded, any case) names a secret.
fn is_secret_parameter(name: &str) -> bool {
    let decoded: String = url::form_urlencoded::parse(name.as_bytes())
        .map(|(key, _)| key.into_owned())
        .collect();
    let normalized: String = decoded
        .chars()
        .filter(|c| *c != '-' && *c != '_')
        .flat_map(char::to_lowercase)
        .collect();
    SECRET_QUERY_PARAMETERS.contains(&normalized.as_str())
}

/// Shows a text that may hold URLs with their passwords redacted, for hand-written `Debug`s.
pub(crate) struct Redacted<'a>(pub(crate) &'a str);

impl std::fmt::Debug for Redacted<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Debug::fmt(&redact_urls(self.0), f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_masked_and_the_rest_kept() {
        assert_eq!(
            redact_urls("connect postgres://recon:s3cr%40t@db:5432/ledger failed"),
            "connect postgres://recon:***@db:5432/ledger failed"
        );
        assert_eq!(
            redact_urls("mysql://root@localhost/test"),
            "mysql://root@localhost/test"
        );
        assert_eq!(
            redact_urls("sqlite://demo-out/ledger.db"),
            "sqlite://demo-out/ledger.db"
        );
        assert_eq!(
            redact_urls("a postgres://u:p@h/x and mysql://v:q@k/y"),
            "a postgres://u:***@h/x and mysql://v:***@k/y"
        );
        assert!(url_has_password("postgres://u:p@h/x"));
        assert!(!url_has_password("postgres://u@h/x"));
    }

    #[test]
    fn query_passwords_are_masked_whatever_their_spelling() {
        assert_eq!(
            redact_urls("cannot open postgres://u@h/db?password=hunter2&sslmode=require: refused"),
            "cannot open postgres://u@h/db?password=***&sslmode=require: refused"
        );
        assert_eq!(
            redact_urls("postgres://u@h/db?sslmode=require&sslpassword=k3y#frag"),
            "postgres://u@h/db?sslmode=require&sslpassword=***#frag"
        );
        assert_eq!(
            redact_urls(
                "mysql://u@h/db?PWD=a&pass=b&Pass%77ord=c&ssl-password=d&ssl-mode=REQUIRED"
            ),
            "mysql://u@h/db?PWD=***&pass=***&Pass%77ord=***&ssl-password=***&ssl-mode=REQUIRED"
        );
        assert_eq!(
            redact_urls("postgres://u:p@h?password=q"),
            "postgres://u:***@h?password=***"
        );
        assert_eq!(
            redact_urls("postgres://u@h/db?sslmode=require&application_name=recon"),
            "postgres://u@h/db?sslmode=require&application_name=recon"
        );
        assert_eq!(
            url_password("postgres://u@h/db?sslmode=require&sslpassword=k"),
            Some(PasswordAt::Query("sslpassword".to_string()))
        );
        assert_eq!(
            url_password("postgres://u:p@h/db"),
            Some(PasswordAt::UserInfo)
        );
        assert_eq!(url_password("postgres://u@h/db?sslmode=require"), None);
    }

    #[test]
    fn redacted_debug_shows_no_password() {
        assert_eq!(
            format!("{:?}", Redacted("postgres://u:p@h/db?password=q")),
            "\"postgres://u:***@h/db?password=***\""
        );
    }
}
