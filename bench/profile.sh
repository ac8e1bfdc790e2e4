#!/usr/bin/env bash
# bench/profile.sh — where `recon diff` spends its CPU, by what the code is doing.
#
# Loads the bench ledger through bench/integrity.sh (BENCH_KEEP=1, one repetition, no peer,
# results to bench/out/ so bench/results/ is left alone), then samples one PG|PG and one
# PG|MariaDB diff with `perf record --call-graph dwarf` and prints, for each: the share of
# samples per bucket (decode, timestamp→text, SHA-256 …; a sample goes to the first bucket in
# the list below that any frame of its stack matches), the split between the merge thread
# (`recon`) and the reader tasks (`tokio-rt-worker`), the allocator's share, and the top
# self-time symbols. Drops the databases at the end. Run it alone: it is a heavy job.
# Needs perf (Debian: apt-get install linux-perf) and python3.
# Knobs: BENCH_ROWS (1000000), RECON (default ${CARGO_TARGET_DIR:-target}/release/recon),
# PERF_FREQ (499 Hz).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/.." && pwd)
RECON=${RECON:-${CARGO_TARGET_DIR:-$root/target}/release/recon}
FREQ=${PERF_FREQ:-499}
out="$root/bench/out/profile"
mkdir -p "$out"
command -v perf >/dev/null || { echo "perf is missing: apt-get install linux-perf" >&2; exit 1; }

drop() {
    PGOPTIONS='-c client_min_messages=warning' psql -X -q -h "${PGHOST:-127.0.0.1}" -p "${PGPORT:-5432}" -U "${PGUSER:-postgres}" -d postgres \
        -c "DROP DATABASE IF EXISTS recon_bench_left" -c "DROP DATABASE IF EXISTS recon_bench_right" >/dev/null 2>&1 || true
    mysql -h"${MYSQL_HOST:-127.0.0.1}" -P"${MYSQL_PORT:-3306}" -u"${MYSQL_USER:-root}" -e "DROP DATABASE IF EXISTS recon_bench" >/dev/null 2>&1 || true
}
trap drop EXIT

BENCH_KEEP=1 BENCH_PEER=0 BENCH_REPEAT=1 BENCH_RESULTS_DIR="$root/bench/out" RECON="$RECON" \
    bash "$here/integrity.sh" >/dev/null

pg() { echo "postgres://${PGUSER:-postgres}@${PGHOST:-127.0.0.1}:${PGPORT:-5432}/$1"; }
my="mysql://${MYSQL_USER:-root}@${MYSQL_HOST:-127.0.0.1}:${MYSQL_PORT:-3306}/recon_bench"

cat >"$out/buckets.py" <<'EOF'
import collections, sys
BUCKETS = [  # priority order: a sample goes to the first bucket any frame of its stack matches
    ("timestamp -> canonical text (format_timestamp, chrono strftime)", ["format_timestamp"]),
    ("text -> timestamp (parse_timestamp: MariaDB values)", ["parse_timestamp"]),
    ("SHA-256 (row hash, segment digest)", ["sha2::", "SegmentDigest::push"]),
    ("canonical encoding, rest (Int/len -> text, buffers)", ["row_hash", "encode_into", "encode_row", "canonical_text"]),
    ("decode values (pg_wire, COPY tuples, sqlx try_get, text parsing, RowBatch)", ["decode_value", "decode_row", "value_from_text", "pg_wire::", "send_in_batches", "copy_rows"]),
    ("merge loop (order check, key clone, compare, drop rows)", ["check_order", "drop_in_place<recon", "drop_in_place<alloc::vec::Vec<recon", "merge_join", "compare::{{closure}}"]),
    ("sqlx wire protocol, TLS, socket", ["sqlx_", "ring_core", "rustls"]),
    ("tokio runtime, channels", ["tokio::"]),
]
ALLOC = ("malloc", "_int_free", "cfree", "realloc", "malloc_consolidate", "unlink_chunk", "__rust_dealloc", "finish_grow", "do_reserve_and_handle")
buckets, threads, alloc, n = collections.Counter(), collections.Counter(), 0, 0
comm, stack = None, []
def flush():
    global n, alloc
    if comm is None or not stack:
        return
    n += 1
    threads[comm] += 1
    alloc += any(k in stack[0] for k in ALLOC)
    buckets[next((name for name, keys in BUCKETS if any(k in f for f in stack for k in keys)), "other (kernel, libc, start-up)")] += 1
for line in open(sys.argv[1], errors="replace"):
    if not line.strip():
        flush(); comm, stack = None, []
    elif not line.startswith(("\t", " ")):
        comm = line.split()[0]
    else:
        stack.append(line.strip())
flush()
for name, count in buckets.most_common():
    print(f"  {100 * count / n:5.1f}%  {name}")
print("  threads: " + ", ".join(f"{t} {100 * c / n:.0f}%" for t, c in threads.most_common()) + f"; allocator (malloc/free as the leaf) {100 * alloc / n:.0f}%; {n} samples")
EOF

profile() { # name, recon diff arguments…
    local name=$1; shift
    perf record -q -F "$FREQ" --call-graph dwarf,16384 -o "$out/$name.data" \
        "$RECON" diff "$@" --key id --stats >"$out/$name.out" 2>"$out/$name.err" || true
    echo "== recon diff $name ($(tail -n 1 "$out/$name.out"))"
    perf script -i "$out/$name.data" -F comm,ip,sym 2>/dev/null >"$out/$name.stacks"
    python3 "$out/buckets.py" "$out/$name.stacks"
    echo "  top self time:"
    perf report -i "$out/$name.data" --no-children --sort dso,symbol --stdio -g none 2>/dev/null >"$out/$name.report"
    awk '/%/ && n++ < 15 { print "  " substr($0, 1, 150) }' "$out/$name.report"
}
profile pg-pg "$(pg recon_bench_left)" ledger "$(pg recon_bench_right)" ledger
profile pg-mariadb "$(pg recon_bench_left)" ledger "$my" ledger
