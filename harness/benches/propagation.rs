//! Propagation latency in process: from a change of the world (a
//! ServiceImport's ips) to the first answer that reflects it, through the
//! in-process API, a watch event, kube-rs's watcher and the view. The world
//! is written as YAML files on disk and loaded by a scenario, as users give
//! it. Prints p50/p99/max over many changes, per world size.
//!
//! `cargo bench --bench propagation` (`MCSDNS_BENCH_CHANGES`, default 2000;
//! `MCSDNS_BENCH_SIZES`, default `100,100000` imports).

#[allow(dead_code)]
#[path = "peers/world.rs"]
mod world;

use std::path::Path;
use std::time::Instant;

use hickory_proto::rr::RecordType;
use mcsdns::model::{Loaded, Resource, parse_manifests};
use mcsdns::resolver::Question;
use mcsdns::scenario::Change;
use mcsdns::scenario::load_scenario;
use mcsdns::target::Operation;
use mcsdns::target::{ReferenceTarget, Target};

/// Import `i` of the written world (`svc-<i>` in `ns-<i/100>`) with the
/// clusterset IP `ip`.
fn import(i: usize, ip: &str) -> Resource {
    let yaml = format!(
        "apiVersion: multicluster.x-k8s.io/v1alpha1\nkind: ServiceImport\nmetadata: {{name: svc-{i}, namespace: ns-{}}}\nspec:\n  type: ClusterSetIP\n  ips: [\"{ip}\"]\n  ports: [{{name: http, protocol: TCP, port: 80}}]\n",
        i / 100
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
    let sizes = world::sizes("100,100000");
    println!("| imports | load s | changes | p50 µs | p99 µs | max µs |");
    println!("|---:|---:|---:|---:|---:|---:|");
    for size in sizes {
        let dir = tempfile::tempdir().expect("temporary folder");
        world::write(dir.path(), size, size.div_ceil(1000)).expect("world written");
        let scenario_file = dir.path().join("bench.yaml");
        std::fs::write(
            &scenario_file,
            "name: propagation\nworld:\n  c1:\n    - path: c1\nresolver:\n  cluster: c1\nsteps:\n  - query: svc-0.ns-0.svc.clusterset.local A\n",
        )
        .expect("scenario written");
        let scenario = load_scenario(&scenario_file, dir.path()).expect("scenario loads");
        let mut target = ReferenceTarget::new();
        let t = Instant::now();
        target.start(&scenario).expect("target starts");
        let load = t.elapsed();
        let mut samples = Vec::with_capacity(changes);
        for k in 0..changes {
            // Spread over the world, so that a large world's changes touch
            // imports all over its index.
            let i = (k * 7919) % size;
            let ip = format!("10.61.{}.{}", (k / 250) % 250, k % 250 + 1);
            let q = Question::parse(
                &format!("svc-{i}.ns-{}.svc.clusterset.local", i / 100),
                RecordType::A,
            )
            .expect("name");
            let change = Change::Upsert(import(i, &ip));
            let t = Instant::now();
            target
                .perform(Operation::Apply {
                    cluster: "c1",
                    change: &change,
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
                Some(ip.as_str()),
                "the first answer after the change reflects it"
            );
            samples.push(elapsed.as_micros());
        }
        samples.sort_unstable();
        let pct = |p: f64| samples[((samples.len() as f64 * p) as usize).min(samples.len() - 1)];
        println!(
            "| {size} | {:.2} | {changes} | {} | {} | {} |",
            load.as_secs_f64(),
            pct(0.50),
            pct(0.99),
            samples[samples.len() - 1]
        );
    }
}
