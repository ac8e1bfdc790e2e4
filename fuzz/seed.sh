#!/usr/bin/env bash
# Seeds each fuzz target's corpus (fuzz/corpus/<target>/, not committed) from the test fixtures,
# the example configurations and the small hand-made seeds in fuzz/seeds/. A report target's
# first input byte picks its option set (see fuzz/src/lib.rs), so each report is seeded under
# every option set. Idempotent: `make fuzz` runs it before fuzzing.
set -euo pipefail
cd "$(dirname "$0")"
fixtures=../tests/fixtures

# seed TARGET OPTION_SETS FILE…: each file under each option byte 0..OPTION_SETS-1.
seed() {
    local target=$1 sets=$2
    shift 2
    mkdir -p "corpus/$target"
    local file pick
    for file in "$@"; do
        for ((pick = 0; pick < sets; pick++)); do
            { printf "\\x$(printf %02x "$pick")"; cat "$file"; } >"corpus/$target/seed-$pick-$(basename "$file")"
        done
    done
}

# plain TARGET FILE…: the files as they are.
plain() {
    local target=$1
    shift
    mkdir -p "corpus/$target"
    local file
    for file in "$@"; do
        cp "$file" "corpus/$target/seed-$(basename "$file")"
    done
}

seed stripe 4 "$fixtures"/processors/stripe/*.csv seeds/stripe/*
seed braintree 2 "$fixtures"/processors/braintree/transaction_search.csv
seed braintree_summary 2 "$fixtures"/processors/braintree/settlement_batch_summary.csv seeds/braintree_summary/*
seed adyen 3 "$fixtures"/processors/adyen/*.csv
seed mapped 3 "$fixtures"/bank/*.csv seeds/mapped/*
seed camt 2 "$fixtures"/bank/camt*.xml seeds/camt/*
plain where_filter seeds/where_filter/*
plain mt940 "$fixtures"/bank/mt940/* seeds/mt940/*
plain bai2 "$fixtures"/bank/bai2/* seeds/bai2/*
plain plaid seeds/plaid/*
plain gocardless seeds/gocardless/*
plain config ../config/*.toml
# a configuration with a mapped format: the demo's plus the bank statement mapping
{
    # URLs in the file, not from the (empty) environment, so validation goes past them
    sed -e 's|^url_env = "\(.*\)"|url = "sqlite://\1.db"|' ../config/demo.toml
    printf '\n[formats.bank_statement]\n'
    sed -e 's/^\[\(.*\)\]$/[formats.bank_statement.\1]/' ../config/formats/bank-statement.toml
} >corpus/config/seed-demo-with-mapping.toml
