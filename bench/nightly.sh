#!/usr/bin/env bash
# bench/nightly.sh — the job users run every night, at production size: a dated check of one
# business day, sealed when clean, and the sealed days before it re-verified.
#
# What it does (PG|PG, SQLite store in a scratch folder):
#   1. Creates PostgreSQL databases recon_bench_night_left / _right (dropped on exit), each with
#      a ledger-shaped table of BENCH_ROWS rows on each of two business days (2026-11-01 and
#      2026-11-02, UTC), identical on both sides.
#   2. Times, each once, with /usr/bin/time -v for peak RSS:
#        floor        psql \copy of one day's rows from both sides at once, hashed (sha256sum)
#        compare      `recon run` of day 1 with sealing off: the compare alone
#        night 1      `recon run` of day 1 with sealing on: compare + seal
#        night 2      `recon run` of day 2, after day 1 was edited (3 rows on the left only,
#                     1 row identically on both sides, 1 row deleted on the right, 1 added on
#                     the left): compare day 2 + seal it + re-verify sealed day 1; fails the
#                     bench unless exactly those 6 rows are named closed_period_modified
#        at rest      night 1 and night 2 again in another folder with RECON_DATA_KEY set (the
#                     6 findings' values encrypted in the store), beside the same two nights
#                     without a key: the cost of encryption at rest
#   3. Prints each run's seconds, its ratio to the compare alone and to the floor, peak RSS,
#      and the store's bytes per sealed day; writes bench/results/nightly-<UTC date>-<rows>.txt.
# Knobs: BENCH_ROWS (1000000 per day), RECON (default ${CARGO_TARGET_DIR:-target}/release/recon),
# PGHOST/PGPORT/PGUSER (127.0.0.1/5432/postgres).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/.." && pwd)
ROWS=${BENCH_ROWS:-1000000}
RECON=${RECON:-${CARGO_TARGET_DIR:-$root/target}/release/recon}
export PGHOST=${PGHOST:-127.0.0.1} PGPORT=${PGPORT:-5432} PGUSER=${PGUSER:-postgres}
LEFT=recon_bench_night_left
RIGHT=recon_bench_night_right

say() { printf '[nightly %(%H:%M:%S)T] %s\n' -1 "$*" >&2; }
die() { say "FAILED: $*"; exit 1; }
[[ $ROWS =~ ^[0-9]+$ && $ROWS -ge 1000 ]] || die "BENCH_ROWS must be a whole number ≥ 1000"
[[ -x $RECON ]] || die "no recon binary at $RECON (run \`make bench\`, or set RECON)"
[[ -x /usr/bin/time ]] || die "/usr/bin/time (GNU time) is missing: apt-get install time"
for tool in psql jq sqlite3; do command -v "$tool" >/dev/null || die "$tool is not installed"; done

psql_() { PGOPTIONS='-c client_min_messages=warning' psql -X -q -v ON_ERROR_STOP=1 "$@"; }
work=$(mktemp -d "${TMPDIR:-/tmp}/recon-nightly.XXXXXX")
cleanup() {
    psql_ -d postgres -c "DROP DATABASE IF EXISTS $LEFT" -c "DROP DATABASE IF EXISTS $RIGHT" >/dev/null 2>&1 || true
    rm -rf "$work"
}
trap cleanup EXIT

say "loading $ROWS rows per day on two days, both sides"
for db in $LEFT $RIGHT; do
    psql_ -d postgres -c "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db"
    psql_ -d $db -c "CREATE TABLE ledger (
        id bigint PRIMARY KEY, account_id bigint NOT NULL, amount_minor bigint NOT NULL,
        currency char(3) NOT NULL, status text NOT NULL, created_at timestamptz NOT NULL, memo text)" \
      -c "INSERT INTO ledger
          SELECT g, g % 9973, (g * 7919) % 1000000, (ARRAY['EUR','USD','GBP'])[1 + g % 3],
                 (ARRAY['settled','pending'])[1 + g % 2],
                 timestamptz '2026-11-01 00:00:00+00' + (g - 1) * (interval '2 days' / ($ROWS * 2)),
                 'entry ' || g
          FROM generate_series(1::bigint, $ROWS * 2) g" \
      -c "CREATE INDEX ON ledger (created_at)" -c "VACUUM ANALYZE ledger"
done

config() { # $1 = seal true|false
    cat <<EOF
[job]
timezone = "UTC"
[store]
url_env = "S"
[sources.left]
url_env = "L"
[sources.right]
url_env = "R"
[[integrity]]
name = "ledger"
left = { source = "left", table = "ledger" }
right = { source = "right", table = "ledger" }
key = ["id"]
date_column = "created_at"
seal = $1
EOF
}

L="postgres://$PGUSER@$PGHOST:$PGPORT/$LEFT"
R="postgres://$PGUSER@$PGHOST:$PGPORT/$RIGHT"
DATA_KEY="bench:$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')"
# Runs `recon run` in folder $1 for date $2 (with RECON_DATA_KEY when $3 is "key"); prints
# "seconds peak_rss_mb".
timed_run() {
    local dir=$1 date=$2 key=""
    [[ ${3:-} == key ]] && key=$DATA_KEY
    local start end
    start=$(date +%s.%N)
    RECON_DATA_KEY=$key S="sqlite://$dir/store.db" L=$L R=$R RUST_LOG=warn /usr/bin/time -v -o "$dir/time-$date.txt" \
        "$RECON" run --config "$dir/recon.toml" --date "$date" --out "$dir/out-$date" >"$dir/stdout-$date.txt" 2>"$dir/stderr-$date.txt" \
        || [[ $? -eq 1 ]] || die "recon run $date in $dir failed: $(tail -3 "$dir/stderr-$date.txt")"
    end=$(date +%s.%N)
    local rss
    rss=$(awk -F': ' '/Maximum resident set size/ { printf "%.0f", $2 / 1024 }' "$dir/time-$date.txt")
    echo "$(echo "$end - $start" | bc) $rss"
}

floor() {
    local start end
    start=$(date +%s.%N)
    local q="\\copy (SELECT * FROM ledger WHERE created_at >= '2026-11-01' AND created_at < '2026-11-02' ORDER BY id) TO STDOUT"
    (psql_ -d $LEFT -c "$q" | sha256sum >/dev/null) &
    (psql_ -d $RIGHT -c "$q" | sha256sum >/dev/null) &
    wait
    end=$(date +%s.%N)
    echo "$end - $start" | bc
}

mkdir -p "$work/compare" "$work/sealed" "$work/sealed-key"
config false >"$work/compare/recon.toml"
config true >"$work/sealed/recon.toml"
config true >"$work/sealed-key/recon.toml"

say "floor"; floor_s=$(floor)
say "compare alone (day 1, no seal)"; read -r compare_s compare_rss < <(timed_run "$work/compare" 2026-11-01)
say "night 1: compare + seal day 1"; read -r night1_s night1_rss < <(timed_run "$work/sealed" 2026-11-01)
say "night 1 with RECON_DATA_KEY"; read -r night1k_s night1k_rss < <(timed_run "$work/sealed-key" 2026-11-01 key)
store_after_1=$(stat -c %s "$work/sealed/store.db")
segments=$(sqlite3 "$work/sealed/store.db" "SELECT count(*) FROM seal_segments WHERE partition_key = '2026-11-01'")
seal_bytes=$(sqlite3 "$work/sealed/store.db" "SELECT sum(length(rows_blob)) FROM seal_segments WHERE partition_key = '2026-11-01'")

say "editing sealed day 1"
a=$((ROWS / 7)); b=$((ROWS / 3)); c=$((ROWS / 2)); d=$((ROWS * 2 / 3)); e=$((ROWS - 10))
psql_ -d $LEFT -c "UPDATE ledger SET amount_minor = amount_minor + 1 WHERE id IN ($a, $b, $c)" \
    -c "INSERT INTO ledger VALUES ($ROWS * 3, 1, 1, 'EUR', 'settled', '2026-11-01 12:00:00+00', 'slipped in')"
for db in $LEFT $RIGHT; do psql_ -d $db -c "UPDATE ledger SET memo = 'rewritten' WHERE id = $d"; done
psql_ -d $RIGHT -c "DELETE FROM ledger WHERE id = $e"

say "night 2: compare + seal day 2, re-verify sealed day 1"; read -r night2_s night2_rss < <(timed_run "$work/sealed" 2026-11-02)
say "night 2 with RECON_DATA_KEY"; read -r night2k_s night2k_rss < <(timed_run "$work/sealed-key" 2026-11-02 key)
named_key=$(jq -r '.discrepancies[] | select(.kind == "closed_period_modified") | .key.id' "$work/sealed-key/out-2026-11-02/summary.json" | sort -n | tr '\n' ' ')
sealed_values=$(sqlite3 "$work/sealed-key/store.db" "SELECT count(*) FROM discrepancies WHERE detail_json LIKE 'aes256gcm:v1:bench:%'")
store_after_2=$(stat -c %s "$work/sealed/store.db")
named=$(jq -r '.discrepancies[] | select(.kind == "closed_period_modified") | .key.id' "$work/sealed/out-2026-11-02/summary.json" | sort -n | tr '\n' ' ')
want=$(printf '%s\n' $a $b $c $d $e $((ROWS * 3)) | sort -n | tr '\n' ' ')
[[ $named == "$want" ]] || die "night 2 named [$named], expected [$want]"
[[ $named_key == "$want" ]] || die "night 2 with a data key named [$named_key], expected [$want]"
[[ $sealed_values == 6 ]] || die "night 2 with a data key stored $sealed_values encrypted values, expected 6"

ratio() { echo "scale=2; $1 / $2" | bc; }
result="$root/bench/results/nightly-$(date -u +%Y-%m-%d)-${ROWS}rows.txt"
mkdir -p "$root/bench/results"
{
    echo "nightly bench · $(date -u +%Y-%m-%d) · $(nproc) cores · $ROWS rows per day · PG|PG, SQLite store"
    printf '%-44s %8s %10s %10s %9s\n' run seconds "x compare" "x floor" "peak MB"
    printf '%-44s %8.2f %10s %10.2f %9s\n' "floor (psql copy of one day, both sides)" "$floor_s" - 1 -
    printf '%-44s %8.2f %10.2f %10.2f %9s\n' "compare day 1 (seal = false)" "$compare_s" 1 "$(ratio "$compare_s" "$floor_s")" "$compare_rss"
    printf '%-44s %8.2f %10.2f %10.2f %9s\n' "night 1: compare + seal day 1" "$night1_s" "$(ratio "$night1_s" "$compare_s")" "$(ratio "$night1_s" "$floor_s")" "$night1_rss"
    printf '%-44s %8.2f %10.2f %10.2f %9s\n' "night 2: day 2 + seal + re-verify day 1" "$night2_s" "$(ratio "$night2_s" "$compare_s")" "$(ratio "$night2_s" "$floor_s")" "$night2_rss"
    printf '%-44s %8.2f %10.2f %10.2f %9s\n' "night 1 with RECON_DATA_KEY (at rest)" "$night1k_s" "$(ratio "$night1k_s" "$compare_s")" "$(ratio "$night1k_s" "$floor_s")" "$night1k_rss"
    printf '%-44s %8.2f %10.2f %10.2f %9s\n' "night 2 with RECON_DATA_KEY (at rest)" "$night2k_s" "$(ratio "$night2k_s" "$compare_s")" "$(ratio "$night2k_s" "$floor_s")" "$night2k_rss"
    echo "encryption at rest: night 1 $(ratio "$night1k_s" "$night1_s")x, night 2 $(ratio "$night2k_s" "$night2_s")x the same night without a key ($sealed_values finding values encrypted in the store)"
    echo "sealed day 1: $segments segments, $seal_bytes bytes of row fingerprints; store file $store_after_1 bytes after night 1, $store_after_2 after night 2"
    echo "night 2 named exactly the 6 edited rows of sealed day 1: $named"
} | tee "$result"
