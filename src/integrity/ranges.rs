//! Key ranges of one split check: the canonical key order cut into N ranges from both sides'
//! key quantiles, so that N shards each compare one range and together every key exactly once.
//!
//! Range `i` holds the keys after boundary `i - 1` (exclusive) up to boundary `i` (inclusive);
//! the first is open below, the last open above. Boundaries strictly ascend, so no key falls in
//! two ranges and none in none, whichever side has it. Fewer distinct keys than ranges leave
//! the last ranges empty. Boundaries only balance the work: any boundaries are correct.

use std::cmp::Ordering;

use serde_json::{Value as Json, json};

use super::plan::TablePair;
use crate::canonical::{LogicalType, Value, key_cmp};
use crate::error::{Error, Result};
use crate::source::pushdown::{KeyRange, Snapshot};
use crate::source::{Engine, ReadSpec, Source};

/// Sampled keys per range and side: enough that skew inside a sample step stays small.
const SAMPLES_PER_RANGE: u64 = 16;

/// A check's key space cut into `count` ranges.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct KeySplit {
    boundaries: Vec<Vec<Value>>,
    count: u32,
}

/// One side's sampled keys, ascending, each standing for `weight` rows of that side.
#[derive(Debug, Clone, Default)]
pub(crate) struct Sample {
    pub(crate) keys: Vec<Vec<Value>>,
    pub(crate) weight: u64,
}

impl KeySplit {
    /// The keys of range `index`; `None` when the range is empty (fewer distinct keys were
    /// sampled than there are ranges) or past the last. Range 0 is never empty.
    pub(crate) fn range(&self, index: u32) -> Option<KeyRange> {
        let i = usize::try_from(index).ok()?;
        if index >= self.count || i > self.boundaries.len() {
            return None;
        }
        Some(KeyRange {
            after: i.checked_sub(1).map(|p| self.boundaries[p].clone()),
            up_to: self.boundaries.get(i).cloned(),
        })
    }

    /// The one range `key` falls in.
    #[cfg(test)]
    fn range_of(&self, key: &[Value]) -> u32 {
        let below = self
            .boundaries
            .iter()
            .take_while(|b| key_cmp(key, b) == Ordering::Greater)
            .count();
        u32::try_from(below).unwrap_or(u32::MAX)
    }

    /// The split as the store keeps it: the key columns' names and each boundary's values,
    /// typed, in canonical text (so every pod reads back exactly the same keys).
    pub(crate) fn to_json(&self, key_names: &[String]) -> Result<String> {
        let boundaries = self
            .boundaries
            .iter()
            .map(|key| key.iter().map(typed_json).collect::<Result<Vec<_>>>())
            .collect::<Result<Vec<_>>>()?;
        Ok(json!({ "key": key_names, "ranges": self.count, "boundaries": boundaries }).to_string())
    }

    /// Reads back [`KeySplit::to_json`]; the check's key must still be the one it was cut on.
    pub(crate) fn from_json(text: &str, key_names: &[String]) -> Result<KeySplit> {
        let bad = |why: String| Error::internal(format!("the store holds a bad key split: {why}"));
        let json: Json = serde_json::from_str(text).map_err(|e| bad(e.to_string()))?;
        let key: Vec<String> =
            serde_json::from_value(json["key"].clone()).map_err(|e| bad(e.to_string()))?;
        if key != key_names {
            return Err(Error::bad_input(format!(
                "the key ranges of this date were cut on key {key:?}, but the check's key is now {key_names:?}: \
                 start every shard of the date again"
            )));
        }
        let count = json["ranges"]
            .as_u64()
            .and_then(|n| u32::try_from(n).ok())
            .ok_or_else(|| bad("no range count".into()))?;
        let boundaries = json["boundaries"]
            .as_array()
            .ok_or_else(|| bad("no boundaries".into()))?
            .iter()
            .map(|key| {
                key.as_array()
                    .ok_or_else(|| bad("a boundary is not a list".into()))?
                    .iter()
                    .map(|v| typed_value(v).map_err(bad))
                    .collect::<Result<Vec<_>>>()
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(KeySplit { boundaries, count })
    }
}

/// `["integer", "42"]`: a key value's type and canonical text.
fn typed_json(value: &Value) -> Result<Json> {
    let kind = match value {
        Value::Int(_) => LogicalType::Integer,
        Value::Decimal(_) => LogicalType::Decimal,
        Value::Bool(_) => LogicalType::Boolean,
        Value::Timestamp(_) => LogicalType::Timestamp,
        Value::Date(_) => LogicalType::Date,
        Value::Uuid(_) => LogicalType::Uuid,
        Value::Bytes(_) => LogicalType::Bytes,
        Value::Text(_) => LogicalType::Text,
        Value::Json(_) => LogicalType::Json,
        Value::Null => return Err(Error::internal("a NULL key cannot bound a key range")),
    };
    let text = value.canonical_text().unwrap_or_default();
    Ok(json!([kind.as_str(), text]))
}

fn typed_value(json: &Json) -> std::result::Result<Value, String> {
    let (Some(kind), Some(text)) = (json[0].as_str(), json[1].as_str()) else {
        return Err(format!("{json} is not a typed key value"));
    };
    let logical = [
        LogicalType::Integer,
        LogicalType::Decimal,
        LogicalType::Boolean,
        LogicalType::Timestamp,
        LogicalType::Date,
        LogicalType::Uuid,
        LogicalType::Bytes,
        LogicalType::Text,
    ]
    .into_iter()
    .find(|t| t.as_str() == kind)
    .ok_or_else(|| format!("{kind:?} is not a key type"))?;
    if logical == LogicalType::Bytes {
        return hex::decode(text)
            .map(Value::Bytes)
            .map_err(|e| format!("{text:?}: {e}"));
    }
    crate::source::text::value_from_text(logical, text, chrono_tz::UTC)
}

/// Cuts the key space into `count` ranges holding about as many rows each, from the sides'
/// samples: the samples of both sides merged in key order, weighed by the rows each stands
/// for, and a boundary placed wherever the running weight passes another `1/count` of the
/// whole. A key only one side has still falls in exactly one range.
pub(crate) fn cut(sides: &[Sample], count: u32) -> KeySplit {
    let mut all: Vec<(&[Value], u64)> = sides
        .iter()
        .flat_map(|side| side.keys.iter().map(|k| (k.as_slice(), side.weight)))
        .collect();
    all.sort_by(|a, b| key_cmp(a.0, b.0));
    let total: u128 = all.iter().map(|(_, w)| u128::from(*w)).sum();
    let mut boundaries: Vec<Vec<Value>> = Vec::new();
    let (mut cumulative, mut next) = (0u128, 1u32);
    for (key, weight) in all {
        cumulative += u128::from(weight);
        while next < count && cumulative * u128::from(count) >= total * u128::from(next) {
            if boundaries
                .last()
                .is_none_or(|b| key_cmp(b, key) == Ordering::Less)
            {
                boundaries.push(key.to_vec());
            }
            next += 1;
        }
    }
    KeySplit { boundaries, count }
}

/// Plans the split of `pair` into `count` ranges from both sides' key quantiles, each side in
/// one read-only snapshot (a row count, then every k-th key by a window query).
pub(crate) async fn plan_split(pair: &TablePair<'_>, count: u32) -> Result<KeySplit> {
    let plan = pair.plan().await?;
    let (left, right) = tokio::try_join!(
        sample(pair.left, &plan.left, count),
        sample(pair.right, &plan.right, count)
    )?;
    Ok(cut(&[left, right], count))
}

async fn sample(source: &Source, spec: &ReadSpec, count: u32) -> Result<Sample> {
    if source.engine == Engine::Sqlite {
        return Err(Error::bad_input(format!(
            "source {}: a check split by key needs PostgreSQL or MySQL/MariaDB sides (its key \
             quantiles are read in SQL); a SQLite file is not shared by pods",
            source.name
        )));
    }
    let mut snapshot = Snapshot::open(source).await?;
    let all = KeyRange::default();
    let rows = snapshot.count(source, spec, &all).await?;
    let step = (rows / (u64::from(count) * SAMPLES_PER_RANGE)).max(1);
    let keys = snapshot.boundaries(source, spec, &all, step).await?;
    Ok(Sample { keys, weight: step })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ints(keys: impl IntoIterator<Item = i128>) -> Vec<Vec<Value>> {
        keys.into_iter().map(|k| vec![Value::Int(k)]).collect()
    }

    fn every(keys: &[Vec<Value>], step: usize) -> Sample {
        Sample {
            keys: keys.iter().skip(step - 1).step_by(step).cloned().collect(),
            weight: step as u64,
        }
    }

    /// Every key falls in exactly one range, and that range contains it.
    fn assert_partition(split: &KeySplit, keys: &[Vec<Value>]) {
        for key in keys {
            let holders: Vec<u32> = (0..split.count)
                .filter(|&i| split.range(i).is_some_and(|r| r.contains(key)))
                .collect();
            assert_eq!(holders, [split.range_of(key)], "{key:?} in {holders:?}");
        }
    }

    fn sizes(split: &KeySplit, keys: &[Vec<Value>]) -> Vec<usize> {
        let mut sizes = vec![0; split.count as usize];
        for key in keys {
            sizes[split.range_of(key) as usize] += 1;
        }
        sizes
    }

    #[test]
    fn ranges_cover_every_key_once_and_hold_about_as_many_rows() {
        let left = ints(1..=10_000);
        let right = ints((1..=10_000).filter(|k| k % 7 != 0).chain([20_000]));
        let split = cut(&[every(&left, 150), every(&right, 150)], 4);
        assert_eq!(split.boundaries.len(), 3);
        // keys of either side, keys of neither (between, below and above all of them)
        let probes: Vec<Vec<Value>> = ints((-5..=20_005).step_by(1));
        assert_partition(&split, &probes);
        for size in sizes(&split, &left) {
            assert!(
                (2_300..=2_700).contains(&size),
                "{:?}",
                sizes(&split, &left)
            );
        }
        assert_eq!(
            split.range(0).unwrap().after,
            None,
            "first range open below"
        );
        assert_eq!(split.range(3).unwrap().up_to, None, "last range open above");
        for i in 0..3 {
            assert_eq!(
                split.range(i).unwrap().up_to,
                split.range(i + 1).unwrap().after,
                "range {i} ends where range {} starts",
                i + 1
            );
        }
    }

    #[test]
    fn composite_keys_are_cut_in_canonical_order() {
        // (text, integer): text by bytes ('B' < 'a'), then the integer by value
        let mut keys = Vec::new();
        for prefix in ["B", "a", "aa", "é"] {
            for n in [-3, 2, 10] {
                keys.push(vec![Value::Text(prefix.into()), Value::Int(n)]);
            }
        }
        keys.sort_by(|a, b| key_cmp(a, b));
        let split = cut(&[every(&keys, 1), every(&keys, 1)], 4);
        assert_partition(&split, &keys);
        assert_eq!(sizes(&split, &keys), [3, 3, 3, 3]);
        assert_eq!(
            split.boundaries,
            [
                vec![Value::Text("B".into()), Value::Int(10)],
                vec![Value::Text("a".into()), Value::Int(10)],
                vec![Value::Text("aa".into()), Value::Int(10)],
            ]
        );
        let other = [
            vec![Value::Text("a".into()), Value::Int(11)],
            vec![Value::Text("".into()), Value::Int(0)],
        ];
        assert_partition(&split, &other);
    }

    #[test]
    fn skewed_keys_still_give_balanced_ranges() {
        // 9,000 keys packed in 1..=9000, 1,000 spread up to ten million
        let keys: Vec<Vec<Value>> =
            ints((1..=9_000).chain((1..=1_000).map(|k| 9_000 + k * 10_000)));
        let split = cut(&[every(&keys, 40), every(&keys, 40)], 4);
        assert_partition(&split, &keys);
        for size in sizes(&split, &keys) {
            assert!(
                (2_400..=2_600).contains(&size),
                "{:?}",
                sizes(&split, &keys)
            );
        }
    }

    #[test]
    fn fewer_rows_than_ranges_leave_the_last_ranges_empty() {
        let keys = ints([5, 9]);
        let split = cut(&[every(&keys, 1), every(&ints([9]), 1)], 4);
        assert_eq!(split.boundaries, ints([5, 9]));
        assert_partition(&split, &ints(0..12));
        assert_eq!(split.range(3), None);
        assert_eq!(split.range(2).unwrap().up_to, None);
    }

    #[test]
    fn an_empty_side_is_cut_by_the_other_and_two_empty_sides_give_one_range() {
        let keys = ints(1..=100);
        let split = cut(&[every(&keys, 5), Sample::default()], 4);
        assert_partition(&split, &ints(-1..=102));
        assert_eq!(sizes(&split, &keys), [25, 25, 25, 25]);
        let empty = cut(&[Sample::default(), Sample::default()], 4);
        assert_eq!(empty.range(0), Some(KeyRange::default()), "every key");
        assert_eq!((1..4).filter_map(|i| empty.range(i)).count(), 0);
        assert_partition(&empty, &ints(-1..=2));
    }

    #[test]
    fn a_split_reads_back_exactly_with_its_key() {
        let key = vec![
            Value::Text("a'b".into()),
            Value::Decimal("-10.5".into()),
            Value::Bytes(vec![0, 255]),
            Value::Timestamp(chrono::DateTime::from_timestamp(1_700_000_000, 123_000).unwrap()),
            Value::Date(chrono::NaiveDate::from_ymd_opt(2026, 11, 20).unwrap()),
            Value::Uuid(uuid::Uuid::from_u128(7)),
            Value::Bool(true),
            Value::Int(-(1i128 << 70)),
        ];
        let split = KeySplit {
            boundaries: vec![key],
            count: 2,
        };
        let names: Vec<String> = (0..8).map(|i| format!("k{i}")).collect();
        let text = split.to_json(&names).unwrap();
        assert_eq!(KeySplit::from_json(&text, &names).unwrap(), split);
        let err = KeySplit::from_json(&text, &names[..1]).unwrap_err();
        assert_eq!(err.exit(), crate::exit::Exit::BadInput);
    }
}
