use super::*;
use crate::bank::calendar::BusinessCalendar;
use crate::money::Currency;
use crate::settlement::SourceLine;
use chrono::Weekday;

fn cur(code: &str) -> Currency {
    Currency::parse(code).expect("currency")
}

/// A December 2026 day. Christmas is Friday 25 and Boxing Day Saturday 26.
fn dec(d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 12, d).expect("date")
}

fn christmas() -> BusinessCalendar {
    BusinessCalendar::new(&[Weekday::Sat, Weekday::Sun], [dec(25), dec(26)]).expect("calendar")
}

fn rules() -> TraceRules {
    TraceRules {
        calendar: christmas(),
        ..TraceRules::default()
    }
}

fn payout(processor: &str, id: &str, amount: i64, initiated: u32, expected: Option<u32>) -> Payout {
    Payout {
        processor: processor.into(),
        payout_id: id.into(),
        amount_minor: amount,
        currency: cur("EUR"),
        initiated: dec(initiated),
        expected_arrival: expected.map(dec),
        references: vec![id.into()],
        source: SourceLine {
            path: format!("{processor}.csv").into(),
            line: 2,
        },
    }
}

fn credit(line: u64, amount: i64, booked: u32) -> BankEntry {
    BankEntry {
        account: "DE89370400440532013000".into(),
        amount_minor: amount,
        currency: cur("EUR"),
        direction: if amount < 0 {
            Direction::Debit
        } else {
            Direction::Credit
        },
        reversal: false,
        status: EntryStatus::Booked,
        booking_date: dec(booked),
        value_date: Some(dec(booked)),
        bank_ref: None,
        customer_ref: None,
        end_to_end_id: None,
        remittance: None,
        bank_tx_code: None,
        source: SourceLine {
            path: "statement.xml".into(),
            line,
        },
        pointer: None,
    }
}

fn traced(payouts: &[usize], entries: &[usize], rule: Rule) -> Traced {
    Traced {
        payouts: payouts.to_vec(),
        entries: entries.to_vec(),
        rule,
    }
}

/// Trace, and check the accounting line before returning.
fn run(payouts: &[Payout], entries: &[BankEntry], rules: &TraceRules, as_of: u32) -> Trace {
    let t = trace(payouts, entries, rules, dec(as_of));
    assert!(
        t.accounts_for_everything(payouts.len(), entries.len()),
        "{t:#?}"
    );
    t
}

#[test]
fn strong_references_end_to_end_id_and_remittance_pattern() {
    let mut adyen = payout("adyen", "42", 13_116, 22, None);
    adyen.references = vec!["TX4913578926XT".into()];
    let stripe = payout("stripe", "po_1OaBc", 9_700, 22, Some(23));
    let mut by_pattern = credit(10, 13_116, 23);
    by_pattern.remittance = Some("ADYEN BV PAYOUT TX4913578926XT BATCH 42 ACMEEU".into());
    let mut by_e2e = credit(20, 9_700, 30); // long after its window: a reference needs none
    by_e2e.end_to_end_id = Some(" po_1oabc ".into());
    let mut rules = rules();
    rules.remittance_patterns.insert(
        "adyen".into(),
        vec![RemittancePattern::new(r"ADYEN.*?(?P<ref>TX[0-9]{10}XT)").expect("pattern")],
    );
    let t = run(
        &[adyen.clone(), stripe.clone()],
        &[by_pattern.clone(), by_e2e.clone()],
        &rules,
        30,
    );
    assert_eq!(
        t,
        Trace {
            matched: vec![
                traced(&[0], &[0], Rule::Reference),
                traced(&[1], &[1], Rule::Reference)
            ],
            ..Trace::default()
        }
    );
    // without the pattern the remittance text names nothing, and the Adyen payout is found
    // by its amount and date instead
    let t = run(&[adyen, stripe], &[by_pattern, by_e2e], &self::rules(), 30);
    assert_eq!(
        t.matched,
        vec![
            traced(&[1], &[1], Rule::Reference),
            traced(&[0], &[0], Rule::AmountAndDate)
        ]
    );
}

#[test]
fn amount_and_date_over_a_weekend_and_a_holiday() {
    // initiated Wednesday 23, expected Thursday 24 December; one business day later is
    // Monday 28 (Christmas Friday, Boxing Day Saturday, Sunday)
    let p = payout("stripe", "po_1", 25_000, 23, Some(24));
    let monday = credit(10, 25_000, 28);
    let rules = TraceRules {
        window_business_days: 1,
        ..rules()
    };
    let t = run(
        std::slice::from_ref(&p),
        std::slice::from_ref(&monday),
        &rules,
        28,
    );
    assert_eq!(t.matched, vec![traced(&[0], &[0], Rule::AmountAndDate)]);
    assert_eq!(t.missing, vec![]);

    // with no holidays the window closes on Friday 25: Monday's deposit is outside it
    let plain = TraceRules {
        window_business_days: 1,
        ..TraceRules::default()
    };
    let t = run(&[p], &[monday], &plain, 28);
    assert_eq!(
        t,
        Trace {
            missing: vec![Unfound {
                payout: 0,
                due: dec(25)
            }],
            unexplained: vec![0],
            ..Trace::default()
        }
    );
}

#[test]
fn a_deposit_before_the_payout_was_initiated_is_outside_its_window() {
    let p = payout("stripe", "po_1", 25_000, 23, None);
    let early = credit(10, 25_000, 22);
    let t = run(&[p], &[early], &rules(), 23);
    assert_eq!(
        t.late,
        vec![Unfound {
            payout: 0,
            due: dec(28)
        }]
    );
    assert_eq!(t.unexplained, vec![0]);
}

#[test]
fn one_payout_in_two_deposits_and_two_payouts_in_one_deposit() {
    let payouts = [
        payout("stripe", "po_split", 10_000, 23, None),
        payout("adyen", "7", 3_000, 23, None),
        payout("adyen", "8", 4_500, 24, None),
    ];
    let entries = [
        credit(10, 6_000, 24),
        credit(11, 2_600, 24), // explains nothing: no combination with it makes a payout
        credit(12, 4_000, 28),
        credit(13, 7_500, 28), // adyen 7 + 8
    ];
    let t = run(&payouts, &entries, &rules(), 28);
    assert_eq!(
        t,
        Trace {
            matched: vec![
                traced(&[0], &[0, 2], Rule::SplitDeposit),
                traced(&[1, 2], &[3], Rule::CombinedPayouts)
            ],
            unexplained: vec![1],
            ..Trace::default()
        }
    );
}

#[test]
fn an_ambiguous_pair_is_only_a_suggestion() {
    let p = payout("stripe", "po_1", 5_000, 23, Some(24));
    let entries = [credit(10, 5_000, 24), credit(11, 5_000, 28)];
    let t = run(std::slice::from_ref(&p), &entries, &rules(), 28);
    assert_eq!(
        t,
        Trace {
            suggestions: vec![traced(&[0], &[0, 1], Rule::AmountAndDate)],
            late: vec![Unfound {
                payout: 0,
                due: dec(29)
            }],
            unexplained: vec![0, 1],
            ..Trace::default()
        }
    );
    // two payouts that both carry the reference one deposit names: a suggestion too
    let mut twin = p.clone();
    twin.payout_id = "po_2".into(); // references still ["po_1"]
    let mut named = credit(12, 5_000, 24);
    named.bank_ref = Some("PO_1".into());
    let t = run(&[p, twin], &[named], &rules(), 28);
    assert_eq!(
        t,
        Trace {
            suggestions: vec![traced(&[0, 1], &[0], Rule::Reference)],
            late: vec![
                Unfound {
                    payout: 0,
                    due: dec(29)
                },
                Unfound {
                    payout: 1,
                    due: dec(29)
                }
            ],
            unexplained: vec![0],
            ..Trace::default()
        }
    );
}

#[test]
fn a_deposit_short_by_a_bank_fee() {
    let p = payout("adyen", "TX4913578926XT", 10_000, 23, None);
    let mut short = credit(10, 9_975, 24);
    short.end_to_end_id = Some("TX4913578926XT".into());
    let fee_rule = AmountRule {
        class: DifferenceClass::BankFee,
        abs_minor: Some(50),
        percent_bps: None,
        base: ToleranceBase::PayoutAmount,
    };
    let rules = TraceRules {
        amount_rules: vec![fee_rule],
        ..rules()
    };
    let t = run(
        std::slice::from_ref(&p),
        std::slice::from_ref(&short),
        &rules,
        24,
    );
    assert_eq!(
        t,
        Trace {
            mismatched: vec![Mismatch {
                payout: 0,
                entry: 0,
                difference_minor: Some(25),
                class: Some(DifferenceClass::BankFee),
            }],
            ..Trace::default()
        }
    );
    // 1.00 short is beyond 0.50: unclassified; 0.25 over is no bank fee
    short.amount_minor = 9_900;
    assert_eq!(
        run(
            std::slice::from_ref(&p),
            std::slice::from_ref(&short),
            &rules,
            24
        )
        .mismatched[0]
            .class,
        None
    );
    short.amount_minor = 10_025;
    let over = run(&[p], &[short], &rules, 24);
    assert_eq!(over.mismatched[0].difference_minor, Some(-25));
    assert_eq!(over.mismatched[0].class, None);
}

#[test]
fn percentages_round_half_up_in_integers() {
    // 1.5 % of 333 JPY is 4.995 JPY: 5 JPY (JPY has no minor unit)
    assert_eq!(share_of(333, 150), 5);
    assert_eq!(share_of(300, 150), 5); // 4.5 → 5
    assert_eq!(share_of(350, 100), 4); // 3.5 → 4
    assert_eq!(share_of(4_999, 1), 0); // 0.4999 → 0
    assert_eq!(share_of(5_000, 1), 1); // 0.5 → 1
    assert_eq!(share_of(33_333, 150), 500); // 1.5 % of 333.33 EUR = 4.99995 EUR → 5.00
    assert_eq!(share_of(1_000, 0), 0);
    assert_eq!(share_of(i64::MAX, 10_000), i64::MAX);

    let fx = AmountRule {
        class: DifferenceClass::Fx,
        abs_minor: None,
        percent_bps: Some(150),
        base: ToleranceBase::PayoutAmount,
    };
    let mut p = payout("adyen", "REF1", 333, 23, None);
    p.currency = cur("JPY");
    let mut deposit = credit(10, 328, 24);
    deposit.currency = cur("JPY");
    deposit.bank_ref = Some("REF1".into());
    let rules = TraceRules {
        amount_rules: vec![fx],
        ..rules()
    };
    let five = run(
        std::slice::from_ref(&p),
        std::slice::from_ref(&deposit),
        &rules,
        24,
    );
    assert_eq!(five.mismatched[0].difference_minor, Some(5));
    assert_eq!(five.mismatched[0].class, Some(DifferenceClass::Fx));
    deposit.amount_minor = 327;
    let six = run(
        std::slice::from_ref(&p),
        std::slice::from_ref(&deposit),
        &rules,
        24,
    );
    assert_eq!(six.mismatched[0].class, None);
    // FX applies over as well as short
    deposit.amount_minor = 338;
    let over = run(&[p], &[deposit], &rules, 24);
    assert_eq!(over.mismatched[0].difference_minor, Some(-5));
    assert_eq!(over.mismatched[0].class, Some(DifferenceClass::Fx));
}

#[test]
fn late_inside_the_window_missing_past_it() {
    // expected Wednesday 23; two business days: Thursday 24, Monday 28
    let p = payout("stripe", "po_1", 1_000, 22, Some(23));
    let late = run(std::slice::from_ref(&p), &[], &rules(), 28);
    assert_eq!(
        late,
        Trace {
            late: vec![Unfound {
                payout: 0,
                due: dec(28)
            }],
            ..Trace::default()
        }
    );
    let missing = run(&[p], &[], &rules(), 29);
    assert_eq!(
        missing,
        Trace {
            missing: vec![Unfound {
                payout: 0,
                due: dec(28)
            }],
            ..Trace::default()
        }
    );
}

#[test]
fn unexplained_credits_and_debits_left_alone() {
    let mut pending = credit(12, 700, 24);
    pending.status = EntryStatus::Pending;
    let mut reversed_debit = credit(13, 300, 24);
    reversed_debit.reversal = true; // MT940 RD: a debit undone, money back, not a deposit
    let entries = [
        credit(10, 12_345, 24),
        credit(11, -500, 24),
        pending,
        reversed_debit,
    ];
    let t = run(&[], &entries, &rules(), 24);
    assert_eq!(
        t,
        Trace {
            unexplained: vec![0],
            not_deposits: vec![1, 2, 3],
            ..Trace::default()
        }
    );
}

#[test]
fn a_returned_deposit_does_not_carry_a_payout() {
    let p = payout("stripe", "po_1", 8_000, 23, Some(24));
    let mut deposit = credit(10, 8_000, 24);
    deposit.bank_ref = Some("B-100".into());
    deposit.end_to_end_id = Some("po_1".into());
    let other = credit(11, 8_000, 24); // same amount, not the one reversed
    let mut reversal = credit(12, -8_000, 28);
    reversal.reversal = true;
    reversal.bank_ref = Some("B-100".into());
    let t = run(
        std::slice::from_ref(&p),
        &[deposit.clone(), other.clone(), reversal.clone()],
        &rules(),
        28,
    );
    // the reversal names B-100: that credit went back; the other one is found by amount
    assert_eq!(
        t,
        Trace {
            matched: vec![traced(&[0], &[1], Rule::AmountAndDate)],
            returned: vec![Returned {
                credit: 0,
                reversal: 2
            }],
            ..Trace::default()
        }
    );
    // only the returned deposit: the payout is not matched to it, it stays late
    let t = run(
        std::slice::from_ref(&p),
        &[deposit, reversal.clone()],
        &rules(),
        28,
    );
    assert_eq!(
        t,
        Trace {
            returned: vec![Returned {
                credit: 0,
                reversal: 1
            }],
            late: vec![Unfound {
                payout: 0,
                due: dec(29)
            }],
            ..Trace::default()
        }
    );
    // a reversal of a credit not among the entries is reported
    let t = run(&[], &[reversal], &rules(), 28);
    assert_eq!(
        t,
        Trace {
            unpaired_reversals: vec![0],
            ..Trace::default()
        }
    );
}

#[test]
fn subset_sum_respects_k() {
    let p = payout("stripe", "po_1", 6_000, 23, None);
    let entries = [
        credit(10, 1_000, 24),
        credit(11, 2_000, 24),
        credit(12, 3_000, 24),
    ];
    let two = TraceRules {
        max_subset_items: 2,
        ..rules()
    };
    // 1_000 + 2_000 + 3_000 needs three items: not found with k = 2
    let t = run(std::slice::from_ref(&p), &entries, &two, 24);
    assert_eq!(t.matched, vec![]);
    assert_eq!(
        t.late,
        vec![Unfound {
            payout: 0,
            due: dec(28)
        }]
    );
    assert_eq!(t.unexplained, vec![0, 1, 2]);
    let three = TraceRules {
        max_subset_items: 3,
        ..rules()
    };
    let t = run(&[p], &entries, &three, 24);
    assert_eq!(
        t.matched,
        vec![traced(&[0], &[0, 1, 2], Rule::SplitDeposit)]
    );

    assert_eq!(
        subsets_summing_to(&[10, 20, 30, 40], 60, 2, 1_000).combinations,
        vec![vec![1, 3]]
    );
    assert_eq!(
        subsets_summing_to(&[10, 20, 30, 40], 60, 3, 1_000).combinations,
        vec![vec![0, 1, 2], vec![1, 3]]
    );
    // a single item is never a combination, nor are amounts that are not positive
    assert_eq!(
        subsets_summing_to(&[60, 0, -5, 65], 60, 4, 1_000).combinations,
        Vec::<Vec<usize>>::new()
    );
}

/// 200 candidates: the work is bounded by the step bound whatever the amounts. Even amounts
/// never sum to an odd target, so the search would walk every combination of up to four of
/// them (C(200,4) ≈ 6.5·10⁷) without the bound; it stops at exactly the bound, finds nothing,
/// and says it was cut.
#[test]
fn subset_search_work_is_bounded() {
    let amounts: Vec<i64> = (1..=200).map(|i| i * 2).collect();
    let search = subsets_summing_to(&amounts, 401, 4, 5_000);
    assert_eq!(
        search,
        SubsetSearch {
            combinations: vec![],
            steps: 5_000,
            cut: true
        }
    );
    // reachable targets stop at the second combination found
    let search = subsets_summing_to(&amounts, 6, 4, 5_000);
    assert_eq!(search.combinations, vec![vec![0, 1]]); // 2 + 4; nothing else makes 6
    assert!(!search.cut);
    let search = subsets_summing_to(&amounts, 400, 4, 100_000);
    assert_eq!(search.combinations.len(), 2);
    assert!(search.steps < 100_000, "{}", search.steps);

    // through the trace: 200 candidate deposits, one payout no combination makes
    let p = payout("stripe", "po_1", 401, 23, None);
    let entries: Vec<BankEntry> = amounts
        .iter()
        .enumerate()
        .map(|(i, &a)| credit(10 + i as u64, a, 24))
        .collect();
    let rules = TraceRules {
        max_subset_steps: 5_000,
        ..rules()
    };
    let t = run(&[p], &entries, &rules, 24);
    assert_eq!(t.matched, vec![]);
    // the payout's 1:N search is cut; no deposit is above 401, so no N:1 search has a
    // candidate
    assert_eq!(t.searches_cut, 1);
    assert_eq!(t.late.len(), 1);
    assert_eq!(t.unexplained.len(), 200);
}

#[test]
fn rules_deserialize_from_a_check_table() {
    let rules: TraceRules = toml::from_str(
        r#"
window_business_days = 3
max_subset_items = 5
calendar = { holidays = ["2026-12-25", "2026-12-26"] }
remittance_patterns = { adyen = ["Adyen.*?(?P<ref>[A-Z0-9]{10,})"] }
amount_rules = [
  { class = "bank_fee", abs_minor = 50, base = "payout_amount" },
  { class = "fx", percent_bps = 150, base = "deposit_amount" },
]
"#,
    )
    .expect("rules");
    assert_eq!(rules.window_business_days, 3);
    assert_eq!(rules.max_subset_items, 5);
    assert_eq!(rules.max_subset_candidates, 200);
    assert_eq!(rules.calendar, christmas());
    assert_eq!(
        rules.amount_rules,
        vec![
            AmountRule {
                class: DifferenceClass::BankFee,
                abs_minor: Some(50),
                percent_bps: None,
                base: ToleranceBase::PayoutAmount,
            },
            AmountRule {
                class: DifferenceClass::Fx,
                abs_minor: None,
                percent_bps: Some(150),
                base: ToleranceBase::DepositAmount,
            },
        ]
    );
    let pattern = &rules.remittance_patterns["adyen"][0];
    assert_eq!(
        pattern
            .captures("Adyen BV payout TX4913578926XT")
            .collect::<Vec<_>>(),
        vec!["TX4913578926XT"]
    );
    let bad = toml::from_str::<TraceRules>(r#"remittance_patterns = { adyen = ["(unclosed"] }"#)
        .expect_err("bad pattern");
    assert!(
        bad.to_string().contains("remittance pattern \"(unclosed\""),
        "{bad}"
    );
    assert!(toml::from_str::<TraceRules>("window_days = 2").is_err());
    assert!(
        toml::from_str::<TraceRules>(r#"amount_rules = [{ class = "bank_fee", abs_minor = 5 }]"#)
            .is_err(),
        "the base is explicit"
    );
}

#[test]
fn components_join_what_shares_a_payout_or_an_entry() {
    let edges = [(2, 2), (1, 1), (0, 0), (1, 0), (3, 1)];
    assert_eq!(
        components(&edges, 4),
        vec![(vec![0, 1, 3], vec![0, 1]), (vec![2], vec![2])]
    );
    assert_eq!(components(&[], 4), vec![]);
}
