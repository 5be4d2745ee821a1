//! Runs scenarios on targets: perform each step, observe what the target
//! answered, judge it; then suites, record mode, bundles and differential runs.

pub mod bundle;
pub mod diff;
pub mod observe;
pub mod perform;
pub mod record;
pub mod result;
pub mod runner;
pub mod snapshot;
pub mod suite;

pub use result::{ScenarioResult, SnapshotMismatch, Status, StepResult, SuiteResult};

/// Asks every running scenario to stop its current step now (Ctrl-C): the
/// waits end, the steps left are not run, and targets clean up what they
/// created.
pub fn interrupt() {
    crate::target::interrupt::request();
}

/// Whether the run was interrupted.
pub fn interrupted() -> bool {
    crate::target::interrupt::requested()
}
pub use runner::run_scenario;
