//! Loading a large world from YAML files on disk, as users meet it, beside
//! Knot DNS loading the same records as a zone file.
//!
//! For each size, a world of ServiceImports is written to a temporary
//! folder in one file and in 100 files; then, through the `mcsdns` binary:
//! `query` (read the world, answer one question, exit: wall time and peak
//! RSS) and `serve` with the seed Corefile (spawn to first answer); and
//! knotd on the zone `mcsdns zone` exports (spawn to first authoritative
//! answer). Ratios are mcsdns/Knot (above 1: mcsdns is slower).
//!
//! `cargo bench --bench load` (`MCSDNS_BENCH_SIZES`, default
//! `10000,100000`; add `1000000` for the curve's far end: about 220 MB of
//! YAML). Knot is skipped when not installed (`apt-get install knot`).

#[allow(dead_code)]
#[path = "peers/knot.rs"]
mod knot;
#[allow(dead_code)]
#[path = "peers/world.rs"]
mod world;

use std::time::Duration;

fn main() {
    let sizes = world::sizes("10000,100000");
    println!(
        "| imports | files | YAML MB | query s | query RSS MB | bytes/import | serve ready s | knot ready s | serve/knot | serve RSS MB | knot RSS MB | serve/knot RSS |"
    );
    println!("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    for n in sizes {
        for files in [1, 100] {
            let dir = tempfile::tempdir().expect("temp dir");
            let bytes = world::write(dir.path(), n, files).expect("write the world");
            let (took, rss) = world::query(dir.path()).expect("mcsdns query");
            let timeout = Duration::from_secs(60 + (n / 10_000) as u64);
            let serve = world::Serve::start(dir.path(), timeout, &[]).expect("mcsdns serve");
            let serve_ready = serve.ready_after;
            // Serving, after start-up: what the server holds to answer.
            let serve_rss = serve.rss_kib();
            drop(serve);
            let mut knot_rss = None;
            let knot_ready = world::zone(dir.path()).ok().and_then(|zone| {
                let t = std::time::Instant::now();
                match knot::Knot::start("clusterset.local.", &zone) {
                    Ok(Some(k)) => {
                        let ready = t.elapsed();
                        knot_rss = world::rss_kib(k.pid());
                        Some(ready)
                    }
                    Ok(None) => None,
                    Err(e) => {
                        eprintln!("knot failed to start: {e}");
                        None
                    }
                }
            });
            let mb = |kib: u64| kib as f64 / 1024.0;
            println!(
                "| {n} | {files} | {:.1} | {:.2} | {} | {} | {:.2} | {} | {} | {} | {} | {} |",
                bytes as f64 / 1e6,
                took.as_secs_f64(),
                rss.map_or("-".into(), |r| format!("{:.0}", mb(r))),
                rss.map_or("-".into(), |r| (r * 1024 / n.max(1) as u64).to_string()),
                serve_ready.as_secs_f64(),
                knot_ready.map_or("-".into(), |k| format!("{:.2}", k.as_secs_f64())),
                knot_ready.map_or("-".into(), |k| format!(
                    "{:.1}",
                    serve_ready.as_secs_f64() / k.as_secs_f64()
                )),
                serve_rss.map_or("-".into(), |r| format!("{:.0}", mb(r))),
                knot_rss.map_or("-".into(), |r| format!("{:.0}", mb(r))),
                serve_rss
                    .zip(knot_rss)
                    .map_or("-".into(), |(s, k)| format!("{:.1}", s as f64 / k as f64)),
            );
        }
    }
}
