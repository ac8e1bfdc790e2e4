//! Sharding one date's run across pods (`--shard I/N`, e.g. an Indexed Job): shard I takes
//! every check whose position in the configuration is I modulo N, and key range I of N of every
//! check split by key (`run/split.rs`). Shards lock, supersede and report separately; their
//! results meet in the shared store.

use std::fmt;
use std::str::FromStr;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    pub(crate) index: u32,
    pub(crate) count: u32,
}

impl Shard {
    /// Whether the check at `position` in the configuration belongs to this shard.
    pub(crate) fn takes(&self, position: usize) -> bool {
        position % self.count as usize == self.index as usize
    }

    /// How the store names the shard of a run: `0/4`, or `""` for an unsharded run.
    pub(crate) fn key(shard: Option<Shard>) -> String {
        shard.map(|s| s.to_string()).unwrap_or_default()
    }
}

impl FromStr for Shard {
    type Err = String;

    fn from_str(text: &str) -> Result<Shard, String> {
        let bad = || format!("{text:?} is not a shard; write I/N with 0 ≤ I < N (e.g. 0/4)");
        let (i, n) = text.split_once('/').ok_or_else(bad)?;
        let index: u32 = i.trim().parse().map_err(|_| bad())?;
        let count: u32 = n.trim().parse().map_err(|_| bad())?;
        if count == 0 || index >= count {
            return Err(bad());
        }
        Ok(Shard { index, count })
    }
}

impl fmt::Display for Shard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_parse_and_split_the_checks_between_them() {
        let s: Shard = "1/3".parse().unwrap();
        assert_eq!(s, Shard { index: 1, count: 3 });
        assert_eq!((0..7).filter(|&p| s.takes(p)).collect::<Vec<_>>(), [1, 4]);
        assert_eq!(Shard::key(Some(s)), "1/3");
        assert_eq!(Shard::key(None), "");
        for bad in ["3/3", "1", "a/2", "0/0", "-1/2"] {
            assert!(bad.parse::<Shard>().is_err(), "{bad}");
        }
    }
}
