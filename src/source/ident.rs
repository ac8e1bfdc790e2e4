//! Identifiers from configuration, the command line or a source's catalog: validated, then quoted per engine.
//!
//! Names recon is given must be plain ASCII, so a quote, a semicolon, a comment or a look-alike
//! character is refused before it reaches SQL. Column names a source's catalog reports can be
//! anything its engine allows (`"||(SELECT …)||"` included): they pass
//! [`validate_discovered_column`] and are quoted with every embedded quote doubled, so each is
//! always one identifier, read by its real name.

use super::Engine;

const MAX_LEN: usize = 63;

/// A column name: an ASCII letter or `_`, then letters, digits or `_`.
pub(crate) fn validate_column(name: &str) -> Result<(), String> {
    let mut chars = name.chars();
    let first_ok = matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_');
    if !first_ok || !chars.all(|c| c.is_ascii_alphanumeric() || c == '_') || name.len() > MAX_LEN {
        return Err(format!(
            "{name:?} is not a plain identifier (ASCII letters, digits and _, starting with a letter or _, at most {MAX_LEN} characters)"
        ));
    }
    Ok(())
}

/// A table name, optionally qualified by its schema (`schema.table`).
pub(crate) fn validate_table(name: &str) -> Result<(), String> {
    let parts: Vec<&str> = name.split('.').collect();
    if parts.len() > 2 {
        return Err(format!(
            "{name:?} has more than one '.'; write table or schema.table"
        ));
    }
    for part in parts {
        validate_column(part).map_err(|_| {
            format!("{name:?} is not a plain table name (ASCII letters, digits and _; optionally schema.table)")
        })?;
    }
    Ok(())
}

/// A name recon gives to a source or a check: letters, digits, `_` and `-`.
pub(crate) fn validate_name(name: &str) -> Result<(), String> {
    let ok = !name.is_empty()
        && name.len() <= MAX_LEN
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if ok {
        Ok(())
    } else {
        Err(format!(
            "{name:?} must be 1–{MAX_LEN} ASCII letters, digits, _ or -"
        ))
    }
}

/// The most bytes a column name found in a source's catalog may have (PostgreSQL allows 63,
/// MySQL 64 characters; SQLite has no limit of its own).
const MAX_DISCOVERED_LEN: usize = 256;

/// A column name as a source's catalog reports it: any text its engine allows, quoted by
/// [`quote`], except what recon cannot quote or show safely: an empty name, a control
/// character (a NUL, a line break, a terminal escape) or more than [`MAX_DISCOVERED_LEN`] bytes.
pub(crate) fn validate_discovered_column(name: &str) -> Result<(), String> {
    if name.is_empty() || name.len() > MAX_DISCOVERED_LEN || name.chars().any(char::is_control) {
        return Err(format!(
            "column {:?} is not supported: its name is empty, longer than {MAX_DISCOVERED_LEN} bytes or holds a control character; rename it or read the table through a view",
            name.chars().take(80).collect::<String>()
        ));
    }
    Ok(())
}

/// The quote character of `engine`'s identifiers.
fn quote_char(engine: Engine) -> char {
    match engine {
        Engine::MySql => '`',
        Engine::Sqlite | Engine::Postgres => '"',
    }
}

/// Quotes one column name for `engine` as one identifier, every embedded quote character
/// doubled (`"` on PostgreSQL and SQLite, `` ` `` on MySQL/MariaDB), whatever the name holds.
pub(crate) fn quote(engine: Engine, name: &str) -> String {
    let q = quote_char(engine);
    let mut quoted = String::with_capacity(name.len() + 2);
    quoted.push(q);
    for c in name.chars() {
        if c == q {
            quoted.push(q);
        }
        quoted.push(c);
    }
    quoted.push(q);
    quoted
}

/// Quotes a validated table name, optionally schema-qualified (`schema.table`), for `engine`:
/// each part one identifier as [`quote`] writes it.
pub(crate) fn quote_table(engine: Engine, table: &str) -> String {
    table
        .split('.')
        .map(|part| quote(engine, part))
        .collect::<Vec<_>>()
        .join(".")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hostile_names_are_refused() {
        for name in [
            "",
            "a b",
            "a\"b",
            "a`b",
            "x;drop table t",
            "x--",
            "x/*",
            "ledger\u{0435}ntries", // Cyrillic е
            "1abc",
            "a.b.c",
            &"a".repeat(64),
        ] {
            assert!(validate_table(name).is_err(), "table {name:?}");
            assert!(validate_column(name).is_err(), "column {name:?}");
        }
    }

    #[test]
    fn plain_names_are_quoted_per_engine() {
        assert!(validate_table("public.ledger_entries").is_ok());
        assert_eq!(
            quote_table(Engine::Postgres, "public.order"),
            "\"public\".\"order\""
        );
        assert_eq!(quote_table(Engine::MySql, "ledger"), "`ledger`");
        assert_eq!(quote(Engine::MySql, "order"), "`order`");
        assert_eq!(quote(Engine::Sqlite, "_x1"), "\"_x1\"");
    }

    #[test]
    fn embedded_quotes_are_doubled_on_every_engine() {
        let hostile = "\"||(SELECT group_concat(secret) FROM s)||\"";
        assert_eq!(
            quote(Engine::Sqlite, hostile),
            "\"\"\"||(SELECT group_concat(secret) FROM s)||\"\"\""
        );
        assert_eq!(
            quote(Engine::Postgres, "a\"b.c"),
            "\"a\"\"b.c\"",
            "one identifier, dot included"
        );
        assert_eq!(quote(Engine::MySql, "a`b\"c"), "`a``b\"c`");
        assert_eq!(quote(Engine::Postgres, "a`b"), "\"a`b\"");
    }

    #[test]
    fn discovered_names_are_quoted_unless_recon_cannot_show_them() {
        for name in [
            "a b",
            "prénom",
            "\"||(SELECT 1)||\"",
            "x;drop table t",
            "1abc",
            "a.b",
        ] {
            assert_eq!(validate_discovered_column(name), Ok(()), "{name:?}");
        }
        assert_eq!(
            validate_discovered_column("a\nb"),
            Err("column \"a\\nb\" is not supported: its name is empty, longer than 256 bytes or holds a control character; rename it or read the table through a view".to_string())
        );
        for name in ["", "a\0b", "a\u{1b}[31m", &"x".repeat(257)] {
            assert!(validate_discovered_column(name).is_err(), "{name:?}");
        }
        assert_eq!(validate_discovered_column(&"x".repeat(256)), Ok(()));
    }
}
