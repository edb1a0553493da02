#!/usr/bin/env bash
# Installs what the tests need, with apt-get, only when missing:
#   xmlsec1         verifies every signed Response (internal/xmlsectest, e2e, bench)
#   chromium        the real-browser test (e2e/chromium_test.go, via chromedp)
#   fonts-noto-cjk  so the zh-CN pages render Chinese glyphs in screenshots, not boxes
#   util-linux      taskset, to pin the load test's server and client to cores
#   gcc             cgo, needed by the GOEXPERIMENT=boringcrypto build (bench/boring_test.go)
#   prometheus      for promtool, which checks and unit-tests deploy/prometheus/alerts.yaml
# and, for the container CI step (scripts/container-test.sh), when the
# distribution has them (without them that step skips, saying so):
#   podman buildah  build and run the image without a Docker engine
#   runc            the OCI runtime that works on this machine's hybrid cgroups (crun refuses them)
# Idempotent: prints what it found and what it did. Runs as root, or through
# sudo when available. `apt-get update` runs only when something is missing.
# Another apt or dpkg at work (an unattended upgrade, a parallel job) is waited
# for, up to HCIDP_APT_LOCK_TIMEOUT seconds (default 600), instead of failing.
set -euo pipefail

need=()
have() { command -v "$1" >/dev/null 2>&1; }
pkg_installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"; }

if have xmlsec1; then echo "install-test-deps: xmlsec1 present"; else need+=(xmlsec1); fi
if have chromium || [ -x /usr/bin/chromium ]; then echo "install-test-deps: chromium present"; else need+=(chromium); fi
if have dpkg-query && pkg_installed fonts-noto-cjk; then
  echo "install-test-deps: fonts-noto-cjk present"
elif have fc-list && fc-list :lang=zh 2>/dev/null | grep -q .; then
  echo "install-test-deps: a Chinese font is present"
else
  need+=(fonts-noto-cjk)
fi
if have taskset; then echo "install-test-deps: taskset present"; else need+=(util-linux); fi
if have gcc; then echo "install-test-deps: gcc present"; else need+=(gcc); fi
if have promtool; then echo "install-test-deps: promtool present"; else need+=(prometheus); fi
optional=()
for tool in podman buildah runc; do
  if have "$tool"; then echo "install-test-deps: $tool present"; else optional+=("$tool"); fi
done

if [ ${#need[@]} -eq 0 ] && [ ${#optional[@]} -eq 0 ]; then
  echo "install-test-deps: nothing to install"
  exit 0
fi

# The optional tools alone are no reason to fail: the container step skips.
cannot() {
  if [ ${#need[@]} -eq 0 ]; then
    echo "install-test-deps: cannot install ${optional[*]} ($1): the container CI step will skip" >&2
    exit 0
  fi
  echo "install-test-deps: missing ${need[*]} and $1: install them yourself" >&2
  exit 1
}
if [ "$(id -u)" -eq 0 ]; then
  sudo=()
elif have sudo; then
  sudo=(sudo)
else
  cannot "not root, and sudo is not available"
fi
have apt-get || cannot "apt-get is not available"

# Waiting for the package manager's locks. dpkg and apt take fcntl locks on
# these files; /proc/locks names each held lock by device and inode. apt-get's
# DPkg::Lock::Timeout covers only dpkg's frontend lock (not the lists lock
# `apt-get update` takes), hence the loop and the retries below.
lock_timeout=${HCIDP_APT_LOCK_TIMEOUT:-600}
deadline=$(($(date +%s) + lock_timeout))
apt_locks=(/var/lib/dpkg/lock-frontend /var/lib/dpkg/lock /var/lib/apt/lists/lock /var/cache/apt/archives/lock)
lock_holder() { # prints the pid holding one of the locks, if any
  local f dev ino id
  for f in "${apt_locks[@]}"; do
    [ -e "$f" ] || continue
    dev=$((16#$(stat -c %D "$f"))) ino=$(stat -c %i "$f")
    id=$(printf '%02x:%02x:%s' $(((dev >> 8) & 0xfff)) $(((dev & 0xff) | ((dev >> 12) & 0xfff00))) "$ino")
    awk -v id="$id" '$6 == id { print $5; found = 1; exit } END { exit !found }' /proc/locks && return 0
  done
  return 1
}
wait_for_apt() {
  local pid said=
  while pid=$(lock_holder); do
    if [ "$(date +%s)" -ge "$deadline" ]; then
      echo "install-test-deps: apt/dpkg is still locked by process $pid after ${lock_timeout}s: giving up" >&2
      return 1
    fi
    [ -n "$said" ] || echo "install-test-deps: waiting for another apt/dpkg (process $pid) to finish"
    said=1
    sleep 2
  done
}
# apt_get ARGS...: apt-get once the locks are free; again if another apt took
# a lock in between.
apt_get() {
  local out
  while :; do
    wait_for_apt || return 1
    if out=$("${sudo[@]}" apt-get -o DPkg::Lock::Timeout="$lock_timeout" "$@" 2>&1); then
      [ -z "$out" ] || printf '%s\n' "$out"
      return 0
    fi
    printf '%s\n' "$out" >&2
    if ! grep -q "Could not get lock" <<<"$out" || [ "$(date +%s)" -ge "$deadline" ]; then
      return 1
    fi
  done
}

export DEBIAN_FRONTEND=noninteractive
apt_get update -qq
if [ ${#need[@]} -gt 0 ]; then
  echo "install-test-deps: installing ${need[*]}"
  # Installing prometheus must not start a Prometheus server: without an
  # init system's policy, forbid service starts for the time of the install.
  if [ ! -e /usr/sbin/policy-rc.d ] && [ "$(id -u)" -eq 0 ]; then
    printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d && chmod 0755 /usr/sbin/policy-rc.d
    trap 'rm -f /usr/sbin/policy-rc.d' EXIT
  fi
  apt_get install -y -qq --no-install-recommends "${need[@]}"
  echo "install-test-deps: installed ${need[*]}"
fi
if [ ${#optional[@]} -gt 0 ]; then
  echo "install-test-deps: installing ${optional[*]} for the container CI step"
  if apt_get install -y -qq --no-install-recommends "${optional[@]}"; then
    echo "install-test-deps: installed ${optional[*]}"
  else
    echo "install-test-deps: could not install ${optional[*]}: the container CI step will skip" >&2
  fi
fi
