#!/usr/bin/env bash
# Builds the local images the container target is tested with, from files
# only (nothing is pulled): mcsdns:dev from a static build of this tree, and
# coredns:VERSION from the static binary `go install` made.
#   images/build.sh mcsdns            # needs nothing but cargo
#   images/build.sh coredns [BINARY]  # default: $(go env GOPATH)/bin/coredns
set -euo pipefail
cd "$(dirname "$0")/.."
what="${1:?mcsdns or coredns}"
ctx="$(mktemp -d)"
trap 'rm -rf "$ctx"' EXIT
case "$what" in
  mcsdns)
    RUSTFLAGS="-C target-feature=+crt-static" \
      cargo build --target x86_64-unknown-linux-gnu --bin mcsdns
    cp target/x86_64-unknown-linux-gnu/debug/mcsdns images/mcsdns/Dockerfile "$ctx/"
    docker build -q -t mcsdns:dev "$ctx"
    ;;
  coredns)
    bin="${2:-$(go env GOPATH)/bin/coredns}"
    version="$("$bin" -version | head -1 | sed 's/^CoreDNS-//')"
    cp "$bin" images/coredns/Dockerfile "$ctx/"
    docker build -q -t "coredns:$version" "$ctx"
    ;;
  *) echo "unknown image $what" >&2; exit 2 ;;
esac
