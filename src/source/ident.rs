//! Identifiers from configuration or the command line: validated, then quoted per engine.
//!
//! Only plain ASCII names are accepted, so a quote, a semicolon, a comment or a look-alike
//! character can never reach SQL; quoting then guards against reserved words.

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

/// Quotes a validated column or (schema-qualified) table name for `engine`.
pub(crate) fn quote(engine: Engine, name: &str) -> String {
    let q = match engine {
        Engine::MySql => '`',
        Engine::Sqlite | Engine::Postgres => '"',
    };
    name.split('.')
        .map(|part| format!("{q}{part}{q}"))
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
            quote(Engine::Postgres, "public.order"),
            "\"public\".\"order\""
        );
        assert_eq!(quote(Engine::MySql, "order"), "`order`");
        assert_eq!(quote(Engine::Sqlite, "_x1"), "\"_x1\"");
    }
}
