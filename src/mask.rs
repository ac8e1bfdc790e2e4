//! Keeps card data out of everything recon writes: card numbers masked, sensitive columns hashed.
//!
//! A primary account number is 13 to 19 digits, written together or in groups separated by single
//! spaces or dashes, that passes the Luhn check; it is shown as its first six and last four digits
//! (`411111******1111`). A column declared sensitive is shown only as `sha256:` and the first 12
//! hex digits of the SHA-256 of its canonical text.

use std::borrow::Cow;

use sha2::{Digest, Sha256};

const MIN_DIGITS: usize = 13;
const MAX_DIGITS: usize = 19;

/// `text` with every card number in it masked.
pub fn mask_card_numbers(text: &str) -> Cow<'_, str> {
    if text.bytes().filter(u8::is_ascii_digit).count() < MIN_DIGITS {
        return Cow::Borrowed(text);
    }
    let bytes = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut copied = 0;
    let mut i = 0;
    while i < bytes.len() {
        if !bytes[i].is_ascii_digit() || (i > 0 && bytes[i - 1].is_ascii_digit()) {
            i += 1;
            continue;
        }
        // A run of digit groups joined by single spaces or dashes.
        let groups = digit_groups(bytes, i);
        match find_card(bytes, &groups) {
            Some((start, end, digits)) => {
                out.push_str(&text[copied..start]);
                out.push_str(&masked(&digits));
                copied = end;
                i = end;
            }
            None => i = groups.last().map_or(i + 1, |g| g.1),
        }
    }
    if copied == 0 {
        return Cow::Borrowed(text);
    }
    out.push_str(&text[copied..]);
    Cow::Owned(out)
}

/// The (start, end) byte ranges of the digit groups of the run starting at `start`.
fn digit_groups(bytes: &[u8], start: usize) -> Vec<(usize, usize)> {
    let mut groups = Vec::new();
    let mut at = start;
    loop {
        let end = at
            + bytes[at..]
                .iter()
                .take_while(|b| b.is_ascii_digit())
                .count();
        groups.push((at, end));
        let joined = end + 1 < bytes.len()
            && matches!(bytes[end], b' ' | b'-')
            && bytes[end + 1].is_ascii_digit();
        if !joined {
            return groups;
        }
        at = end + 1;
    }
}

/// The first window of whole groups holding a Luhn-valid 13–19 digit number.
fn find_card(bytes: &[u8], groups: &[(usize, usize)]) -> Option<(usize, usize, String)> {
    for first in 0..groups.len() {
        let mut digits = String::new();
        for group in &groups[first..] {
            digits.extend(bytes[group.0..group.1].iter().map(|&b| char::from(b)));
            if digits.len() > MAX_DIGITS {
                break;
            }
            if digits.len() >= MIN_DIGITS && luhn_valid(&digits) {
                return Some((groups[first].0, group.1, digits));
            }
        }
    }
    None
}

fn luhn_valid(digits: &str) -> bool {
    let mut sum = 0;
    for (i, b) in digits.bytes().rev().enumerate() {
        let mut d = u32::from(b - b'0');
        if i % 2 == 1 {
            d *= 2;
            if d > 9 {
                d -= 9;
            }
        }
        sum += d;
    }
    sum % 10 == 0
}

fn masked(digits: &str) -> String {
    format!(
        "{}{}{}",
        &digits[..6],
        "*".repeat(digits.len() - 10),
        &digits[digits.len() - 4..]
    )
}

/// How a sensitive column's value is shown: a short SHA-256 prefix, equal for equal values.
pub fn sensitive(value: &str) -> String {
    let digest = hex::encode(Sha256::digest(value.as_bytes()));
    format!("sha256:{}", &digest[..12])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn card_numbers_are_masked_wherever_they_stand() {
        assert_eq!(mask_card_numbers("4111111111111111"), "411111******1111");
        assert_eq!(
            mask_card_numbers("card 4111 1111 1111 1111 declined"),
            "card 411111******1111 declined"
        );
        assert_eq!(mask_card_numbers("5500-0000-0000-0004"), "550000******0004");
        assert_eq!(
            mask_card_numbers("amex 378282246310005."),
            "amex 378282*****0005."
        );
        assert_eq!(
            mask_card_numbers("a=4111111111111111;b=5555555555554444"),
            "a=411111******1111;b=555555******4444"
        );
        // A card number followed by another group of digits is still found.
        assert_eq!(
            mask_card_numbers("4111 1111 1111 1111 2026"),
            "411111******1111 2026"
        );
    }

    #[test]
    fn a_card_number_glued_to_letters_is_found() {
        assert_eq!(
            mask_card_numbers("ch_3PqR4111111111111111x"),
            "ch_3PqR411111******1111x"
        );
    }

    #[test]
    fn other_numbers_are_left_alone() {
        for text in [
            "4111111111111112", // fails Luhn
            "order 12345 of 2026-11-20",
            "00000000-0000-4000-8000-000000001010",
            "12345678901234567890123", // longer than any card number
        ] {
            assert_eq!(mask_card_numbers(text), text, "{text}");
        }
    }

    #[test]
    fn sensitive_values_show_as_a_hash_prefix() {
        // printf 'NL91ABNA0417164300' | sha256sum
        assert_eq!(
            sensitive("NL91ABNA0417164300"),
            format!(
                "sha256:{}",
                &hex::encode(Sha256::digest(b"NL91ABNA0417164300"))[..12]
            )
        );
        assert_ne!(sensitive("a"), sensitive("b"));
    }
}
