#!/usr/bin/env bash
# Builds the release binaries of idp: static (CGO_ENABLED=0), reproducible
# (-trimpath, no build-time stamps), stripped (-ldflags="-s -w") executables
# for linux/amd64 and linux/arm64, and a SHA256SUMS file, in dist/.
#
#   scripts/release.sh            a snapshot of the working tree as it is
#                                 (dist/idp-snapshot-linux-amd64, ...)
#   scripts/release.sh v1.2.0     the release v1.2.0: the annotated tag must
#                                 exist; the tagged commit is built from a
#                                 clean clone, so no local change can slip in
#                                 (dist/idp-v1.2.0-linux-amd64, ...)
#
# The version and commit come from the Go toolchain's VCS stamping: the
# build passes -buildvcs explicitly (auto for a snapshot, true for a release),
# which overrides a -buildvcs=false in GOFLAGS. `idp version` prints them, and
# a release build fails if the binary does not carry exactly VERSION and an
# unmodified tree. (Go does not stamp a build inside a git worktree, whose
# .git is a file; a release is built from a clone, so it always is.)
#
# Environment: DIST (output directory, default dist/), RELEASE_ARCHES
# (default "amd64 arm64"). Verify a download with `sha256sum -c SHA256SUMS`
# (or `shasum -a 256 -c SHA256SUMS` on macOS).
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
version=${1:-}
dist=${DIST:-$root/dist}
arches=${RELEASE_ARCHES:-amd64 arm64}
if [ $# -gt 1 ]; then
  echo "usage: scripts/release.sh [VERSION]" >&2
  exit 2
fi

for arch in $arches; do
  case "$arch" in
    amd64 | arm64) ;;
    *) echo "release: RELEASE_ARCHES: $arch is not a release architecture (amd64, arm64)" >&2; exit 2 ;;
  esac
done

src=$root
buildvcs=auto
label=snapshot
cleanup=()
trap 'for d in "${cleanup[@]}"; do rm -rf "$d"; done' EXIT
if [ -n "$version" ]; then
  # A semantic version as Go module versions spell it (go.dev/ref/mod#versions).
  if ! [[ "$version" =~ ^v(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)(-[0-9A-Za-z.-]+)?$ ]]; then
    echo "release: $version is not a version: use vMAJOR.MINOR.PATCH, e.g. v1.2.0" >&2
    exit 2
  fi
  if ! commit=$(git -C "$root" rev-parse -q --verify "refs/tags/$version^{commit}"); then
    echo "release: there is no tag $version: commit, then \`git tag -a $version -m \"hcidp $version\"\` and run again" >&2
    exit 1
  fi
  tmp=$(mktemp -d)
  cleanup+=("$tmp")
  # Clone the repository itself (also right from a git worktree) at the tag.
  git clone -q --no-checkout "$(git -C "$root" rev-parse --path-format=absolute --git-common-dir)" "$tmp/src"
  git -C "$tmp/src" -c advice.detachedHead=false checkout -q "$version"
  src=$tmp/src
  buildvcs=true
  label=$version
  echo "release: building $version (commit $commit) from a clean clone"
else
  echo "release: building a snapshot of the working tree $root"
fi

mkdir -p "$dist"
rm -f "$dist"/idp-*-linux-* "$dist/SHA256SUMS"
names=()
for arch in $arches; do
  name=idp-$label-linux-$arch
  (cd "$src" && CGO_ENABLED=0 GOOS=linux GOARCH=$arch \
    go build -trimpath -buildvcs=$buildvcs -ldflags="-s -w" -o "$dist/$name" ./cmd/idp)
  if [ -n "$version" ]; then
    # The stamp must say exactly VERSION, built from an unmodified tree.
    info=$(go version -m "$dist/$name")
    if ! grep -qE "^[[:space:]]+mod[[:space:]]+hcidp[[:space:]]+$(printf '%s' "$version" | sed 's/\./\\./g')([[:space:]]|$)" <<<"$info" ||
      ! grep -qE "^[[:space:]]+build[[:space:]]+vcs\.modified=false$" <<<"$info"; then
      echo "release: $name does not carry version $version from an unmodified tree:" >&2
      echo "$info" >&2
      exit 1
    fi
  fi
  names+=("$name")
done
(cd "$dist" && sha256sum "${names[@]}" >SHA256SUMS)
echo "release: wrote to $dist:"
(cd "$dist" && ls -l "${names[@]}" SHA256SUMS && cat SHA256SUMS)
