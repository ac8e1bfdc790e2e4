//! How every key recon reads from the environment is written: hex or base64, decoded one way.

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};

/// The bytes of a key written in hex (an even number of hex digits) or else base64 (standard or
/// URL-safe, padded or not), and which of the two; `None` when it is neither (or empty).
pub(crate) fn decode(text: &str) -> Option<(&'static str, Vec<u8>)> {
    if !text.is_empty()
        && text.len().is_multiple_of(2)
        && text.bytes().all(|b| b.is_ascii_hexdigit())
    {
        return hex::decode(text).ok().map(|bytes| ("hex", bytes));
    }
    [STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD]
        .iter()
        .find_map(|engine| engine.decode(text).ok())
        .filter(|bytes| !bytes.is_empty())
        .map(|bytes| ("base64", bytes))
}

#[cfg(test)]
mod tests {
    use super::decode;

    #[test]
    fn hex_first_then_any_base64_and_nothing_else() {
        assert_eq!(decode("00ff"), Some(("hex", vec![0, 255])));
        // Odd-length hex digits are base64 ("abc" is 2 bytes of base64 without padding).
        assert_eq!(
            decode("abc").map(|(e, b)| (e, b.len())),
            Some(("base64", 2))
        );
        assert_eq!(decode("AP8="), Some(("base64", vec![0, 255])));
        assert_eq!(decode("-_8"), Some(("base64", vec![251, 255])));
        assert_eq!(decode(""), None);
        assert_eq!(decode("not a key!"), None);
    }
}
