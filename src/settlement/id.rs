//! A compact id for report lines and ledger rows: ids of up to 23 bytes (nearly all) live inline, without a heap allocation each.
//!
//! A million-line report holds millions of short ids (`txn_…`, `ch_…`, order numbers); as
//! `String`s each costs 24 bytes plus an allocation. [`Id`] is 24 bytes in all (so is
//! `Option<Id>`) and boxes only an id longer than [`Id::INLINE`] bytes. It compares, orders,
//! hashes and prints exactly like the `str` it holds.

use std::borrow::Borrow;
use std::cmp::Ordering;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::ops::Deref;

/// Text of a processor's or the ledger's id.
#[derive(Clone)]
pub(crate) struct Id(Repr);

#[derive(Clone)]
enum Repr {
    Inline { len: Len, bytes: [u8; Id::INLINE] },
    Boxed(Box<str>),
}

impl Id {
    /// Longest id stored inline, in bytes.
    pub(crate) const INLINE: usize = 23;

    /// The id as text.
    pub(crate) fn as_str(&self) -> &str {
        match &self.0 {
            // only whole `str`s are ever stored, so the check cannot fail
            Repr::Inline { .. } => std::str::from_utf8(self.as_bytes()).unwrap_or_default(),
            Repr::Boxed(text) => text,
        }
    }

    /// The id's UTF-8 bytes.
    pub(crate) fn as_bytes(&self) -> &[u8] {
        match &self.0 {
            Repr::Inline { len, bytes } => bytes.get(..*len as usize).unwrap_or_default(),
            Repr::Boxed(text) => text.as_bytes(),
        }
    }

    #[cfg(test)]
    fn is_inline(&self) -> bool {
        matches!(self.0, Repr::Inline { .. })
    }
}

impl From<&str> for Id {
    fn from(text: &str) -> Id {
        match (Len::of(text.len()), text.len()) {
            (Some(len), n) => {
                let mut bytes = [0; Id::INLINE];
                if let Some(to) = bytes.get_mut(..n) {
                    to.copy_from_slice(text.as_bytes());
                }
                Id(Repr::Inline { len, bytes })
            }
            (None, _) => Id(Repr::Boxed(text.into())),
        }
    }
}

impl From<String> for Id {
    fn from(text: String) -> Id {
        match Len::of(text.len()) {
            Some(_) => Id::from(text.as_str()),
            None => Id(Repr::Boxed(text.into_boxed_str())),
        }
    }
}

impl Deref for Id {
    type Target = str;
    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl AsRef<str> for Id {
    fn as_ref(&self) -> &str {
        self.as_str()
    }
}

impl Borrow<str> for Id {
    fn borrow(&self) -> &str {
        self.as_str()
    }
}

impl PartialEq for Id {
    fn eq(&self, other: &Id) -> bool {
        self.as_bytes() == other.as_bytes()
    }
}

impl Eq for Id {}

impl PartialEq<str> for Id {
    fn eq(&self, other: &str) -> bool {
        self.as_bytes() == other.as_bytes()
    }
}

impl PartialEq<&str> for Id {
    fn eq(&self, other: &&str) -> bool {
        self.as_bytes() == other.as_bytes()
    }
}

impl Ord for Id {
    /// Byte order, which is `str` order.
    fn cmp(&self, other: &Id) -> Ordering {
        self.as_bytes().cmp(other.as_bytes())
    }
}

impl PartialOrd for Id {
    fn partial_cmp(&self, other: &Id) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Hash for Id {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.as_str().hash(state);
    }
}

impl fmt::Display for Id {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self.as_str(), f)
    }
}

impl fmt::Debug for Id {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl serde::Serialize for Id {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

/// The length of an inline id, 0 to [`Id::INLINE`]: the values it cannot take are where the
/// compiler keeps the enum's tag, which keeps [`Id`] and `Option<Id>` at 24 bytes.
#[derive(Clone, Copy)]
#[repr(u8)]
#[rustfmt::skip]
enum Len {
    L0, L1, L2, L3, L4, L5, L6, L7, L8, L9, L10, L11,
    L12, L13, L14, L15, L16, L17, L18, L19, L20, L21, L22, L23,
}

impl Len {
    #[rustfmt::skip]
    const ALL: [Len; Id::INLINE + 1] = [
        Len::L0, Len::L1, Len::L2, Len::L3, Len::L4, Len::L5, Len::L6, Len::L7, Len::L8,
        Len::L9, Len::L10, Len::L11, Len::L12, Len::L13, Len::L14, Len::L15, Len::L16,
        Len::L17, Len::L18, Len::L19, Len::L20, Len::L21, Len::L22, Len::L23,
    ];

    /// `None` when `n` bytes do not fit inline.
    fn of(n: usize) -> Option<Len> {
        Len::ALL.get(n).copied()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::{BTreeSet, HashSet};

    #[test]
    fn as_small_as_a_string_and_its_option() {
        assert_eq!(std::mem::size_of::<Id>(), 24);
        assert_eq!(std::mem::size_of::<Option<Id>>(), 24);
    }

    #[test]
    fn inline_up_to_23_bytes_boxed_beyond() {
        for n in 0..=40 {
            let text = "x".repeat(n);
            for id in [Id::from(text.as_str()), Id::from(text.clone())] {
                assert_eq!(id.is_inline(), n <= Id::INLINE, "{n} bytes");
                assert_eq!(id.as_str(), text);
                assert_eq!(id.len(), n);
            }
        }
        // the boundary counts bytes, not characters: 11 × `é` (2 bytes) + 1 = 23 bytes
        let fits = format!("{}a", "é".repeat(11));
        let over = format!("{}ab", "é".repeat(11));
        assert!(Id::from(fits.as_str()).is_inline());
        assert!(!Id::from(over.as_str()).is_inline());
        assert_eq!(Id::from(over.as_str()).as_str(), over);
        assert_eq!(Id::from("ch_€uro").as_str(), "ch_€uro");
    }

    #[test]
    fn ordering_is_str_ordering_across_the_boundary() {
        let texts = [
            "",
            "a",
            "A",
            "ch_10",
            "ch_2",
            "ch_1",
            "é",
            "z",
            "aaaaaaaaaaaaaaaaaaaaaaa",   // 23: inline
            "aaaaaaaaaaaaaaaaaaaaaaaa",  // 24: boxed
            "aaaaaaaaaaaaaaaaaaaaaab",   // 23
            "aaaaaaaaaaaaaaaaaaaaaaaab", // 25
            "aaaaaaaaaaaaaaaaaaaaaa",    // 22
            "txn_\u{0}",
            "txn_",
        ];
        for a in texts {
            for b in texts {
                let (x, y) = (Id::from(a), Id::from(b));
                assert_eq!(x.cmp(&y), a.cmp(b), "{a:?} vs {b:?}");
                assert_eq!(x.partial_cmp(&y), a.partial_cmp(b));
                assert_eq!(x == y, a == b, "{a:?} == {b:?}");
                assert_eq!(x == *b, a == b);
                assert_eq!(x == b, a == b);
            }
        }
        let sorted: Vec<String> = texts
            .iter()
            .map(|t| Id::from(*t))
            .collect::<BTreeSet<_>>()
            .into_iter()
            .map(|id| id.to_string())
            .collect();
        let mut expected: Vec<String> = texts.iter().map(|t| t.to_string()).collect();
        expected.sort();
        assert_eq!(sorted, expected);
    }

    #[test]
    fn hashes_like_str_so_maps_can_be_searched_by_str() {
        let ids: HashSet<Id> = ["ch_1", &"y".repeat(30)].map(Id::from).into();
        assert!(ids.contains("ch_1"));
        assert!(ids.contains("y".repeat(30).as_str()));
        assert!(!ids.contains("ch_2"));
    }

    #[test]
    fn display_debug_and_serde_are_the_str_s() {
        for text in ["po_1", "with \"quotes\" and a long tail of text"] {
            let id = Id::from(text);
            assert_eq!(id.to_string(), text);
            assert_eq!(format!("{id:>30}"), format!("{text:>30}"));
            assert_eq!(format!("{id:?}"), format!("{text:?}"));
            assert_eq!(
                serde_json::to_string(&id).expect("serializes"),
                serde_json::to_string(text).expect("serializes")
            );
        }
    }
}
