#!/usr/bin/env bash
# deploy/check-build-context.sh — builds the recon binary from exactly what deploy/Dockerfile's
# build stage copies, so a file the image build needs but does not COPY fails here, not in a
# registry's build. No Docker needed: the COPY lines are read from the Dockerfile, the files
# copied into a scratch folder, and `cargo build --locked --offline --bin recon` run there with
# the same target dir as `make test` (its dependencies are already built).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
dockerfile=$root/deploy/Dockerfile
context=$(mktemp -d)
trap 'rm -rf "$context"' EXIT

# The build stage: from the first FROM to the second; its COPY lines, except COPY --from.
copies=$(awk '/^FROM /{n++} n==1 && /^COPY / && !/--from=/' "$dockerfile")
[ -n "$copies" ] || { echo "no COPY lines in the build stage of $dockerfile" >&2; exit 1; }
while read -r _ args; do
    read -ra parts <<<"$args"
    dest=${parts[-1]}
    for src in "${parts[@]:0:${#parts[@]}-1}"; do
        [ -e "$root/$src" ] || { echo "$dockerfile copies $src, which does not exist" >&2; exit 1; }
        if [[ $dest == */ || $dest == . ]]; then
            mkdir -p "$context/$dest"
            cp -r "$root/$src" "$context/$dest"
        else
            mkdir -p "$(dirname "$context/$dest")"
            cp -r "$root/$src" "$context/$dest"
        fi
    done
done <<<"$copies"

echo "building the binary from the Dockerfile's build context ($(echo "$copies" | wc -l) COPY lines)"
CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$root/target} cargo build --quiet --locked --offline \
    --manifest-path "$context/Cargo.toml" --bin recon
echo "the Dockerfile's build context builds"
