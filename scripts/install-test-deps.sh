#!/usr/bin/env bash
# Installs what the tests need, with apt-get, only when missing:
#   xmlsec1         verifies every signed Response (internal/xmlsectest, e2e, bench)
#   chromium        the real-browser test (e2e/chromium_test.go, via chromedp)
#   fonts-noto-cjk  so the zh-CN pages render Chinese glyphs in screenshots, not boxes
#   util-linux      taskset, to pin the load test's server and client to cores
#   gcc             cgo, needed by the GOEXPERIMENT=boringcrypto build (bench/boring_test.go)
# Idempotent: prints what it found and what it did. Runs as root, or through
# sudo when available. `apt-get update` runs only when something is missing.
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

if [ ${#need[@]} -eq 0 ]; then
  echo "install-test-deps: nothing to install"
  exit 0
fi

if [ "$(id -u)" -eq 0 ]; then
  sudo=()
elif have sudo; then
  sudo=(sudo)
else
  echo "install-test-deps: missing ${need[*]} and not root, and sudo is not available: install them yourself" >&2
  exit 1
fi
if ! have apt-get; then
  echo "install-test-deps: missing ${need[*]} and apt-get is not available: install them yourself" >&2
  exit 1
fi
echo "install-test-deps: installing ${need[*]}"
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -qq
"${sudo[@]}" apt-get install -y -qq --no-install-recommends "${need[@]}"
echo "install-test-deps: installed ${need[*]}"
