//! Queries per second over loopback UDP: `mcsdns serve` beside Knot DNS,
//! both serving the same world, in the same run. dnsperf drives both.
//!
//! Each world (ServiceImports in namespaces of 100) is written as YAML to
//! a temporary folder, served by the `mcsdns` binary with the seed
//! Corefile (`cache 30`, `header`), exported with `mcsdns zone` and served
//! by knotd from that zone file, as a user would set them up.
//!
//! `cargo bench --bench qps` (set `MCSDNS_BENCH_SECONDS`, default 5, and
//! `MCSDNS_BENCH_SIZES`, default `10,10000,100000`). Skips a peer that is
//! not installed (`apt-get install knot dnsperf`).

#[path = "peers/knot.rs"]
mod knot;
#[allow(dead_code)]
#[path = "peers/world.rs"]
mod world;

use std::time::Duration;

fn main() {
    let seconds: u32 = std::env::var("MCSDNS_BENCH_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(5);
    let sizes: Vec<usize> = std::env::var("MCSDNS_BENCH_SIZES")
        .unwrap_or_else(|_| "10,10000,100000".into())
        .split(',')
        .filter_map(|s| s.trim().parse().ok())
        .collect();
    println!("| imports | server | qps | avg latency ms | lost | ratio mcsdns/knot |");
    println!("|---:|---|---:|---:|---:|---:|");
    for n in sizes {
        let dir = tempfile::tempdir().expect("temp dir");
        world::write(dir.path(), n, 1).expect("write the world");
        let qs = world::queries(n);
        let timeout = Duration::from_secs(60 + (n / 10_000) as u64);
        let serve = world::Serve::start(dir.path(), timeout).expect("mcsdns serve");
        eprintln!(
            "{n} imports: mcsdns serve answers after {:?}",
            serve.ready_after
        );
        let ours = match knot::dnsperf(serve.addr, &qs, seconds) {
            Ok(Some(r)) => r,
            Ok(None) => {
                eprintln!("SKIP: dnsperf is not installed (apt-get install dnsperf)");
                return;
            }
            Err(e) => panic!("dnsperf against mcsdns failed: {e}"),
        };
        drop(serve);
        println!(
            "| {n} | mcsdns | {:.0} | {:.3} | {} | |",
            ours.qps, ours.avg_latency_ms, ours.lost
        );
        let zone_text = world::zone(dir.path()).expect("mcsdns zone");
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
