//! Runs scenarios on targets: perform each step, observe what the target
//! answered, judge it; then suites, record mode, bundles and differential runs.

pub mod bundle;
pub mod diff;
pub mod observe;
pub mod perform;
pub mod record;
pub mod result;
pub mod runner;
pub mod suite;

pub use result::{ScenarioResult, SnapshotMismatch, Status, StepResult, SuiteResult};

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
