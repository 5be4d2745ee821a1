//! Queries per second over loopback UDP: `mcsdns serve` beside Knot DNS,
//! both serving the same world, in the same run. dnsperf drives both.
//!
//! Each world (ServiceImports in namespaces of 100) is written as YAML to
//! a temporary folder, served by the `mcsdns` binary with the seed
//! Corefile (`cache 30`, `header`), exported with `mcsdns zone` and served
//! by knotd from that zone file, as a user would set them up.
//!
//! Each world meets two dnsperf loads (`-c 8`, and `-c 1 -T 1 -q 100`).
//!
//! `cargo bench --bench qps` (set `MCSDNS_BENCH_SECONDS`, default 5, and
//! `MCSDNS_BENCH_SIZES`, default `10,10000,100000`). Skips a peer that is
//! not installed (`apt-get install knot dnsperf`).

#[allow(dead_code)]
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
    let sizes = world::sizes("10,10000,100000");
    println!(
        "| imports | dnsperf | mcsdns qps | knot qps | mcsdns avg ms | knot avg ms | lost (mcsdns/knot) | mcsdns/knot |"
    );
    println!("|---:|---|---:|---:|---:|---:|---:|---:|");
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
        let zone_text = world::zone(dir.path()).expect("mcsdns zone");
        let knot = match knot::Knot::start("clusterset.local.", &zone_text) {
            Ok(Some(k)) => Some(k),
            Ok(None) => {
                eprintln!("SKIP knot: knotd is not installed (apt-get install knot)");
                None
            }
            Err(e) => {
                eprintln!("knot failed to start: {e}");
                None
            }
        };
        // Both servers run; each load meets one, then the other, in turn.
        for load in &knot::LOADS {
            let ours = match knot::dnsperf(serve.addr, &qs, seconds, load) {
                Ok(Some(r)) => r,
                Ok(None) => {
                    eprintln!("SKIP: dnsperf is not installed (apt-get install dnsperf)");
                    return;
                }
                Err(e) => panic!("dnsperf against mcsdns failed: {e}"),
            };
            let theirs = knot.as_ref().and_then(|k| {
                knot::dnsperf(k.addr(), &qs, seconds, load)
                    .inspect_err(|e| eprintln!("knot run failed: {e}"))
                    .ok()
                    .flatten()
            });
            let cell =
                |f: &dyn Fn(&knot::PerfResult) -> String| theirs.as_ref().map_or("-".to_owned(), f);
            println!(
                "| {n} | {} | {:.0} | {} | {:.3} | {} | {}/{} | {} |",
                load.name,
                ours.qps,
                cell(&|t| format!("{:.0}", t.qps)),
                ours.avg_latency_ms,
                cell(&|t| format!("{:.3}", t.avg_latency_ms)),
                ours.lost,
                cell(&|t| t.lost.to_string()),
                cell(&|t| format!("{:.2}", ours.qps / t.qps)),
            );
        }
    }
}
