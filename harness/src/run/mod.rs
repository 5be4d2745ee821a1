//! Runs scenarios on targets, judges the results and explains failures.

pub mod bundle;
pub mod connect;
pub mod container;
pub mod coredns;
pub mod diagnose;
pub mod diff;
pub mod expect;
pub mod external;
pub mod kube_target;
pub mod peer;
pub mod record;
pub mod resolve;
pub mod result;
pub mod runner;
pub mod suite;
pub mod target;
pub mod targets;
pub mod wire;

pub use result::{ScenarioResult, Status, StepResult, SuiteResult};

use std::sync::atomic::{AtomicBool, Ordering};

static INTERRUPTED: AtomicBool = AtomicBool::new(false);

/// Asks every running scenario to stop after its current step (Ctrl-C), so
/// that targets clean up what they created.
pub fn interrupt() {
    INTERRUPTED.store(true, Ordering::SeqCst);
}

/// Whether the run was interrupted.
pub fn interrupted() -> bool {
    INTERRUPTED.load(Ordering::SeqCst)
}
pub use runner::run_scenario;
pub use target::{Capabilities, ReferenceTarget, Target};
