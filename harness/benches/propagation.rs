//! Propagation latency in process: from a change of the world (a
//! ServiceImport's ips) to the first answer that reflects it, through the
//! in-process API, a watch event, kube-rs's watcher and the view. Prints
//! p50/p99/max over many changes, with a small and a large world.
//!
//! `cargo bench --bench propagation` (`MCSDNS_BENCH_CHANGES`, default 2000).

use std::path::Path;
use std::time::Instant;

use hickory_proto::rr::RecordType;
use mcsdns::model::{Loaded, Resource, parse_manifests};
use mcsdns::resolver::Question;
use mcsdns::scenario::Change;
use mcsdns::scenario::load_scenario;
use mcsdns::target::Operation;
use mcsdns::target::{ReferenceTarget, Target};

fn import(i: usize, ip: usize) -> Resource {
    let yaml = format!(
        "apiVersion: multicluster.x-k8s.io/v1alpha1\nkind: ServiceImport\nmetadata: {{name: s{i}, namespace: default}}\nspec:\n  type: ClusterSetIP\n  ips: [\"10.{}.{}.{}\"]\n  ports: [{{name: http, port: 80}}]\n",
        60 + ip / 65536,
        (ip / 256) % 256,
        ip % 256
    );
    match parse_manifests(Path::new("bench.yaml"), &yaml, 1)
        .expect("valid")
        .remove(0)
    {
        Loaded::Resource(r, _) => r,
        Loaded::Other(..) => unreachable!("a ServiceImport"),
    }
}

fn main() {
    let changes: usize = std::env::var("MCSDNS_BENCH_CHANGES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(2000);
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios");
    let scenario =
        load_scenario(&root.join("spec/r2-clustersetip-a.yaml"), &root).expect("scenario loads");
    println!("| imports | changes | p50 µs | p99 µs | max µs |");
    println!("|---:|---:|---:|---:|---:|");
    for size in [10usize, 1000] {
        let mut target = ReferenceTarget::new();
        target.start(&scenario).expect("target starts");
        for i in 0..size {
            target
                .perform(Operation::Apply {
                    cluster: "c1",
                    change: &Change::Upsert(import(i, i)),
                })
                .expect("apply");
        }
        let mut samples = Vec::with_capacity(changes);
        for k in 0..changes {
            let i = k % size;
            let ip = 100_000 + k;
            let q = Question::parse(&format!("s{i}.default.svc.clusterset.local"), RecordType::A)
                .expect("name");
            let want = format!("10.{}.{}.{}", 60 + ip / 65536, (ip / 256) % 256, ip % 256);
            let t = Instant::now();
            target
                .perform(Operation::Apply {
                    cluster: "c1",
                    change: &Change::Upsert(import(i, ip)),
                })
                .expect("apply");
            let outcome = target.ask(&q).map(|a| a.outcome).expect("query");
            let elapsed = t.elapsed();
            let got = outcome
                .reply()
                .and_then(|r| r.answers.first())
                .map(|a| a.data.to_string());
            assert_eq!(
                got.as_deref(),
                Some(want.as_str()),
                "the first answer after the change reflects it"
            );
            samples.push(elapsed.as_micros());
        }
        samples.sort_unstable();
        let pct = |p: f64| samples[((samples.len() as f64 * p) as usize).min(samples.len() - 1)];
        println!(
            "| {size} | {changes} | {} | {} | {} |",
            pct(0.50),
            pct(0.99),
            samples[samples.len() - 1]
        );
    }
}
