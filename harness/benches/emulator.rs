//! Propagation latency through the API emulator over HTTP: a kubectl-style
//! change (a merge PATCH of a ServiceImport's ips) to the first DNS answer
//! that reflects it, for `mcsdns serve --kubeconfig` and, when it is
//! installed, real CoreDNS (its client-go informers) in the same run.
//!
//! `cargo bench --bench emulator` (`MCSDNS_BENCH_CHANGES`, default 300;
//! `MCSDNS_COREDNS` names the CoreDNS binary, else `coredns` on PATH).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use hickory_proto::rr::RecordType;
use kube::Api;
use kube::api::{Patch, PatchParams};
use mcsdns::client::wire;
use mcsdns::cluster::emulator::Emulator;
use mcsdns::model::{ClusterState, ServiceImport};
use mcsdns::resolver::{Outcome, Question};
use mcsdns::target::peer;

struct Peer {
    name: String,
    child: Child,
    addr: SocketAddr,
}

impl Drop for Peer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn coredns() -> Option<PathBuf> {
    let candidate = std::env::var_os("MCSDNS_COREDNS")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("coredns"));
    Command::new(&candidate)
        .arg("-version")
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|_| candidate)
}

fn start(name: &str, mut cmd: Command, addr: SocketAddr) -> Peer {
    let child = cmd
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("peer starts");
    let peer = Peer {
        name: name.into(),
        child,
        addr,
    };
    let q = Question::parse("s0.default.svc.clusterset.local", RecordType::A).expect("name");
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(30) {
        if let Ok(Outcome::Reply(r)) = wire::ask(addr, &q, Duration::from_millis(200))
            && !r.answers.is_empty()
        {
            return peer;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("{name} did not answer on {addr}");
}

fn main() {
    let changes: usize = std::env::var("MCSDNS_BENCH_CHANGES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(300);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("runtime");
    let mut state = ClusterState::new("c1");
    let imports = 100;
    let docs: String = (0..imports)
        .map(|i| format!("---\napiVersion: multicluster.x-k8s.io/v1alpha1\nkind: ServiceImport\nmetadata: {{name: s{i}, namespace: default}}\nspec: {{type: ClusterSetIP, ips: [\"10.60.0.{}\"], ports: [{{name: http, port: 80}}]}}\n", i % 250))
        .collect();
    state
        .add_loaded(
            mcsdns::model::parse_manifests(Path::new("bench.yaml"), &docs, 1).expect("valid"),
        )
        .expect("loads");
    let mut emulator =
        Emulator::new("system:serviceaccount:kube-system:coredns").expect("emulator");
    emulator.serve_insecure_http(true);
    runtime
        .block_on(emulator.add_cluster("c1", &state))
        .expect("serves");
    let dir = std::env::temp_dir().join(format!("mcsdns-bench-emulator-{}", std::process::id()));
    let kubeconfig = emulator.write(&dir, None).expect("kubeconfig");
    let client = runtime
        .block_on(mcsdns::cluster::follow::client(
            &kubeconfig,
            Some("c1-http"),
            None,
        ))
        .expect("client");
    let api: Api<ServiceImport> = Api::namespaced(client, "default");

    let mut peers = Vec::new();
    let addr = peer::free_port().expect("port");
    let mut serve = Command::new(env!("CARGO_BIN_EXE_mcsdns"));
    serve
        .args(["serve", "--kubeconfig"])
        .arg(&kubeconfig)
        .args([
            "--context",
            "resolver@c1-http",
            "--listen",
            &addr.to_string(),
        ]);
    peers.push(start("mcsdns serve", serve, addr));
    match coredns() {
        Some(bin) => {
            let addr = peer::free_port().expect("port");
            let corefile = dir.join("Corefile");
            std::fs::write(
                &corefile,
                format!(
                    ".:{} {{\n    bind 127.0.0.1\n    kubernetes cluster.local clusterset.local {{\n        kubeconfig {} resolver@c1-http\n        multicluster clusterset.local\n    }}\n}}\n",
                    addr.port(),
                    kubeconfig.display()
                ),
            )
            .expect("Corefile");
            let mut cmd = Command::new(bin);
            cmd.arg("-conf").arg(&corefile);
            peers.push(start("coredns", cmd, addr));
        }
        None => eprintln!("CoreDNS not found (set MCSDNS_COREDNS): measuring mcsdns serve only"),
    }

    println!("| server | imports | changes | p50 ms | p99 ms | max ms |");
    println!("|---|---:|---:|---:|---:|---:|");
    for p in &peers {
        let mut samples = Vec::with_capacity(changes);
        for k in 0..changes {
            let i = k % imports;
            let ip = format!("10.61.{}.{}", (k / 250) % 250, k % 250 + 1);
            let q = Question::parse(&format!("s{i}.default.svc.clusterset.local"), RecordType::A)
                .expect("name");
            let t = Instant::now();
            runtime
                .block_on(api.patch(
                    &format!("s{i}"),
                    &PatchParams::default(),
                    &Patch::Merge(serde_json::json!({"spec": {"ips": [ip]}})),
                ))
                .expect("patch");
            // Bounded: a change not seen within 10 s is a failure, not a wait.
            loop {
                if let Ok(Outcome::Reply(r)) = wire::ask(p.addr, &q, Duration::from_millis(500))
                    && r.answers.iter().any(|a| a.data.to_string() == ip)
                {
                    break;
                }
                assert!(
                    t.elapsed() < Duration::from_secs(10),
                    "{}: change {k} not seen",
                    p.name
                );
            }
            samples.push(t.elapsed());
        }
        samples.sort();
        let at =
            |q: f64| samples[((samples.len() as f64 - 1.0) * q) as usize].as_secs_f64() * 1000.0;
        println!(
            "| {} | {imports} | {changes} | {:.3} | {:.3} | {:.3} |",
            p.name,
            at(0.5),
            at(0.99),
            at(1.0)
        );
    }
    drop(peers);
    let _ = std::fs::remove_dir_all(&dir);
}
