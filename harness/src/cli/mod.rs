//! Runs the command line's subcommands: each parses its options, makes one
//! call into the library, then prints what a person or a CI job needs.

pub mod capture;
pub mod conformance;
pub mod control_plane;
pub mod diff;
pub mod doctor;
pub mod files;
pub mod inspect;
pub mod review;
pub mod run;
pub mod scenarios;
pub mod serve;
pub mod targets;

/// What `mcsdns --help` says about the files a scenario may read and how
/// mcsdns writes files.
pub const FILES_POLICY: &str = "\
Files:
  A scenario reads only files inside its project root: the folder named with
  --root (MCSDNS_ROOT), else the nearest folder at or above the scenario that
  holds scenarios/ or fixtures/, else the scenario's own folder. Relative paths
  are looked up from the scenario's folder and each folder above it up to the
  root; a path or symbolic link leading out of it is refused, at the
  scenario's line. Input files must be regular files (no devices or FIFOs) of
  at most --max-file-size. Files mcsdns rewrites (scenarios in record mode,
  snapshots, reports, bundles) are replaced atomically and keep their mode; a
  symbolic link there is refused. Kubeconfigs, keys and tokens are written
  0600 into folders only their owner can change. docs/files.md has the
  details.";

/// A duration as scenario files write it, for options.
pub fn parse_duration(s: &str) -> Result<std::time::Duration, String> {
    mcsdns::scenario::load::duration(s)
        .ok_or_else(|| format!("invalid duration {s:?}: write 500ms, 5s or 2m"))
}

/// First Ctrl-C: stop the current step now, clean up and report (exit
/// 130); second: stop every child and exit at once.
pub fn catch_interrupts() {
    std::thread::spawn(|| {
        let Ok(rt) = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
        else {
            return;
        };
        rt.block_on(async {
            if tokio::signal::ctrl_c().await.is_ok() {
                eprintln!("mcsdns: interrupted; stopping the current step, cleaning up and reporting (Ctrl-C again to quit now)");
                mcsdns::run::interrupt();
            }
            if tokio::signal::ctrl_c().await.is_ok() {
                mcsdns::target::interrupt::stop_all();
                mcsdns::cluster::control_plane::kill_all();
                std::process::exit(130);
            }
        });
    });
}
