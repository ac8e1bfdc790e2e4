//! A compact binary form of report records and ledger entries, for the buckets a settlement check spills to disk.
//!
//! Integers of fixed width (amounts, seconds, nanoseconds, days) are little-endian; the file
//! index, the source line and every text length are LEB128 varints; each `Option` is one bit of
//! a presence byte, and its value follows only when present. Texts are the id's UTF-8 bytes.
//!
//! A record is: file (varint), kind (u8), currency index (u8), presence byte (available_at,
//! payout_id, reference, links), record_id, gross, fee and net (i64 each), created_at, then the
//! present options in that order, then the source line (varint). Links are a presence byte
//! (payment, capture, settled_as, payout_reference, payout_arrival) and the present fields in
//! that order; settled_as is currency (u8), fee and net (i64); payout_arrival is days from the
//! common era (i32). A time is seconds since the epoch (i64) and nanoseconds (u32).
//!
//! An entry is: currency index (u8), presence byte (status, fee_minor, payout_id), id, amount
//! (i64), at, then the present options in that order.
//!
//! The currency index is the place in this build's table, so a spill is read back only by the
//! process that wrote it. Decoding never panics: bad input is an internal error, and the input
//! is advanced only past a value read whole.

use std::sync::Arc;

use chrono::{DateTime, Datelike, NaiveDate, Utc};

use super::id::Id;
use super::matching::LedgerEntry;
use super::record::{Kind, Links, SettledAs, SettlementRecord, SourceLine};
use crate::error::{Error, Result};
use crate::money::Currency;

/// Presence bit of a record's `available_at`.
const AVAILABLE_AT: u8 = 1;
/// Presence bit of a record's `payout_id`.
const PAYOUT_ID: u8 = 1 << 1;
/// Presence bit of a record's `reference`.
const REFERENCE: u8 = 1 << 2;
/// Presence bit of a record's `links`.
const LINKS: u8 = 1 << 3;
/// Every presence bit a record may carry.
const RECORD_BITS: u8 = AVAILABLE_AT | PAYOUT_ID | REFERENCE | LINKS;

/// Presence bit of `Links::payment`.
const PAYMENT: u8 = 1;
/// Presence bit of `Links::capture`.
const CAPTURE: u8 = 1 << 1;
/// Presence bit of `Links::settled_as`.
const SETTLED_AS: u8 = 1 << 2;
/// Presence bit of `Links::payout_reference`.
const PAYOUT_REFERENCE: u8 = 1 << 3;
/// Presence bit of `Links::payout_arrival`.
const PAYOUT_ARRIVAL: u8 = 1 << 4;
/// Every presence bit links may carry.
const LINK_BITS: u8 = PAYMENT | CAPTURE | SETTLED_AS | PAYOUT_REFERENCE | PAYOUT_ARRIVAL;

/// Presence bit of an entry's `status`.
const STATUS: u8 = 1;
/// Presence bit of an entry's `fee_minor`.
const FEE: u8 = 1 << 1;
/// Presence bit of an entry's `payout_id`.
const ENTRY_PAYOUT_ID: u8 = 1 << 2;
/// Every presence bit an entry may carry.
const ENTRY_BITS: u8 = STATUS | FEE | ENTRY_PAYOUT_ID;

/// Appends `record`, read from the caller's file number `file`, to `out`.
pub(crate) fn put_record(out: &mut Vec<u8>, file: u32, record: &SettlementRecord) {
    put_varint(out, u64::from(file));
    // a kind's tag is its place in `Kind::ALL`, the order declared
    out.push(record.kind as u8);
    out.push(record.currency.index());
    let mut present = 0;
    present |= bit(record.available_at.is_some(), AVAILABLE_AT);
    present |= bit(record.payout_id.is_some(), PAYOUT_ID);
    present |= bit(record.reference.is_some(), REFERENCE);
    present |= bit(record.links.is_some(), LINKS);
    out.push(present);
    put_str(out, &record.record_id);
    put_i64(out, record.gross_minor);
    put_i64(out, record.fee_minor);
    put_i64(out, record.net_minor);
    put_time(out, record.created_at);
    if let Some(at) = record.available_at {
        put_time(out, at);
    }
    if let Some(id) = &record.payout_id {
        put_str(out, id);
    }
    if let Some(id) = &record.reference {
        put_str(out, id);
    }
    if let Some(links) = &record.links {
        put_links(out, links);
    }
    put_varint(out, record.source.line);
}

/// Reads one record from the front of `input` (advancing it); its `source.path` is `paths[file]`.
pub(crate) fn take_record(
    input: &mut &[u8],
    paths: &[Arc<str>],
) -> Result<(u32, SettlementRecord)> {
    let start = *input; // a copy: `input` moves only on success
    let mut reader = Reader(start);
    let file = u32::try_from(reader.varint()?).map_err(|_| bad("file index over u32"))?;
    let kind = reader.kind()?;
    let currency = reader.currency()?;
    let present = reader.present(RECORD_BITS)?;
    let record_id = reader.id()?;
    let gross_minor = reader.i64()?;
    let fee_minor = reader.i64()?;
    let net_minor = reader.i64()?;
    let created_at = reader.time()?;
    let available_at = reader.when(present & AVAILABLE_AT != 0, Reader::time)?;
    let payout_id = reader.when(present & PAYOUT_ID != 0, Reader::id)?;
    let reference = reader.when(present & REFERENCE != 0, Reader::id)?;
    let links = reader
        .when(present & LINKS != 0, Reader::links)?
        .map(Box::new);
    let line = reader.varint()?;
    let path = usize::try_from(file)
        .ok()
        .and_then(|index| paths.get(index))
        .ok_or_else(|| bad("file index out of range"))?;
    let record = SettlementRecord {
        record_id,
        kind,
        gross_minor,
        fee_minor,
        net_minor,
        currency,
        created_at,
        available_at,
        payout_id,
        reference,
        links,
        source: SourceLine {
            path: Arc::clone(path),
            line,
        },
    };
    *input = reader.0;
    Ok((file, record))
}

/// Appends `entry` to `out`.
pub(crate) fn put_entry(out: &mut Vec<u8>, entry: &LedgerEntry) {
    out.push(entry.currency.index());
    let mut present = 0;
    present |= bit(entry.status.is_some(), STATUS);
    present |= bit(entry.fee_minor.is_some(), FEE);
    present |= bit(entry.payout_id.is_some(), ENTRY_PAYOUT_ID);
    out.push(present);
    put_str(out, &entry.id);
    put_i64(out, entry.amount_minor);
    put_time(out, entry.at);
    if let Some(status) = &entry.status {
        put_str(out, status);
    }
    if let Some(fee) = entry.fee_minor {
        put_i64(out, fee);
    }
    if let Some(id) = &entry.payout_id {
        put_str(out, id);
    }
}

/// Reads one entry from the front of `input` (advancing it).
pub(crate) fn take_entry(input: &mut &[u8]) -> Result<LedgerEntry> {
    let start = *input; // a copy: `input` moves only on success
    let mut reader = Reader(start);
    let currency = reader.currency()?;
    let present = reader.present(ENTRY_BITS)?;
    let id = reader.id()?;
    let amount_minor = reader.i64()?;
    let at = reader.time()?;
    let status = reader.when(present & STATUS != 0, Reader::id)?;
    let fee_minor = reader.when(present & FEE != 0, Reader::i64)?;
    let payout_id = reader.when(present & ENTRY_PAYOUT_ID != 0, Reader::id)?;
    *input = reader.0;
    Ok(LedgerEntry {
        id,
        amount_minor,
        currency,
        status,
        at,
        fee_minor,
        payout_id,
    })
}

/// Appends the links of a record (presence byte, then the present fields).
fn put_links(out: &mut Vec<u8>, links: &Links) {
    let mut present = 0;
    present |= bit(links.payment.is_some(), PAYMENT);
    present |= bit(links.capture.is_some(), CAPTURE);
    present |= bit(links.settled_as.is_some(), SETTLED_AS);
    present |= bit(links.payout_reference.is_some(), PAYOUT_REFERENCE);
    present |= bit(links.payout_arrival.is_some(), PAYOUT_ARRIVAL);
    out.push(present);
    if let Some(id) = &links.payment {
        put_str(out, id);
    }
    if let Some(id) = &links.capture {
        put_str(out, id);
    }
    if let Some(settled) = &links.settled_as {
        out.push(settled.currency.index());
        put_i64(out, settled.fee_minor);
        put_i64(out, settled.net_minor);
    }
    if let Some(id) = &links.payout_reference {
        put_str(out, id);
    }
    if let Some(day) = links.payout_arrival {
        out.extend_from_slice(&day.num_days_from_ce().to_le_bytes());
    }
}

/// `mask` when `set`, else 0.
fn bit(set: bool, mask: u8) -> u8 {
    if set { mask } else { 0 }
}

/// Appends `value` as an LEB128 varint (7 bits a byte, low first).
fn put_varint(out: &mut Vec<u8>, mut value: u64) {
    while value >= 0x80 {
        out.push((value & 0x7f) as u8 | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

/// Appends `value` as 8 little-endian bytes.
fn put_i64(out: &mut Vec<u8>, value: i64) {
    out.extend_from_slice(&value.to_le_bytes());
}

/// Appends a text as its byte length (varint) and its UTF-8 bytes.
fn put_str(out: &mut Vec<u8>, text: &str) {
    put_varint(out, text.len() as u64);
    out.extend_from_slice(text.as_bytes());
}

/// Appends a time as seconds since the epoch (i64) and nanoseconds (u32, over 10⁹ in a leap second).
fn put_time(out: &mut Vec<u8>, at: DateTime<Utc>) {
    put_i64(out, at.timestamp());
    out.extend_from_slice(&at.timestamp_subsec_nanos().to_le_bytes());
}

/// The internal error for undecodable spill bytes, with a short reason.
fn bad(reason: &str) -> Error {
    Error::internal(format!("spilled settlement data: {reason}"))
}

/// A cursor over the bytes still to decode (the caller's slice moves only once a value is whole).
struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    /// The next `n` bytes.
    fn bytes(&mut self, n: usize) -> Result<&'a [u8]> {
        let (head, rest) = self.0.split_at_checked(n).ok_or_else(|| bad("truncated"))?;
        self.0 = rest;
        Ok(head)
    }

    /// The next `N` bytes as an array.
    fn array<const N: usize>(&mut self) -> Result<[u8; N]> {
        let (head, rest) = self
            .0
            .split_first_chunk::<N>()
            .ok_or_else(|| bad("truncated"))?;
        self.0 = rest;
        Ok(*head)
    }

    /// The next byte.
    fn u8(&mut self) -> Result<u8> {
        let [byte] = self.array::<1>()?;
        Ok(byte)
    }

    /// A little-endian i64.
    fn i64(&mut self) -> Result<i64> {
        Ok(i64::from_le_bytes(self.array()?))
    }

    /// An LEB128 varint of at most 64 bits.
    fn varint(&mut self) -> Result<u64> {
        let mut value = 0u64;
        for shift in (0..64).step_by(7) {
            let byte = self.u8()?;
            if shift == 63 && byte > 1 {
                return Err(bad("varint over 64 bits"));
            }
            value |= u64::from(byte & 0x7f) << shift;
            if byte & 0x80 == 0 {
                return Ok(value);
            }
        }
        Err(bad("varint over 64 bits"))
    }

    /// A presence byte, refused when it has a bit outside `allowed`.
    fn present(&mut self, allowed: u8) -> Result<u8> {
        let present = self.u8()?;
        if present & !allowed != 0 {
            return Err(bad("unknown presence bit"));
        }
        Ok(present)
    }

    /// `read`'s value when `present`, else `None` (reading nothing).
    fn when<T>(
        &mut self,
        present: bool,
        read: impl FnOnce(&mut Self) -> Result<T>,
    ) -> Result<Option<T>> {
        if present {
            read(self).map(Some)
        } else {
            Ok(None)
        }
    }

    /// A kind from its tag.
    fn kind(&mut self) -> Result<Kind> {
        let tag = self.u8()?;
        Kind::ALL
            .get(usize::from(tag))
            .copied()
            .ok_or_else(|| bad("unknown kind tag"))
    }

    /// A currency from its index in the table.
    fn currency(&mut self) -> Result<Currency> {
        Currency::from_index(self.u8()?).ok_or_else(|| bad("unknown currency index"))
    }

    /// An id: byte length (varint) and UTF-8 bytes.
    fn id(&mut self) -> Result<Id> {
        let len = usize::try_from(self.varint()?).map_err(|_| bad("truncated"))?;
        let text = std::str::from_utf8(self.bytes(len)?).map_err(|_| bad("id is not UTF-8"))?;
        Ok(Id::from(text))
    }

    /// A time: seconds since the epoch (i64) and nanoseconds (u32).
    fn time(&mut self) -> Result<DateTime<Utc>> {
        let seconds = self.i64()?;
        let nanos = u32::from_le_bytes(self.array()?);
        DateTime::from_timestamp(seconds, nanos).ok_or_else(|| bad("time out of range"))
    }

    /// A day: days from the common era (i32).
    fn day(&mut self) -> Result<NaiveDate> {
        let days = i32::from_le_bytes(self.array()?);
        NaiveDate::from_num_days_from_ce_opt(days).ok_or_else(|| bad("day out of range"))
    }

    /// A record's links: presence byte, then the present fields.
    fn links(&mut self) -> Result<Links> {
        let present = self.present(LINK_BITS)?;
        let payment = self.when(present & PAYMENT != 0, Reader::id)?;
        let capture = self.when(present & CAPTURE != 0, Reader::id)?;
        let settled_as = self.when(present & SETTLED_AS != 0, Reader::settled_as)?;
        let payout_reference = self.when(present & PAYOUT_REFERENCE != 0, Reader::id)?;
        let payout_arrival = self.when(present & PAYOUT_ARRIVAL != 0, Reader::day)?;
        Ok(Links {
            payment,
            capture,
            settled_as,
            payout_reference,
            payout_arrival,
        })
    }

    /// A settlement in another currency: currency index, fee and net.
    fn settled_as(&mut self) -> Result<SettledAs> {
        Ok(SettledAs {
            currency: self.currency()?,
            fee_minor: self.i64()?,
            net_minor: self.i64()?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{NaiveTime, TimeZone};

    /// The currency with `code`.
    fn cur(code: &str) -> Currency {
        Currency::parse(code).expect("known currency")
    }

    /// The paths the test records name, by file number.
    fn paths() -> Vec<Arc<str>> {
        vec!["a.csv".into(), "reports/b.csv".into(), "ü/c.csv".into()]
    }

    /// A Stripe-like charge with every option `None`.
    fn plain(file: usize, line: u64) -> SettlementRecord {
        SettlementRecord {
            record_id: "txn_1234567".into(),
            kind: Kind::Charge,
            gross_minor: 1000,
            fee_minor: 59,
            net_minor: 941,
            currency: cur("USD"),
            created_at: Utc.with_ymd_and_hms(2024, 3, 1, 12, 0, 0).unwrap(),
            available_at: None,
            payout_id: None,
            reference: None,
            links: None,
            source: SourceLine {
                path: paths()[file].clone(),
                line,
            },
        }
    }

    /// A record with every option and every link `Some`, long and multibyte ids, extreme amounts.
    fn full() -> SettlementRecord {
        let leap = NaiveDate::from_ymd_opt(2016, 12, 31)
            .unwrap()
            .and_time(NaiveTime::from_hms_nano_opt(23, 59, 59, 1_500_000_000).unwrap())
            .and_utc();
        SettlementRecord {
            record_id: "é".repeat(12).as_str().into(), // 24 bytes: boxed
            kind: Kind::DisputeReversal,
            gross_minor: i64::MIN,
            fee_minor: i64::MAX,
            net_minor: -1,
            currency: cur("KWD"),
            created_at: Utc.timestamp_opt(-86_400 * 365 * 100, 999_999_999).unwrap(),
            available_at: Some(leap),
            payout_id: Some("po_€uro".into()),
            reference: Some("order-".repeat(10).as_str().into()),
            links: Some(Box::new(Links {
                payment: Some("".into()),
                capture: Some("x".repeat(23).as_str().into()), // inline at the boundary
                settled_as: Some(SettledAs {
                    currency: cur("ZWG"),
                    fee_minor: i64::MIN,
                    net_minor: i64::MAX,
                }),
                payout_reference: Some("y".repeat(300).as_str().into()), // two-byte length
                payout_arrival: Some(NaiveDate::from_ymd_opt(2024, 2, 29).unwrap()),
            })),
            source: SourceLine {
                path: paths()[2].clone(),
                line: u64::MAX,
            },
        }
    }

    /// Records covering every kind and each option alone, beside `plain` and `full`.
    fn records() -> Vec<(u32, SettlementRecord)> {
        let mut all = vec![(0, plain(0, 2)), (2, full())];
        for (n, kind) in Kind::ALL.into_iter().enumerate() {
            let mut record = plain(1, 1 << (n * 8));
            record.kind = kind;
            record.currency = Currency::all().nth(n * 20).unwrap();
            all.push((1, record));
        }
        let base = plain(0, 127);
        all.push((
            0,
            SettlementRecord {
                available_at: Some(Utc.timestamp_opt(1_700_000_000, 1).unwrap()),
                ..base.clone()
            },
        ));
        all.push((
            0,
            SettlementRecord {
                payout_id: Some("po_1".into()),
                ..base.clone()
            },
        ));
        all.push((
            0,
            SettlementRecord {
                reference: Some("order 1".into()),
                ..base.clone()
            },
        ));
        // links present but empty (not what `Links::boxed` makes, yet kept exactly)
        all.push((
            0,
            SettlementRecord {
                links: Some(Box::default()),
                ..base.clone()
            },
        ));
        let one_link = [
            Links {
                payment: Some("ch_1".into()),
                ..Links::default()
            },
            Links {
                capture: Some("cap_1".into()),
                ..Links::default()
            },
            Links {
                settled_as: Some(SettledAs {
                    currency: cur("EUR"),
                    fee_minor: 200,
                    net_minor: 9700,
                }),
                ..Links::default()
            },
            Links {
                payout_reference: Some("REF 1".into()),
                ..Links::default()
            },
            Links {
                payout_arrival: Some(NaiveDate::from_ymd_opt(-400, 1, 1).unwrap()),
                ..Links::default()
            },
        ];
        for links in one_link {
            all.push((
                0,
                SettlementRecord {
                    links: links.boxed(),
                    ..base.clone()
                },
            ));
        }
        all
    }

    /// Ledger entries covering each option, long ids and extreme amounts.
    fn entries() -> Vec<LedgerEntry> {
        let typical = LedgerEntry {
            id: "ch_1234567".into(),
            amount_minor: 1000,
            currency: cur("USD"),
            status: Some("settled".into()),
            at: Utc.with_ymd_and_hms(2024, 3, 1, 10, 0, 0).unwrap(),
            fee_minor: Some(59),
            payout_id: None,
        };
        vec![
            typical.clone(),
            LedgerEntry {
                status: None,
                fee_minor: None,
                ..typical.clone()
            },
            LedgerEntry {
                id: "ledger-row-".repeat(5).as_str().into(),
                amount_minor: i64::MIN,
                currency: cur("JPY"),
                status: Some("a status longer than twenty-three bytes".into()),
                at: Utc.timestamp_opt(-1, 123_456_789).unwrap(),
                fee_minor: Some(i64::MAX),
                payout_id: Some("po_ñ".repeat(8).as_str().into()),
            },
            LedgerEntry {
                amount_minor: i64::MAX,
                fee_minor: Some(0),
                payout_id: Some("".into()),
                ..typical
            },
        ]
    }

    /// The bytes of one record.
    fn encode_record(file: u32, record: &SettlementRecord) -> Vec<u8> {
        let mut out = Vec::new();
        put_record(&mut out, file, record);
        out
    }

    /// The bytes of one entry.
    fn encode_entry(entry: &LedgerEntry) -> Vec<u8> {
        let mut out = Vec::new();
        put_entry(&mut out, entry);
        out
    }

    /// The reason of a decode error, for assertions.
    fn reason<T: std::fmt::Debug>(result: Result<T>) -> String {
        result.expect_err("an error").to_string()
    }

    /// Every record comes back exactly, with its file, decoded in order from one buffer.
    #[test]
    fn records_round_trip_back_to_back() {
        let records = records();
        let mut buffer = Vec::new();
        for (file, record) in &records {
            put_record(&mut buffer, *file, record);
        }
        let paths = paths();
        let mut input = buffer.as_slice();
        for (file, record) in &records {
            let (got_file, got) = take_record(&mut input, &paths).expect("decodes");
            assert_eq!((got_file, &got), (*file, record));
            assert!(Arc::ptr_eq(&got.source.path, &paths[*file as usize]));
        }
        assert!(input.is_empty());
    }

    /// Every entry comes back exactly, decoded in order from one buffer.
    #[test]
    fn entries_round_trip_back_to_back() {
        let entries = entries();
        let mut buffer = Vec::new();
        for entry in &entries {
            put_entry(&mut buffer, entry);
        }
        let mut input = buffer.as_slice();
        for entry in &entries {
            assert_eq!(&take_entry(&mut input).expect("decodes"), entry);
        }
        assert!(input.is_empty());
    }

    /// A typical Stripe charge and a typical ledger entry take a few dozen bytes.
    #[test]
    fn typical_sizes() {
        assert_eq!(encode_record(0, &plain(0, 2)).len(), 53);
        let with_available = SettlementRecord {
            available_at: Some(Utc.with_ymd_and_hms(2024, 3, 3, 0, 0, 0).unwrap()),
            ..plain(0, 100_000)
        };
        assert_eq!(encode_record(0, &with_available).len(), 67);
        assert_eq!(encode_entry(&entries()[0]).len(), 49);
    }

    /// Every strict prefix of a record or an entry is an error, and leaves the input where it was.
    #[test]
    fn every_strict_prefix_is_an_error() {
        let paths = paths();
        for (file, record) in records() {
            let bytes = encode_record(file, &record);
            for len in 0..bytes.len() {
                let mut input = &bytes[..len];
                assert!(
                    take_record(&mut input, &paths).is_err(),
                    "{len} of {}",
                    bytes.len()
                );
                assert_eq!(input.len(), len);
            }
        }
        for entry in entries() {
            let bytes = encode_entry(&entry);
            for len in 0..bytes.len() {
                let mut input = &bytes[..len];
                assert!(take_entry(&mut input).is_err(), "{len} of {}", bytes.len());
                assert_eq!(input.len(), len);
            }
        }
    }

    /// A file number past the paths given is an error.
    #[test]
    fn file_index_past_the_paths_is_an_error() {
        let bytes = encode_record(3, &plain(0, 2));
        assert!(reason(take_record(&mut bytes.as_slice(), &paths())).contains("file index"));
        let bytes = encode_record(0, &plain(0, 2));
        assert!(take_record(&mut bytes.as_slice(), &[]).is_err());
        let bytes = encode_record(u32::MAX, &plain(0, 2));
        assert!(take_record(&mut bytes.as_slice(), &paths()).is_err());
    }

    /// Every currency comes back from its index; the index past the table is none.
    #[test]
    fn currency_indexes_round_trip() {
        let count = Currency::all().count();
        for currency in Currency::all() {
            assert_eq!(Currency::from_index(currency.index()), Some(currency));
        }
        assert_eq!(Currency::from_index(u8::try_from(count).unwrap()), None);
        assert_eq!(Currency::from_index(u8::MAX), None);
    }

    /// Bad tags, currencies, presence bits, UTF-8, times, days and varints are errors, not panics.
    #[test]
    fn corrupt_bytes_are_errors() {
        let paths = paths();
        let good = encode_record(0, &plain(0, 2));
        // layout of `plain`: file 0, kind 1, currency 2, presence 3, id length 4, id 5..16,
        // amounts 16..40, created_at seconds 40..48 and nanoseconds 48..52, line 52
        let corrupt = |at: usize, bytes: &[u8]| {
            let mut copy = good.clone();
            copy.splice(at..at + bytes.len(), bytes.iter().copied());
            reason(take_record(&mut copy.as_slice(), &paths))
        };
        assert!(corrupt(1, &[8]).contains("kind"));
        assert!(corrupt(2, &[u8::MAX]).contains("currency"));
        assert!(corrupt(3, &[1 << 4]).contains("presence"));
        assert!(corrupt(5, &[0xff]).contains("UTF-8"));
        assert!(corrupt(5, &[0xc3]).contains("UTF-8")); // a cut two-byte character
        assert!(corrupt(48, &2_000_000_000u32.to_le_bytes()).contains("time"));
        assert!(corrupt(40, &i64::MAX.to_le_bytes()).contains("time"));
        assert!(corrupt(4, &[0xff; 11]).contains("varint"));
        let mut long_file = vec![0x80; 9];
        long_file.push(0x02); // bit 64
        long_file.extend_from_slice(&good[1..]);
        assert!(reason(take_record(&mut long_file.as_slice(), &paths)).contains("varint"));
        let mut huge_file = vec![0x80, 0x80, 0x80, 0x80, 0x10]; // 2^32
        huge_file.extend_from_slice(&good[1..]);
        assert!(reason(take_record(&mut huge_file.as_slice(), &paths)).contains("file index"));

        let links = SettlementRecord {
            links: Links {
                payout_arrival: Some(NaiveDate::from_ymd_opt(2024, 3, 1).unwrap()),
                ..Links::default()
            }
            .boxed(),
            ..plain(0, 2)
        };
        let mut bytes = encode_record(0, &links);
        bytes[52] = 1 << 5; // links presence byte
        assert!(reason(take_record(&mut bytes.as_slice(), &paths)).contains("presence"));
        let mut bytes = encode_record(0, &links);
        bytes.splice(53..57, i32::MAX.to_le_bytes());
        assert!(reason(take_record(&mut bytes.as_slice(), &paths)).contains("day"));

        let entry = encode_entry(&entries()[0]);
        let mut bytes = entry.clone();
        bytes[0] = u8::MAX;
        assert!(reason(take_entry(&mut bytes.as_slice())).contains("currency"));
        let mut bytes = entry;
        bytes[1] = 1 << 3;
        assert!(reason(take_entry(&mut bytes.as_slice())).contains("presence"));
    }
}
