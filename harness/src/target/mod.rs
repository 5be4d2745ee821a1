//! Declares what a target is: the contract between the runner and every
//! implementation under test.
//!
//! A target is dumb: it sets up a scenario's world, performs what it is
//! told (change an object, break the API, move the clock, reload its
//! Corefile) and answers questions. Judging the answers is the runner's
//! job. Whether a target can perform an operation is stated once, in its
//! [`Capabilities`]; the runner skips what a target cannot do, with the
//! reason, and never asks it.

pub mod interrupt;
pub mod kube;
pub mod outside;
pub mod peer;
pub mod reference;
pub mod spec;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

pub use reference::ReferenceTarget;

use crate::check::CacheNote;
use crate::resolver::corefile::Corefile;
use crate::resolver::{Outcome, Question, ResolverConfig};
use crate::scenario::{Change, Fault, Scenario};

/// One thing a target can be asked to do besides answering.
#[derive(Clone, Copy, Debug)]
pub enum Operation<'a> {
    /// Create, replace or delete an object of a cluster.
    Apply {
        /// The cluster.
        cluster: &'a str,
        /// The change.
        change: &'a Change,
    },
    /// Make a cluster's API misbehave.
    Fault {
        /// The cluster.
        cluster: &'a str,
        /// What goes wrong.
        fault: &'a Fault,
    },
    /// Move the clock.
    Advance(Duration),
    /// Replace the resolver's configuration.
    Reconfigure {
        /// The configuration, parsed.
        config: &'a ResolverConfig,
        /// The Corefile itself, for targets that run a real server.
        corefile: &'a Corefile,
    },
}

impl Operation<'_> {
    /// What a target must be able to do to perform it.
    pub fn needs(&self) -> Capability {
        match self {
            Operation::Apply { .. } => Capability::ApplyState,
            Operation::Fault { .. } => Capability::InjectFaults,
            Operation::Advance(_) => Capability::AdvanceTime,
            Operation::Reconfigure { .. } => Capability::Reconfigure,
        }
    }
}

/// One kind of operation a target may or may not support.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Capability {
    /// Create, change and delete objects of the world.
    ApplyState,
    /// Move a clock.
    AdvanceTime,
    /// Replace the Corefile mid-scenario.
    Reconfigure,
    /// Make the API fail (dropped watches, 410, outages).
    InjectFaults,
}

impl Capability {
    /// What a target without it cannot do, after its name
    /// (`target dns=… cannot be reconfigured`).
    pub fn lacking(self) -> &'static str {
        match self {
            Capability::ApplyState => "cannot change the world",
            Capability::AdvanceTime => "has no clock to advance",
            Capability::Reconfigure => "cannot be reconfigured",
            Capability::InjectFaults => "cannot inject API faults",
        }
    }
}

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

impl Capabilities {
    /// Only answering: nothing can be changed.
    pub const ANSWER_ONLY: Capabilities = Capabilities {
        apply_state: false,
        advance_time: false,
        reconfigure: false,
        inject_faults: false,
        settle: None,
    };

    /// Whether the target can do this.
    pub fn has(&self, capability: Capability) -> bool {
        match capability {
            Capability::ApplyState => self.apply_state,
            Capability::AdvanceTime => self.advance_time,
            Capability::Reconfigure => self.reconfigure,
            Capability::InjectFaults => self.inject_faults,
        }
    }
}

/// What a target saw that no answer shows (API errors its watchers met, a
/// peer's log lines), each once, in the order seen.
pub type Events = Vec<String>;

/// Each event once, in the order first seen (retries repeat the same error).
pub fn unique_events(events: impl IntoIterator<Item = String>) -> Events {
    let mut unique: Vec<String> = Vec::new();
    for e in events {
        if !unique.contains(&e) {
            unique.push(e);
        }
    }
    unique
}

/// What a target answered to one question.
#[derive(Clone, Debug)]
pub struct Answer {
    /// The DNS outcome, as a client sees it.
    pub outcome: Outcome,
    /// Set when the answer came from a cache (a stale one says what the
    /// resolver would answer now).
    pub cache: Option<CacheNote>,
    /// Events since the target last reported.
    pub events: Events,
}

impl Answer {
    /// An answer with nothing more to say.
    pub fn plain(outcome: Outcome) -> Answer {
        Answer {
            outcome,
            cache: None,
            events: Vec::new(),
        }
    }
}

/// Why a target could not do what it was asked.
#[derive(Debug, thiserror::Error)]
pub enum TargetError {
    /// Asked before [`Target::start`].
    #[error("not started")]
    NotStarted,
    /// Asked for an operation its capabilities do not include.
    #[error("target {target} {}", .capability.lacking())]
    Unsupported {
        /// The target's name.
        target: String,
        /// What it lacks.
        capability: Capability,
    },
    /// A program it needs is not installed.
    #[error("{what} not found ({looked}); {install}")]
    Missing {
        /// The program.
        what: String,
        /// Where it looked.
        looked: String,
        /// How to install it, or where to point at it.
        install: String,
    },
    /// A server it started could not bind its port (taken meanwhile).
    #[error(
        "{name} {why} before it answered DNS on {addr}: a port it needs is in use; its log ends:\n{log}"
    )]
    PortInUse {
        /// The server.
        name: String,
        /// The address it was to listen on.
        addr: SocketAddr,
        /// How it ended (`exited (exit status: 1)`).
        why: String,
        /// Its last log lines.
        log: String,
    },
    /// A file or folder it needs could not be written or read.
    #[error("cannot {action} {}: {source}", .path.display())]
    File {
        /// What it tried (`write`, `read`, `create`).
        action: &'static str,
        /// The path.
        path: PathBuf,
        /// Why not.
        source: std::io::Error,
    },
    /// The run was interrupted (Ctrl-C) while the target waited.
    #[error("interrupted (Ctrl-C) before it finished")]
    Interrupted,
    /// Anything else, in words.
    #[error("{0}")]
    Failed(String),
}

impl TargetError {
    /// An error in words.
    pub fn failed(why: impl Into<String>) -> TargetError {
        TargetError::Failed(why.into())
    }

    /// A file that could not be written, read or created.
    pub fn file(action: &'static str, path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        TargetError::File {
            action,
            path: path.into(),
            source,
        }
    }
}

/// Something that answers DNS questions for a scenario.
pub trait Target {
    /// A short name for reports (`reference`, `dns=127.0.0.1:53`).
    fn name(&self) -> String;
    /// What it says it is, for reports (`CoreDNS-1.15.0`).
    fn version(&self) -> String {
        format!("{} (version unknown)", self.name())
    }
    /// What it can do; the runner asks for nothing else.
    fn capabilities(&self) -> Capabilities;
    /// Sets the target up for a scenario's initial world.
    fn start(&mut self, scenario: &Scenario) -> Result<Events, TargetError>;
    /// Performs one operation its capabilities include.
    fn perform(&mut self, operation: Operation<'_>) -> Result<Events, TargetError>;
    /// Asks one question.
    fn ask(&mut self, question: &Question) -> Result<Answer, TargetError>;
}
