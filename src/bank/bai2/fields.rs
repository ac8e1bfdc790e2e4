//! The fields of BAI2's `03` account summary and `16` transaction detail, the funds type fields that shift them, and BAI2's amounts (minor units, implied decimals) and counts.

use chrono::NaiveDate;

use super::records::Fields;
use crate::bank::dates::yymmdd;
use crate::money::Currency;

/// The currency BAI2 assumes when the group and the account name none.
const DEFAULT_CURRENCY: &str = "USD";

/// What an `03` record says: account number, currency, opening and closing ledger balances.
pub(super) type Summary = (String, Currency, Option<i64>, Option<i64>);

/// The `03` fields after its code, each summary amount added to `total`.
pub(super) fn account_summary(
    fields: &mut Fields<'_>,
    group_currency: Currency,
    total: &mut i128,
) -> Result<Summary, String> {
    let number = fields.next_field().unwrap_or_default();
    if number.is_empty() {
        return Err("no account number".into());
    }
    let currency = currency(fields.next_field(), Some(group_currency))?;
    let (mut opening, mut closing) = (None, None);
    while let Some(code) = fields.next_field() {
        let amount = signed_amount(fields.next_field().unwrap_or_default())
            .map_err(|why| format!("type code {code}: {why}"))?;
        let _item_count = fields.next_field();
        let funds = fields.next_field().unwrap_or_default();
        funds_fields(fields, funds).map_err(|why| format!("type code {code}: {why}"))?;
        if code.is_empty() && amount.is_none() {
            continue;
        }
        if code.len() != 3 || !code.bytes().all(|b| b.is_ascii_digit()) {
            return Err(format!("`{code}` is not a three-digit type code"));
        }
        if let Some(amount) = amount {
            *total += i128::from(amount);
        }
        match code {
            "010" => opening = amount,
            "015" => closing = amount,
            _ => {}
        }
    }
    Ok((number.to_owned(), currency, opening, closing))
}

/// What a `16` record holds.
pub(super) struct Detail {
    pub(super) type_code: String,
    pub(super) amount_minor: i64,
    pub(super) value_date: Option<NaiveDate>,
    pub(super) bank_ref: Option<String>,
    pub(super) customer_ref: Option<String>,
    pub(super) text: Option<String>,
}

/// The `16` fields after its code; its amount is added to `total` once read.
pub(super) fn read_detail(fields: &mut Fields<'_>, total: &mut i128) -> Result<Detail, String> {
    let code = fields.next_field().unwrap_or_default();
    let amount_text = fields.next_field().unwrap_or_default();
    let magnitude = match signed_amount(amount_text) {
        Ok(Some(amount)) if !amount_text.starts_with(['+', '-']) => amount,
        _ => {
            return Err(format!(
                "amount `{amount_text}` is not an amount in minor units (digits only)"
            ));
        }
    };
    *total += i128::from(magnitude);
    let credit = match code.parse::<u16>() {
        Ok(100..=399) if code.len() == 3 => true,
        Ok(400..=699) if code.len() == 3 => false,
        _ => {
            return Err(format!(
                "type code `{code}` is not a credit (100-399) or debit (400-699) transaction detail code"
            ));
        }
    };
    let funds = fields.next_field().unwrap_or_default();
    let value_date = funds_fields(fields, funds)?;
    let bank_ref = fields
        .next_field()
        .filter(|r| !r.is_empty())
        .map(str::to_owned);
    let customer_ref = fields
        .next_field()
        .filter(|r| !r.is_empty())
        .map(str::to_owned);
    Ok(Detail {
        type_code: code.to_owned(),
        amount_minor: if credit { magnitude } else { -magnitude },
        value_date,
        bank_ref,
        customer_ref,
        text: fields.rest_text(),
    })
}

/// Reads the fields a funds type adds (checking them); the value date of a `V`.
fn funds_fields(fields: &mut Fields<'_>, funds: &str) -> Result<Option<NaiveDate>, String> {
    let amount = |field: Option<&str>| {
        signed_amount(field.unwrap_or_default()).map_err(|why| format!("funds type {funds}: {why}"))
    };
    match funds {
        "" | "0" | "1" | "2" | "Z" => Ok(None),
        "S" => {
            for _ in 0..3 {
                amount(fields.next_field())?;
            }
            Ok(None)
        }
        "V" => {
            let date = fields.next_field().unwrap_or_default();
            let value_date = yymmdd(date)
                .ok_or_else(|| format!("funds type V: value date `{date}` is not a date YYMMDD"))?;
            let _time = fields.next_field();
            Ok(Some(value_date))
        }
        "D" => {
            let n = count_field(fields.next_field())
                .ok_or("funds type D: no number of distributions")?;
            for _ in 0..n {
                let days = fields.next_field();
                if count_field(days).is_none() {
                    return Err(format!(
                        "funds type D: `{}` is not a number of days (fewer distributions than the {n} stated?)",
                        days.unwrap_or_default()
                    ));
                }
                amount(fields.next_field())?;
            }
            Ok(None)
        }
        other => Err(format!("funds type `{other}` is not 0, 1, 2, S, V, D or Z")),
    }
}

/// An amount in minor units, optionally signed; `None` when the field is empty (defaulted).
pub(super) fn signed_amount(text: &str) -> Result<Option<i64>, String> {
    if text.is_empty() {
        return Ok(None);
    }
    let (negative, digits) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text.strip_prefix('+').unwrap_or(text)),
    };
    if digits.is_empty() || digits.len() > 18 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("`{text}` is not an amount in minor units"));
    }
    let magnitude: i64 = digits
        .parse()
        .map_err(|_| format!("`{text}` is out of range"))?;
    Ok(Some(if negative { -magnitude } else { magnitude }))
}

/// A count (item count, records, accounts): digits.
pub(super) fn count_field(field: Option<&str>) -> Option<u64> {
    let text = field?;
    (!text.is_empty() && text.len() <= 18 && text.bytes().all(|b| b.is_ascii_digit()))
        .then(|| text.parse().ok())
        .flatten()
}

/// A currency field: empty means the default (`fallback`, else USD).
pub(super) fn currency(
    field: Option<&str>,
    fallback: Option<Currency>,
) -> Result<Currency, String> {
    match field.filter(|f| !f.is_empty()) {
        Some(code) => {
            Currency::parse(code).map_err(|_| format!("`{code}` is not an ISO 4217 currency"))
        }
        None => match fallback {
            Some(currency) => Ok(currency),
            None => Currency::parse(DEFAULT_CURRENCY).map_err(|e| e.to_string()),
        },
    }
}
