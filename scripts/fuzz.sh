#!/usr/bin/env bash
# Runs every fuzz target for a bounded time, one after another:
#   scripts/fuzz.sh [DURATION]     (default 10s per target; a Go duration such as 500ms, 10s, 2m)
# `go test ./...` already runs each target's seeds and the committed corpus
# (testdata/fuzz/<Name>/); this explores beyond them. A failure leaves the
# crashing input in testdata/fuzz/<Name>/: commit it with the fix.
#
# A target that executes fewer than HCIDP_FUZZ_MIN_EXECS_PER_SEC (default 20)
# inputs per second of DURATION fails the run: it is stuck and tests nothing
# (a stuck target counts a few dozen). Each target's count is printed at the
# end. On a loaded 2-core machine the slowest target, FuzzBindCallback (it
# signs each input with RSA), still runs about 100 a second; the others
# thousands.
#
# Minimisation is bounded by HCIDP_FUZZ_MINIMIZE_TIME (default 1s, go test's
# -fuzzminimizetime; Go's default is 60s). The engine minimises every new
# interesting input by re-running the target on shortened copies, and its
# last pass tries every sub-slice: O(n^2) runs. For a target that parses XML
# and checks signatures (about a millisecond a run) that never finishes, so
# with the default a short run spent all its time minimising and counted no
# executions. Crashers are still written and reproduce; raise the bound for
# a long local run if you want them smaller.
set -euo pipefail
cd "$(dirname "$0")/.."
duration="${1:-10s}"
per_sec="${HCIDP_FUZZ_MIN_EXECS_PER_SEC:-20}"
minimize="${HCIDP_FUZZ_MINIMIZE_TIME:-1s}"
targets=(
  "./idp FuzzParseSignedQuery"
  "./idp FuzzAuthnRequestPipeline"
  "./server FuzzBindCallback"
  "./metadata FuzzLoadSPMetadata"
  "./internal/xmlguard FuzzScanImpliesRoundTrip"
  "./login FuzzSessionCodecDecode"
)

# millis converts a Go duration (h, m, s, ms; e.g. 1m30s) to milliseconds.
millis() {
  local rest="$1" total=0 n unit
  [[ "$rest" =~ ^([0-9]+(ms|h|m|s))+$ ]] || return 1
  while [[ "$rest" =~ ^([0-9]+)(ms|h|m|s)(.*)$ ]]; do
    n="${BASH_REMATCH[1]}" unit="${BASH_REMATCH[2]}" rest="${BASH_REMATCH[3]}"
    case "$unit" in
      h) total=$((total + n * 3600000)) ;;
      m) total=$((total + n * 60000)) ;;
      s) total=$((total + n * 1000)) ;;
      ms) total=$((total + n)) ;;
    esac
  done
  echo "$total"
}
if ! ms="$(millis "$duration")"; then
  echo "fuzz.sh: DURATION $duration is not a duration such as 10s, 500ms or 1m30s" >&2
  exit 2
fi
floor=$((ms * per_sec / 1000))

log="$(mktemp)"
trap 'rm -f "$log"' EXIT
summary=()
failed=0
for t in "${targets[@]}"; do
  set -- $t
  echo "fuzz.sh: $2 ($1) for $duration"
  go test -run='^$' -fuzz="^$2\$" -fuzztime="$duration" -fuzzminimizetime="$minimize" "$1" 2>&1 | tee "$log"
  # The engine prints "fuzz: elapsed: 10s, execs: 123456 (12345/sec), ..."
  # every 3 s and at the end; the last one is the total.
  # None at all (a target that did not run: "no fuzz tests to fuzz") counts 0.
  execs="$(grep -o 'execs: [0-9]*' "$log" | tail -n 1 | cut -d' ' -f2 || true)"
  execs="${execs:-0}"
  status=ok
  if [ "$execs" -lt "$floor" ]; then
    status="FAILED: fewer than $floor"
    failed=1
  fi
  summary+=("$(printf '%-28s %10s execs  %s' "$2" "$execs" "$status")")
done
echo "fuzz.sh: executions in $duration per target (floor $floor = $per_sec/s):"
printf '  %s\n' "${summary[@]}"
if [ "$failed" -ne 0 ]; then
  echo "fuzz.sh: a target made no progress: it tests nothing (see scripts/fuzz.sh)" >&2
  exit 1
fi
echo "fuzz.sh: all targets passed"
