#!/usr/bin/env bash
# Runs the whole test suite, as CI does (.ci/run calls this script).
# It installs what the tests need (xmlsec1, Chromium, CJK fonts, promtool,
# podman and buildah) when missing, waiting for another apt or dpkg to finish
# rather than failing (scripts/install-test-deps.sh), starts the local
# PostgreSQL and Redis when they are installed but stopped, and runs every Go
# test with the race detector (among them the release build), the deployment
# checks (deploy/validate, promtool) and the container image test. Tests that
# need PostgreSQL or Redis skip, saying so, only when those servers are truly
# absent; the container step only when podman or buildah cannot be installed.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install-test-deps.sh

# PostgreSQL (optional locally, present in CI).
if [ -z "${HCIDP_TEST_POSTGRES_DSN:-}" ] && command -v pg_ctlcluster >/dev/null 2>&1 && [ -d /etc/postgresql ]; then
  if ! pg_isready -h 127.0.0.1 -p 5432 -q 2>/dev/null; then
    echo "test.sh: starting PostgreSQL"
    pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n 1)" main start || true
    for _ in $(seq 1 30); do pg_isready -h 127.0.0.1 -p 5432 -q 2>/dev/null && break; sleep 0.5; done
  fi
  if pg_isready -h 127.0.0.1 -p 5432 -q 2>/dev/null; then
    psql -h 127.0.0.1 -U postgres -tAc "SELECT 1 FROM pg_database WHERE datname='hcidp_test'" | grep -q 1 ||
      psql -h 127.0.0.1 -U postgres -qc "CREATE DATABASE hcidp_test"
    export HCIDP_TEST_POSTGRES_DSN="postgres://postgres@127.0.0.1:5432/hcidp_test?sslmode=disable"
  fi
fi
[ -n "${HCIDP_TEST_POSTGRES_DSN:-}" ] && echo "test.sh: PostgreSQL tests use $HCIDP_TEST_POSTGRES_DSN" ||
  echo "test.sh: no PostgreSQL server: PostgreSQL tests will skip"

# Redis (optional locally, present in CI).
if [ -z "${HCIDP_TEST_REDIS_ADDR:-}" ] && command -v redis-server >/dev/null 2>&1; then
  if ! (exec 3<>/dev/tcp/127.0.0.1/6379) 2>/dev/null; then
    echo "test.sh: starting Redis"
    mkdir -p /tmp/hcidp-redis
    redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no \
      --dir /tmp/hcidp-redis --logfile /tmp/hcidp-redis/redis.log || true
    sleep 0.5
  fi
  if (exec 3<>/dev/tcp/127.0.0.1/6379) 2>/dev/null; then
    export HCIDP_TEST_REDIS_ADDR="127.0.0.1:6379"
  fi
fi

echo "test.sh: gofmt and go vet"
unformatted=$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))
if [ -n "$unformatted" ]; then
  echo "gofmt would change:"; echo "$unformatted"; exit 1
fi
go vet ./...

echo "test.sh: go.mod and go.sum tidy (hcidp, bench, deploy/validate)"
for m in . bench deploy/validate; do
  (cd "$m" && go mod tidy -diff) || { echo "$m: run (cd $m && go mod tidy)"; exit 1; }
done

echo "test.sh: go test -race ./..."
go test -race -count=1 -timeout 20m ./...

echo "test.sh: benchmark module (bench: vet, the BoringCrypto build test; every benchmark once, so none rots; measuring is by hand, BENCHMARKS.md)"
(cd bench && go vet ./... && go test -count=1 -timeout 20m ./... && go test -count=1 -run '^$' -bench . -benchtime 1x ./...)
go test -count=1 -run '^$' -bench . -benchtime 1x ./idp ./storage/sql

echo "test.sh: deployment files (deploy/validate: Kubernetes manifests, systemd unit, dashboard)"
(cd deploy/validate && go vet ./... && go test -count=1 ./...)

echo "test.sh: Prometheus alerts (promtool check rules, promtool test rules)"
promtool check rules deploy/prometheus/alerts.yaml
promtool test rules deploy/prometheus/alerts_test.yaml

echo "test.sh: container image (scripts/container-test.sh)"
bash scripts/container-test.sh

if [ -x scripts/fuzz.sh ]; then
  echo "test.sh: fuzz targets (short, bounded)"
  bash scripts/fuzz.sh "${HCIDP_FUZZTIME:-10s}"
fi
echo "test.sh: all tests passed"
