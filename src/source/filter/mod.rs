//! `--where` filters: values bound in SQL, never pasted, and every row checked exactly by the reader.

use std::cmp::Ordering;
use std::fmt;

use chrono::Timelike;
use chrono_tz::Tz;

use super::text::{parse_timestamp, value_from_text};
use super::{Column, Conditions, Engine, Param, ReadSpec, ident};
use crate::canonical::{LogicalType, Value};
use crate::error::{Error, Result};

/// A comparison operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum CmpOp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

impl CmpOp {
    fn sql(self) -> &'static str {
        match self {
            CmpOp::Eq => "=",
            CmpOp::Ne => "<>",
            CmpOp::Lt => "<",
            CmpOp::Le => "<=",
            CmpOp::Gt => ">",
            CmpOp::Ge => ">=",
        }
    }

    fn holds(self, order: Ordering) -> bool {
        match self {
            CmpOp::Eq => order.is_eq(),
            CmpOp::Ne => order.is_ne(),
            CmpOp::Lt => order.is_lt(),
            CmpOp::Le => order.is_le(),
            CmpOp::Gt => order.is_gt(),
            CmpOp::Ge => order.is_ge(),
        }
    }
}

/// What a term asks of its column; `V` is a literal as written, then a canonical value.
#[derive(Debug, Clone, PartialEq)]
enum Test<V> {
    Compare(CmpOp, V),
    In(Vec<V>),
    IsNull,
    IsNotNull,
}

impl<V> Test<V> {
    fn try_map<W>(&self, mut f: impl FnMut(&V) -> Result<W>) -> Result<Test<W>> {
        Ok(match self {
            Test::Compare(op, v) => Test::Compare(*op, f(v)?),
            Test::In(vs) => Test::In(vs.iter().map(f).collect::<Result<_>>()?),
            Test::IsNull => Test::IsNull,
            Test::IsNotNull => Test::IsNotNull,
        })
    }
}

impl Test<Value> {
    /// The canonical comparison: NULL satisfies only IS NULL; text and bytes compare by bytes.
    fn holds(&self, value: &Value) -> bool {
        match self {
            Test::IsNull => value.is_null(),
            Test::IsNotNull => !value.is_null(),
            _ if value.is_null() => false,
            Test::Compare(op, literal) => op.holds(value.key_cmp(literal)),
            Test::In(literals) => literals.iter().any(|l| value.key_cmp(l).is_eq()),
        }
    }
}

/// A literal as written, with its position (1-based character) for messages.
#[derive(Debug, Clone, PartialEq)]
struct Literal {
    kind: LiteralKind,
    at: usize,
}

#[derive(Debug, Clone, PartialEq)]
enum LiteralKind {
    Number(String),
    Text(String),
    Bool(bool),
}

impl fmt::Display for LiteralKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LiteralKind::Number(n) => f.write_str(n),
            LiteralKind::Text(s) => write!(f, "'{}'", s.replace('\'', "''")),
            LiteralKind::Bool(b) => write!(f, "{b}"),
        }
    }
}

/// One term as written: a column, where it starts, and its test.
#[derive(Debug, Clone, PartialEq)]
struct Term {
    column: String,
    at: usize,
    test: Test<Literal>,
}

/// A parsed `--where` predicate, not yet typed: `term (AND term)*`, where a term is
/// `column op value`, `column IN (value, …)`, `column IS NULL` or `column IS NOT NULL`; `op` is
/// `=`, `<>`, `!=`, `<`, `<=`, `>`, `>=`; a value is an integer, a decimal, a `'string'` (`''`
/// for a quote), `true` or `false`. [`Filter::resolve`] types it against both sides' columns,
/// [`push_filter`] pushes it down as bound parameters, [`RowFilter::matches`] checks each row.
#[derive(Debug, Clone, PartialEq)]
pub struct Filter {
    /// The predicate as written.
    pub text: String,
    terms: Vec<Term>,
}

/// A filter typed against the read columns: each term's column position and canonical test.
#[derive(Debug, Clone, PartialEq)]
pub struct RowFilter {
    terms: Vec<(usize, Test<Value>)>,
}

impl RowFilter {
    /// True when the decoded row (the read columns, in order) satisfies every term.
    pub fn matches(&self, row: &[Value]) -> bool {
        self.terms
            .iter()
            .all(|(at, test)| row.get(*at).is_some_and(|v| test.holds(v)))
    }
}

fn refuse(at: usize, message: impl fmt::Display) -> Error {
    Error::bad_input(format!("where: {message} (at character {at})"))
}

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Word(String),
    Number(String),
    Text(String),
    Op(CmpOp),
    Open,
    Close,
    Comma,
}

impl Token {
    /// Whether the token is this keyword, in any case.
    fn is(&self, keyword: &str) -> bool {
        matches!(self, Token::Word(w) if w.eq_ignore_ascii_case(keyword))
    }
}

impl fmt::Display for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Token::Word(w) | Token::Number(w) => f.write_str(w),
            Token::Text(s) => write!(f, "{}", LiteralKind::Text(s.clone())),
            Token::Op(op) => f.write_str(op.sql()),
            Token::Open => f.write_str("("),
            Token::Close => f.write_str(")"),
            Token::Comma => f.write_str(","),
        }
    }
}

/// Splits the predicate into tokens with their 1-based character positions.
fn tokenize(text: &str) -> Result<Vec<(Token, usize)>> {
    let chars: Vec<char> = text.chars().collect();
    let mut tokens = Vec::new();
    let mut i = 0;
    while let Some(rest) = chars.get(i..).filter(|rest| !rest.is_empty()) {
        if rest[0].is_ascii_whitespace() {
            i += 1;
            continue;
        }
        let (token, len) = token_at(rest).map_err(|m| refuse(i + 1, m))?;
        tokens.push((token, i + 1));
        i += len;
    }
    Ok(tokens)
}

/// The token `rest` starts with and its length in characters, or why nothing of the grammar
/// starts there (semicolons, comments, quoted names…).
fn token_at(rest: &[char]) -> std::result::Result<(Token, usize), String> {
    let (c, next) = (rest[0], rest.get(1).copied());
    let text = |len: usize| rest[..len].iter().collect::<String>();
    let run = |ok: fn(&char) -> bool| 1 + rest[1..].iter().take_while(|c| ok(c)).count();
    let signed = matches!(c, '-' | '+') && next.is_some_and(|n| n.is_ascii_digit());
    Ok(match (c, next) {
        _ if c.is_ascii_alphabetic() || c == '_' => {
            let len = run(|c| c.is_ascii_alphanumeric() || *c == '_');
            (Token::Word(text(len)), len)
        }
        _ if c.is_ascii_digit() || signed => {
            let len = run(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == '.');
            let number = text(len);
            if !is_plain_number(&number) {
                return Err(format!(
                    "{number} is not a number (write digits, optionally a sign and a decimal point)"
                ));
            }
            (Token::Number(number), len)
        }
        ('\'', _) => quoted(rest).ok_or("the string starting here is not closed with '")?,
        ('=', _) => (Token::Op(CmpOp::Eq), 1),
        ('<', Some('>')) | ('!', Some('=')) => (Token::Op(CmpOp::Ne), 2),
        ('<', Some('=')) => (Token::Op(CmpOp::Le), 2),
        ('<', _) => (Token::Op(CmpOp::Lt), 1),
        ('>', Some('=')) => (Token::Op(CmpOp::Ge), 2),
        ('>', _) => (Token::Op(CmpOp::Gt), 1),
        ('(', _) => (Token::Open, 1),
        (')', _) => (Token::Close, 1),
        (',', _) => (Token::Comma, 1),
        ('-', Some('-')) | ('/', Some('*')) | ('#', _) => {
            return Err("comments are not allowed".to_string());
        }
        (';', _) => return Err("semicolons are not allowed: --where is one predicate".to_string()),
        ('"' | '`' | '[', _) => {
            return Err("quoted names are not allowed; write the plain column name".to_string());
        }
        ('!', _) => return Err("! is only allowed in !=".to_string()),
        _ => return Err(format!("{c:?} is not part of a --where predicate")),
    })
}

/// `[+-]digits[.digits]`.
fn is_plain_number(text: &str) -> bool {
    let unsigned = text.strip_prefix(['-', '+']).unwrap_or(text);
    let (int, frac) = unsigned.split_once('.').unwrap_or((unsigned, "0"));
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    digits(int) && digits(frac)
}

/// The string `rest` opens with (`''` is a quote) and its length with the quotes; `None` when
/// it is not closed.
fn quoted(rest: &[char]) -> Option<(Token, usize)> {
    let mut text = String::new();
    let mut i = 1;
    loop {
        match (rest.get(i)?, rest.get(i + 1)) {
            ('\'', Some('\'')) => {
                text.push('\'');
                i += 2;
            }
            ('\'', _) => return Some((Token::Text(text), i + 1)),
            (&c, _) => {
                text.push(c);
                i += 1;
            }
        }
    }
}

/// Walks the tokens of one predicate.
struct Parser {
    tokens: std::vec::IntoIter<(Token, usize)>,
    end: usize,
}

impl Parser {
    /// The next token, or an error saying what was expected at the end of the predicate.
    fn next(&mut self, expected: &str) -> Result<(Token, usize)> {
        self.tokens.next().ok_or_else(|| {
            refuse(
                self.end,
                format!("the predicate ends where {expected} was expected"),
            )
        })
    }

    fn term(&mut self) -> Result<Term> {
        let (column, at) = match self.next("a column name")? {
            (Token::Word(w), at) if !is_keyword(&w) => (w, at),
            (Token::Open, at) => {
                return Err(refuse(at, "parentheses and subqueries are not supported"));
            }
            (other, at) => {
                return Err(refuse(at, format!("expected a column name, found {other}")));
            }
        };
        ident::validate_column(&column).map_err(|m| refuse(at, m))?;
        let test = match self.next("an operator")? {
            (Token::Op(op), _) => Test::Compare(op, self.literal()?),
            (t, _) if t.is("IN") => Test::In(self.list()?),
            (t, _) if t.is("IS") => self.is_null()?,
            (Token::Open, at) => {
                return Err(refuse(
                    at,
                    format!("functions are not supported ({column}(…))"),
                ));
            }
            (other, at) => {
                return Err(refuse(
                    at,
                    format!(
                        "{other} is not supported after {column}; use =, <>, !=, <, <=, >, >=, IN (…), IS NULL or IS NOT NULL"
                    ),
                ));
            }
        };
        Ok(Term { column, at, test })
    }

    fn literal(&mut self) -> Result<Literal> {
        let (token, at) = self.next("a value")?;
        let kind = match token {
            Token::Number(n) => LiteralKind::Number(n),
            Token::Text(s) => LiteralKind::Text(s),
            t if t.is("true") => LiteralKind::Bool(true),
            t if t.is("false") => LiteralKind::Bool(false),
            t if t.is("null") => {
                return Err(refuse(
                    at,
                    "nothing equals NULL; write IS NULL or IS NOT NULL",
                ));
            }
            Token::Open => return Err(refuse(at, "subqueries are not supported")),
            t if t.is("select") => {
                return Err(refuse(at, "subqueries are not supported"));
            }
            other => {
                return Err(refuse(
                    at,
                    format!(
                        "{other} is not a value; write a number, a 'quoted string', true or false (columns and functions are not supported)"
                    ),
                ));
            }
        };
        Ok(Literal { kind, at })
    }

    /// `(value, …)` after IN.
    fn list(&mut self) -> Result<Vec<Literal>> {
        match self.next("(")? {
            (Token::Open, _) => {}
            (other, at) => return Err(refuse(at, format!("expected ( after IN, found {other}"))),
        }
        let mut values = vec![self.literal()?];
        loop {
            match self.next(", or )")? {
                (Token::Comma, _) => values.push(self.literal()?),
                (Token::Close, _) => return Ok(values),
                (other, at) => {
                    return Err(refuse(
                        at,
                        format!("expected , or ) in the IN list, found {other}"),
                    ));
                }
            }
        }
    }

    /// `NULL` or `NOT NULL` after IS.
    fn is_null(&mut self) -> Result<Test<Literal>> {
        let (token, at) = self.next("NULL or NOT NULL")?;
        if token.is("NULL") {
            return Ok(Test::IsNull);
        }
        if token.is("NOT") {
            let (token, at) = self.next("NULL")?;
            if token.is("NULL") {
                return Ok(Test::IsNotNull);
            }
            let problem = format!("expected NULL after IS NOT, found {token}");
            return Err(refuse(at, problem));
        }
        let problem = format!("expected NULL or NOT NULL after IS, found {token}");
        Err(refuse(at, problem))
    }
}

/// Words of the grammar (and of SQL the grammar refuses) that cannot be a column name here.
fn is_keyword(word: &str) -> bool {
    [
        "AND", "OR", "NOT", "IN", "IS", "NULL", "TRUE", "FALSE", "SELECT",
    ]
    .iter()
    .any(|k| word.eq_ignore_ascii_case(k))
}

impl Filter {
    /// Parses a predicate; anything outside the grammar is refused with its position.
    pub fn parse(text: &str) -> Result<Filter> {
        let tokens = tokenize(text)?;
        if tokens.is_empty() {
            return Err(Error::bad_input("where: the predicate is empty"));
        }
        let mut parser = Parser {
            tokens: tokens.into_iter(),
            end: text.chars().count() + 1,
        };
        let mut terms = vec![parser.term()?];
        while let Some((token, at)) = parser.tokens.next() {
            match token {
                t if t.is("AND") => terms.push(parser.term()?),
                t if t.is("OR") => {
                    return Err(refuse(
                        at,
                        "OR is not supported; terms are joined by AND only",
                    ));
                }
                other => return Err(refuse(at, format!("expected AND, found {other}"))),
            }
        }
        Ok(Filter {
            text: text.to_string(),
            terms,
        })
    }

    /// Types the filter: `column(name)` gives the column's position among the read columns and
    /// its definition on each side (a missing column is its error). Both sides must agree on
    /// the logical type, and each literal must parse as it.
    pub fn resolve(
        &self,
        mut column: impl FnMut(&str) -> Result<(usize, Column, Column)>,
    ) -> Result<RowFilter> {
        let mut terms = Vec::with_capacity(self.terms.len());
        for term in &self.terms {
            let (position, left, right) = column(&term.column).map_err(|e| refuse(term.at, e))?;
            if left.logical != right.logical {
                return Err(refuse(
                    term.at,
                    format!(
                        "column {:?} is {} ({}) on the left but {} ({}) on the right; a filtered column needs one type",
                        term.column, left.logical, left.declared, right.logical, right.declared
                    ),
                ));
            }
            if matches!(
                left.logical,
                LogicalType::Float | LogicalType::Bytes | LogicalType::Unsupported
            ) {
                return Err(refuse(
                    term.at,
                    format!(
                        "column {:?} is {} ({}) and cannot be filtered on exactly",
                        term.column, left.logical, left.declared
                    ),
                ));
            }
            terms.push((position, term.test.try_map(|l| literal_value(l, &left))?));
        }
        Ok(RowFilter { terms })
    }
}

/// The canonical value of a literal for `column`, parsed by the column's logical type.
fn literal_value(literal: &Literal, column: &Column) -> Result<Value> {
    let at = literal.at;
    let parsed = match (column.logical, &literal.kind) {
        (LogicalType::Integer | LogicalType::Decimal, LiteralKind::Number(n)) => {
            value_from_text(column.logical, n, chrono_tz::UTC)
        }
        (LogicalType::Boolean, LiteralKind::Bool(b)) => Ok(Value::Bool(*b)),
        (LogicalType::Text, LiteralKind::Text(s)) => Ok(Value::Text(s.clone())),
        (LogicalType::Date | LogicalType::Uuid, LiteralKind::Text(s)) => {
            value_from_text(column.logical, s, chrono_tz::UTC)
        }
        (LogicalType::Timestamp, LiteralKind::Text(s)) => instant(s).map(Value::Timestamp),
        (logical, kind) => Err(format!(
            "{kind} is not a {logical} value (write {})",
            match logical {
                LogicalType::Integer | LogicalType::Decimal => "a number",
                LogicalType::Boolean => "true or false",
                _ => "a 'quoted string'",
            }
        )),
    };
    parsed.map_err(|m| {
        refuse(
            at,
            format!("column {:?} ({}): {m}", column.name, column.declared),
        )
    })
}

/// A timestamp literal naming an instant on its own: with `Z` or an offset, since the two
/// sides' zones may differ. Read in two zones; a literal without a zone reads differently.
fn instant(text: &str) -> std::result::Result<chrono::DateTime<chrono::Utc>, String> {
    let t = parse_timestamp(text, chrono_tz::UTC)?;
    if parse_timestamp(text, chrono_tz::Etc::GMTPlus1)? != t {
        return Err(format!(
            "{text:?} has no zone; write it with Z or an offset, e.g. '2026-01-01T00:00:00Z'"
        ));
    }
    Ok(t)
}

/// Adds the terms of `spec`'s filter to `conditions`, each value a bound parameter compared as
/// the reader compares it, and says whether the SQL alone selects exactly the rows the filter
/// keeps (what a pushed-down digest needs). When it does not, it selects a superset that the
/// reader's filter trims: SQLite gets nothing; a term with a value the engine cannot hold
/// exactly (finer than a microsecond, beyond 64 bits or DECIMAL(65,30)) is left out; a
/// wall-clock column in a zone other than UTC is compared in that zone, which agrees with the
/// instants for every time the reader accepts, but may keep a time in a daylight-saving fold
/// or gap that the reader refuses. `stores_instants` and `zone` say how a timestamp column is
/// stored, as for the business day.
pub fn push_filter(
    conditions: &mut Conditions,
    engine: Engine,
    spec: &ReadSpec,
    stores_instants: impl Fn(&Column) -> bool,
    zone: impl Fn(&Column) -> Tz,
) -> bool {
    let Some(filter) = &spec.filter else {
        return true;
    };
    if engine == Engine::Sqlite {
        return filter.terms.is_empty();
    }
    let mut exact = true;
    for (at, test) in &filter.terms {
        let Some(column) = spec.columns.get(*at) else {
            exact = false;
            continue;
        };
        let wall_clock = (column.logical == LogicalType::Timestamp && !stores_instants(column))
            .then(|| zone(column));
        exact &= wall_clock.is_none_or(|z| z == chrono_tz::UTC);
        exact &= push_term(conditions, engine, column, test, wall_clock);
    }
    exact
}

/// Adds one term; false when one of its values cannot be compared exactly in SQL.
fn push_term(
    conditions: &mut Conditions,
    engine: Engine,
    column: &Column,
    test: &Test<Value>,
    wall_clock: Option<Tz>,
) -> bool {
    let q = ident::quote(engine, &column.name);
    let (values, op) = match test {
        Test::IsNull | Test::IsNotNull => {
            let not = if *test == Test::IsNotNull { " NOT" } else { "" };
            conditions.push(format!("{q} IS{not} NULL"));
            return true;
        }
        Test::Compare(op, value) => (std::slice::from_ref(value), op.sql()),
        Test::In(values) => (values.as_slice(), "IN"),
    };
    let Some(params) = values
        .iter()
        .map(|v| bound(engine, v, wall_clock))
        .collect::<Option<Vec<_>>>()
    else {
        return false;
    };
    let placeholders: Vec<String> = params
        .into_iter()
        .map(|(param, before, after)| format!("{before}{}{after}", conditions.param(param)))
        .collect();
    let list = placeholders.join(", ");
    let column = match (engine, column.logical) {
        // Text by its bytes: not by a locale, not case-insensitively, trailing spaces kept.
        (Engine::Postgres, LogicalType::Text) => format!("{q}::text COLLATE \"C\""),
        (Engine::MySql, LogicalType::Text) => format!("CAST(CONVERT({q} USING utf8mb4) AS BINARY)"),
        _ => q,
    };
    conditions.push(match test {
        Test::In(_) => format!("{column} IN ({list})"),
        _ => format!("{column} {op} {list}"),
    });
    true
}

/// A value as a bound parameter and the SQL around its placeholder that gives it the column's
/// type; `None` when the engine could not compare it exactly.
fn bound(
    engine: Engine,
    value: &Value,
    wall_clock: Option<Tz>,
) -> Option<(Param, &'static str, &'static str)> {
    let my = engine == Engine::MySql;
    Some(match value {
        Value::Int(n) => (Param::Int(i64::try_from(*n).ok()?), "", ""),
        Value::Decimal(d) if my && !fits_mysql_decimal(d) => return None,
        Value::Decimal(d) if my => (Param::Text(d.clone()), "CAST(", " AS DECIMAL(65,30))"),
        Value::Decimal(d) => (Param::Text(d.clone()), "", "::numeric"),
        Value::Bool(b) => (Param::Bool(*b), "", ""),
        Value::Text(s) if my => (Param::Text(s.clone()), "CAST(", " AS BINARY)"),
        Value::Text(s) => (Param::Text(s.clone()), "", ""),
        Value::Date(d) => (Param::Date(*d), "", ""),
        Value::Uuid(u) if !my => (Param::Text(u.hyphenated().to_string()), "", "::uuid"),
        // The engines keep microseconds; a finer literal would be rounded.
        Value::Timestamp(t) if t.nanosecond() % 1000 != 0 => return None,
        Value::Timestamp(t) => match wall_clock {
            None => (Param::Instant(*t), "", ""),
            Some(zone) => (
                Param::WallClock(t.with_timezone(&zone).naive_local()),
                "",
                "",
            ),
        },
        Value::Uuid(_) | Value::Bytes(_) | Value::Null => return None,
    })
}

/// Whether a decimal in normal form fits DECIMAL(65,30) without rounding.
fn fits_mysql_decimal(d: &str) -> bool {
    let unsigned = d.trim_start_matches('-');
    let (int, frac) = unsigned.split_once('.').unwrap_or((unsigned, ""));
    int.len() <= 35 && frac.len() <= 30
}

#[cfg(test)]
mod tests {
    use super::*;

    fn column(name: &str, logical: LogicalType, declared: &str) -> Column {
        Column {
            name: name.to_string(),
            declared: declared.to_string(),
            logical,
        }
    }

    /// The read columns of the tests: id, currency, amount, created_at, memo, settled.
    fn columns() -> Vec<Column> {
        vec![
            column("id", LogicalType::Integer, "bigint"),
            column("currency", LogicalType::Text, "character(3)"),
            column("amount", LogicalType::Decimal, "numeric(18,4)"),
            column(
                "created_at",
                LogicalType::Timestamp,
                "timestamp with time zone",
            ),
            column("memo", LogicalType::Text, "text"),
            column("settled", LogicalType::Boolean, "boolean"),
            column("rate", LogicalType::Float, "double precision"),
            column("booked_on", LogicalType::Date, "date"),
        ]
    }

    fn resolve(text: &str) -> Result<RowFilter> {
        let columns = columns();
        Filter::parse(text)?.resolve(|name| {
            let at = columns
                .iter()
                .position(|c| c.name == name)
                .ok_or_else(|| Error::bad_input(format!("column {name:?} does not exist")))?;
            Ok((at, columns[at].clone(), columns[at].clone()))
        })
    }

    fn refusal(text: &str) -> String {
        match resolve(text) {
            Ok(filter) => panic!("{text:?} was accepted: {filter:?}"),
            Err(e) => e.to_string(),
        }
    }

    fn ts(text: &str) -> Value {
        Value::Timestamp(parse_timestamp(text, chrono_tz::UTC).unwrap())
    }

    #[test]
    fn accepted_forms_parse_into_terms() {
        let text = "currency = 'EUR' and amount>=10.5 AND memo IS NOT NULL AnD id IN (1, -2,+3) \
                    AND settled <> true AND memo != 'it''s' AND booked_on is null AND id<5";
        let at = |needle: &str| text.find(needle).unwrap() + 1;
        let lit = |kind, needle: &str| Literal {
            kind,
            at: at(needle),
        };
        let num = |n: &str| lit(LiteralKind::Number(n.into()), n);
        let filter = Filter::parse(text).unwrap();
        let terms: Vec<_> = filter
            .terms
            .iter()
            .map(|t| (t.column.as_str(), t.at, t.test.clone()))
            .collect();
        let eur = lit(LiteralKind::Text("EUR".into()), "'EUR'");
        let quote = lit(LiteralKind::Text("it's".into()), "'it''s'");
        assert_eq!(
            terms,
            [
                ("currency", 1, Test::Compare(CmpOp::Eq, eur)),
                (
                    "amount",
                    at("amount"),
                    Test::Compare(CmpOp::Ge, num("10.5"))
                ),
                ("memo", at("memo"), Test::IsNotNull),
                (
                    "id",
                    at("id IN"),
                    Test::In(vec![num_at("1", at("(1") + 1), num("-2"), num("+3")])
                ),
                (
                    "settled",
                    at("settled"),
                    Test::Compare(CmpOp::Ne, lit(LiteralKind::Bool(true), "true"))
                ),
                ("memo", at("memo !="), Test::Compare(CmpOp::Ne, quote)),
                ("booked_on", at("booked_on"), Test::IsNull),
                (
                    "id",
                    at("id<"),
                    Test::Compare(CmpOp::Lt, num_at("5", at("<5") + 1))
                ),
            ]
        );
        for (op, want) in [
            ("<=", CmpOp::Le),
            (">", CmpOp::Gt),
            (">=", CmpOp::Ge),
            ("<>", CmpOp::Ne),
        ] {
            let filter = Filter::parse(&format!("id{op}-1")).unwrap();
            assert_eq!(
                filter.terms[0].test,
                Test::Compare(want, num_at("-1", 3 + op.len()))
            );
        }
    }

    fn num_at(n: &str, at: usize) -> Literal {
        Literal {
            kind: LiteralKind::Number(n.into()),
            at,
        }
    }

    #[test]
    fn everything_outside_the_grammar_is_refused_with_its_position() {
        for (text, problem, at) in [
            (
                "id = 1 OR id = 2",
                "OR is not supported; terms are joined by AND only",
                8,
            ),
            ("id = 1; DROP TABLE t", "semicolons are not allowed", 7),
            ("id = 1 -- x", "comments are not allowed", 8),
            ("id = 1 /* x */", "comments are not allowed", 8),
            ("id = 1 # x", "comments are not allowed", 8),
            (
                "lower(memo) = 'x'",
                "functions are not supported (lower(…))",
                6,
            ),
            (
                "id IN (SELECT id FROM t)",
                "subqueries are not supported",
                8,
            ),
            ("id = (SELECT 1)", "subqueries are not supported", 6),
            (
                "(id = 1)",
                "parentheses and subqueries are not supported",
                1,
            ),
            ("\"id\" = 1", "quoted names are not allowed", 1),
            ("`id` = 1", "quoted names are not allowed", 1),
            (
                "id = NULL",
                "nothing equals NULL; write IS NULL or IS NOT NULL",
                6,
            ),
            (
                "id = amount",
                "amount is not a value; write a number, a 'quoted string'",
                6,
            ),
            (
                "memo LIKE 'a%'",
                "LIKE is not supported after memo; use =, <>",
                6,
            ),
            ("NOT id = 1", "expected a column name, found NOT", 1),
            ("id NOT IN (1)", "NOT is not supported after id", 4),
            ("id IS NOT 1", "expected NULL after IS NOT, found 1", 11),
            ("id IN ()", ") is not a value", 8),
            ("id IN (1 2)", "expected , or ) in the IN list, found 2", 10),
            (
                "id IN (1",
                "the predicate ends where , or ) was expected",
                9,
            ),
            ("id =", "the predicate ends where a value was expected", 5),
            (
                "id = 1 AND",
                "the predicate ends where a column name was expected",
                11,
            ),
            ("id = 1 id = 2", "expected AND, found id", 8),
            (
                "memo = 'open",
                "the string starting here is not closed with '",
                8,
            ),
            ("id = 1e5", "1e5 is not a number", 6),
            ("id = 1.", "1. is not a number", 6),
            ("id == 1", "= is not a value", 5),
            ("id ! 1", "! is only allowed in !=", 4),
            ("mémo = 'x'", "'é' is not part of a --where predicate", 2),
            (
                "rate > 1.5",
                "\"rate\" is float (double precision) and cannot be filtered on",
                1,
            ),
            (
                "amount = 'ten'",
                "\"amount\" (numeric(18,4)): 'ten' is not a decimal value",
                10,
            ),
            (
                "id = 10.5",
                "\"id\" (bigint): \"10.5\" is not an integer",
                6,
            ),
            ("id = '1'", "'1' is not a integer value (write a number)", 6),
            (
                "settled = 1",
                "1 is not a boolean value (write true or false)",
                11,
            ),
            (
                "memo = 1",
                "1 is not a text value (write a 'quoted string')",
                8,
            ),
            (
                "booked_on = '2026-02-30'",
                "\"2026-02-30\" is not a YYYY-MM-DD date",
                13,
            ),
            (
                "created_at >= '2026-01-01 00:00:00'",
                "has no zone; write it with Z or an offset",
                15,
            ),
            (
                "created_at >= 'yesterday'",
                "\"yesterday\" is not a timestamp",
                15,
            ),
            (
                &format!("{} = 1", "a".repeat(64)),
                "is not a plain identifier",
                1,
            ),
        ] {
            let message = refusal(text);
            let position = format!("(at character {at})");
            assert!(
                message.starts_with("where: ")
                    && message.contains(problem)
                    && message.ends_with(&position),
                "{text}: {message}"
            );
        }
        assert_eq!(refusal(" "), "where: the predicate is empty");
        assert_eq!(
            refusal("nope = 1"),
            "where: column \"nope\" does not exist (at character 1)"
        );
    }

    #[test]
    fn rows_are_kept_by_canonical_comparison() {
        let filter = resolve(
            "currency = 'EUR' AND amount >= 10.5 AND created_at < '2026-01-02T00:00:00+01:00' \
             AND memo IS NOT NULL",
        )
        .unwrap();
        let row = |currency: &str, amount: &str, at: &str, memo: Option<&str>| {
            vec![
                Value::Int(1),
                Value::Text(currency.into()),
                Value::decimal(amount).unwrap(),
                ts(at),
                memo.map_or(Value::Null, |m| Value::Text(m.into())),
                Value::Bool(true),
            ]
        };
        assert!(filter.matches(&row(
            "EUR",
            "10.5000",
            "2026-01-01 22:59:59.999999Z",
            Some("")
        )));
        assert!(filter.matches(&row("EUR", "11", "2026-01-01 00:00:00Z", Some("x"))));
        assert!(!filter.matches(&row("eur", "11", "2026-01-01 00:00:00Z", Some("x"))));
        assert!(!filter.matches(&row("EUR ", "11", "2026-01-01 00:00:00Z", Some("x"))));
        assert!(!filter.matches(&row("EUR", "10.4999", "2026-01-01 00:00:00Z", Some("x"))));
        assert!(!filter.matches(&row("EUR", "11", "2026-01-01 23:00:00Z", Some("x"))));
        assert!(!filter.matches(&row("EUR", "11", "2026-01-01 00:00:00Z", None)));

        // NULL satisfies neither = nor <>, only IS NULL.
        let null_row = vec![Value::Null; 6];
        for text in [
            "memo = 'x'",
            "memo <> 'x'",
            "memo IN ('x')",
            "memo IS NOT NULL",
        ] {
            assert!(!resolve(text).unwrap().matches(&null_row), "{text}");
        }
        assert!(resolve("memo IS NULL").unwrap().matches(&null_row));
        // Text compares by bytes: 'Z' < 'a' < 'é'.
        let memo = |m: &str| {
            let mut r = null_row.clone();
            r[4] = Value::Text(m.into());
            r
        };
        let lt_a = resolve("memo < 'a'").unwrap();
        assert!(lt_a.matches(&memo("Z")));
        assert!(!lt_a.matches(&memo("é")));
        assert!(resolve("memo IN ('b', 'é')").unwrap().matches(&memo("é")));
    }

    fn spec(filter: &str) -> ReadSpec {
        ReadSpec {
            table: "t".into(),
            columns: columns(),
            key_len: 1,
            day: None,
            filter: Some(resolve(filter).unwrap()),
            in_flight: None,
        }
    }

    /// The WHERE clause, the bound parameters (as `Debug` shows them) and the exactness of
    /// `filter` pushed down on `engine`, timestamps stored as wall-clock times in `wall_clock`.
    fn pushed(engine: Engine, filter: &str, wall_clock: Option<Tz>) -> (String, String, bool) {
        let mut conditions = Conditions::new(engine);
        let exact = push_filter(
            &mut conditions,
            engine,
            &spec(filter),
            |_| wall_clock.is_none(),
            |_| wall_clock.unwrap_or(chrono_tz::UTC),
        );
        let debug = format!("{conditions:?}");
        let params = debug
            .split_once("params: ")
            .unwrap()
            .1
            .trim_end_matches(" }");
        (conditions.where_clause(), params.to_string(), exact)
    }

    fn debug(params: &[Param]) -> String {
        format!("{params:?}")
    }

    #[test]
    fn terms_are_pushed_down_with_bound_values_per_engine() {
        let text = "currency IN ('EUR', 'x''; DROP TABLE t; --') AND amount > 10.5 AND id <> 7 \
                    AND memo IS NULL AND settled = false AND booked_on >= '2026-01-01' \
                    AND created_at < '2026-01-02T00:00:00Z'";
        let (pg, params, exact) = pushed(Engine::Postgres, text, None);
        assert_eq!(
            pg,
            " WHERE \"currency\"::text COLLATE \"C\" IN ($1, $2) AND \"amount\" > $3::numeric \
             AND \"id\" <> $4 AND \"memo\" IS NULL AND \"settled\" = $5 AND \"booked_on\" >= $6 \
             AND \"created_at\" < $7"
        );
        let instant = chrono::DateTime::parse_from_rfc3339("2026-01-02T00:00:00Z")
            .unwrap()
            .to_utc();
        assert_eq!(
            params,
            debug(&[
                Param::Text("EUR".into()),
                Param::Text("x'; DROP TABLE t; --".into()),
                Param::Text("10.5".into()),
                Param::Int(7),
                Param::Bool(false),
                Param::Date(chrono::NaiveDate::from_ymd_opt(2026, 1, 1).unwrap()),
                Param::Instant(instant),
            ])
        );
        assert!(exact);

        let (my, params, exact) = pushed(Engine::MySql, text, Some(chrono_tz::UTC));
        assert_eq!(
            my,
            " WHERE CAST(CONVERT(`currency` USING utf8mb4) AS BINARY) IN (CAST(? AS BINARY), CAST(? AS BINARY)) \
             AND `amount` > CAST(? AS DECIMAL(65,30)) AND `id` <> ? AND `memo` IS NULL \
             AND `settled` = ? AND `booked_on` >= ? AND `created_at` < ?"
        );
        assert!(params.ends_with(&format!("{:?}]", Param::WallClock(instant.naive_utc()))));
        assert!(exact);

        let (sqlite, params, exact) = pushed(Engine::Sqlite, text, None);
        assert_eq!((sqlite.as_str(), params.as_str(), exact), ("", "[]", false));
    }

    #[test]
    fn what_sql_cannot_compare_exactly_is_left_to_the_reader_and_said() {
        // Wall-clock times in a zone with daylight saving: pushed (a superset), not exact.
        let amsterdam = chrono_tz::Europe::Amsterdam;
        let (sql, params, exact) = pushed(
            Engine::Postgres,
            "created_at >= '2026-01-01T00:00:00Z'",
            Some(amsterdam),
        );
        assert_eq!(sql, " WHERE \"created_at\" >= $1");
        let local = chrono::NaiveDate::from_ymd_opt(2026, 1, 1)
            .unwrap()
            .and_hms_opt(1, 0, 0)
            .unwrap();
        assert_eq!(params, debug(&[Param::WallClock(local)]));
        assert!(!exact);
        // Finer than a microsecond, beyond 64 bits, beyond DECIMAL(65,30): not pushed.
        for (engine, text) in [
            (
                Engine::Postgres,
                "created_at < '2026-01-01T00:00:00.0000001Z'",
            ),
            (Engine::Postgres, "id IN (1, 99999999999999999999)"),
            (Engine::MySql, "amount = 0.0000000000000000000000000000001"),
        ] {
            let (sql, params, exact) = pushed(engine, &format!("{text} AND id = 1"), None);
            assert!(
                sql.ends_with(" WHERE \"id\" = $1") || sql == " WHERE `id` = ?",
                "{sql}"
            );
            assert_eq!((params, exact), (debug(&[Param::Int(1)]), false), "{text}");
        }
        let (_, _, exact) = pushed(
            Engine::Postgres,
            "amount = 0.0000000000000000000000000000001",
            None,
        );
        assert!(exact);
    }
}
