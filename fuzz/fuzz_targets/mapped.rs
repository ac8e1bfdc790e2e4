//! Mapped CSV: the README's bank statement mapping (Windows-1252, preamble found, footer, debit and credit columns), a debit/credit indicator mapping and a signed one with fixed currency and skipped lines.
#![no_main]

use std::sync::LazyLock;

use libfuzzer_sys::fuzz_target;
use recon_fuzz::Formats;

const INDICATOR: &str = r#"
delimiter = ";"
decimal_separator = ","
datetime_format = "%d.%m.%Y %H:%M:%S"
available_at_format = "%d.%m.%Y"
time_zone = "Europe/Berlin"
max_record_lines = 3

[columns]
record_id = "Transaktions-ID"
created_at = "Datum"
kind = "Typ"
gross = "Betrag"
fee = "Gebühr"
currency = "Währung"
available_at = "Valuta"
payout_id = "Auszahlung"
reference = "Bestellnummer"

[amounts]
style = "debit_credit"
indicator_column = "S/H"
debit_values = ["S"]
credit_values = ["H"]

[kinds]
"Zahlung" = "charge"
"Erstattung" = "refund"
"Auszahlung" = "payout"
"#;

const SIGNED: &str = r#"
delimiter = "\t"
encoding = "iso-8859-1"
skip_lines = 2
datetime_format = "%Y-%m-%dT%H:%M:%S%z"
currency = "JPY"
fees_are_negative = true
default_kind = "charge"
footer_starts_with = ["Total"]

[columns]
record_id = "id"
created_at = "at"
gross = "gross"
fee = "fee"
net = "net"
"#;

static FORMATS: LazyLock<Formats> = LazyLock::new(|| {
    Formats::new(
        "fuzzpay",
        &[
            include_str!("../../config/formats/bank-statement.toml"),
            INDICATOR,
            SIGNED,
        ],
    )
});

fuzz_target!(|data: &[u8]| FORMATS.parse(data));
