//go:build tools

// Package tools pins the real Kubernetes control plane that mcsdns tests run
// against. Nothing here is compiled into mcsdns: build.sh builds these three
// main packages into a cache outside the repository.
package tools

import (
	_ "go.etcd.io/etcd/server/v3"
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kube-controller-manager"
)
