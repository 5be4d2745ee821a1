#!/usr/bin/env bash
# Build the real control plane (etcd, kube-apiserver, kube-controller-manager)
# pinned by this folder's go.mod, and fetch the mcs-api CRDs, into a cache
# outside the repository:
#
#   ${MCSDNS_CONTROL_PLANE:-${XDG_CACHE_HOME:-$HOME/.cache}/mcsdns/control-plane/v1.34.3}
#     bin/{etcd,kube-apiserver,kube-controller-manager}
#     crds/*.yaml        (config/crd of sigs.k8s.io/mcs-api at MCS_API_VERSION)
#
# Skipped when everything is already there for this go.sum. Modules come from
# the Go module proxy alone (no `direct` fallback).
set -euo pipefail
cd "$(dirname "$0")"

K8S_VERSION=v1.34.3
MCS_API_VERSION=v0.5.2
out="${MCSDNS_CONTROL_PLANE:-${XDG_CACHE_HOME:-$HOME/.cache}/mcsdns/control-plane/$K8S_VERSION}"
stamp="$(sha256sum go.mod go.sum | sha256sum | cut -c1-16)-$MCS_API_VERSION"

if [ -f "$out/stamp" ] && [ "$(cat "$out/stamp")" = "$stamp" ] \
  && [ -x "$out/bin/etcd" ] && [ -x "$out/bin/kube-apiserver" ] \
  && [ -x "$out/bin/kube-controller-manager" ] && ls "$out"/crds/*.yaml >/dev/null 2>&1; then
  echo "control plane $K8S_VERSION already built in $out" >&2
  exit 0
fi

GOPROXY="$(go env GOPROXY | sed 's/,direct//')"
export GOPROXY CGO_ENABLED=0
mkdir -p "$out/bin" "$out/crds"
rm -f "$out/stamp"

pkg=k8s.io/component-base/version
ldflags="-s -w -X $pkg.gitVersion=$K8S_VERSION -X $pkg.gitMajor=1 -X $pkg.gitMinor=34 -X $pkg.gitTreeState=clean"
build() {
  local name=$1 path=$2 start=$SECONDS
  echo "building $name ($path)" >&2
  go build -trimpath -ldflags "$ldflags" -o "$out/bin/$name.tmp" "$path"
  mv "$out/bin/$name.tmp" "$out/bin/$name"
  echo "built $name in $((SECONDS - start)) s" >&2
}
build etcd go.etcd.io/etcd/server/v3
build kube-apiserver k8s.io/kubernetes/cmd/kube-apiserver
build kube-controller-manager k8s.io/kubernetes/cmd/kube-controller-manager

# The CRDs exactly as the mcs-api module publishes them.
dir="$(go mod download -json "sigs.k8s.io/mcs-api@$MCS_API_VERSION" | sed -n 's/^\t"Dir": "\(.*\)",$/\1/p')"
rm -f "$out"/crds/*.yaml
install -m 0644 "$dir"/config/crd/*.yaml "$out/crds/"
echo "$stamp" > "$out/stamp"
echo "control plane $K8S_VERSION built in $out" >&2
