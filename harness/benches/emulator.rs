//! Propagation latency through the API emulator over HTTP: a kubectl-style
//! change (a merge PATCH of a ServiceImport's ips) to the first DNS answer
//! that reflects it, for `mcsdns serve --kubeconfig` and, when it is
//! installed, real CoreDNS (its client-go informers) in the same run.
//!
//! The world is written as YAML files on disk and loaded as `mcsdns` loads
//! it; each size gets a fresh emulator and fresh servers, and the table
//! also gives how long each server took from its start to its first answer.
//!
//! `cargo bench --bench emulator` (`MCSDNS_BENCH_CHANGES`, default 300;
//! `MCSDNS_BENCH_SIZES`, default `100,100000` imports; `MCSDNS_COREDNS`
//! names the CoreDNS binary, else `coredns` on PATH).

#[allow(dead_code)]
#[path = "peers/world.rs"]
mod world;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use hickory_proto::rr::RecordType;
use kube::Api;
use kube::api::{Patch, PatchParams};
use mcsdns::client::wire;
use mcsdns::cluster::emulator::Emulator;
use mcsdns::model::{ServiceImport, World};
use mcsdns::resolver::{Outcome, Question};
use mcsdns::target::peer;

struct Peer {
    name: String,
    child: Child,
    addr: SocketAddr,
    /// From its start to its first answer.
    ready: Duration,
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
    let started = Instant::now();
    let mut peer = Peer {
        name: name.into(),
        child,
        addr,
        ready: Duration::ZERO,
    };
    let q = Question::parse("svc-0.ns-0.svc.clusterset.local", RecordType::A).expect("name");
    // A large world takes a while to list; bounded all the same.
    while started.elapsed() < Duration::from_secs(180) {
        if let Ok(Outcome::Reply(r)) = wire::ask(addr, &q, Duration::from_millis(200))
            && !r.answers.is_empty()
        {
            peer.ready = started.elapsed();
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
    let sizes = world::sizes("100,100000");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("runtime");
    println!("| server | imports | ready s | changes | p50 ms | p99 ms | max ms |");
    println!("|---|---:|---:|---:|---:|---:|---:|");
    for size in sizes {
        measure(&runtime, size, changes);
    }
}

/// One world of `imports` imports: an emulator serving it, the servers
/// following it, and `changes` changes timed on each.
fn measure(runtime: &tokio::runtime::Runtime, imports: usize, changes: usize) {
    let dir = tempfile::tempdir().expect("temporary folder");
    world::write(dir.path(), imports, imports.div_ceil(1000)).expect("world written");
    let mut loaded = World::load(dir.path()).expect("world loads");
    let state = loaded.clusters.remove(world::CLUSTER).expect("cluster c1");
    let mut emulator =
        Emulator::new("system:serviceaccount:kube-system:coredns").expect("emulator");
    emulator.serve_insecure_http(true);
    runtime
        .block_on(emulator.add_cluster(world::CLUSTER, &state))
        .expect("serves");
    drop(state);
    let kubeconfig = emulator
        .write(&dir.path().join("kube"), None)
        .expect("kubeconfig");
    let client = runtime
        .block_on(mcsdns::cluster::follow::client(
            &kubeconfig,
            Some("c1-http"),
            None,
        ))
        .expect("client");

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
            let corefile = dir.path().join("Corefile");
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

    for p in &peers {
        let mut samples = Vec::with_capacity(changes);
        for k in 0..changes {
            // Spread over the world, so that a large world's changes touch
            // imports all over it.
            let i = (k * 7919) % imports;
            let api: Api<ServiceImport> =
                Api::namespaced(client.clone(), &format!("ns-{}", i / 100));
            let ip = format!("10.61.{}.{}", (k / 250) % 250, k % 250 + 1);
            let q = Question::parse(
                &format!("svc-{i}.ns-{}.svc.clusterset.local", i / 100),
                RecordType::A,
            )
            .expect("name");
            let t = Instant::now();
            runtime
                .block_on(api.patch(
                    &format!("svc-{i}"),
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
            "| {} | {imports} | {:.2} | {changes} | {:.3} | {:.3} | {:.3} |",
            p.name,
            p.ready.as_secs_f64(),
            at(0.5),
            at(0.99),
            at(1.0)
        );
    }
    drop(peers);
}
