#!/usr/bin/env bash
# CI step: builds the hcidp image from deploy/Dockerfile, starts it as a
# partner would (read-only root filesystem, non-root, no capabilities, keys
# made by the image's own `idp keys generate`, SQLite in a volume), waits for
# /readyz, checks /healthz, /metrics and `idp version`, and stops it with
# SIGTERM, which must drain and exit 0. Then, when a PostgreSQL server is on
# 127.0.0.1:5432, it runs two replicas of the image on one database and checks
# that a customer written through one is read through the other.
#
# No Docker engine is needed, and no registry: buildah builds the Dockerfile
# itself, with local stand-ins for its two base images (the host's Go
# toolchain on an empty image for golang:1.26; CA certificates, time zones
# and distroless's users on an empty image for distroless/static:nonroot),
# passed through the Dockerfile's GO_IMAGE and RUNTIME_IMAGE arguments.
# What works on this kind of machine (a VM without systemd, cgroup v1 with a
# cgroup2 hierarchy holding a controller, as root):
#   - buildah bud --isolation chroot (no OCI runtime needed for RUN steps);
#   - podman with runc: crun refuses "cgroups in hybrid mode";
#   - explicit --ulimit nofile/nproc at or below the current hard limits: the
#     defaults (raised limits) are refused with EPERM;
#   - --network host with the server on 127.0.0.1, the events logger "file",
#     the cgroupfs cgroup manager, the overlay storage driver.
# It skips, saying so, only when podman or buildah cannot be had (see
# scripts/install-test-deps.sh); any other failure fails the step.
#
# Environment: CONTAINER_RUNTIME (default: runc when installed, else crun),
# HCIDP_IMAGE (the tag to build, default localhost/hcidp:ci).
set -euo pipefail
cd "$(dirname "$0")/.."

say() { echo "container-test: $*"; }
have() { command -v "$1" >/dev/null 2>&1; }
for tool in podman buildah; do
  if ! have "$tool"; then
    say "SKIP: $tool is not installed and could not be (scripts/install-test-deps.sh installs it with apt-get on Debian)"
    exit 0
  fi
done
have go || { say "the Go toolchain is needed to stand in for the golang base image" >&2; exit 1; }
have curl || { say "curl is needed" >&2; exit 1; }

runtime=${CONTAINER_RUNTIME:-}
if [ -z "$runtime" ]; then
  if have runc; then runtime=runc; else runtime=crun; fi
fi
podman=(podman --runtime "$runtime" --cgroup-manager cgroupfs --events-backend file)
nofile=$(ulimit -Hn); [ "$nofile" = unlimited ] || [ "$nofile" -gt 65536 ] && nofile=65536
nproc=$(ulimit -Hu); [ "$nproc" = unlimited ] || [ "$nproc" -gt 4096 ] && nproc=4096
limits=(--ulimit "nofile=$nofile:$nofile" --ulimit "nproc=$nproc:$nproc")
image=${HCIDP_IMAGE:-localhost/hcidp:ci}
say "$(podman --version), $(buildah --version | cut -d' ' -f1-3), runtime $runtime"

work=$(mktemp -d)
containers=()
pgdb=
cleanup() {
  for c in "${containers[@]}"; do "${podman[@]}" rm -f -t 2 "$c" >/dev/null 2>&1 || true; done
  if [ -n "$pgdb" ]; then psql -h 127.0.0.1 -U postgres -qc "DROP DATABASE IF EXISTS $pgdb" >/dev/null 2>&1 || true; fi
  rm -rf "$work"
  # Untagged images left by this and earlier builds (the build stage, the
  # previous localhost/hcidp:ci): all derive from the stand-ins' label.
  "${podman[@]}" image prune -f --filter label=hcidp.standin >/dev/null 2>&1 || true
}
trap cleanup EXIT

# free_port prints a TCP port nothing listens on at 127.0.0.1.
free_port() {
  local p
  for _ in $(seq 1 50); do
    p=$((20000 + RANDOM % 20000))
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then echo "$p"; return; fi
  done
  say "no free port found" >&2; return 1
}

# The stand-in base images, built once per Go version and reused.
goversion=$(go env GOVERSION)
go_image=localhost/hcidp-ci/golang-standin:$goversion-git
static_image=localhost/hcidp-ci/static-standin:1
if ! "${podman[@]}" image exists "$go_image"; then
  say "building $go_image (the host's Go toolchain, for the Dockerfile's build stage)"
  ctr=$(buildah from scratch)
  mnt=$(buildah mount "$ctr")
  mkdir -p "$mnt/usr/local" "$mnt/tmp" "$mnt/root" "$mnt/go" "$mnt/etc/ssl/certs"
  chmod 1777 "$mnt/tmp"
  cp -a "$(go env GOROOT)" "$mnt/usr/local/go"
  cp /etc/ssl/certs/ca-certificates.crt "$mnt/etc/ssl/certs/"
  echo 'root:x:0:0:root:/root:/sbin/nologin' >"$mnt/etc/passwd"
  echo 'root:x:0:' >"$mnt/etc/group"
  # git, as in the official golang images, so that go build stamps the commit.
  if have git; then
    git=$(command -v git)
    for f in "$git" $(ldd "$git" | awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// { print $1 }'); do
      cp -L --parents "$f" "$mnt/"
    done
  fi
  buildah umount "$ctr" >/dev/null
  buildah config --env PATH=/usr/local/go/bin:/go/bin:/usr/bin --env GOPATH=/go --env HOME=/root \
    --env GOTOOLCHAIN=local --workingdir /go --label hcidp.standin=golang "$ctr"
  buildah commit -q --rm "$ctr" "$go_image" >/dev/null
fi
if ! "${podman[@]}" image exists "$static_image"; then
  say "building $static_image (what distroless/static-debian12:nonroot provides)"
  ctr=$(buildah from scratch)
  mnt=$(buildah mount "$ctr")
  mkdir -p "$mnt/etc/ssl/certs" "$mnt/tmp" "$mnt/home/nonroot" "$mnt/usr/share"
  chmod 1777 "$mnt/tmp"
  chown 65532:65532 "$mnt/home/nonroot" && chmod 0700 "$mnt/home/nonroot"
  cp /etc/ssl/certs/ca-certificates.crt "$mnt/etc/ssl/certs/"
  [ -d /usr/share/zoneinfo ] && cp -a /usr/share/zoneinfo "$mnt/usr/share/"
  printf '%s\n' 'root:x:0:0:root:/root:/sbin/nologin' 'nobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin' \
    'nonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin' >"$mnt/etc/passwd"
  printf '%s\n' 'root:x:0:' 'nobody:x:65534:' 'nonroot:x:65532:' >"$mnt/etc/group"
  echo 'hosts: files dns' >"$mnt/etc/nsswitch.conf"
  buildah umount "$ctr" >/dev/null
  buildah config --user 65532:65532 --workingdir /home/nonroot --label hcidp.standin=distroless-static "$ctr"
  buildah commit -q --rm "$ctr" "$static_image" >/dev/null
fi

# The Dockerfile, as written. The host's module and build caches are mounted
# so that nothing is downloaded or compiled twice; GOPROXY is the host's, but
# not GOFLAGS (this sandbox sets -buildvcs=false there).
say "building $image from deploy/Dockerfile"
buildah bud --isolation chroot --pull=never -q -f deploy/Dockerfile -t "$image" \
  --build-arg GO_IMAGE="$go_image" --build-arg RUNTIME_IMAGE="$static_image" \
  --build-arg GOPROXY="$(go env GOPROXY)" --build-arg GOFLAGS= \
  -v "$(go env GOMODCACHE):/go/pkg/mod" -v "$(go env GOCACHE):/root/.cache/go-build" . >/dev/null
user=$("${podman[@]}" image inspect -f '{{.Config.User}}' "$image")
[ "$user" = "65532:65532" ] || { say "the image runs as \"$user\", want 65532:65532 (non-root)" >&2; exit 1; }
say "built $image, user $user, $("${podman[@]}" image inspect -f '{{.Size}}' "$image") bytes"

version=$("${podman[@]}" run --rm --network none "${limits[@]}" "$image" version)
echo "$version" | sed 's/^/  /'
[[ "$version" == "idp "* ]] || { say "idp version printed no version" >&2; exit 1; }
# Go stamps the commit when the build context's .git is a directory (a clone;
# a git worktree's .git is a file, which Go does not follow).
if [ -d .git ] && have git; then
  head=$(git rev-parse HEAD)
  grep -q "^revision: *$head" <<<"$version" || { say "the image's idp is not stamped with commit $head" >&2; exit 1; }
  say "the image's idp is stamped with commit $head"
else
  say "the build context's .git is not a directory (a git worktree?): no commit stamp expected"
fi

# Keys from the image's own CLI, a configuration, a writable data volume.
etc=$work/etc data=$work/data
mkdir -p "$etc" "$data"
chown 65532:65532 "$etc" "$data"
"${podman[@]}" run --rm --network none "${limits[@]}" -v "$etc:/out" "$image" keys generate --out /out --bits 2048
port=$(free_port)
cat >"$etc/hcidp.yaml" <<EOF
listen: 127.0.0.1:$port
base_url: http://127.0.0.1:$port
key_file: /etc/hcidp/idp.key
cert_file: /etc/hcidp/idp.crt
bp_id: bp-container-test
x_account_type: CONTAINERTEST
database: sqlite:/var/lib/hcidp/hcidp.db
service_providers:
  - site: cn
EOF
chmod 0644 "$etc/hcidp.yaml"

# run_idp NAME [PODMAN-OPTIONS...] [-- IDP-ARGS...]: starts the image in the
# background, locked down as in deploy/kubernetes/deployment.yaml.
run_idp() {
  local name=$1 opts=() args=()
  shift
  while [ $# -gt 0 ] && [ "$1" != -- ]; do opts+=("$1"); shift; done
  [ $# -gt 0 ] && shift && args=("$@")
  containers+=("$name")
  "${podman[@]}" run -d --name "$name" --network host --read-only --cap-drop ALL \
    --security-opt no-new-privileges "${limits[@]}" "${opts[@]}" "$image" "${args[@]}" >/dev/null
}
# wait_ready NAME PORT: waits up to 60 s for /readyz to answer 200.
wait_ready() {
  local name=$1 port=$2 body
  for _ in $(seq 1 120); do
    if body=$(curl -fsS --max-time 2 "http://127.0.0.1:$port/readyz" 2>/dev/null); then
      say "$name: GET /readyz 200 $body"
      return 0
    fi
    if [ "$("${podman[@]}" inspect -f '{{.State.Running}}' "$name")" != true ]; then
      say "$name exited:" >&2
      "${podman[@]}" logs "$name" >&2
      return 1
    fi
    sleep 0.5
  done
  say "$name: /readyz did not answer 200 within 60 s:" >&2
  curl -sS "http://127.0.0.1:$port/readyz" >&2 || true
  "${podman[@]}" logs "$name" >&2
  return 1
}

name=hcidp-ct-$$
run_idp "$name" -v "$etc:/etc/hcidp:ro" -v "$data:/var/lib/hcidp"
wait_ready "$name" "$port"
[ "$(curl -fsS "http://127.0.0.1:$port/healthz")" = ok ] || { say "/healthz is not ok" >&2; exit 1; }
metrics=$(curl -fsS "http://127.0.0.1:$port/metrics")
grep -qx 'hcidp_database_up 1' <<<"$metrics" || { say "/metrics lacks hcidp_database_up 1" >&2; exit 1; }
metadata=$(curl -fsS "http://127.0.0.1:$port/saml/metadata")
grep -q 'entityID="http://127.0.0.1:'"$port"'/saml/metadata"' <<<"$metadata" ||
  { say "/saml/metadata does not name the configured entityID" >&2; exit 1; }
[ -s "$data/hcidp.db" ] || { say "no SQLite database in the data volume" >&2; exit 1; }
"${podman[@]}" stop -t 20 "$name" >/dev/null
code=$("${podman[@]}" inspect -f '{{.State.ExitCode}}' "$name")
logs=$("${podman[@]}" logs "$name" 2>&1)
if [ "$code" != 0 ] || ! grep -q 'shutting down' <<<"$logs"; then
  say "after SIGTERM: exit code $code, want 0 after draining; logs:" >&2
  echo "$logs" >&2
  exit 1
fi
say "$name: SIGTERM drained and exited 0"

# Two replicas on one PostgreSQL database. The second runs as on Kubernetes:
# the configuration of deploy/kubernetes/hcidp.yaml (its addresses moved to
# loopback ports) at /etc/hcidp/config, the keys at /etc/hcidp/keys.
if have pg_isready && have psql && pg_isready -h 127.0.0.1 -p 5432 -q; then
  pgdb=hcidp_container_$$
  psql -h 127.0.0.1 -U postgres -qc "CREATE DATABASE $pgdb"
  dsn="postgres://postgres@127.0.0.1:5432/$pgdb?sslmode=disable"
  apikey=$(head -c 32 /dev/urandom | base64 | tr -d '\n/+=')
  p1=$(free_port) p2=$(free_port)
  run_idp "$name-1" -v "$etc:/etc/hcidp:ro" -e HCIDP_DATABASE="$dsn" -e HCIDP_LISTEN="127.0.0.1:$p1" -e HCIDP_API_KEY="$apikey"
  wait_ready "$name-1" "$p1" # the first applies the migrations
  k8s=$work/k8s-config
  mkdir -p "$k8s"
  sed -e "s|^listen: 0.0.0.0:[0-9]*|listen: 127.0.0.1:$p2|" -e "s|^metrics_listen: 0.0.0.0:[0-9]*|metrics_listen: 127.0.0.1:$(free_port)|" \
    deploy/kubernetes/hcidp.yaml >"$k8s/hcidp.yaml"
  grep -q "^listen: 127.0.0.1:$p2" "$k8s/hcidp.yaml" || { say "deploy/kubernetes/hcidp.yaml has no listen: 0.0.0.0:PORT line" >&2; exit 1; }
  chmod 0644 "$k8s/hcidp.yaml"
  run_idp "$name-2" -v "$k8s:/etc/hcidp/config:ro" -v "$etc:/etc/hcidp/keys:ro" \
    -e HCIDP_DATABASE="$dsn" -e HCIDP_API_KEY="$apikey" -- serve --config /etc/hcidp/config/hcidp.yaml
  wait_ready "$name-2" "$p2"
  status=$(curl -sS -o /dev/null -w '%{http_code}' -X PUT "http://127.0.0.1:$p1/api/v1/customers/ct-0001" \
    -H "Authorization: Bearer $apikey" -H 'Content-Type: application/json' -d '{"display_name":"Container Test"}')
  [ "$status" = 201 ] || { say "replica 1: PUT customer answered $status, want 201" >&2; exit 1; }
  customer=$(curl -fsS "http://127.0.0.1:$p2/api/v1/customers/ct-0001" -H "Authorization: Bearer $apikey")
  grep -q '"display_name":"Container Test"' <<<"$customer" ||
    { say "replica 2 does not see the customer written through replica 1: $customer" >&2; exit 1; }
  say "two replicas on PostgreSQL (one with the Kubernetes configuration): a customer written through one is read through the other"
else
  say "no PostgreSQL server on 127.0.0.1:5432: the two-replica check is skipped"
fi
say "passed"
