#!/usr/bin/env bash
# bench/bank.sh — the bank leg at scale: a camt.053 statement file of BENCH_ROWS entries (default
# 1,000,000) parsed, and as many processor payouts traced against its entries.
#
# Called by `make bench`. It:
#   1. generates the data with bench/bank_gen.py into bench/out/bank/: the camt.053.001.02 file
#      (one statement a business day, 2026-11-02 to 11-27, 3 entries quarantined), the payouts
#      (60 % named by end-to-end id, 35 % by amount and date, 5 % by a remittance pattern) and
#      what was planted (10 deposits 0.25 short, 10 payouts missing, 5 late, 10 unexplained
#      credits, 5 debits);
#   2. runs benches/bank_trace.rs under /usr/bin/time -v: recon's camt parser beside
#      quick-xml reading the same events (best of 3 each, MB/s), then the trace (best of 3),
#      failing unless every count is what was planted;
#   3. writes the figures, the peak RSS of the bench process and the load average to
#      bench/results/bank-<UTC date>.txt (-<N>rows when not 1M).
# Knobs: BENCH_ROWS, BENCH_KEEP=1 (keep bench/out/bank/, about 610 MB at 1M).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/.." && pwd)
ROWS=${BENCH_ROWS:-1000000}
out=$here/out/bank
mkdir -p "$out" "$here/results"
command -v /usr/bin/time >/dev/null || { [ "$(id -u)" = 0 ] && apt-get install -y -qq time >/dev/null; }
[ "${BENCH_KEEP:-0}" = 1 ] || trap 'rm -rf "$out"' EXIT

echo "generating a camt.053 file of $ROWS entries and $ROWS payouts…"
python3 "$here/bank_gen.py" "$ROWS" "$out"

cd "$root"
# the bench binary itself under /usr/bin/time, so its peak RSS is not cargo's
bench=$(cargo bench --locked --bench bank_trace --no-run 2>&1 | sed -n 's/.*Executable .*(\(.*\))$/\1/p')
[ -x "$bench" ] || { echo "bank bench: no bench binary built" >&2; exit 1; }
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
result=$(/usr/bin/time -v -o "$out/bench.time" "$bench" "$out") || {
  echo "$result" >&2; echo "bank bench failed" >&2; exit 1; }
load_after=$(cut -d' ' -f1-3 /proc/loadavg)
rss_kb=$(awk -F': ' '/Maximum resident/ {print $2}' "$out/bench.time")

{
  echo "bank bench · $(date -u +%Y-%m-%d) · camt.053 of $ROWS entries, $ROWS payouts traced · $(nproc) cores · load average before $load_before, after $load_after"
  echo "$result"
  printf 'peak RSS\t%d MB (the bench process: parsed entries, payouts and trace held together)\n' "$((rss_kb / 1024))"
} | tee "$here/results/bank-$(date -u +%Y-%m-%d)$([ "$ROWS" = 1000000 ] || echo "-${ROWS}rows").txt"
