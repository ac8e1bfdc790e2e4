//! Parse throughput of a settlement report beside the csv crate's raw read of the same file.
//!
//! `cargo bench --bench settlement_parse -- FILE [FORMAT]` (FORMAT: stripe, the default,
//! braintree or adyen). Both reads run three times; the best of each is reported in MB/s with
//! the ratio recon / raw. bench/settlement.sh runs it on the 1M-row report it generates.

use std::time::{Duration, Instant};

use recon::settlement::{Format, parse_report};

fn best_of_three(mut read: impl FnMut() -> u64) -> (Duration, u64) {
    let mut best = Duration::MAX;
    let mut rows = 0;
    for _ in 0..3 {
        let started = Instant::now();
        rows = read();
        best = best.min(started.elapsed());
    }
    (best, rows)
}

fn main() {
    let mut args = std::env::args().skip(1).filter(|a| a != "--bench");
    let Some(path) = args.next() else {
        eprintln!("usage: cargo bench --bench settlement_parse -- FILE [stripe|braintree|adyen]");
        std::process::exit(2);
    };
    let format_name = args.next().unwrap_or_else(|| "stripe".to_string());
    let Some(format) = Format::builtin(&format_name) else {
        eprintln!("unknown format {format_name}");
        std::process::exit(2);
    };
    let bytes = match std::fs::read(&path) {
        Ok(bytes) => bytes,
        Err(e) => {
            eprintln!("{path}: {e}");
            std::process::exit(2);
        }
    };
    let mb = bytes.len() as f64 / 1e6;

    let (raw, raw_rows) = best_of_three(|| {
        let mut reader = csv::ReaderBuilder::new().from_reader(bytes.as_slice());
        let mut record = csv::ByteRecord::new();
        let mut rows = 0;
        while reader.read_byte_record(&mut record).unwrap_or(false) {
            rows += 1;
        }
        rows
    });
    let (parsed, parsed_rows) =
        best_of_three(|| match parse_report(&format, &path, bytes.as_slice()) {
            Ok(outcome) => outcome.rows_read,
            Err(e) => {
                eprintln!("{e}");
                std::process::exit(1);
            }
        });
    let rate = |d: Duration| mb / d.as_secs_f64();
    println!("file\t{path}\t{mb:.1} MB");
    println!(
        "csv raw read\t{raw_rows} rows\t{:.3} s\t{:.0} MB/s",
        raw.as_secs_f64(),
        rate(raw)
    );
    println!(
        "recon parse\t{parsed_rows} rows\t{:.3} s\t{:.0} MB/s",
        parsed.as_secs_f64(),
        rate(parsed)
    );
    println!(
        "ratio\trecon parse takes {:.2}x the raw read",
        parsed.as_secs_f64() / raw.as_secs_f64()
    );
}
