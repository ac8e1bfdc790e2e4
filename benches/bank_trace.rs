//! The bank leg at scale: a camt.053 file parsed beside quick-xml's bare read of it, then its
//! payouts traced against its entries, the outcome checked against what was planted.
//!
//! `cargo bench --bench bank_trace -- DIR`, DIR written by `bench/bank_gen.py N DIR`
//! (camt053.xml, payouts.tsv, planted.txt). Both reads run three times and the best of each is
//! reported in MB/s with the ratio recon / floor; the floor reads every XML event and touches
//! each text's bytes, nothing more. The trace runs three times too (best reported). Any count
//! that differs from planted.txt fails the bench (exit 1). bench/bank.sh runs it at 1M entries.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::BufReader;
use std::process::exit;
use std::time::{Duration, Instant};

use chrono::NaiveDate;
use quick_xml::Reader;
use quick_xml::events::Event;
use recon::bank::bench_door::{self, Payouts, Statements, Traced};

/// The rules of the traced check: the remittance pattern of Stripe payout ids, a bank fee of
/// up to 0.50 taken off a deposit.
const RULES: &str = r#"
window_business_days = 2
remittance_patterns = { stripe = ["po_[0-9A-Za-z]+"] }
amount_rules = [{ class = "bank_fee", abs_minor = 50, base = "payout_amount" }]
"#;

fn fail(why: impl std::fmt::Display) -> ! {
    eprintln!("bank bench failed: {why}");
    exit(1)
}

/// Runs `work` three times; the best time and the last result.
fn best_of_three<T>(mut work: impl FnMut() -> T) -> (Duration, T) {
    let mut best = Duration::MAX;
    let mut last = None;
    for _ in 0..3 {
        drop(last.take()); // the previous result freed before the next is built
        let started = Instant::now();
        let result = work();
        best = best.min(started.elapsed());
        last = Some(result);
    }
    match last {
        Some(result) => (best, result),
        None => fail("no run"),
    }
}

/// The floor: every event of the file read, each text's bytes touched (summed), nothing kept.
fn floor_read(path: &str) -> (u64, u64) {
    let file = File::open(path).unwrap_or_else(|e| fail(format!("{path}: {e}")));
    let mut xml = Reader::from_reader(BufReader::new(file));
    let mut buffer = Vec::new();
    let (mut events, mut touched) = (0u64, 0u64);
    loop {
        buffer.clear();
        match xml.read_event_into(&mut buffer) {
            Ok(Event::Eof) => break,
            Ok(Event::Text(text)) => {
                touched = touched.wrapping_add(text.bytes().map(u64::from).sum::<u64>());
                events += 1;
            }
            Ok(_) => events += 1,
            Err(e) => fail(format!("{path}: {e}")),
        }
    }
    (events, std::hint::black_box(touched))
}

/// The process's peak resident set so far (Linux `VmHWM`), in MB; `-` where it cannot be read.
fn peak_mb() -> String {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|kb| kb.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        })
        .map_or("-".to_string(), |kb| (kb / 1024).to_string())
}

fn planted(path: &str) -> BTreeMap<String, u64> {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| fail(format!("{path}: {e}")));
    text.lines()
        .map(|line| match line.split_once(' ') {
            Some((name, n)) => match n.parse() {
                Ok(n) => (name.to_string(), n),
                Err(e) => fail(format!("{path}: {line}: {e}")),
            },
            None => fail(format!("{path}: {line}")),
        })
        .collect()
}

fn payouts(path: &str) -> Payouts {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| fail(format!("{path}: {e}")));
    let mut payouts = Payouts::new("stripe", path);
    for (i, line) in text.lines().enumerate() {
        let line_no = i as u64 + 1;
        let fields: Vec<&str> = line.split('\t').collect();
        let &[id, amount, currency, initiated] = fields.as_slice() else {
            fail(format!("{path}:{line_no}: not 4 fields"))
        };
        let amount = amount
            .parse()
            .unwrap_or_else(|e| fail(format!("{path}:{line_no}: {e}")));
        let initiated = NaiveDate::parse_from_str(initiated, "%Y-%m-%d")
            .unwrap_or_else(|e| fail(format!("{path}:{line_no}: {e}")));
        payouts
            .push(line_no, id, amount, currency, initiated)
            .unwrap_or_else(|e| fail(format!("{path}: {e}")));
    }
    payouts
}

/// The outcome's counts by the names planted.txt uses.
fn counts(statements: (u64, u64), payouts: usize, t: &Traced) -> BTreeMap<String, u64> {
    let n = |v: usize| v as u64;
    [
        ("entries_kept", statements.0),
        ("quarantined", statements.1),
        ("payouts", n(payouts)),
        ("matched_by_reference", n(t.matched_by_reference)),
        (
            "matched_by_amount_and_date",
            n(t.matched_by_amount_and_date),
        ),
        ("mismatched_bank_fee", n(t.mismatched_bank_fee)),
        ("mismatched_other", n(t.mismatched_other)),
        ("suggestions", n(t.suggestions)),
        ("late", n(t.late)),
        ("missing", n(t.missing)),
        ("unexplained", n(t.unexplained)),
        ("not_deposits", n(t.not_deposits)),
        ("returned", n(t.returned)),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect()
}

fn main() {
    let mut args = std::env::args().skip(1).filter(|a| a != "--bench");
    let Some(dir) = args.next() else {
        eprintln!("usage: cargo bench --bench bank_trace -- DIR (written by bench/bank_gen.py)");
        exit(2);
    };
    let camt = format!("{dir}/camt053.xml");
    let mb = match std::fs::metadata(&camt) {
        Ok(m) => m.len() as f64 / 1e6,
        Err(e) => fail(format!("{camt}: {e}")),
    };
    let planted = planted(&format!("{dir}/planted.txt"));

    let (floor, (events, _)) = best_of_three(|| floor_read(&camt));
    let (parse, statements): (Duration, Statements) =
        best_of_three(|| bench_door::parse_camt_file(&camt).unwrap_or_else(|e| fail(e)));
    if !statements.accounted() {
        fail("the parse does not account for every entry read");
    }
    let read = (
        statements.entries_read(),
        statements.entries_kept(),
        statements.quarantined(),
    );
    let peak_parsed = peak_mb();
    let entries = statements.into_entries();
    let payouts = payouts(&format!("{dir}/payouts.tsv"));
    let peak_payouts = peak_mb();
    let as_of = NaiveDate::from_ymd_opt(2026, 11, 30).unwrap_or_else(|| fail("as of"));
    let (trace, traced) = best_of_three(|| {
        bench_door::trace_payouts(&payouts, &entries, RULES, as_of).unwrap_or_else(|e| fail(e))
    });

    let peak_traced = peak_mb();

    let rate = |d: Duration| mb / d.as_secs_f64();
    println!("file\t{camt}\t{mb:.1} MB");
    println!(
        "quick-xml floor\t{events} events\t{:.3} s\t{:.0} MB/s",
        floor.as_secs_f64(),
        rate(floor)
    );
    println!(
        "recon camt parse\t{} entries read = {} kept + {} quarantined\t{:.3} s\t{:.0} MB/s",
        read.0,
        read.1,
        read.2,
        parse.as_secs_f64(),
        rate(parse)
    );
    println!(
        "ratio\trecon parse takes {:.2}x the floor",
        parse.as_secs_f64() / floor.as_secs_f64()
    );
    println!(
        "trace\t{} payouts x {} entries\t{:.3} s (best of 3)\taccounts for everything: {}",
        payouts.len(),
        entries.len(),
        trace.as_secs_f64(),
        traced.accounted
    );
    println!(
        "peak RSS so far\tparsed {peak_parsed} MB\t+ payouts read {peak_payouts} MB\t+ traced {peak_traced} MB"
    );
    let got = counts((read.1, read.2), payouts.len(), &traced);
    let mut wrong = Vec::new();
    for (name, &want) in &planted {
        let have = got.get(name).copied();
        println!("  {name}\tplanted {want}\tfound {}", have.unwrap_or(0));
        if have != Some(want) {
            wrong.push(name.as_str());
        }
    }
    if let Some(name) = got.keys().find(|k| !planted.contains_key(*k)) {
        wrong.push(name.as_str());
    }
    if traced.matched_by_subset_sum != 0 || traced.unpaired_reversals != 0 {
        wrong.push("subset sums or unpaired reversals");
    }
    if !traced.accounted {
        wrong.push("accounts for everything");
    }
    if !wrong.is_empty() {
        fail(format!("not what was planted: {}", wrong.join(", ")));
    }
    println!("outcome\tevery count as planted");
}
