//! Queries per second over loopback UDP: the reference resolver beside Knot
//! DNS serving the same zone (exported with `mcsdns zone`), with 10 and
//! 100,000 ServiceImports loaded. dnsperf drives both.
//!
//! `cargo bench --bench qps` (set `MCSDNS_BENCH_SECONDS`, default 5, and
//! `MCSDNS_BENCH_SIZES`, default `10,100000`). Skips a peer that is not
//! installed (`apt-get install knot dnsperf`).

#[path = "peers/knot.rs"]
mod knot;

use std::net::SocketAddr;
use std::time::Instant;

use hickory_proto::rr::Name;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use mcsdns::model::crd::{ServiceImportSpec, ServicePort};
use mcsdns::model::{ClusterState, Resource, ServiceImport};
use mcsdns::resolver::export::zone_file;
use mcsdns::resolver::server::{SharedSnapshot, Snapshot, serve};
use mcsdns::resolver::{ClusterView, Profile, ResolverConfig};

/// A cluster with `n` ClusterSetIP imports spread over namespaces of 100.
fn world(n: usize) -> ClusterState {
    let mut cluster = ClusterState::new("bench");
    for i in 0..n {
        let ns = format!("ns-{}", i / 100);
        if i % 100 == 0 {
            let ns_obj = k8s_openapi::api::core::v1::Namespace {
                metadata: ObjectMeta {
                    name: Some(ns.clone()),
                    ..Default::default()
                },
                ..Default::default()
            };
            cluster.apply(Resource::Namespace(ns_obj), None);
        }
        let mut si = ServiceImport::new(
            &format!("svc-{i}"),
            ServiceImportSpec {
                type_: Some("ClusterSetIP".into()),
                ips: vec![format!(
                    "10.{}.{}.{}",
                    100 + i / 65536,
                    (i / 256) % 256,
                    i % 256
                )],
                ports: vec![ServicePort {
                    name: Some("http".into()),
                    protocol: Some("TCP".into()),
                    app_protocol: None,
                    port: 80,
                }],
                ..Default::default()
            },
        );
        si.metadata.namespace = Some(ns);
        cluster.apply(Resource::ServiceImport(si), None);
    }
    cluster
}

/// A query mix: 70% A hits, 10% SRV hits, 20% NXDOMAIN, spread over the whole state.
fn queries(n: usize) -> Vec<String> {
    let mut out = Vec::new();
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    for k in 0..2000 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let i = (x as usize) % n;
        let ns = i / 100;
        out.push(match k % 10 {
            0 => format!("_http._tcp.svc-{i}.ns-{ns}.svc.clusterset.local SRV"),
            1 | 2 => format!("missing-{i}.ns-{ns}.svc.clusterset.local A"),
            _ => format!("svc-{i}.ns-{ns}.svc.clusterset.local A"),
        });
    }
    out
}

fn main() {
    let seconds: u32 = std::env::var("MCSDNS_BENCH_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(5);
    let sizes: Vec<usize> = std::env::var("MCSDNS_BENCH_SIZES")
        .unwrap_or_else(|_| "10,100000".into())
        .split(',')
        .filter_map(|s| s.trim().parse().ok())
        .collect();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("runtime");
    let config = ResolverConfig::default_for(Profile::Kep1645);
    let zone = Name::from_ascii("clusterset.local.").expect("valid");
    println!("| imports | server | qps | avg latency ms | lost | ratio mcsdns/knot |");
    println!("|---:|---|---:|---:|---:|---:|");
    for n in sizes {
        let t = Instant::now();
        let state = world(n);
        let view = ClusterView::from_state(&state);
        eprintln!("{n} imports: view built in {:?}", t.elapsed());
        let t = Instant::now();
        let zone_text = zone_file(&config, &view, &zone);
        eprintln!(
            "{n} imports: zone exported in {:?} ({} lines)",
            t.elapsed(),
            zone_text.lines().count()
        );
        let snapshot = SharedSnapshot::new(Snapshot {
            config: config.clone().into(),
            view,
        });
        let running = runtime
            .block_on(serve(
                "127.0.0.1:0".parse::<SocketAddr>().expect("addr"),
                snapshot,
            ))
            .expect("serve on loopback");
        let qs = queries(n);
        let ours = match knot::dnsperf(running.addr, &qs, seconds) {
            Ok(Some(r)) => r,
            Ok(None) => {
                eprintln!("SKIP: dnsperf is not installed (apt-get install dnsperf)");
                return;
            }
            Err(e) => panic!("dnsperf against mcsdns failed: {e}"),
        };
        println!(
            "| {n} | mcsdns | {:.0} | {:.3} | {} | |",
            ours.qps, ours.avg_latency_ms, ours.lost
        );
        runtime.block_on(running.shutdown());
        match knot::Knot::start("clusterset.local.", &zone_text) {
            Ok(Some(k)) => match knot::dnsperf(k.addr(), &qs, seconds) {
                Ok(Some(theirs)) => println!(
                    "| {n} | knot | {:.0} | {:.3} | {} | {:.2} |",
                    theirs.qps,
                    theirs.avg_latency_ms,
                    theirs.lost,
                    ours.qps / theirs.qps
                ),
                other => eprintln!("knot run failed: {:?}", other.err()),
            },
            Ok(None) => eprintln!("SKIP knot: knotd is not installed (apt-get install knot)"),
            Err(e) => eprintln!("knot failed to start: {e}"),
        }
    }
}
