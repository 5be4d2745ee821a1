//! The whole built-in suite in one process: load, run, judge, as
//! `mcsdns run` does (reports aside). Prints wall time and scenarios per
//! second, for one worker and for every core.
//!
//! `cargo bench --bench suite` (`MCSDNS_BENCH_ROUNDS`, default 20).

use std::path::Path;
use std::time::Instant;

use mcsdns::run::{Status, suite};
use mcsdns::target::{ReferenceTarget, Target};

fn main() {
    let rounds: usize = std::env::var("MCSDNS_BENCH_ROUNDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(20);
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios");
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let make = || -> Box<dyn Target> { Box::new(ReferenceTarget::new()) };
    println!("| workers | scenarios | load ms | run ms | total ms | scenarios/s |");
    println!("|---:|---:|---:|---:|---:|---:|");
    for jobs in [1, cores] {
        let mut best = f64::MAX;
        let mut line = String::new();
        for _ in 0..rounds {
            let t = Instant::now();
            let files = suite::discover(&root).expect("scenarios/ is readable");
            let (scenarios, errors) = suite::load_all(&files, &root);
            assert!(errors.is_empty(), "the built-in suite loads");
            let load = t.elapsed();
            let result = suite::run_all(&scenarios, jobs, &make, &|_| {});
            let total = t.elapsed();
            assert_eq!(result.count(Status::Failed), 0, "the built-in suite passes");
            let ms = total.as_secs_f64() * 1000.0;
            if ms < best {
                best = ms;
                line = format!(
                    "| {jobs} | {} | {:.1} | {:.1} | {:.1} | {:.0} |",
                    scenarios.len(),
                    load.as_secs_f64() * 1000.0,
                    (total - load).as_secs_f64() * 1000.0,
                    ms,
                    scenarios.len() as f64 / total.as_secs_f64()
                );
            }
        }
        println!("{line}");
    }
    println!("(best of {rounds} rounds)");
}
