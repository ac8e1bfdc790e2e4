#!/usr/bin/env bash
# bench/integrity.sh — how fast is `recon diff`, against the cost of merely reading both tables?
#
# Called by `make bench` (which builds the release binary first). What it does:
#   1. Creates its own databases — PostgreSQL recon_bench_left / recon_bench_right and MariaDB
#      recon_bench — and drops them on exit (BENCH_KEEP=1 keeps them, for profiling by hand).
#      Each gets a ledger-shaped table `ledger` of BENCH_ROWS rows generated server-side
#      (generate_series / MariaDB's sequence engine). The right side (PG right and MariaDB) is
#      the left one with planted differences: 10 changed rows (every column kind, NULL vs '',
#      trailing space, one microsecond, a non-ASCII character), 5 rows missing on each side
#      (including the first and last id).
#   2. Times, BENCH_REPEAT times each (median wall clock reported; peak RSS is the max):
#        floor pg|pg     psql \copy (SELECT * … ORDER BY id) TO STDOUT | sha256sum, both sides
#                        at once: reading and hashing the raw streams, nothing more
#        recon-stream pg|pg  recon diff --strategy stream --json --stats; fails the bench unless
#                        exactly the planted differences come out (kinds, ids and row counts)
#        recon-bisect pg|pg  the same with --strategy bisect (digests computed in the databases)
#        floor pg|mariadb  psql \copy of the left + mysql --quick SELECT … ORDER BY id, both hashed
#        recon-stream|recon-bisect pg|mariadb  the same checks
#        reladiff pg|pg  the peer (hashdiff: the sides are two databases), if it installs from
#                        PyPI into bench/.venv; otherwise says why and goes on without it
#        reladiff pg|mariadb  same, cross-engine; each peer run's rows (--json, one line per
#                        differing row and side) are turned into (kind, id) and compared with
#                        the planted set recon found: the table says whether the sets are equal
#      Wall clock: bash's clock around the command; peak RSS and CPU: /usr/bin/time -v
#      ("Maximum resident set size" is the largest single process: for a floor that is one
#      client, never the database servers; "client cpu" likewise excludes the servers).
#   3. Prints a table — run, rows per side, seconds, rows/s (rows per side / seconds), client CPU
#      seconds, peak RSS MB, ratio to the floor (time / floor time of the same engine pair) and
#      recon's ratio to the peer (recon time / reladiff time) — and writes it to
#      bench/results/integrity-<UTC date>.txt (integrity-<date>-<N>rows.txt when BENCH_ROWS is
#      not the default, so a quick trial does not overwrite the real run). Raw outputs of every
#      run land in bench/out/.
#
# Knobs (environment): BENCH_ROWS (5000000), BENCH_REPEAT (5), BENCH_SETUP_ONLY (0; 1 loads the
# databases and stops, for bench/bisect.sh), RECON (the binary; default
# ${CARGO_TARGET_DIR:-target}/release/recon), BENCH_PEER (1; 0 skips reladiff),
# BENCH_RESULTS_DIR (bench/results; bench/profile.sh points it at bench/out),
# BENCH_RELADIFF (pip spec, default 'reladiff[postgresql,mysql]==0.6.0'), BENCH_KEEP (0),
# PGHOST/PGPORT/PGUSER (127.0.0.1/5432/postgres, trust auth), MYSQL_HOST/MYSQL_PORT/MYSQL_USER
# (127.0.0.1/3306/root, no password).
# Needs: psql, mysql, jq, python3 (for the venv), /usr/bin/time (installed with apt-get when
# missing and running as root; otherwise `apt-get install time`).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/.." && pwd)

ROWS=${BENCH_ROWS:-5000000}
REPEAT=${BENCH_REPEAT:-5}
PEER=${BENCH_PEER:-1}
KEEP=${BENCH_KEEP:-0}
RELADIFF_SPEC=${BENCH_RELADIFF:-'reladiff[postgresql,mysql]==0.6.0'}
RECON=${RECON:-${CARGO_TARGET_DIR:-$root/target}/release/recon}
PGHOST=${PGHOST:-127.0.0.1}
PGPORT=${PGPORT:-5432}
PGUSER=${PGUSER:-postgres}
MYSQL_HOST=${MYSQL_HOST:-127.0.0.1}
MYSQL_PORT=${MYSQL_PORT:-3306}
MYSQL_USER=${MYSQL_USER:-root}
PG_LEFT=recon_bench_left
PG_RIGHT=recon_bench_right
MY_DB=recon_bench
TABLE=ledger
export PGHOST PGPORT PGUSER

pg_url() { echo "postgres://$PGUSER@$PGHOST:$PGPORT/$1"; }
my_url() { echo "mysql://$MYSQL_USER@$MYSQL_HOST:$MYSQL_PORT/$1"; }
# reladiff (SQLAlchemy-style URLs) wants these schemes.
pg_url_peer() { echo "postgresql://$PGUSER@$PGHOST:$PGPORT/$1"; }
my_url_peer() { echo "mysql://$MYSQL_USER@$MYSQL_HOST:$MYSQL_PORT/$1"; }

say() { printf '[bench %(%H:%M:%S)T] %s\n' -1 "$*" >&2; }
die() { say "FAILED: $*"; exit 1; }

[[ $ROWS =~ ^[0-9]+$ && $ROWS -ge 1000 ]] || die "BENCH_ROWS must be a whole number ≥ 1000 (got $ROWS)"
[[ $REPEAT =~ ^[0-9]+$ && $REPEAT -ge 1 ]] || die "BENCH_REPEAT must be ≥ 1 (got $REPEAT)"
[[ -x $RECON ]] || die "no recon binary at $RECON (run \`make bench\`, or set RECON)"
for tool in psql mysql jq python3; do
    command -v "$tool" >/dev/null || die "$tool is not installed"
done
if [[ ! -x /usr/bin/time ]]; then
    if [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null; then
        say "installing GNU time (apt-get install time)"
        apt-get update -qq >/dev/null && apt-get install -y -qq time >/dev/null
    fi
    [[ -x /usr/bin/time ]] || die "/usr/bin/time (GNU time) is missing: apt-get install time"
fi

psql_() { PGOPTIONS='-c client_min_messages=warning' psql -X -q -v ON_ERROR_STOP=1 "$@"; }
mysql_() { mysql -h"$MYSQL_HOST" -P"$MYSQL_PORT" -u"$MYSQL_USER" --default-character-set=utf8mb4 "$@"; }

out="$root/bench/out"
results_dir=${BENCH_RESULTS_DIR:-$root/bench/results}
mkdir -p "$out" "$results_dir"

cleanup() {
    if [[ $KEEP == 1 ]]; then
        say "BENCH_KEEP=1: keeping databases $PG_LEFT, $PG_RIGHT (PostgreSQL) and $MY_DB (MariaDB)"
        return
    fi
    psql_ -d postgres -c "DROP DATABASE IF EXISTS $PG_LEFT" -c "DROP DATABASE IF EXISTS $PG_RIGHT" >/dev/null 2>&1 || true
    mysql_ -e "DROP DATABASE IF EXISTS $MY_DB" >/dev/null 2>&1 || true
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---------------------------------------------------------------------------------------------
# The data. The planted ids sit at twenty evenly spaced slots of the key range; slot 0 is id 1,
# and the last missing-in-left row is id ROWS, so both ends of the merge are exercised.
step=$((ROWS / 20))
slot() { echo $((1 + $1 * step)); }
CHANGED=()
for i in 0 1 2 3 4 5 6 7 8 9; do CHANGED+=("$(slot "$i")"); done
MISSING_IN_RIGHT=()   # deleted from the right side
for i in 10 11 12 13 14; do MISSING_IN_RIGHT+=("$(slot "$i")"); done
MISSING_IN_LEFT=()    # deleted from the left side
for i in 15 16 17 18; do MISSING_IN_LEFT+=("$(slot "$i")"); done
MISSING_IN_LEFT+=("$ROWS")
PLANTED=$((${#CHANGED[@]} + ${#MISSING_IN_RIGHT[@]} + ${#MISSING_IN_LEFT[@]}))
SIDE_ROWS=$((ROWS - 5))   # each side lost five rows

expected="$out/expected.tsv"
{
    for id in "${CHANGED[@]}"; do printf 'changed\t%s\n' "$id"; done
    for id in "${MISSING_IN_RIGHT[@]}"; do printf 'missing_in_right\t%s\n' "$id"; done
    for id in "${MISSING_IN_LEFT[@]}"; do printf 'missing_in_left\t%s\n' "$id"; done
} | sort >"$expected"
[[ $(cut -f2 "$expected" | sort -u | wc -l) -eq $PLANTED ]] || die "planted ids collide"

csv() { local IFS=,; echo "$*"; }
c=("${CHANGED[@]}")

pg_schema="CREATE TABLE $TABLE (
    id bigint PRIMARY KEY,
    account_id bigint NOT NULL,
    amount_minor bigint NOT NULL,
    currency char(3) NOT NULL,
    status text NOT NULL,
    created_at timestamptz NOT NULL,
    memo text
)"
pg_fill="INSERT INTO $TABLE
SELECT g,
       (g * 7919) % 50000 + 1,
       (g * 104729) % 2000000 - 1000000,
       (ARRAY['EUR','USD','GBP','CHF'])[g % 4 + 1],
       (ARRAY['posted','pending','reversed'])[g % 3 + 1],
       timestamptz '2024-01-01 00:00:00+00' + (g * 31) * interval '1 second'
           + (g % 1000000) * interval '1 microsecond',
       CASE WHEN g % 10 = 0 THEN NULL ELSE 'memo ' || md5(g::text) END
FROM generate_series(1::bigint, $ROWS) AS g"
# The ten changes, one statement each, in syntax both engines read; the two timestamp shifts
# differ per engine and are added below.
common_changes=(
    "UPDATE $TABLE SET amount_minor = amount_minor + 1 WHERE id = ${c[0]}"
    "UPDATE $TABLE SET amount_minor = amount_minor - 100 WHERE id = ${c[1]}"
    "UPDATE $TABLE SET currency = 'XXX' WHERE id = ${c[2]}"
    "UPDATE $TABLE SET status = 'disputed' WHERE id = ${c[3]}"
    "UPDATE $TABLE SET memo = CASE WHEN memo IS NULL THEN '' ELSE NULL END WHERE id = ${c[5]}"
    "UPDATE $TABLE SET memo = CONCAT(COALESCE(memo, ''), ' ') WHERE id = ${c[6]}"
    "UPDATE $TABLE SET account_id = account_id + 1 WHERE id = ${c[7]}"
    "UPDATE $TABLE SET memo = CONCAT(COALESCE(memo, ''), 'é') WHERE id = ${c[8]}"
    "DELETE FROM $TABLE WHERE id IN ($(csv "${MISSING_IN_RIGHT[@]}"))"
)
pg_changes=(
    "${common_changes[@]}"
    "UPDATE $TABLE SET created_at = created_at + interval '1 microsecond' WHERE id = ${c[4]}"
    "UPDATE $TABLE SET created_at = created_at + interval '1 second', status = 'posted!' WHERE id = ${c[9]}"
)
my_changes=(
    "${common_changes[@]}"
    "UPDATE $TABLE SET created_at = created_at + INTERVAL 1 MICROSECOND WHERE id = ${c[4]}"
    "UPDATE $TABLE SET created_at = created_at + INTERVAL 1 SECOND, status = 'posted!' WHERE id = ${c[9]}"
)

load_pg() { # database, then the statements that make it a side
    local db=$1; shift
    psql_ -d postgres -c "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db" >/dev/null
    local args=(-c "$pg_schema" -c "$pg_fill")
    for s in "$@"; do args+=(-c "$s"); done
    psql_ -d "$db" "${args[@]}" -c "VACUUM (FREEZE, ANALYZE) $TABLE" >/dev/null
}

load_mariadb() {
    local sql
    sql="DROP DATABASE IF EXISTS $MY_DB;
CREATE DATABASE $MY_DB CHARACTER SET utf8mb4 COLLATE utf8mb4_bin;
USE $MY_DB;
CREATE TABLE $TABLE (
    id bigint PRIMARY KEY,
    account_id bigint NOT NULL,
    amount_minor bigint NOT NULL,
    currency char(3) NOT NULL,
    status text NOT NULL,
    created_at datetime(6) NOT NULL,
    memo text
) ENGINE=InnoDB;
INSERT INTO $TABLE
SELECT g,
       (g * 7919) % 50000 + 1,
       (g * 104729) % 2000000 - 1000000,
       ELT(g % 4 + 1, 'EUR', 'USD', 'GBP', 'CHF'),
       ELT(g % 3 + 1, 'posted', 'pending', 'reversed'),
       TIMESTAMP'2024-01-01 00:00:00' + INTERVAL (g * 31) SECOND
           + INTERVAL (g % 1000000) MICROSECOND,
       CASE WHEN g % 10 = 0 THEN NULL ELSE CONCAT('memo ', MD5(g)) END
FROM (SELECT CAST(seq AS SIGNED) AS g FROM seq_1_to_$ROWS) AS s;"
    local s
    for s in "${my_changes[@]}"; do sql+="
$s;"; done
    sql+="
ANALYZE TABLE $TABLE;"
    mysql_ -e "$sql" >/dev/null
}

LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
say "loading $ROWS rows per side (PostgreSQL left, PostgreSQL right, MariaDB right)"
SECONDS_LOAD_START=$(date +%s.%N)
load_pg "$PG_LEFT" "DELETE FROM $TABLE WHERE id IN ($(csv "${MISSING_IN_LEFT[@]}"))"
load_pg "$PG_RIGHT" "${pg_changes[@]}"
load_mariadb
say "loaded in $(awk -v a="$SECONDS_LOAD_START" -v b="$(date +%s.%N)" 'BEGIN{printf "%.1f", b-a}') s"
if [[ ${BENCH_SETUP_ONLY:-0} == 1 ]]; then   # bench/bisect.sh measures on this data
    say "BENCH_SETUP_ONLY=1: data loaded, nothing measured"
    exit 0
fi

# ---------------------------------------------------------------------------------------------
# Measuring. Every measurement appends "name<TAB>seconds<TAB>cpu<TAB>rss_kb" to $samples.
samples="$out/samples.tsv"
: >"$samples"

measure() { # name, rep, command…  (stdout → $out/<name>.<rep>.out, stderr → .err)
    local name=$1 rep=$2; shift 2
    local base="$out/${name//[^a-z0-9]/_}.$rep"
    local t0 t1 rc=0
    t0=$(date +%s%N)
    /usr/bin/time -v -o "$base.time" "$@" >"$base.out" 2>"$base.err" || rc=$?
    t1=$(date +%s%N)
    LAST_BASE=$base
    LAST_RC=$rc
    local secs cpu rss
    secs=$(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.3f", (b-a)/1e9}')
    cpu=$(awk -F': ' '/User time|System time/{s+=$2} END{printf "%.2f", s}' "$base.time")
    rss=$(awk -F': ' '/Maximum resident set size/{print $2}' "$base.time")
    printf '%s\t%s\t%s\t%s\t%s\n' "$name" "$secs" "$cpu" "$rss" "$rc" >>"$samples"
    say "$name #$rep: ${secs} s, cpu ${cpu} s, peak RSS $((rss / 1024)) MB, exit $rc"
}

# The floors: both tables streamed out in key order at once (COPY … TO STDOUT; mysql --quick
# streams rows rather than buffering them whole) and the streams hashed with sha256sum.
floor_pg_pg="set -o pipefail
psql -X -q -d $PG_LEFT -c \"\\copy (SELECT * FROM $TABLE ORDER BY id) TO STDOUT\" | sha256sum >/dev/null & l=\$!
psql -X -q -d $PG_RIGHT -c \"\\copy (SELECT * FROM $TABLE ORDER BY id) TO STDOUT\" | sha256sum >/dev/null & r=\$!
wait \$l && wait \$r"
floor_pg_my="set -o pipefail
psql -X -q -d $PG_LEFT -c \"\\copy (SELECT * FROM $TABLE ORDER BY id) TO STDOUT\" | sha256sum >/dev/null & l=\$!
mysql -h$MYSQL_HOST -P$MYSQL_PORT -u$MYSQL_USER --default-character-set=utf8mb4 --quick -N -B $MY_DB -e 'SELECT * FROM $TABLE ORDER BY id' | sha256sum >/dev/null & r=\$!
wait \$l && wait \$r"

check_recon() { # the run's outputs must name exactly the planted differences
    local name=$1 base=$2 rc=$3
    [[ $rc -eq 1 ]] || die "$name: recon diff exited $rc, expected 1 (differences found); see $base.err"
    local stats
    stats=$(grep '^{' "$base.err" | tail -n 1)
    [[ -n $stats ]] || die "$name: no --stats line on stderr; see $base.err"
    local got want
    got=$(jq -r '[.left_rows, .right_rows, .missing_in_left, .missing_in_right, .changed, .differences] | @tsv' <<<"$stats")
    want=$(printf '%s\t%s\t%s\t%s\t%s\t%s' "$SIDE_ROWS" "$SIDE_ROWS" 5 5 10 "$PLANTED")
    [[ $got == "$want" ]] || die "$name: stats (left_rows right_rows missing_in_left missing_in_right changed differences) are '$got', planted '$want'"
    jq -r '[.kind, .key.id] | @tsv' "$base.out" | sort >"$base.got.tsv"
    diff -u "$expected" "$base.got.tsv" >&2 || die "$name: the differences found are not the planted ones"
}

# The peer: reladiff in a venv of its own; any failure to install or run is reported, not fatal.
PEER_OK=0
PEER_WHY=""
PEER_VERSION=""
venv="$root/bench/.venv"
if [[ $PEER == 1 ]]; then
    if [[ ! -x $venv/bin/reladiff ]]; then
        say "installing $RELADIFF_SPEC into bench/.venv"
        if python3 -m venv "$venv" >"$out/pip.log" 2>&1 &&
            "$venv/bin/pip" install -q "$RELADIFF_SPEC" >>"$out/pip.log" 2>&1; then
            :
        else
            PEER_WHY="pip install '$RELADIFF_SPEC' failed: $(tail -n 1 "$out/pip.log")"
        fi
    fi
    if [[ -z $PEER_WHY ]]; then
        if [[ -x $venv/bin/reladiff ]]; then
            PEER_OK=1
            PEER_VERSION="reladiff $("$venv/bin/reladiff" --version 2>/dev/null | head -n 1 || true)"
        else
            PEER_WHY="no reladiff executable in bench/.venv"
        fi
    fi
else
    PEER_WHY="skipped (BENCH_PEER=$PEER)"
fi
[[ $PEER_OK == 1 ]] || say "peer: reladiff not measured — $PEER_WHY"

# --skip-sort-results: without it reladiff 0.6.0 dies sorting its results when a differing row
# holds a NULL ("'<' not supported between instances of 'str' and 'NoneType'") — and exits 0.
# --json without --stats: one line ["-"|"+", [id, columns…]] per differing row and side ("-": the
# row as the left has it, "+": as the right has it). COLUMNS keeps rich from wrapping the lines.
peer_cols=(-k id -c account_id -c amount_minor -c currency -c status -c created_at -c memo --skip-sort-results)
check_peer() { # a peer run that errs or whose set differs from the planted one is reported, not fatal
    local name=$1 base=$2 rc=$3
    if [[ $rc -ne 0 ]]; then
        PEER_NOTES+=("$name: exited $rc: $(grep -v '^\s*$' "$base.err" | tail -n 1)")
        return 1
    fi
    # Per id: only "-" is missing in the right, only "+" missing in the left, both is changed.
    jq -r '[.[0], (.[1][0] | tostring)] | @tsv' "$base.out" 2>/dev/null \
        | awk -F'\t' '{ s[$2] = s[$2] $1 } END { for (id in s) {
              k = (s[id] ~ /-/ && s[id] ~ /\+/) ? "changed" : (s[id] ~ /-/ ? "missing_in_right" : "missing_in_left");
              print k "\t" id } }' | sort >"$base.got.tsv"
    if diff -q "$expected" "$base.got.tsv" >/dev/null; then
        [[ ${PEER_SAME["${name#* }"]:-} == no ]] || PEER_SAME["${name#* }"]=yes
    else
        PEER_SAME["${name#* }"]=no
        PEER_NOTES+=("$name: its differences are not the planted ones recon found ($(comm -3 "$expected" "$base.got.tsv" | wc -l) lines differ, see $base.got.tsv); run not counted")
        sed -i '$ s/\t[0-9]*$/\t99/' "$samples"   # the time of a wrong answer does not count
        return 1
    fi
}
PEER_NOTES=()
declare -A PEER_SAME

RUNS=("floor pg|pg" "recon-stream pg|pg" "recon-bisect pg|pg" "floor pg|mariadb" "recon-stream pg|mariadb" "recon-bisect pg|mariadb")
[[ $PEER_OK == 1 ]] && RUNS+=("reladiff pg|pg" "reladiff pg|mariadb")

for rep in $(seq 1 "$REPEAT"); do
    measure "floor pg|pg" "$rep" bash -c "$floor_pg_pg"
    [[ $LAST_RC -eq 0 ]] || die "floor pg|pg failed: $(cat "$LAST_BASE.err")"

    for strategy in stream bisect; do
        measure "recon-$strategy pg|pg" "$rep" "$RECON" diff "$(pg_url $PG_LEFT)" "$TABLE" "$(pg_url $PG_RIGHT)" "$TABLE" --key id --json --stats --strategy "$strategy"
        check_recon "recon-$strategy pg|pg" "$LAST_BASE" "$LAST_RC"
    done

    measure "floor pg|mariadb" "$rep" bash -c "$floor_pg_my"
    [[ $LAST_RC -eq 0 ]] || die "floor pg|mariadb failed: $(cat "$LAST_BASE.err")"

    for strategy in stream bisect; do
        measure "recon-$strategy pg|mariadb" "$rep" "$RECON" diff "$(pg_url $PG_LEFT)" "$TABLE" "$(my_url $MY_DB)" "$TABLE" --key id --json --stats --strategy "$strategy"
        check_recon "recon-$strategy pg|mariadb" "$LAST_BASE" "$LAST_RC"
    done

    if [[ $PEER_OK == 1 ]]; then
        # Two databases, so reladiff picks hashdiff (joindiff needs both tables in one database).
        measure "reladiff pg|pg" "$rep" env COLUMNS=100000 "$venv/bin/reladiff" "$(pg_url_peer $PG_LEFT)" "$TABLE" "$(pg_url_peer $PG_RIGHT)" "$TABLE" "${peer_cols[@]}" --json
        check_peer "reladiff pg|pg" "$LAST_BASE" "$LAST_RC" || true
        measure "reladiff pg|mariadb" "$rep" env COLUMNS=100000 "$venv/bin/reladiff" "$(pg_url_peer $PG_LEFT)" "$TABLE" "$(my_url_peer $MY_DB)" "$TABLE" "${peer_cols[@]}" --json
        check_peer "reladiff pg|mariadb" "$LAST_BASE" "$LAST_RC" || true
    fi
done

# ---------------------------------------------------------------------------------------------
# The table: medians of the wall clock and CPU, max of the peak RSS, per run.
median() { sort -g | awk '{v[NR]=$1} END{ if (NR%2) printf "%.3f", v[(NR+1)/2]; else printf "%.3f", (v[NR/2]+v[NR/2+1])/2 }'; }
# Only runs that worked count: exit 0, or 1 for recon (differences found); a failed peer run is
# left out (and noted).
col() { awk -F'\t' -v n="$1" -v k="$2" '$1 == n && ($5 == 0 || (n ~ /^recon/ && $5 == 1)) {print $k}' "$samples"; }
declare -A SECS CPU RSS
for run in "${RUNS[@]}"; do
    if [[ -z $(col "$run" 2) ]]; then continue; fi
    SECS[$run]=$(col "$run" 2 | median)
    CPU[$run]=$(col "$run" 3 | median)
    RSS[$run]=$(col "$run" 4 | sort -g | tail -n 1)
done

date_utc=$(date -u +%Y-%m-%d)
result="$results_dir/integrity-$date_utc.txt"
[[ $ROWS -eq 5000000 ]] || result="$results_dir/integrity-$date_utc-${ROWS}rows.txt"
ratio() { awk -v a="$1" -v b="$2" 'BEGIN{ if (b > 0) printf "%.2f", a/b; else printf "-" }'; }
{
    echo "# recon diff integrity benchmark, $(date -u '+%Y-%m-%d %H:%M UTC')"
    echo "# recon: sources at $(git -C "$root" log -1 --format=%h -- src Cargo.toml Cargo.lock 2>/dev/null || echo '?'), bench at $(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo '?')$(git -C "$root" diff --quiet HEAD -- 2>/dev/null || echo ' (uncommitted changes)'); binary $RECON"
    echo "# machine: $(nproc) cores, $(awk '/MemTotal/{printf "%.0f GiB", $2/1048576}' /proc/meminfo); $(psql_ -d postgres -Atc 'SHOW server_version' | cut -d' ' -f1) PostgreSQL, $(mysql_ -N -e 'SELECT VERSION()') MariaDB, both on this machine; load average before the run: $LOAD_BEFORE, after: $(cut -d' ' -f1-3 /proc/loadavg)"
    echo "# table: $TABLE (id bigint key, account_id, amount_minor bigint, currency char(3), status text, created_at timestamptz/datetime(6), memo text), $ROWS rows generated, $SIDE_ROWS per side"
    echo "# planted: $PLANTED differences (10 changed, 5 missing in left, 5 missing in right); every recon run found exactly these"
    echo "# $REPEAT repetitions: seconds and client cpu are medians, peak RSS the max; rows/s = rows per side / seconds"
    echo "# vs_floor = seconds / the floor's seconds for the same engine pair; vs_peer = recon's seconds / reladiff's (below 1: recon is faster)"
    echo "# floor = psql \\copy (SELECT * … ORDER BY id) TO STDOUT (and mysql --quick SELECT … ORDER BY id), each piped into sha256sum, both sides at once"
    echo "# recon-stream reads every row and hashes it in recon; recon-bisect has both databases hash their rows (segment digests) and reads only the differing segments"
    if [[ $PEER_OK == 1 ]]; then
        echo "# peer = $PEER_VERSION, hashdiff (its defaults: one thread per database, bisection factor 32, threshold 16384; plus --skip-sort-results), all six columns"
    else
        echo "# peer = reladiff: not measured — $PEER_WHY"
    fi
    for pair in "pg|pg" "pg|mariadb"; do
        [[ -z ${PEER_SAME[$pair]:-} ]] || echo "# difference sets, $pair: recon's (both strategies, every run) = the planted set; reladiff's = the planted set: ${PEER_SAME[$pair]}"
    done
    for note in "${PEER_NOTES[@]}"; do echo "# peer note: $note"; done
    echo "#"
    printf '%-24s %12s %9s %12s %9s %9s %9s %9s\n' run rows/side seconds rows/s cpu_s rss_MB vs_floor vs_peer
    for run in "${RUNS[@]}"; do
        [[ -n ${SECS[$run]:-} ]] || continue
        pair=${run#* }
        floor=${SECS["floor $pair"]:-}
        vs_floor=-
        [[ $run == floor* || -z $floor ]] || vs_floor=$(ratio "${SECS[$run]}" "$floor")
        vs_peer=-
        if [[ $run == recon* && -n ${SECS["reladiff $pair"]:-} ]]; then
            vs_peer=$(ratio "${SECS[$run]}" "${SECS["reladiff $pair"]}")
        fi
        printf '%-24s %12s %9.3f %12.0f %9.2f %9.1f %9s %9s\n' "$run" "$SIDE_ROWS" "${SECS[$run]}" \
            "$(awk -v r="$SIDE_ROWS" -v s="${SECS[$run]}" 'BEGIN{print r/s}')" "${CPU[$run]}" \
            "$(awk -v k="${RSS[$run]}" 'BEGIN{print k/1024}')" "$vs_floor" "$vs_peer"
    done
} | tee "$result"
say "written $result"
