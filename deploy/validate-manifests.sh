#!/usr/bin/env bash
# deploy/validate-manifests.sh — validates deploy/cronjob.yaml, deploy/controls-cronjob.yaml, deploy/sharded-job.yaml (batch/v1),
# deploy/reports-claim.yaml (v1) and deploy/serve.yaml (apps/v1 Deployment, v1 Service) against the schemas of every supported Kubernetes version, strictly (an unknown field fails
# too), offline: kubernetes-validate ships the schemas in its package. Before that it proves the
# validator bites: a copy of the CronJob whose DisruptionTarget condition lacks `status` (which
# Kubernetes before 1.34 rejects, kubernetes/kubernetes#131512) must fail on 1.29 to 1.33.
# `make deps` installs the pinned kubernetes-validate; KUBERNETES_VALIDATE names its command.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
validate=${KUBERNETES_VALIDATE:-kubernetes-validate}
# The supported versions (README, "Running it in Kubernetes"): 1.29 is the first whose Job has
# backoffLimitPerIndex, which the sharded Job uses.
versions=(1.29.0 1.30.0 1.31.0 1.32.0 1.33.0 1.34.0)
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT

grep -v '^ *status: "True"$' "$root/deploy/cronjob.yaml" >"$scratch/without-status.yaml"
for version in "${versions[@]}"; do
    [ "$version" = 1.34.0 ] && continue
    if "$validate" --strict --quiet -k "$version" "$scratch/without-status.yaml" >/dev/null 2>&1; then
        echo "kubernetes-validate accepted a DisruptionTarget condition without status on $version: it does not check what it must" >&2
        exit 1
    fi
done

for version in "${versions[@]}"; do
    "$validate" --strict --quiet -k "$version" "$root/deploy/cronjob.yaml" "$root/deploy/controls-cronjob.yaml" \
        "$root/deploy/sharded-job.yaml" "$root/deploy/reports-claim.yaml" "$root/deploy/serve.yaml"
done
echo "deploy/cronjob.yaml, deploy/controls-cronjob.yaml, deploy/sharded-job.yaml, deploy/reports-claim.yaml and deploy/serve.yaml are valid on Kubernetes ${versions[0]%.0} to ${versions[-1]%.0}"
