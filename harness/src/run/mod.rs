//! Runs scenarios on targets, judges the results and explains failures.

pub mod bundle;
pub mod connect;
pub mod diagnose;
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
pub use runner::run_scenario;
pub use target::{Capabilities, ReferenceTarget, Target};
