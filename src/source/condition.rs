//! The WHERE of a pushed-down read: SQL terms with the engine's placeholders, and the values
//! bound to them in order. No value is ever pasted into SQL.

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};

use super::Engine;

/// A value bound to one placeholder.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Param {
    Int(i64),
    Text(String),
    Bool(bool),
    Bytes(Vec<u8>),
    Instant(DateTime<Utc>),
    WallClock(NaiveDateTime),
    Date(NaiveDate),
}

/// Terms joined by AND, with their parameters in placeholder order.
#[derive(Debug, Clone)]
pub(crate) struct Conditions {
    engine: Engine,
    terms: Vec<String>,
    params: Vec<Param>,
}

impl Conditions {
    pub(crate) fn new(engine: Engine) -> Conditions {
        Conditions {
            engine,
            terms: Vec::new(),
            params: Vec::new(),
        }
    }

    /// Adds a parameter and returns its placeholder (`$n` on PostgreSQL, `?` elsewhere). Take
    /// a term's placeholders in the order they appear in it, then [`Conditions::push`] it, so
    /// positional `?` placeholders meet their values in order.
    pub(crate) fn param(&mut self, param: Param) -> String {
        self.params.push(param);
        match self.engine {
            Engine::Postgres => format!("${}", self.params.len()),
            Engine::Sqlite | Engine::MySql => "?".to_string(),
        }
    }

    pub(crate) fn push(&mut self, term: String) {
        self.terms.push(term);
    }

    /// No term: every row.
    pub(crate) fn is_empty(&self) -> bool {
        self.terms.is_empty()
    }

    /// ` WHERE a AND b`, or nothing when there is no term.
    pub(crate) fn where_clause(&self) -> String {
        if self.terms.is_empty() {
            String::new()
        } else {
            format!(" WHERE {}", self.terms.join(" AND "))
        }
    }

    /// `query` with every parameter bound, in placeholder order.
    pub(crate) fn bind<'q, DB: sqlx::Database>(
        &self,
        mut query: sqlx::query::Query<'q, DB, DB::Arguments>,
    ) -> sqlx::query::Query<'q, DB, DB::Arguments>
    where
        i64: for<'e> sqlx::Encode<'e, DB> + sqlx::Type<DB>,
        String: for<'e> sqlx::Encode<'e, DB> + sqlx::Type<DB>,
        bool: for<'e> sqlx::Encode<'e, DB> + sqlx::Type<DB>,
        Vec<u8>: for<'e> sqlx::Encode<'e, DB> + sqlx::Type<DB>,
        DateTime<Utc>: for<'e> sqlx::Encode<'e, DB> + sqlx::Type<DB>,
        NaiveDateTime: for<'e> sqlx::Encode<'e, DB> + sqlx::Type<DB>,
        NaiveDate: for<'e> sqlx::Encode<'e, DB> + sqlx::Type<DB>,
    {
        for param in &self.params {
            query = match param.clone() {
                Param::Int(v) => query.bind(v),
                Param::Text(v) => query.bind(v),
                Param::Bool(v) => query.bind(v),
                Param::Bytes(v) => query.bind(v),
                Param::Instant(v) => query.bind(v),
                Param::WallClock(v) => query.bind(v),
                Param::Date(v) => query.bind(v),
            };
        }
        query
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_numbered_on_postgres_and_positional_elsewhere() {
        let mut pg = Conditions::new(Engine::Postgres);
        let a = pg.param(Param::Int(1));
        let b = pg.param(Param::Text("x".into()));
        pg.push(format!("a >= {a} AND b < {b}"));
        let c = pg.param(Param::Bool(true));
        pg.push(format!("c = {c}"));
        assert_eq!(pg.where_clause(), " WHERE a >= $1 AND b < $2 AND c = $3");

        let mut my = Conditions::new(Engine::MySql);
        let a = my.param(Param::Int(1));
        my.push(format!("a = {a}"));
        assert_eq!(my.where_clause(), " WHERE a = ?");
        assert_eq!(Conditions::new(Engine::MySql).where_clause(), "");
    }
}
