#!/usr/bin/env bash
# bench/audit.sh — `audit verify` over an untouched chain of 10,000 entries on SQLite and on
# PostgreSQL (its own database recon_bench_audit, dropped on exit), beside the floor of reading
# the same entries without checking them (`audit export`). Runs benches/audit_verify.rs and
# writes bench/results/audit-<UTC date>.txt. Knobs: PGHOST/PGPORT/PGUSER.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/.." && pwd)
export PGHOST=${PGHOST:-127.0.0.1} PGPORT=${PGPORT:-5432} PGUSER=${PGUSER:-postgres}
DB=recon_bench_audit
mkdir -p "$here/results"
trap 'psql -q -d postgres -c "DROP DATABASE IF EXISTS $DB WITH (FORCE)" >/dev/null 2>&1' EXIT
psql -q -d postgres -c "DROP DATABASE IF EXISTS $DB WITH (FORCE)" -c "CREATE DATABASE $DB" >/dev/null 2>&1

cd "$root"
{
  echo "audit verify bench · $(date -u +%Y-%m-%d) · $(nproc) cores"
  cargo bench --quiet --locked --bench audit_verify
  echo
  cargo bench --quiet --locked --bench audit_verify -- "postgres://$PGUSER@$PGHOST:$PGPORT/$DB"
} | tee "$here/results/audit-$(date -u +%Y-%m-%d).txt"
