//! The lexer of `--where`, in its own file: the predicate's characters become tokens with their positions, or a refusal.

use std::fmt;

use super::{CmpOp, LiteralKind, refuse};
use crate::error::Result;

#[derive(Debug, Clone, PartialEq)]
pub(super) enum Token {
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
    pub(super) fn is(&self, keyword: &str) -> bool {
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
pub(super) fn tokenize(text: &str) -> Result<Vec<(Token, usize)>> {
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
