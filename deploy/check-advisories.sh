#!/usr/bin/env bash
# deploy/check-advisories.sh [PROJECT_DIR] — `cargo deny --offline check advisories` against the
# RustSec advisory database snapshot in ../shared/advisory-db (ADVISORY_DB overrides), with the
# project's deny.toml, for `make test`. The snapshot's `materialize` lays it out as the checkout
# cargo-deny reads; its date is printed as the "as of" of the result. A missing snapshot fails
# under CI=true and is a loud warning elsewhere. CARGO_DENY names the binary (default cargo-deny).
# PROJECT_DIR (default: this repository) holds Cargo.toml, Cargo.lock and deny.toml.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
project=$(cd "${1:-$root}" && pwd)
snapshot=${ADVISORY_DB:-$root/../shared/advisory-db}
deny=${CARGO_DENY:-cargo-deny}

if [ ! -x "$snapshot/materialize" ]; then
    message="no RustSec advisory snapshot at $snapshot (its materialize script): dependencies were NOT checked for advisories"
    if [ "${CI:-}" = true ]; then
        echo "check-advisories: ERROR: $message" >&2
        exit 1
    fi
    printf '\n********************************************************************************\n' >&2
    printf 'check-advisories: WARNING: %s\n' "$message" >&2
    printf '********************************************************************************\n\n' >&2
    exit 0
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
db=$("$snapshot/materialize" "$work/db" | tail -n 1)
as_of=$(git -C "$db"/advisory-db-* log -1 --format=%cs)
# The project's policy, reading the snapshot instead of fetching the database.
awk -v db="$db" '{ print } /^\[advisories\]/ { print "db-path = \"" db "\"" }' \
    "$project/deny.toml" >"$work/deny.toml"
echo "check-advisories: RustSec advisory database as of $as_of (offline snapshot $snapshot)"
cd "$project"
# cargo metadata, which cargo-deny reads offline, needs every platform's crates (crates.io only).
cargo fetch --locked --quiet --manifest-path "$project/Cargo.toml"
"$deny" --log-level error --offline --config "$work/deny.toml" \
    --manifest-path "$project/Cargo.toml" check advisories
echo "check-advisories: no unhandled advisory as of $as_of"
