#!/usr/bin/env bash
# bench/settlement.sh — one processor report of BENCH_ROWS lines (default 1,000,000) matched
# against a ledger table of as many rows on PostgreSQL, end to end, beside its floors.
#
# Called by `make bench` (after the release build). It:
#   1. generates a Stripe balance report (bench/out/stripe-2026-11-20.csv) with awk and loads the
#      ledger table card_payments into its own PostgreSQL database recon_bench_settle (dropped on
#      exit unless BENCH_KEEP=1), from the same integer formulas, with planted problems: every
#      100,000th line's gross one cent more (amount_mismatch), 5 report lines with no ledger
#      row (missing_in_ledger), 5 ledger rows with no report line (timing);
#   2. times `recon run` of a settlement-only configuration (wall clock, peak RSS via
#      /usr/bin/time -v), BENCH_REPEAT times, and checks the accounting line it prints;
#   3. prints the floors in the same run: `psql \copy` of the ledger table to /dev/null (reading
#      the ledger side) in id order, and in no order (the day's rows, with the day's margin, as
#      recon asks for them), and the csv crate's raw read of the report beside recon's parser
#      (benches/settlement_parse.rs, MB/s); the peak RSS is recon's (settlement memory_mb at its
#      default, 128);
#   4. writes the table to bench/results/settlement-<UTC date>.txt (-<N>rows when not 1M);
#   4b. encryption at rest, in the same run: the report fetched over HTTP from a local server
#      (report_url, so it is kept under downloads/) and matched, BENCH_REPEAT times each way,
#      alternating: without a data key (kept in clear) and with RECON_DATA_KEY (kept AES-256-GCM,
#      read back decrypting, discrepancy values encrypted in the store); the medians and their
#      ratio, to bench/results/settlement-at-rest-<UTC date>.txt;
#   5. the ledger pushdown case: a ledger of BENCH_PUSHDOWN_ROWS rows (default 1,000,000) over ten
#      days, 2026-11-11 to 11-20, and the report of the 20th (a tenth of them), all matching:
#      `recon run` of the 20th (the day's rows read), beside RECON_BEFORE (a recon built before
#      the pushdown, which reads the whole table) when given, and the `psql \copy` of the whole
#      table and of the day; to bench/results/settlement-pushdown-<UTC date>.txt.
# Knobs: BENCH_ROWS, BENCH_REPEAT (3), BENCH_KEEP, BENCH_DB (recon_bench_settle, the database), RECON (the binary), PGHOST/PGPORT/PGUSER,
#        BENCH_PUSHDOWN_ROWS, RECON_BEFORE, BENCH_ONLY=pushdown (step 5 alone),
#        BENCH_ONLY=at-rest (steps 1 and 4b alone), BENCH_ONLY=main (steps 1 to 4 alone).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/.." && pwd)
ROWS=${BENCH_ROWS:-1000000}
REPEAT=${BENCH_REPEAT:-3}
KEEP=${BENCH_KEEP:-0}
RECON=${RECON:-${CARGO_TARGET_DIR:-$root/target}/release/recon}
export PGHOST=${PGHOST:-127.0.0.1} PGPORT=${PGPORT:-5432} PGUSER=${PGUSER:-postgres}
DB=${BENCH_DB:-recon_bench_settle}
out=$here/out/settlement
mkdir -p "$out" "$here/results"
command -v /usr/bin/time >/dev/null || { [ "$(id -u)" = 0 ] && apt-get install -y -qq time >/dev/null; }

cleanup() { [ "$KEEP" = 1 ] || psql -q -d postgres -c "DROP DATABASE IF EXISTS $DB WITH (FORCE)" -c "DROP DATABASE IF EXISTS ${DB}_pushdown WITH (FORCE)" >/dev/null; }
trap cleanup EXIT

median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

# floor_of DB QUERY: the median seconds of REPEAT `psql \copy (QUERY) TO /dev/null` on DB.
floor_of() {
  local times=() start end
  for r in $(seq "$REPEAT"); do
    start=$(date +%s.%N)
    psql -q -d "$1" -c "\\copy ($2) TO '/dev/null'"
    end=$(date +%s.%N)
    times+=("$(echo "$end - $start" | bc)")
  done
  printf '%s\n' "${times[@]}" | median
}

# Step 5: ten days of ledger, the report of the last; the day's rows read, or the whole table.
pushdown_case() {
  local rows=${BENCH_PUSHDOWN_ROWS:-1000000} db=${DB}_pushdown dir=$out/pushdown
  local per_day=$((rows / 10))
  mkdir -p "$dir"
  echo "pushdown: a ledger of $rows rows over ten days, the report of the last ($per_day lines)…"
  awk -v n="$rows" -v d="$per_day" 'BEGIN {
    print "balance_transaction_id,created_utc,currency,gross,fee,net,reporting_category,source_id,automatic_payout_id";
    for (i = n - d + 1; i <= n; i++) {
      amount = (i * 7919) % 100000 + 100; fee = int(amount * 29 / 1000) + 30;
      s = int(((i - 1) % d) * 86400 / d);
      printf "txn_%d,2026-11-20 %02d:%02d:%02d,usd,%d.%02d,%d.%02d,%d.%02d,charge,ch_%d,\n",
        i, s / 3600, (s % 3600) / 60, s % 60, amount / 100, amount % 100, fee / 100, fee % 100,
        (amount - fee) / 100, (amount - fee) % 100, i
    }
  }' > "$dir/stripe-2026-11-20.csv"
  psql -q -d postgres -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" -c "CREATE DATABASE $db" >/dev/null
  psql -q -v ON_ERROR_STOP=1 -d "$db" >/dev/null <<SQL
CREATE TABLE card_payments (id text PRIMARY KEY, amount_minor bigint NOT NULL, currency text NOT NULL,
                            status text NOT NULL, fee_minor bigint, created_at timestamptz NOT NULL);
INSERT INTO card_payments
SELECT 'ch_' || i, (i * 7919) % 100000 + 100, 'USD', 'settled', ((i * 7919) % 100000 + 100) * 29 / 1000 + 30,
       '2026-11-11 00:00:00+00'::timestamptz + ((i - 1) / $per_day) * interval '1 day'
         + (((i - 1) % $per_day) * 86400 / $per_day) * interval '1 second'
FROM generate_series(1::bigint, $rows) i;
CREATE INDEX card_payments_by_created_at ON card_payments (created_at);
ANALYZE card_payments;
SQL
  sed -e "s#report = .*#report = \"$dir/stripe-2026-11-20.csv\"#" "$out/recon.toml" > "$dir/recon.toml"
  # A report in the configuration's folder is named relative to it.
  local expected="stripe-2026-11-20.csv: $per_day rows = $per_day matched + 0 in discrepancies + 0 quarantined; ledger card_payments: $per_day rows = $per_day matched + 0 in discrepancies + 0 not expected + 0 set aside"
  # time_recon BINARY: the median wall clock of REPEAT runs of the 20th (and the peak RSS, MB).
  time_recon() {
    local times=() rss=0 kb got
    for r in $(seq "$REPEAT"); do
      rm -rf "$dir/store.db"* "$dir/run"
      local start end
      start=$(date +%s.%N)
      BENCH_STORE_URL="sqlite://$dir/store.db" BENCH_LEDGER_URL="postgres://$PGUSER@$PGHOST:$PGPORT/$db" \
        RUST_LOG=warn /usr/bin/time -v -o "$dir/run.time" \
        "$1" run --config "$dir/recon.toml" --date 2026-11-20 --out "$dir/run" >"$dir/run.out" 2>&1 || true
      end=$(date +%s.%N)
      got=$(jq -r '.checks[0].accounting' "$dir/run/summary.json")
      if [ "$got" != "$expected" ]; then
        printf 'bench failed (%s): accounting was\n  %s\nexpected\n  %s\n' "$1" "$got" "$expected" >&2; exit 1
      fi
      times+=("$(echo "$end - $start" | bc)")
      kb=$(awk -F': ' '/Maximum resident/ {print $2}' "$dir/run.time")
      [ "$kb" -gt "$rss" ] && rss=$kb
    done
    echo "$(printf '%s\n' "${times[@]}" | median) $((rss / 1024))"
  }
  local after before="" whole day
  after=$(time_recon "$RECON")
  [ -n "${RECON_BEFORE:-}" ] && before=$(time_recon "$RECON_BEFORE")
  whole=$(floor_of "$db" "SELECT * FROM card_payments ORDER BY id COLLATE \"C\"")
  day=$(floor_of "$db" "SELECT * FROM card_payments WHERE created_at >= '2026-11-20' AND created_at < '2026-11-21' ORDER BY id COLLATE \"C\"")
  {
    echo "settlement ledger pushdown · $(date -u +%Y-%m-%d) · $per_day report lines vs a ledger of $rows rows over 10 days (PostgreSQL) · $(nproc) cores"
    printf '%-48s %10s %12s\n' run seconds "peak RSS MB"
    printf '%-48s %10.2f %12d\n' "recon run, the day's rows read (median of $REPEAT)" ${after}
    if [ -n "$before" ]; then
      printf '%-48s %10.2f %12d\n' "recon run, the whole table read (RECON_BEFORE)" ${before}
      printf 'ratio whole-table read / pushed-down read: %.2f\n' "$(echo "${before%% *} / ${after%% *}" | bc -l)"
    fi
    printf '%-48s %10.2f %12s\n' "floor: psql \\copy of the whole table" "$whole" "-"
    printf '%-48s %10.2f %12s\n' "floor: psql \\copy of the day" "$day" "-"
  } | tee "$here/results/settlement-pushdown-$(date -u +%Y-%m-%d).txt"
}

report=$out/stripe-2026-11-20.csv
write_config() {
  cat > "$out/recon.toml" <<TOML
[store]
url_env = "BENCH_STORE_URL"
[sources.ledger]
url_env = "BENCH_LEDGER_URL"
[[settlement]]
name = "bench"
format = "stripe"
report = "$report"
ledger = { source = "ledger", table = "card_payments", id = "id", amount = "amount_minor", currency = "currency", at = "created_at", status = "status", fee = "fee_minor" }
match_on = "reference"
settled_statuses = ["settled"]
TOML
}
# Step 4b: the same report downloaded and kept, in clear and encrypted at rest.
at_rest_case() {
  local dir=$out/at-rest port key off=() on=() server
  mkdir -p "$dir"
  port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  python3 -m http.server "$port" --bind 127.0.0.1 --directory "$out" >/dev/null 2>&1 &
  server=$!
  trap "kill $server 2>/dev/null; cleanup" EXIT
  for _ in $(seq 50); do curl -fsI "http://127.0.0.1:$port/$(basename "$report")" >/dev/null 2>&1 && break; sleep 0.1; done
  sed -e "s#^report = .*#report_url = \"http://127.0.0.1:$port/$(basename "$report")\"#" "$out/recon.toml" > "$dir/recon.toml"
  key="bench:$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')"
  # The download is named by its URL's last part, not the configuration's folder.
  local expected_dl="http://127.0.0.1:$port/$(basename "$report"): ${expected#*: }"
  # one_run KEY: seconds of one `recon run` (RECON_DATA_KEY=KEY when not empty).
  one_run() {
    rm -rf "$dir/store.db"* "$dir/run"
    local start end got
    start=$(date +%s.%N)
    BENCH_STORE_URL="sqlite://$dir/store.db" BENCH_LEDGER_URL="postgres://$PGUSER@$PGHOST:$PGPORT/$DB" \
      RECON_DATA_KEY="$1" RUST_LOG=warn "$RECON" run --config "$dir/recon.toml" --date 2026-11-20 --out "$dir/run" \
      >"$dir/run.out" 2>&1 || true
    end=$(date +%s.%N)
    got=$(jq -r '.checks[0].accounting' "$dir/run/summary.json")
    if [ "$got" != "$expected_dl" ]; then
      printf 'bench failed (at rest, key %s): accounting was\n  %s\nexpected\n  %s\n' "${1:+set}" "$got" "$expected_dl" >&2; exit 1
    fi
    local kept=$dir/run/downloads/2026-11-20-bench-$(basename "$report")
    if [ -n "$1" ] && [ "$(head -c 8 "$kept")" != "RCNAES1" ]; then echo "bench failed: $kept is not encrypted" >&2; exit 1; fi
    if [ -z "$1" ] && ! cmp -s "$kept" "$report"; then echo "bench failed: $kept is not the report" >&2; exit 1; fi
    echo "$end - $start" | bc
  }
  for r in $(seq "$REPEAT"); do
    local t
    t=$(one_run ""); off+=("$t")
    t=$(one_run "$key"); on+=("$t")
  done
  kill $server 2>/dev/null || true
  local off_s on_s
  off_s=$(printf '%s\n' "${off[@]}" | median)
  on_s=$(printf '%s\n' "${on[@]}" | median)
  {
    echo "settlement at rest · $(date -u +%Y-%m-%d) · $ROWS report lines downloaded over HTTP and kept, vs $ROWS ledger rows (PostgreSQL) · $(nproc) cores"
    printf '%-48s %10s\n' run seconds
    printf '%-48s %10.2f\n' "no data key: kept in clear (median of $REPEAT)" "$off_s"
    printf '%-48s %10.2f\n' "RECON_DATA_KEY: kept AES-256-GCM (median of $REPEAT)" "$on_s"
    printf 'ratio encrypted / clear: %.3f (runs alternated; all: clear %s, encrypted %s)\n' \
      "$(echo "$on_s / $off_s" | bc -l)" "${off[*]}" "${on[*]}"
  } | tee "$here/results/settlement-at-rest-$(date -u +%Y-%m-%d)$([ "$ROWS" = 1000000 ] || echo "-${ROWS}rows").txt"
}

if [ "${BENCH_ONLY:-}" = pushdown ]; then write_config; pushdown_case; exit 0; fi

echo "generating a $ROWS-line report and ledger…"
awk -v n="$ROWS" 'BEGIN {
  print "balance_transaction_id,created_utc,currency,gross,fee,net,reporting_category,source_id,automatic_payout_id";
  for (i = 1; i <= n + 5; i++) {
    if (i > 5 && i <= 10) continue;                      # in flight: ledger only
    amount = (i * 7919) % 100000 + 100; fee = int(amount * 29 / 1000) + 30;
    id = (i > n) ? "ch_stray_" i : "ch_" i;              # 5 strays: report only
    gross = amount + (i % 100000 == 0 ? 1 : 0);
    s = int((i % n) * 86400 / n);
    printf "txn_%d,2026-11-20 %02d:%02d:%02d,usd,%d.%02d,%d.%02d,%d.%02d,charge,%s,\n",
      i, s / 3600, (s % 3600) / 60, s % 60, gross / 100, gross % 100, fee / 100, fee % 100,
      (gross - fee) / 100, (gross - fee) % 100, id
  }
}' > "$report"
psql -q -d postgres -c "DROP DATABASE IF EXISTS $DB WITH (FORCE)" -c "CREATE DATABASE $DB" >/dev/null
psql -q -v ON_ERROR_STOP=1 -d "$DB" >/dev/null <<SQL
CREATE TABLE card_payments (id text PRIMARY KEY, amount_minor bigint NOT NULL, currency text NOT NULL,
                            status text NOT NULL, fee_minor bigint, created_at timestamptz NOT NULL);
INSERT INTO card_payments
SELECT 'ch_' || i, (i * 7919) % 100000 + 100, 'USD', 'settled', ((i * 7919) % 100000 + 100) * 29 / 1000 + 30,
       '2026-11-20 00:00:00+00'::timestamptz + ((i % $ROWS) * 86400 / $ROWS) * interval '1 second'
FROM generate_series(1::bigint, $ROWS) i;
ANALYZE card_payments;
SQL

write_config
mismatches=$((ROWS / 100000))
expected="$(basename "$report"): $ROWS rows = $((ROWS - 5 - mismatches)) matched + $((mismatches + 5)) in discrepancies + 0 quarantined; ledger card_payments: $ROWS rows = $((ROWS - 5 - mismatches)) matched + $((mismatches + 5)) in discrepancies + 0 not expected + 0 set aside"
if [ "${BENCH_ONLY:-}" = at-rest ]; then at_rest_case; exit 0; fi

runs=()
rss=0
for r in $(seq "$REPEAT"); do
  rm -rf "$out/store.db"* "$out/run"
  start=$(date +%s.%N)
  BENCH_STORE_URL="sqlite://$out/store.db" BENCH_LEDGER_URL="postgres://$PGUSER@$PGHOST:$PGPORT/$DB" \
    RUST_LOG=warn /usr/bin/time -v -o "$out/run.$r.time" \
    "$RECON" run --config "$out/recon.toml" --date 2026-11-20 --out "$out/run" >"$out/run.$r.out" 2>&1 || true
  end=$(date +%s.%N)
  got=$(jq -r '.checks[0].accounting' "$out/run/summary.json")
  if [ "$got" != "$expected" ]; then
    printf 'bench failed: accounting was\n  %s\nexpected\n  %s\n' "$got" "$expected" >&2; exit 1
  fi
  runs+=("$(echo "$end - $start" | bc)")
  kb=$(awk -F': ' '/Maximum resident/ {print $2}' "$out/run.$r.time")
  [ "$kb" -gt "$rss" ] && rss=$kb
done
recon_s=$(printf '%s\n' "${runs[@]}" | median)

# the ledger in id order (the floor the README has always quoted), and the day's rows in no
# order, which is what recon asks the server for since matching puts rows in buckets
floor_s=$(floor_of "$DB" "SELECT * FROM card_payments ORDER BY id COLLATE \"C\"")
unordered_s=$(floor_of "$DB" "SELECT * FROM card_payments WHERE created_at >= '2026-11-19' AND created_at < '2026-11-22'")

parse=$(cd "$root" && cargo bench --quiet --locked --bench settlement_parse -- "$report" 2>/dev/null)

{
  echo "settlement bench · $(date -u +%Y-%m-%d) · $ROWS report lines vs $ROWS ledger rows (PostgreSQL) · $(nproc) cores"
  printf '%-34s %10s %12s\n' run seconds "peak RSS MB"
  printf '%-34s %10.2f %12d\n' "recon run (end to end, median of $REPEAT)" "$recon_s" "$((rss / 1024))"
  printf '%-34s %10.2f %12s\n' "floor: psql \\copy of the ledger" "$floor_s" "-"
  printf '%-34s %10.2f %12s\n' "floor: the same, in no order" "$unordered_s" "-"
  printf 'ratio recon / ledger read floor: %.2f (in no order: %.2f); runs: %s\n' \
    "$(echo "$recon_s / $floor_s" | bc -l)" "$(echo "$recon_s / $unordered_s" | bc -l)" "${runs[*]}"
  echo "$parse"
} | tee "$here/results/settlement-$(date -u +%Y-%m-%d)$([ "$ROWS" = 1000000 ] || echo "-${ROWS}rows").txt"
if [ "${BENCH_ONLY:-}" = main ]; then exit 0; fi

at_rest_case

pushdown_case
