//! Declares what a target can do: the contract between the runner and
//! every implementation under test.
//!
//! A target is dumb: it changes its world when told, answers questions, and
//! moves its clock if it has one. Judging the answers is the runner's job.

pub mod emulated;
pub mod kube;
pub mod peer;
pub mod reference;
pub mod spec;

use std::time::Duration;

pub use reference::ReferenceTarget;

use crate::check::CacheNote;
use crate::resolver::{Outcome, Question, ResolverConfig};
use crate::scenario::{Change, Fault, Scenario};

/// What a target can do besides answering queries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Capabilities {
    /// It can create, change and delete objects of the world.
    pub apply_state: bool,
    /// It has a clock the runner can move.
    pub advance_time: bool,
    /// Its Corefile can be replaced mid-scenario.
    pub reconfigure: bool,
    /// Its API can be made to fail (dropped watches, 410, outages).
    pub inject_faults: bool,
    /// It learns changes asynchronously: a failed check is retried for
    /// this long before it counts (`None`: answers are current at once).
    pub settle: Option<Duration>,
}

/// Each event once, in the order first seen (retries repeat the same error).
pub fn unique_events(events: impl IntoIterator<Item = String>) -> Vec<String> {
    let mut unique: Vec<String> = Vec::new();
    for e in events {
        if !unique.contains(&e) {
            unique.push(e);
        }
    }
    unique
}

/// Why a target could not do what it was asked.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct TargetError(pub String);

/// Something that answers DNS questions for a scenario.
pub trait Target {
    /// A short name for reports (`reference`, `dns=127.0.0.1:53`).
    fn name(&self) -> String;
    /// What it says it is, for reports (`CoreDNS-1.15.0`).
    fn version(&self) -> String {
        format!("{} (version unknown)", self.name())
    }
    /// What it can do.
    fn capabilities(&self) -> Capabilities;
    /// Sets the target up for a scenario's initial world.
    fn start(&mut self, scenario: &Scenario) -> Result<(), TargetError>;
    /// Applies a change of one cluster's objects.
    fn apply(&mut self, cluster: &str, change: &Change) -> Result<(), TargetError>;
    /// Asks one question.
    fn query(&mut self, question: &Question) -> Result<Outcome, TargetError>;
    /// What the target knows about its last answer that the answer does not
    /// say (a reference target: that it came from a stale cache).
    fn take_note(&mut self) -> Option<CacheNote> {
        None
    }
    /// Replaces the resolver's configuration (parsed, and the Corefile's text).
    fn reconfigure(&mut self, config: &ResolverConfig, corefile: &str) -> Result<(), TargetError> {
        let _ = (config, corefile);
        Err(TargetError("this target cannot be reconfigured".into()))
    }
    /// Events the target saw that no answer shows (API errors its watchers
    /// met), since the last call.
    fn take_events(&mut self) -> Vec<String> {
        Vec::new()
    }
    /// Injects an API fault into a cluster.
    fn fault(&mut self, cluster: &str, fault: &Fault) -> Result<(), TargetError> {
        let _ = (cluster, fault);
        Err(TargetError("this target cannot inject API faults".into()))
    }
    /// Moves the clock.
    fn advance(&mut self, by: Duration) -> Result<(), TargetError> {
        let _ = by;
        Err(TargetError("this target has no clock".into()))
    }
}
