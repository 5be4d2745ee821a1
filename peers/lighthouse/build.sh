#!/usr/bin/env bash
# Build Submariner Lighthouse's CoreDNS (the `lighthouse-coredns` binary of
# github.com/submariner-io/lighthouse, folder coredns/) from a source tree
# into a cache outside the repository:
#
#   peers/lighthouse/build.sh SRC_DIR
#   -> ${MCSDNS_LIGHTHOUSE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/mcsdns/lighthouse}/<commit>/bin/lighthouse-coredns
#
# SRC_DIR is a clone of submariner-io/lighthouse (docs/lighthouse.md: the
# profile was measured at 9d3c39e8), or an exported tree of it; <commit> is
# its short commit (LIGHTHOUSE_COMMIT overrides it for a tree without .git).
# Lighthouse itself is not on the Go module proxy, but its dependencies
# are: they come from the proxy alone (no `direct` fallback). Skipped when
# the binary is already there. Nothing here is committed.
set -euo pipefail

src="${1:?usage: peers/lighthouse/build.sh SRC_DIR (a clone of github.com/submariner-io/lighthouse)}"
src="$(cd "$src" && pwd)"
if [ ! -f "$src/coredns/go.mod" ] || [ ! -f "$src/coredns/main.go" ]; then
  echo "$src has no coredns/go.mod: not a Lighthouse source tree" >&2
  exit 2
fi

commit="${LIGHTHOUSE_COMMIT:-$(git -C "$src" rev-parse --short=8 HEAD 2>/dev/null || true)}"
if [ -z "$commit" ]; then
  echo "$src is not a git checkout: set LIGHTHOUSE_COMMIT to the commit it was exported from" >&2
  exit 2
fi
out="${MCSDNS_LIGHTHOUSE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/mcsdns/lighthouse}/$commit/bin"
bin="$out/lighthouse-coredns"

if [ -x "$bin" ]; then
  echo "Lighthouse $commit already built: $bin" >&2
  echo "$bin"
  exit 0
fi

GOPROXY="$(go env GOPROXY | sed 's/,direct//')"
export GOPROXY CGO_ENABLED=0
mkdir -p "$out"
start=$SECONDS
echo "building Lighthouse $commit from $src/coredns" >&2
# As the project's Makefile does (LDFLAGS = -X main.version=...), so
# `-subm-version` names the commit.
(cd "$src/coredns" && go build -trimpath -ldflags "-X main.version=$commit" -o "$bin.tmp" .)
mv "$bin.tmp" "$bin"
echo "built Lighthouse $commit in $((SECONDS - start)) s: $bin" >&2
echo "$bin"
