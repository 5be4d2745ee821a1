//! Queries per second over loopback UDP: `mcsdns serve` beside Knot DNS,
//! both serving the same world, in the same run. dnsperf drives both.
//!
//! Each world (ServiceImports in namespaces of 100) is written as YAML to
//! a temporary folder, served by the `mcsdns` binary with the seed
//! Corefile (`cache 30`, `header`), exported with `mcsdns zone` and served
//! by knotd from that zone file, as a user would set them up. Both run one
//! UDP worker (`--udp-workers 1`, Knot's `udp-workers: 1`): on a 2-core
//! machine dnsperf needs the other core.
//!
//! Each world meets two dnsperf loads (`-c 8`, and `-c 1 -T 1 -q 100`),
//! in rounds that alternate the servers (mcsdns then Knot, Knot then
//! mcsdns, ...), so that a slow spell of the machine falls on both and
//! neither always goes first. A row gives the medians over the rounds, the
//! ratio of the medians with the range of the rounds' ratios, and the
//! queries lost in all rounds. Beside the rates, each server's CPU time
//! per answered query: where dnsperf and the server share the cores, the
//! rate a server reaches depends on what it leaves dnsperf, and CPU per
//! query says what each server costs (it depends on the load too: a
//! server that takes queries in by the batch pays less per query when
//! more wait).
//!
//! `cargo bench --bench qps` (set `MCSDNS_BENCH_SECONDS`, default 5,
//! `MCSDNS_BENCH_ROUNDS`, default 3, and `MCSDNS_BENCH_SIZES`, default
//! `10,10000,100000`). Skips a peer that is not installed
//! (`apt-get install knot dnsperf`).

#[allow(dead_code)]
#[path = "peers/knot.rs"]
mod knot;
#[allow(dead_code)]
#[path = "peers/world.rs"]
mod world;

use std::net::SocketAddr;
use std::time::Duration;

/// One server's figures over one load's rounds.
#[derive(Default)]
struct Rounds {
    qps: Vec<f64>,
    avg_ms: Vec<f64>,
    cpu_us: Vec<f64>,
    lost: u64,
}

impl Rounds {
    /// Runs dnsperf once against the server `pid` at `addr`; `None` when
    /// dnsperf is missing.
    fn run(
        &mut self,
        pid: u32,
        addr: SocketAddr,
        qs: &[String],
        seconds: u32,
        load: &knot::Load,
    ) -> std::io::Result<Option<()>> {
        let before = world::cpu_time(pid);
        let Some(r) = knot::dnsperf(addr, qs, seconds, load)? else {
            return Ok(None);
        };
        if let (Some(b), Some(a)) = (before, world::cpu_time(pid))
            && r.completed > 0
        {
            self.cpu_us
                .push(a.saturating_sub(b).as_secs_f64() * 1e6 / r.completed as f64);
        }
        self.qps.push(r.qps);
        self.avg_ms.push(r.avg_latency_ms);
        self.lost += r.lost;
        Ok(Some(()))
    }
}

fn main() {
    let env = |name: &str, default: u32| -> u32 {
        std::env::var(name)
            .ok()
            .and_then(|s| s.parse().ok())
            .filter(|&n| n > 0)
            .unwrap_or(default)
    };
    let seconds = env("MCSDNS_BENCH_SECONDS", 5);
    let rounds = env("MCSDNS_BENCH_ROUNDS", 3);
    let sizes = world::sizes("10,10000,100000");
    println!(
        "| imports | dnsperf | mcsdns qps | knot qps | mcsdns/knot (rounds) | mcsdns avg ms | knot avg ms | lost, all rounds (mcsdns/knot) | CPU µs/query mcsdns | CPU µs/query knot |"
    );
    println!("|---:|---|---:|---:|---|---:|---:|---:|---:|---:|");
    for n in sizes {
        let dir = tempfile::tempdir().expect("temp dir");
        world::write(dir.path(), n, 1).expect("write the world");
        let qs = world::queries(n);
        let timeout = Duration::from_secs(60 + (n / 10_000) as u64);
        let serve = world::Serve::start(dir.path(), timeout, &["--udp-workers", "1"])
            .expect("mcsdns serve");
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
        for load in &knot::LOADS {
            let (mut ours, mut theirs) = (Rounds::default(), Rounds::default());
            for round in 0..rounds {
                let knot_first = round % 2 == 1;
                for ours_now in [!knot_first, knot_first] {
                    if ours_now {
                        match ours.run(serve.pid(), serve.addr, &qs, seconds, load) {
                            Ok(Some(())) => {}
                            Ok(None) => {
                                eprintln!(
                                    "SKIP: dnsperf is not installed (apt-get install dnsperf)"
                                );
                                return;
                            }
                            Err(e) => panic!("dnsperf against mcsdns failed: {e}"),
                        }
                    } else if let Some(k) = &knot
                        && let Err(e) = theirs.run(k.pid(), k.addr(), &qs, seconds, load)
                    {
                        eprintln!("knot run failed: {e}");
                    }
                }
            }
            println!("{}", row(n, load, &ours, &theirs));
        }
    }
}

/// One table row: medians, and the ratio of the medians with the range of
/// the rounds' ratios.
fn row(n: usize, load: &knot::Load, ours: &Rounds, theirs: &Rounds) -> String {
    let cell = |v: &[f64], digits: usize| median(v).map_or("-".into(), |m| format!("{m:.digits$}"));
    let ratio = match (median(&ours.qps), median(&theirs.qps)) {
        (Some(a), Some(b)) if theirs.qps.len() == ours.qps.len() => {
            let each: Vec<f64> = ours
                .qps
                .iter()
                .zip(&theirs.qps)
                .map(|(a, b)| a / b)
                .collect();
            let lo = each.iter().copied().fold(f64::INFINITY, f64::min);
            let hi = each.iter().copied().fold(0.0, f64::max);
            format!("{:.2} ({lo:.2}–{hi:.2})", a / b)
        }
        _ => "-".into(),
    };
    let their_lost = if theirs.qps.is_empty() {
        "-".to_owned()
    } else {
        theirs.lost.to_string()
    };
    format!(
        "| {n} | {} | {} | {} | {ratio} | {} | {} | {}/{their_lost} | {} | {} |",
        load.name,
        cell(&ours.qps, 0),
        cell(&theirs.qps, 0),
        cell(&ours.avg_ms, 3),
        cell(&theirs.avg_ms, 3),
        ours.lost,
        cell(&ours.cpu_us, 2),
        cell(&theirs.cpu_us, 2),
    )
}

/// The median of `v` (the mean of the middle two for an even count).
fn median(v: &[f64]) -> Option<f64> {
    let mut v = v.to_vec();
    v.sort_by(f64::total_cmp);
    let mid = v.len() / 2;
    match v.len() {
        0 => None,
        n if n % 2 == 1 => Some(v[mid]),
        _ => Some((v[mid - 1] + v[mid]) / 2.0),
    }
}
