//! A discrepancy: one difference found by a check, with the identity that follows it across runs.

use sha2::{Digest, Sha256};

use crate::canonical::Value;
use crate::day::Partition;
use crate::mask::{MaskKey, SensitiveColumns, Shown, key_digest};
use crate::run_id::RunId;

/// What kind of difference it is; written as its snake-case name (`missing_in_left`, `timing`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    MissingInLeft,
    MissingInRight,
    Changed,
    SchemaMismatch,
    /// A sealed (closed) day whose rows changed after it was sealed.
    ClosedPeriodModified,
    /// A settlement finding (see [`SettlementKind`]).
    Settlement(SettlementKind),
    /// A finding of the bank leg: payouts traced to deposits (see [`BankKind`]).
    Bank(BankKind),
    /// A report line or ledger row that could not be read, set aside with its reason.
    QuarantinedRow,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::MissingInLeft => "missing_in_left",
            Kind::MissingInRight => "missing_in_right",
            Kind::Changed => "changed",
            Kind::SchemaMismatch => "schema_mismatch",
            Kind::ClosedPeriodModified => "closed_period_modified",
            Kind::Settlement(kind) => kind.as_str(),
            Kind::Bank(kind) => kind.as_str(),
            Kind::QuarantinedRow => "quarantined_row",
        }
    }

    /// What the kind means, in one sentence for a reader of the report.
    pub(crate) fn explanation(self) -> &'static str {
        match self {
            Kind::MissingInLeft => "The row is only on the right side: the left table lacks it.",
            Kind::MissingInRight => "The row is only on the left side: the right table lacks it.",
            Kind::Changed => {
                "Both sides have the key, but some compared columns hold different values."
            }
            Kind::SchemaMismatch => "A column only one side has: it is not compared.",
            Kind::ClosedPeriodModified => {
                "A row of a sealed (closed) day was changed, added or deleted after the seal."
            }
            Kind::Settlement(kind) => match kind {
                SettlementKind::MissingInLedger => "A report line with no ledger row.",
                SettlementKind::MissingInReport => {
                    "A settled ledger row still not in a report after the timing window."
                }
                SettlementKind::AmountMismatch => {
                    "Report and ledger disagree on the amount beyond the tolerance."
                }
                SettlementKind::FeeMismatch => "Report and ledger disagree on the fee.",
                SettlementKind::CurrencyMismatch => "Report and ledger name different currencies.",
                SettlementKind::StatusMismatch => {
                    "The report settled a row whose ledger status is not a settled status."
                }
                SettlementKind::DuplicateInReport => {
                    "Several report lines of one kind carry the same id: none is matched."
                }
                SettlementKind::DuplicateInLedger => {
                    "Several ledger rows carry the same id: none is matched."
                }
                SettlementKind::PayoutTotalMismatch => {
                    "A payout differs from the sum of amount − fee of its ledger rows."
                }
                SettlementKind::Timing => {
                    "A settled ledger row not in a report yet, still inside its timing window: \
                     not yet at stake."
                }
            },
            Kind::Bank(kind) => match kind {
                BankKind::PayoutMissingInBank => {
                    "A processor payout with no deposit in the bank after its arrival window."
                }
                BankKind::DepositUnexplained => {
                    "A deposit on the payout account that no processor payout explains."
                }
                BankKind::PayoutAmountMismatch => {
                    "A deposit names a payout but carries another amount (classified as a bank \
                     fee or FX where a rule says so)."
                }
                BankKind::PayoutLate => {
                    "A payout not in the bank yet, still inside its arrival window in business \
                     days: not yet at stake."
                }
                BankKind::StatementUnbalanced => {
                    "A bank statement whose balances or control totals do not add up: its \
                     entries cannot be trusted to be complete."
                }
                BankKind::StatementContinuityBreak => {
                    "Consecutive bank statements of an account do not follow each other: a \
                     statement is missing, repeated, or opens on another balance."
                }
            },
            Kind::QuarantinedRow => {
                "A report line or ledger row that could not be read, set aside."
            }
        }
    }

    /// Still inside its window (`timing`, `payout_late`): carried to later runs, not yet money
    /// at stake.
    pub(crate) fn in_flight(self) -> bool {
        matches!(
            self,
            Kind::Settlement(SettlementKind::Timing) | Kind::Bank(BankKind::PayoutLate)
        )
    }

    /// Every kind, integrity ones first.
    pub(crate) fn all() -> impl Iterator<Item = Kind> {
        [
            Kind::MissingInLeft,
            Kind::MissingInRight,
            Kind::Changed,
            Kind::SchemaMismatch,
            Kind::ClosedPeriodModified,
        ]
        .into_iter()
        .chain(SettlementKind::ALL.into_iter().map(Kind::Settlement))
        .chain(BankKind::ALL.into_iter().map(Kind::Bank))
        .chain([Kind::QuarantinedRow])
    }

    pub(crate) fn parse(text: &str) -> Option<Kind> {
        Kind::all().find(|k| k.as_str() == text)
    }
}

impl serde::Serialize for Kind {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> serde::Deserialize<'de> for Kind {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Kind::parse(&text)
            .ok_or_else(|| serde::de::Error::custom(format!("unknown discrepancy kind {text:?}")))
    }
}

/// What kind of settlement discrepancy it is.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum SettlementKind {
    /// A report line with no ledger entry.
    MissingInLedger,
    /// A settled ledger entry absent from the report for longer than the timing window.
    MissingInReport,
    /// Report gross and ledger amount differ by more than the tolerance.
    AmountMismatch,
    /// The ledger's fee differs from the report's.
    FeeMismatch,
    /// Same id, different currencies.
    CurrencyMismatch,
    /// The report settled an entry whose ledger status is not a settled status.
    StatusMismatch,
    /// Several report lines of one kind carry the same id.
    DuplicateInReport,
    /// Several ledger entries carry the same id.
    DuplicateInLedger,
    /// A payout's amount differs from the sum of the ledger items carrying its payout id.
    PayoutTotalMismatch,
    /// A ledger entry not in the report yet, but still within the timing window.
    Timing,
}

impl SettlementKind {
    /// Every kind, in sort order.
    pub(crate) const ALL: [SettlementKind; 10] = [
        SettlementKind::MissingInLedger,
        SettlementKind::MissingInReport,
        SettlementKind::AmountMismatch,
        SettlementKind::FeeMismatch,
        SettlementKind::CurrencyMismatch,
        SettlementKind::StatusMismatch,
        SettlementKind::DuplicateInReport,
        SettlementKind::DuplicateInLedger,
        SettlementKind::PayoutTotalMismatch,
        SettlementKind::Timing,
    ];

    /// Snake-case name, as serialized (`missing_in_ledger`).
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            SettlementKind::MissingInLedger => "missing_in_ledger",
            SettlementKind::MissingInReport => "missing_in_report",
            SettlementKind::AmountMismatch => "amount_mismatch",
            SettlementKind::FeeMismatch => "fee_mismatch",
            SettlementKind::CurrencyMismatch => "currency_mismatch",
            SettlementKind::StatusMismatch => "status_mismatch",
            SettlementKind::DuplicateInReport => "duplicate_in_report",
            SettlementKind::DuplicateInLedger => "duplicate_in_ledger",
            SettlementKind::PayoutTotalMismatch => "payout_total_mismatch",
            SettlementKind::Timing => "timing",
        }
    }

    /// The kind with this snake-case name.
    #[cfg(test)]
    pub(crate) fn parse(text: &str) -> Option<SettlementKind> {
        SettlementKind::ALL
            .into_iter()
            .find(|kind| kind.as_str() == text)
    }
}

impl std::fmt::Display for SettlementKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What kind of bank-leg discrepancy it is: a processor payout and the bank deposits.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum BankKind {
    /// A payout whose deposit did not come within its window.
    PayoutMissingInBank,
    /// A credit on the payout account that no payout explains.
    DepositUnexplained,
    /// A deposit naming a payout with another amount.
    PayoutAmountMismatch,
    /// A payout not in the bank yet, still within its window.
    PayoutLate,
    /// A statement whose balances do not add up (opening + entries ≠ closing, a BAI2 control
    /// total), or that says it is incomplete.
    StatementUnbalanced,
    /// Consecutive statements of an account that do not follow each other (a statement
    /// missing, given twice, or opening on another balance than the previous one closed on).
    StatementContinuityBreak,
}

impl BankKind {
    /// Every kind, in sort order.
    pub(crate) const ALL: [BankKind; 6] = [
        BankKind::PayoutMissingInBank,
        BankKind::DepositUnexplained,
        BankKind::PayoutAmountMismatch,
        BankKind::PayoutLate,
        BankKind::StatementUnbalanced,
        BankKind::StatementContinuityBreak,
    ];

    /// Snake-case name, as serialized (`payout_missing_in_bank`).
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            BankKind::PayoutMissingInBank => "payout_missing_in_bank",
            BankKind::DepositUnexplained => "deposit_unexplained",
            BankKind::PayoutAmountMismatch => "payout_amount_mismatch",
            BankKind::PayoutLate => "payout_late",
            BankKind::StatementUnbalanced => "statement_unbalanced",
            BankKind::StatementContinuityBreak => "statement_continuity_break",
        }
    }
}

impl std::fmt::Display for BankKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where a discrepancy is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// First seen by this run.
    Open,
    /// Seen before and still there.
    Carried,
    /// Gone at a later run.
    Resolved,
    /// An operator explained it.
    Acknowledged,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Open => "open",
            Status::Carried => "carried",
            Status::Resolved => "resolved",
            Status::Acknowledged => "acknowledged",
        }
    }

    /// New or carried over: not acknowledged, not resolved — someone has to look at it.
    pub(crate) fn needs_someone(self) -> bool {
        matches!(self, Status::Open | Status::Carried)
    }

    pub(crate) fn parse(text: &str) -> Option<Status> {
        [
            Status::Open,
            Status::Carried,
            Status::Resolved,
            Status::Acknowledged,
        ]
        .into_iter()
        .find(|s| s.as_str() == text)
    }
}

/// One column's values on both sides, as shown (`None` is NULL or absent).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ColumnValues {
    pub(crate) column: String,
    pub(crate) left: Option<Shown>,
    pub(crate) right: Option<Shown>,
}

/// One difference, as reports and the store hold it (and as a split check's range keeps its
/// findings until the whole check is recorded, as JSON).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Discrepancy {
    pub check: String,
    /// The business day of a dated check, or the whole table.
    pub partition: Partition,
    pub kind: Kind,
    /// Key column names and their values as shown, in key order.
    pub key: ShownKey,
    /// The columns that differ (for `changed` and `schema_mismatch`).
    pub columns: Vec<String>,
    pub values: Vec<ColumnValues>,
    pub detail: Option<Shown>,
    /// Money a settlement finding puts in question, in minor units of a currency.
    pub at_stake: Option<AtStake>,
}

/// The column an integrity check's row keeps its amount in, in minor units, and the column of
/// its ISO 4217 currency: a differing row with both puts money at stake, and reports show the
/// amount in its currency.
pub(crate) const AMOUNT_COLUMN: &str = "amount_minor";
pub(crate) const CURRENCY_COLUMN: &str = "currency";

/// An amount in question: minor units (never negative) of an ISO 4217 currency. 128 bits wide,
/// so that the whole of an `i64` amount (2^63 minor units for the most negative) or the
/// difference of two fits exactly.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct AtStake {
    pub(crate) currency: String,
    pub(crate) minor: i128,
}

impl AtStake {
    /// `47.01 USD`, in the currency's major units.
    pub(crate) fn shown(&self) -> String {
        in_currency(self.minor, &self.currency)
    }
}

/// `minor` units of `currency` as people read them: `-47.01 USD`, `6100 JPY`.
pub(crate) fn in_currency(minor: impl Into<i128>, currency: &str) -> String {
    let minor = minor.into();
    match crate::money::Currency::parse(currency) {
        Ok(c) => format!("{} {currency}", crate::money::format_major_wide(minor, c)),
        Err(_) => format!("{minor} minor units of {currency}"),
    }
}

/// A key as every output shows it: the key columns' names and values (card numbers masked,
/// sensitive columns keyed-hashed), and, when masking hid a value, the keyed digest of the raw
/// key that tells the finding apart from another whose key masks alike.
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub struct ShownKey {
    pub(crate) columns: Vec<(String, Option<Shown>)>,
    /// `hmac-sha256:<key id>:…` over the raw key's encoding, when masking hid some value and a
    /// mask key is configured; `None` when the shown key is the key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) digest: Option<String>,
    /// The same key as the mask key's earlier forms show it (under the key a rotation retires,
    /// or as written before masks named their key), where that differs: how a finding recorded
    /// then is recognised ([`Discrepancy::earlier_fingerprints`]).
    #[serde(default, skip_serializing_if = "EarlierForms::is_empty")]
    pub(crate) earlier: EarlierForms,
}

/// A key's earlier forms ([`ShownKey::earlier`]): they follow from the key itself, so two keys
/// are equal whatever they say.
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
#[serde(transparent)]
pub struct EarlierForms(Vec<ShownKey>);

impl EarlierForms {
    fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl PartialEq for EarlierForms {
    fn eq(&self, _: &EarlierForms) -> bool {
        true
    }
}

impl Eq for EarlierForms {}

impl ShownKey {
    /// The key of raw `values` under `names`, each shown as `show(name, raw, form)` gives it
    /// (`form`: an earlier form of the mask key to show it under, `None` for the configured
    /// one); the digest is made under `mask` when that hid any value, and the earlier forms are
    /// kept when some value was hidden or keyed.
    pub(crate) fn build(
        names: &[String],
        values: &[Option<&str>],
        show: impl Fn(&str, &str, Option<&MaskKey>) -> Shown,
        mask: Option<&MaskKey>,
    ) -> ShownKey {
        let mut key = ShownKey::shown_under(names, values, &show, None, mask);
        let keyed = key.digest.is_some()
            || key
                .columns
                .iter()
                .any(|(_, v)| v.as_ref().is_some_and(Shown::is_keyed));
        if let (true, Some(mask)) = (keyed, mask) {
            let mut earlier: Vec<ShownKey> = Vec::new();
            for form in mask.earlier_forms() {
                let shown = ShownKey::shown_under(names, values, &show, Some(&form), Some(&form));
                if shown != key && !earlier.contains(&shown) {
                    earlier.push(shown);
                }
            }
            key.earlier = EarlierForms(earlier);
        }
        key
    }

    /// The key shown under one form of the mask key, without earlier forms.
    fn shown_under(
        names: &[String],
        values: &[Option<&str>],
        show: &impl Fn(&str, &str, Option<&MaskKey>) -> Shown,
        form: Option<&MaskKey>,
        mask: Option<&MaskKey>,
    ) -> ShownKey {
        let mut hidden = false;
        let columns = names
            .iter()
            .zip(values)
            .map(|(name, raw)| {
                let shown = raw.map(|raw| {
                    hidden |= Shown::hides_card_number(raw);
                    show(name, raw, form)
                });
                (name.clone(), shown)
            })
            .collect();
        let digest = match mask {
            Some(key) if hidden => {
                let fields: Vec<Value> = values
                    .iter()
                    .map(|v| v.map_or(Value::Null, |t| Value::Text(t.to_string())))
                    .collect();
                Some(key_digest(key, &crate::canonical::encode_row(&fields)))
            }
            _ => None,
        };
        ShownKey {
            columns,
            digest,
            earlier: EarlierForms::default(),
        }
    }

    /// Every digest the raw key may have been recorded under: this one's, then its earlier
    /// forms'.
    pub(crate) fn digests(&self) -> impl Iterator<Item = &str> {
        std::iter::once(self)
            .chain(&self.earlier.0)
            .filter_map(|k| k.digest.as_deref())
    }

    /// A key of raw text values, card numbers masked (a settlement id, a file and line).
    pub fn masked(pairs: &[(&str, Option<&str>)], mask: Option<&MaskKey>) -> ShownKey {
        let names: Vec<String> = pairs.iter().map(|(n, _)| n.to_string()).collect();
        let values: Vec<Option<&str>> = pairs.iter().map(|(_, v)| *v).collect();
        ShownKey::build(&names, &values, |_, raw, _| Shown::masked(raw), mask)
    }

    /// A row's key of canonical values, shown as `sensitive` says.
    pub(crate) fn of_row(
        names: &[String],
        values: &[Value],
        sensitive: &SensitiveColumns,
        mask: Option<&MaskKey>,
    ) -> ShownKey {
        let texts: Vec<Option<std::borrow::Cow<'_, str>>> =
            values.iter().map(Value::canonical_text).collect();
        let raw: Vec<Option<&str>> = texts.iter().map(|t| t.as_deref()).collect();
        ShownKey::build(
            names,
            &raw,
            |name, raw, form| match form {
                Some(form) => sensitive.show_under(form, name, raw),
                None => sensitive.show(name, raw),
            },
            mask,
        )
    }

    /// The key as a JSON object of its columns' shown values, in key column order (`null` for
    /// NULL): how the store, the audit chain and the reports write it.
    pub(crate) fn to_json(&self) -> serde_json::Value {
        serde_json::Value::Object(
            self.columns
                .iter()
                .map(|(k, v)| {
                    let v = v
                        .as_ref()
                        .map_or(serde_json::Value::Null, |v| v.to_string().into());
                    (k.clone(), v)
                })
                .collect(),
        )
    }

    /// A key [`ShownKey::to_json`] wrote, read back (each value through [`Shown::read_back`]),
    /// with the digest kept beside it.
    pub(crate) fn from_json(
        object: serde_json::Map<String, serde_json::Value>,
        digest: Option<String>,
    ) -> ShownKey {
        let columns = object
            .into_iter()
            .map(|(k, v)| (k, v.as_str().map(Shown::read_back)))
            .collect();
        ShownKey {
            columns,
            digest,
            earlier: EarlierForms::default(),
        }
    }

    /// The key columns and their values, as shown.
    pub fn columns(&self) -> &[(String, Option<Shown>)] {
        &self.columns
    }

    /// The first column's value, as shown.
    pub fn first(&self) -> Option<&Shown> {
        self.columns.first().and_then(|(_, v)| v.as_ref())
    }
}

/// A value of `column` as reports show it: canonical text, card numbers masked, sensitive
/// columns masked with their key.
pub(crate) fn shown(v: &Value, column: &str, sensitive: &SensitiveColumns) -> Option<Shown> {
    v.canonical_text().map(|t| sensitive.show(column, &t))
}

impl Discrepancy {
    /// The identity that follows the discrepancy from run to run: check, partition, kind and key
    /// (and the column, for schema findings), hashed.
    /// A key that masking hid is identified by its keyed digest, never by its shown text.
    pub(crate) fn fingerprint(&self) -> String {
        self.fingerprint_of(&self.key)
    }

    /// The discrepancy as the mask key's earlier forms showed its key (see
    /// [`ShownKey::earlier`]), where that differs: a finding recorded with the fingerprint of
    /// one of them is the same finding.
    pub(crate) fn earlier_forms(&self) -> Vec<Discrepancy> {
        self.key
            .earlier
            .0
            .iter()
            .map(|key| Discrepancy {
                key: key.clone(),
                ..self.clone()
            })
            .collect()
    }

    fn fingerprint_of(&self, key: &ShownKey) -> String {
        let mut fields = vec![
            Value::Text(self.check.clone()),
            Value::Text(self.partition.to_string()),
            Value::Text(self.kind.as_str().to_string()),
        ];
        match &key.digest {
            Some(digest) => fields.push(Value::Text(digest.clone())),
            None => {
                for (name, value) in &key.columns {
                    fields.push(Value::Text(name.clone()));
                    fields.push(
                        value
                            .as_ref()
                            .map_or(Value::Null, |v| Value::Text(v.to_string())),
                    );
                }
            }
        }
        if self.kind == Kind::SchemaMismatch {
            fields.extend(self.columns.iter().cloned().map(Value::Text));
        }
        hex::encode(Sha256::digest(crate::canonical::encode_row(&fields)))
    }

    /// The key as a JSON object in key column order.
    pub(crate) fn key_json(&self) -> serde_json::Value {
        self.key.to_json()
    }

    /// `id=1042; currency=EUR`, for people.
    pub fn key_display(&self) -> String {
        self.key
            .columns
            .iter()
            .map(|(k, v)| format!("{k}={}", v.as_ref().map_or("NULL", Shown::as_str)))
            .collect::<Vec<_>>()
            .join("; ")
    }
}

/// A discrepancy as the store knows it after a run recorded it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recorded {
    pub id: i64,
    pub status: Status,
    pub first_run_id: RunId,
    pub discrepancy: Discrepancy,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn missing(key: ShownKey) -> Discrepancy {
        Discrepancy {
            check: "cards".to_string(),
            partition: Partition::Day(chrono::NaiveDate::from_ymd_opt(2026, 11, 20).unwrap()),
            kind: Kind::Settlement(SettlementKind::MissingInLedger),
            key,
            columns: Vec::new(),
            values: Vec::new(),
            detail: None,
            at_stake: None,
        }
    }

    #[test]
    fn bank_kinds_names_serde_order_and_flight() {
        for kind in BankKind::ALL {
            let k = Kind::Bank(kind);
            assert_eq!(Kind::parse(k.as_str()), Some(k));
            assert_eq!(
                serde_json::to_string(&kind).unwrap(),
                format!("\"{}\"", kind.as_str())
            );
            assert_eq!(serde_json::to_string(&k).unwrap(), format!("\"{kind}\""));
        }
        let mut sorted = BankKind::ALL;
        sorted.sort();
        assert_eq!(sorted, BankKind::ALL);
        let in_flight: Vec<&str> = Kind::all()
            .filter(|k| k.in_flight())
            .map(Kind::as_str)
            .collect();
        assert_eq!(in_flight, ["timing", "payout_late"]);
        // every kind in `all` once, in `Ord` order
        let all: Vec<Kind> = Kind::all().collect();
        let mut ordered = all.clone();
        ordered.sort();
        assert_eq!(all, ordered);
    }

    #[test]
    fn a_key_masking_left_alone_keeps_the_identity_it_always_had() {
        let key = ShownKey::masked(&[("id", Some("ch_1042"))], None);
        assert_eq!(key.digest, None);
        let fields = ["cards", "2026-11-20", "missing_in_ledger", "id", "ch_1042"]
            .map(|t| Value::Text(t.to_string()));
        let expected = hex::encode(Sha256::digest(crate::canonical::encode_row(&fields)));
        assert_eq!(missing(key).fingerprint(), expected);
    }

    #[test]
    fn card_numbers_that_mask_alike_stay_two_findings_under_a_mask_key() {
        let mask =
            MaskKey::new("6b33792d666f722d74657374732d6f6e6c792d303132333435363738396162636465")
                .unwrap();
        let b = ShownKey::masked(&[("id", Some("4111111000071111"))], Some(&mask));
        let c = ShownKey::masked(&[("id", Some("4111111000151111"))], Some(&mask));
        assert_eq!(b.columns, c.columns);
        assert_eq!(*b.first().unwrap(), "411111******1111");
        let (b, c) = (missing(b), missing(c));
        assert_ne!(b.fingerprint(), c.fingerprint());
        // The digest, not the shown text, is the identity; without a key only the text is.
        let unkeyed = ShownKey::masked(&[("id", Some("4111111000071111"))], None);
        assert_eq!(unkeyed.digest, None);
        assert_ne!(missing(unkeyed).fingerprint(), b.fingerprint());
    }
}
