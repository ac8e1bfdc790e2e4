//! Keeps passwords out of everything recon prints: logs, errors, reports, `config check`.

/// Looks up an environment variable; a function so the demo and tests can supply their own.
pub(crate) type EnvLookup<'a> = &'a dyn Fn(&str) -> Option<String>;

/// The process environment.
pub fn process_env(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

/// Replaces the password of every `scheme://user:password@host` in `text` with `***`.
pub fn redact_urls(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find("://") {
        let (head, tail) = rest.split_at(at + 3);
        out.push_str(head);
        // The authority ends at the first '/', whitespace or quote; a password sits before '@'.
        let end = tail
            .find(|c: char| c == '/' || c.is_whitespace() || c == '"' || c == '\'')
            .unwrap_or(tail.len());
        let authority = &tail[..end];
        match authority.rfind('@') {
            Some(at_sign) => {
                let userinfo = &authority[..at_sign];
                match userinfo.find(':') {
                    Some(colon) => {
                        out.push_str(&userinfo[..colon]);
                        out.push_str(":***");
                    }
                    None => out.push_str(userinfo),
                }
                out.push_str(&authority[at_sign..]);
            }
            None => out.push_str(authority),
        }
        rest = &tail[end..];
    }
    out.push_str(rest);
    out
}

/// True when a URL carries a password (such a URL belongs in an environment variable).
pub(crate) fn url_has_password(url: &str) -> bool {
    redact_urls(url) != url
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
}
