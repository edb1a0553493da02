#!/usr/bin/env bash
# Runs every fuzz target for a bounded time, one after another:
#   scripts/fuzz.sh [DURATION]     (default 10s per target)
# `go test ./...` already runs each target's seeds and the committed corpus
# (testdata/fuzz/<Name>/); this explores beyond them. A failure leaves the
# crashing input in testdata/fuzz/<Name>/: commit it with the fix.
set -euo pipefail
cd "$(dirname "$0")/.."
duration="${1:-10s}"
targets=(
  "./idp FuzzParseSignedQuery"
  "./idp FuzzAuthnRequestPipeline"
  "./idp FuzzBindCallback"
  "./metadata FuzzLoadSPMetadata"
)
for t in "${targets[@]}"; do
  set -- $t
  echo "fuzz.sh: $2 ($1) for $duration"
  go test -run='^$' -fuzz="^$2\$" -fuzztime="$duration" "$1"
done
echo "fuzz.sh: all targets passed"
