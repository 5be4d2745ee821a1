# Everyday recipes. `just --list` shows them.

# Build the release binary.
build:
    cargo build --release

# The test suite, as CI runs it (the container tests skip without a Docker engine).
test:
    cargo test --workspace --features container

# The property tests with many more cases (MCSDNS_PROPTEST_CASES, default 48).
props-deep cases="2000":
    MCSDNS_PROPTEST_CASES={{cases}} cargo test --release --test properties

# Formatting and lints, as reviewers expect them.
lint:
    cargo fmt --all -- --check
    cargo clippy --all-targets -- -D warnings

# Serve the field report's member2 on 127.0.0.1:5353.
serve:
    cargo run --release -- serve --manifests fixtures/seed --cluster member2 --corefile fixtures/seed/Corefile --listen 127.0.0.1:5353

# Ask the seed's unified name without any network.
query name="serve.default.svc.clusterset.local" type="A":
    cargo run --release -- query --manifests fixtures/seed --cluster member2 --corefile fixtures/seed/Corefile {{name}} {{type}}

# Queries per second and loading large worlds, beside Knot DNS (needs: apt-get install knot dnsperf).
bench:
    cargo bench --bench qps
    cargo bench --bench load

# Real CoreDNS as a test peer (a pinned stock build in $(go env GOPATH)/bin; never committed).
coredns version="v1.15.0":
    GOPROXY="$(go env GOPROXY | sed "s/,direct//")" CGO_ENABLED=0 go install github.com/coredns/coredns@{{version}}

# The real control plane (etcd, kube-apiserver, kube-controller-manager of Kubernetes v1.34.3) and the mcs-api CRDs, built into ~/.cache/mcsdns (never committed).
control-plane:
    peers/control-plane/build.sh

# Real Kubernetes control planes for the field report's clusters, until Ctrl-C (kubeconfig in .mcsdns/control-plane/).
control-plane-up manifests="fixtures/seed":
    cargo run --release -- control-plane up --manifests {{manifests}}

# The API emulator for the field report's clusters (kubeconfig in .mcsdns/apiserver/).
apiserver:
    cargo run --release -- apiserver --manifests fixtures/seed

# The reference resolver in the coredns profile against real CoreDNS, every difference explained or failing.
diff-coredns:
    cargo run --release -- diff --target reference --profile coredns --target coredns --known fixtures/known/coredns-1.15.0.yaml

# The specification (kep1645) against Submariner Lighthouse (the lighthouse profile), every difference explained.
diff-lighthouse:
    cargo run --release -- diff --target reference=kep1645 --target reference=lighthouse --known fixtures/known/lighthouse-vs-kep1645.yaml scenarios/spec scenarios/lighthouse

# Conformance reports for the docs.
conformance:
    cargo run --release -- conformance --reports docs/conformance/reference
    cargo run --release -- conformance --target serve --reports docs/conformance/serve
    cargo run --release -- conformance --target coredns --settle 1s --expected-failures fixtures/known/coredns-1.15.0.expected-failures.yaml --reports docs/conformance/coredns-1.15.0
    cargo run --release -- conformance --target reference --profile lighthouse --reports docs/conformance/lighthouse

# A Docker engine for the container target (root; no bridge, no iptables; socket in /tmp/mcsdns-docker).
dockerd:
    mkdir -p /tmp/mcsdns-docker/data /tmp/mcsdns-docker/exec /tmp/mcsdns-docker/run
    dockerd --bridge=none --iptables=false --ip6tables=false --data-root /tmp/mcsdns-docker/data --exec-root /tmp/mcsdns-docker/exec --pidfile /tmp/mcsdns-docker/run/docker.pid -H unix:///tmp/mcsdns-docker/run/docker.sock
    # then: export DOCKER_HOST=unix:///tmp/mcsdns-docker/run/docker.sock

# The mcsdns image (FROM scratch, a +crt-static build).
image-mcsdns:
    images/build.sh mcsdns

# The CoreDNS image (FROM scratch, the CGO_ENABLED=0 binary from `just coredns`).
image-coredns:
    images/build.sh coredns
