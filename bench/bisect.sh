#!/usr/bin/env bash
# bench/bisect.sh — what `--strategy bisect` costs the databases, and where it pays off.
#
# Called by `make bench`. What it does:
#   1. Loads bench/integrity.sh's data (BENCH_SETUP_ONLY=1: PostgreSQL recon_bench_left/_right
#      and MariaDB recon_bench, BENCH_ROWS rows a side, 20 planted differences); drops it on exit.
#   2. On the machine as it is (recon and the servers on one host, over 127.0.0.1), BENCH_REPEAT
#      times each: the read floor (psql \copy of both sides, hashed), `recon diff --strategy
#      stream` and `--strategy bisect`, PG|PG and PG|MariaDB. For each it records the wall clock,
#      recon's CPU (/usr/bin/time) and the database servers' CPU: the user+system time of every
#      postgres process (the postmaster's reaped children included) or of mariadbd, read from
#      /proc before and after. Every recon run must report exactly the 20 planted differences.
#   3. Over a constrained link: a network namespace of its own (recon-bench-link) joined to this
#      one by a veth pair (198.18.0.1 ↔ 198.18.0.2, the range RFC 2544 sets aside for
#      benchmarks), its rate capped by `tc … tbf` on both ends (each of BENCH_LINK_RATES), and
#      bench/link_relay.py from 198.18.0.1:15432 to the PostgreSQL server adding
#      BENCH_LINK_DELAY_MS each way. (This kernel has no netem qdisc — CONFIG_NET_SCH_NETEM is
#      off — so the delay is the relay's; tbf is built in.) recon and the floor run inside the
#      namespace, so every byte to and from the databases crosses the shaped link; the loopback
#      is never shaped. PG|PG only.
#   4. Prints medians (peak RSS: max) and ratios — server CPU against the stream's, time against
#      the floor's — and writes bench/results/bisect-<UTC date>[-<rows>rows].txt.
# Knobs: BENCH_ROWS (1000000), BENCH_REPEAT (3), BENCH_LINK_DELAY_MS (5), BENCH_LINK_RATES
# ("100mbit 20mbit": each a shaped run), BENCH_LINK_REPEAT (1), RECON (default ${CARGO_TARGET_DIR:-target}/release/recon), PGHOST/PGPORT/PGUSER,
# MYSQL_HOST/MYSQL_PORT/MYSQL_USER as in bench/integrity.sh.
# Needs root (ip netns, tc), iproute2, python3, psql, mysql, jq.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/.." && pwd)
ROWS=${BENCH_ROWS:-1000000}
REPEAT=${BENCH_REPEAT:-3}
DELAY_MS=${BENCH_LINK_DELAY_MS:-5}
RATES=${BENCH_LINK_RATES:-100mbit 20mbit}
LINK_REPEAT=${BENCH_LINK_REPEAT:-1}
RECON=${RECON:-${CARGO_TARGET_DIR:-$root/target}/release/recon}
export PGHOST=${PGHOST:-127.0.0.1} PGPORT=${PGPORT:-5432} PGUSER=${PGUSER:-postgres}
MYSQL_HOST=${MYSQL_HOST:-127.0.0.1} MYSQL_PORT=${MYSQL_PORT:-3306} MYSQL_USER=${MYSQL_USER:-root}
NS=recon-bench-link
HOST_IP=198.18.0.1
NS_IP=198.18.0.2
RELAY_PORT=15432

say() { printf '[bisect %(%H:%M:%S)T] %s\n' -1 "$*" >&2; }
die() { say "FAILED: $*"; exit 1; }
[[ -x $RECON ]] || die "no recon binary at $RECON (run \`make bench\`, or set RECON)"
[[ $(id -u) -eq 0 ]] || die "needs root for ip netns and tc"
for tool in ip tc python3 psql mysql jq /usr/bin/time; do command -v "$tool" >/dev/null || die "$tool is missing"; done

out="$root/bench/out/bisect"
mkdir -p "$out" "$root/bench/results"
relay_pid=""
cleanup() {
    [[ -n $relay_pid ]] && kill "$relay_pid" 2>/dev/null || true
    ip netns del "$NS" 2>/dev/null || true
    ip link del rbl-host 2>/dev/null || true
    PGOPTIONS='-c client_min_messages=warning' psql -X -q -d postgres \
        -c "DROP DATABASE IF EXISTS recon_bench_left" -c "DROP DATABASE IF EXISTS recon_bench_right" >/dev/null 2>&1 || true
    mysql -h"$MYSQL_HOST" -P"$MYSQL_PORT" -u"$MYSQL_USER" -e "DROP DATABASE IF EXISTS recon_bench" >/dev/null 2>&1 || true
}
trap cleanup EXIT

LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
BENCH_KEEP=1 BENCH_SETUP_ONLY=1 BENCH_ROWS=$ROWS RECON=$RECON bash "$here/integrity.sh"

TICKS=$(getconf CLK_TCK)
# CPU seconds the PostgreSQL server has spent: every postgres process's own time and that of
# its reaped children (only the postmaster has any: the backends that ended).
# (A process may end between the glob and the read: cat goes on past it.)
proc_stats() { cat /proc/[0-9]*/stat 2>/dev/null || true; }
pg_cpu() {
    proc_stats | awk -v hz="$TICKS" '$2 == "(postgres)" { s += $14 + $15 + $16 + $17 } END { printf "%.2f", s / hz }'
}
my_cpu() {
    proc_stats | awk -v hz="$TICKS" '$2 == "(mariadbd)" || $2 == "(mysqld)" { s += $14 + $15 } END { printf "%.2f", s / hz }'
}

samples="$out/samples.tsv"
: >"$samples"
# measure NAME REP WHERE(host|ns) SERVER(pg|my) command… → wall, recon cpu, server cpu, rss
measure() {
    local name=$1 rep=$2 where=$3 server=$4; shift 4
    local base="$out/${name//[^a-z0-9]/_}.$rep" prefix=() rc=0
    [[ $where == ns ]] && prefix=(ip netns exec "$NS")
    local pg0 my0 t0 t1 pg1 my1
    pg0=$(pg_cpu); my0=$(my_cpu); t0=$(date +%s%N)
    "${prefix[@]}" /usr/bin/time -v -o "$base.time" "$@" >"$base.out" 2>"$base.err" || rc=$?
    t1=$(date +%s%N); pg1=$(pg_cpu); my1=$(my_cpu)
    local secs cpu rss server_cpu
    secs=$(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.3f", (b-a)/1e9}')
    cpu=$(awk -F': ' '/User time|System time/{s+=$2} END{printf "%.2f", s}' "$base.time")
    rss=$(awk -F': ' '/Maximum resident set size/{printf "%.0f", $2 / 1024}' "$base.time")
    server_cpu=$(awk -v a="$pg0" -v b="$pg1" -v c="$my0" -v d="$my1" -v s="$server" \
        'BEGIN { printf "%.2f", (b - a) + (s == "my" ? d - c : 0) }')
    if [[ $name == *recon-* ]]; then
        [[ $rc -eq 1 ]] || die "$name: recon diff exited $rc (expected 1); see $base.err"
        local found
        found=$(grep '^{' "$base.err" | tail -n 1 | jq -r .differences)
        [[ $found == 20 ]] || die "$name: $found differences, planted 20; see $base.err"
    elif [[ $rc -ne 0 ]]; then
        die "$name exited $rc; see $base.err"
    fi
    printf '%s\t%s\t%s\t%s\t%s\n' "$name" "$secs" "$cpu" "$server_cpu" "$rss" >>"$samples"
    say "$name #$rep: ${secs} s, recon cpu ${cpu} s, server cpu ${server_cpu} s, ${rss} MB"
}

pg() { echo "postgres://$PGUSER@$1/$2"; }
floor_cmd() { # host:port of PostgreSQL for both sides, then the right side's command
    local at=${1%:*} port=${1#*:}
    echo "set -o pipefail
psql -X -q -h $at -p $port -d recon_bench_left -c '\\copy (SELECT * FROM ledger ORDER BY id) TO STDOUT' | sha256sum >/dev/null & l=\$!
$2 | sha256sum >/dev/null & r=\$!
wait \$l && wait \$r"
}
right_pg() { echo "psql -X -q -h ${1%:*} -p ${1#*:} -d recon_bench_right -c '\\copy (SELECT * FROM ledger ORDER BY id) TO STDOUT'"; }
right_my="mysql -h$MYSQL_HOST -P$MYSQL_PORT -u$MYSQL_USER --default-character-set=utf8mb4 --quick -N -B recon_bench -e 'SELECT * FROM ledger ORDER BY id'"
diff_cmd() { # left url, right url, strategy
    echo "$RECON" diff "$1" ledger "$2" ledger --key id --strategy "$3" --json --stats
}

local_pg="$PGHOST:$PGPORT"
my_right="mysql://$MYSQL_USER@$MYSQL_HOST:$MYSQL_PORT/recon_bench"
for rep in $(seq 1 "$REPEAT"); do
    measure "floor pg|pg" "$rep" host pg bash -c "$(floor_cmd "$local_pg" "$(right_pg "$local_pg")")"
    for s in stream bisect; do
        # shellcheck disable=SC2046
        measure "recon-$s pg|pg" "$rep" host pg $(diff_cmd "$(pg "$local_pg" recon_bench_left)" "$(pg "$local_pg" recon_bench_right)" $s)
    done
    measure "floor pg|mariadb" "$rep" host my bash -c "$(floor_cmd "$local_pg" "$right_my")"
    for s in stream bisect; do
        # shellcheck disable=SC2046
        measure "recon-$s pg|mariadb" "$rep" host my $(diff_cmd "$(pg "$local_pg" recon_bench_left)" "$my_right" $s)
    done
done

say "shaping a link: namespace $NS, veth $HOST_IP <-> $NS_IP, relay delay ${DELAY_MS} ms each way"
ip netns add "$NS"
ip link add rbl-host type veth peer name rbl-ns
ip link set rbl-ns netns "$NS"
ip addr add "$HOST_IP/30" dev rbl-host
ip link set rbl-host up
ip netns exec "$NS" ip addr add "$NS_IP/30" dev rbl-ns
ip netns exec "$NS" ip link set rbl-ns up
ip netns exec "$NS" ip link set lo up
python3 "$here/link_relay.py" "$HOST_IP" "$RELAY_PORT" "$PGHOST" "$PGPORT" "$DELAY_MS" &
relay_pid=$!
for _ in $(seq 1 50); do (exec 3<>"/dev/tcp/$HOST_IP/$RELAY_PORT") 2>/dev/null && break; sleep 0.1; done
link_pg="$HOST_IP:$RELAY_PORT"
declare -A LINK_SEEN
for rate in $RATES; do
    tbf=(root tbf rate "$rate" burst 256kbit latency 100ms)
    tc qdisc replace dev rbl-host "${tbf[@]}"
    ip netns exec "$NS" tc qdisc replace dev rbl-ns "${tbf[@]}"
    # one query's round trip and a 20 MB copy through the link, as recon's statements see it
    t0=$(date +%s%N)
    ip netns exec "$NS" psql -X -q -h "$HOST_IP" -p "$RELAY_PORT" -d postgres -Atc 'SELECT 1' -c 'SELECT 1' -c 'SELECT 1' >/dev/null
    t1=$(date +%s%N)
    copy_s=$( { /usr/bin/time -f %e ip netns exec "$NS" psql -X -q -h "$HOST_IP" -p "$RELAY_PORT" -d postgres \
        -c "\\copy (SELECT repeat('x', 1000) FROM generate_series(1, 20000)) TO STDOUT" >/dev/null; } 2>&1 )
    LINK_SEEN[$rate]="connect + 3 queries $(( (t1 - t0) / 1000000 )) ms; 20 MB in ${copy_s} s"
    say "link $rate: ${LINK_SEEN[$rate]}"
    for rep in $(seq 1 "$LINK_REPEAT"); do
        measure "link $rate floor pg|pg" "$rep" ns pg bash -c "$(floor_cmd "$link_pg" "$(right_pg "$link_pg")")"
        for s in stream bisect; do
            # shellcheck disable=SC2046
            measure "link $rate recon-$s pg|pg" "$rep" ns pg $(diff_cmd "$(pg "$link_pg" recon_bench_left)" "$(pg "$link_pg" recon_bench_right)" $s)
        done
    done
done

median() { sort -n | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
col() { awk -F'\t' -v n="$1" -v c="$2" '$1 == n { print $c }' "$samples"; }
stat_of() { col "$1" "$2" | median; }
suffix=""
[[ $ROWS == 1000000 ]] || suffix="-${ROWS}rows"
result="$root/bench/results/bisect-$(date -u +%Y-%m-%d)$suffix.txt"
{
    echo "bisect bench · $(date -u +%Y-%m-%d) · $(nproc) cores · $ROWS rows a side · medians of $REPEAT (links: $LINK_REPEAT)"
    echo "load average before: $LOAD_BEFORE, after: $(cut -d' ' -f1-3 /proc/loadavg)"
    echo "links: veth into namespace $NS, tbf rate both ways, ${DELAY_MS} ms each way added by bench/link_relay.py"
    for rate in $RATES; do echo "  $rate: ${LINK_SEEN[$rate]}"; done
    printf '%-30s %8s %10s %12s %8s %12s %10s\n' run seconds "recon cpu" "server cpu" "peak MB" "x floor" "x srv cpu"
    pairs=("pg|pg" "pg|mariadb")
    for rate in $RATES; do pairs+=("link $rate pg|pg"); done
    for pair in "${pairs[@]}"; do
        prefix=""; engines=$pair
        [[ $pair == link* ]] && { engines=${pair##* }; prefix="${pair% *} "; }
        floor_s=$(stat_of "${prefix}floor $engines" 2); stream_srv=$(stat_of "${prefix}recon-stream $engines" 4)
        for run in floor recon-stream recon-bisect; do
            n="${prefix}$run $engines"
            s=$(stat_of "$n" 2); c=$(stat_of "$n" 3); v=$(stat_of "$n" 4)
            m=$(col "$n" 5 | sort -n | tail -n 1)
            printf '%-30s %8.2f %10.2f %12.2f %8s %12.2f %10.2f\n' "$n" "$s" "$c" "$v" "$m" \
                "$(echo "$s / $floor_s" | bc -l)" "$(echo "$v / $stream_srv" | bc -l)"
        done
    done
    echo "x srv cpu: the database servers' CPU against the same pair's recon-stream run; every recon run named the 20 planted differences"
} | tee "$result"
