//! Runs the command line's subcommands: each parses its options, makes one
//! call into the library, then prints what a person or a CI job needs.

pub mod conformance;
pub mod control_plane;
pub mod diff;
pub mod files;
pub mod inspect;
pub mod run;
pub mod scenarios;
pub mod serve;
pub mod targets;

/// A duration as scenario files write it, for options.
pub fn parse_duration(s: &str) -> Result<std::time::Duration, String> {
    mcsdns::scenario::load::duration(s)
        .ok_or_else(|| format!("invalid duration {s:?}: write 500ms, 5s or 2m"))
}

/// First Ctrl-C: finish the current step, clean up and report; second: exit.
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
                eprintln!("mcsdns: interrupted; stopping after this step and cleaning up (Ctrl-C again to quit now)");
                mcsdns::run::interrupt();
            }
            if tokio::signal::ctrl_c().await.is_ok() {
                mcsdns::target::outside::stop_exec_commands();
                mcsdns::cluster::control_plane::kill_all();
                std::process::exit(130);
            }
        });
    });
}
