//! The parser of `--where`, in its own file: tokens become the terms of an untyped [`Filter`], or a refusal with its position.

use super::lex::{Token, tokenize};
use super::{Filter, Literal, LiteralKind, Term, Test, refuse};
use crate::error::{Error, Result};
use crate::source::ident;

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
}

#[cfg(test)]
mod tests {
    use super::super::fixtures::*;
    use super::super::*;

    fn refusal(text: &str) -> String {
        match resolve(text) {
            Ok(filter) => panic!("{text:?} was accepted: {filter:?}"),
            Err(e) => e.to_string(),
        }
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
}
