//! Declares what a target can do, and the in-process reference target.
//!
//! A target is dumb: it changes its world when told, answers questions, and
//! moves its clock if it has one. Judging the answers is the runner's job.

use std::time::Duration;

use crate::model::rbac::{self, Access};
use crate::model::{ClusterState, ObjectKey, Resource};
use crate::resolver::view::{Sync, SyncState};
use crate::resolver::{ClusterView, Outcome, Question, ResolverConfig, answer};
use crate::scenario::Scenario;

/// What a target can do besides answering queries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Capabilities {
    /// It can create, change and delete objects of the world.
    pub apply_state: bool,
    /// It has a clock the runner can move.
    pub advance_time: bool,
    /// Its Corefile can be replaced mid-scenario.
    pub reconfigure: bool,
}

/// A change of one object in one cluster.
#[allow(clippy::large_enum_variant)] // see Resource
#[derive(Clone, Debug)]
pub enum Change {
    /// Create or replace.
    Upsert(Resource),
    /// Delete.
    Delete(ObjectKey),
}

/// An answer served from the cache.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CacheNote {
    /// Seconds since it was cached.
    pub age: u64,
    /// Seconds until it expires.
    pub remaining: u64,
    /// The Corefile line of `cache`.
    pub line: usize,
    /// What the resolver would answer now, when that differs (a stale answer).
    pub fresh: Option<String>,
}

/// Why a target could not do what it was asked.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct TargetError(pub String);

/// Something that answers DNS questions for a scenario.
pub trait Target {
    /// A short name for reports (`reference`, `dns=127.0.0.1:53`).
    fn name(&self) -> String;
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
    /// Replaces the resolver's configuration.
    fn reconfigure(&mut self, config: &ResolverConfig) -> Result<(), TargetError> {
        let _ = config;
        Err(TargetError("this target cannot be reconfigured".into()))
    }
    /// Moves the clock.
    fn advance(&mut self, by: Duration) -> Result<(), TargetError> {
        let _ = by;
        Err(TargetError("this target has no clock".into()))
    }
}

/// The reference resolver, in process: deterministic, with a virtual clock.
///
/// It sees only its own cluster, as a deployed resolver does, and lists it
/// as its identity: where RBAC (the cluster's ClusterRoles and bindings)
/// forbids listing ServiceImports, its view is not synced. A Corefile
/// `cache` is simulated on the virtual clock, so `advance` decides when a
/// fix becomes visible.
#[derive(Default)]
pub struct ReferenceTarget {
    clock: Duration,
    state: Option<Running>,
}

struct Running {
    note: Option<CacheNote>,
    cache: crate::resolver::cache::Cache,
    cluster: ClusterState,
    identity: String,
    config: ResolverConfig,
    view: ClusterView,
}

impl ReferenceTarget {
    /// A fresh reference target.
    pub fn new() -> Self {
        ReferenceTarget::default()
    }

    /// The virtual time since the scenario started.
    pub fn now(&self) -> Duration {
        self.clock
    }

    /// The view the resolver answers from (for tests and diagnoses).
    pub fn view(&self) -> Option<&ClusterView> {
        self.state.as_ref().map(|s| &s.view)
    }
}

/// The sync state a resolver listing `state` as `identity` reaches.
pub fn sync_state(state: &ClusterState, identity: &str) -> SyncState {
    let source = |accesses: &[Access<'_>]| {
        for a in accesses {
            if let Err(d) = rbac::check(state, identity, *a) {
                return Sync::Failed(d.message);
            }
        }
        Sync::Synced
    };
    SyncState {
        service_imports: source(&[rbac::LIST_SERVICEIMPORTS, rbac::WATCH_SERVICEIMPORTS]),
        mcs_endpoint_slices: source(&[rbac::LIST_ENDPOINTSLICES]),
        local: source(&[
            Access {
                verb: "list",
                group: "",
                resource: "services",
            },
            Access {
                verb: "list",
                group: "",
                resource: "namespaces",
            },
            rbac::LIST_ENDPOINTSLICES,
        ]),
    }
}

impl Target for ReferenceTarget {
    fn name(&self) -> String {
        "reference".into()
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities {
            apply_state: true,
            advance_time: true,
            reconfigure: true,
        }
    }

    fn start(&mut self, scenario: &Scenario) -> Result<(), TargetError> {
        let cluster = scenario
            .world
            .clusters
            .get(&scenario.resolver.cluster)
            .cloned()
            .ok_or_else(|| TargetError(format!("no cluster {}", scenario.resolver.cluster)))?;
        let mut view = ClusterView::from_state(&cluster);
        view.sync = sync_state(&cluster, &scenario.resolver.identity);
        self.clock = Duration::ZERO;
        self.state = Some(Running {
            note: None,
            cache: Default::default(),
            cluster,
            identity: scenario.resolver.identity.clone(),
            config: scenario.resolver.config.clone(),
            view,
        });
        Ok(())
    }

    fn apply(&mut self, cluster: &str, change: &Change) -> Result<(), TargetError> {
        let s = self
            .state
            .as_mut()
            .ok_or_else(|| TargetError("not started".into()))?;
        if cluster != s.cluster.name {
            // The resolver watches only its own cluster.
            return Ok(());
        }
        match change {
            Change::Upsert(r) => {
                s.cluster.apply(r.clone(), None);
                s.view.apply(r);
            }
            Change::Delete(key) => {
                s.cluster.delete(key);
                s.view.remove(key);
            }
        }
        s.view.sync = sync_state(&s.cluster, &s.identity);
        Ok(())
    }

    fn query(&mut self, question: &Question) -> Result<Outcome, TargetError> {
        let now = self.clock;
        let s = self
            .state
            .as_mut()
            .ok_or_else(|| TargetError("not started".into()))?;
        let policy = s.config.cache_for(&question.name).cloned();
        s.note = None;
        if let Some(p) = &policy
            && let Some(crate::resolver::cache::Hit {
                reply: hit,
                age,
                remaining,
            }) = s.cache.get(question, now)
        {
            let fresh = answer(&s.config, &s.view, question);
            let differs = fresh.reply().is_none_or(|f| {
                f.rcode != hit.rcode
                    || crate::run::record::answer_set(&f.answers)
                        != crate::run::record::answer_set(&hit.answers)
            });
            s.note = Some(CacheNote {
                age,
                remaining,
                line: p.line,
                fresh: differs.then(|| match fresh.reply() {
                    Some(f) => crate::run::record::summary(f),
                    None => "no answer".into(),
                }),
            });
            return Ok(Outcome::Reply(hit));
        }
        let mut outcome = answer(&s.config, &s.view, question);
        if let (Some(policy), Outcome::Reply(reply)) = (&policy, &mut outcome) {
            s.cache.put(question, reply, policy, now);
        }
        Ok(outcome)
    }

    fn take_note(&mut self) -> Option<CacheNote> {
        self.state.as_mut().and_then(|s| s.note.take())
    }

    fn reconfigure(&mut self, config: &ResolverConfig) -> Result<(), TargetError> {
        let s = self
            .state
            .as_mut()
            .ok_or_else(|| TargetError("not started".into()))?;
        s.config = config.clone();
        // A reload builds new plugin instances: the cache starts empty.
        s.cache.clear();
        Ok(())
    }

    fn advance(&mut self, by: Duration) -> Result<(), TargetError> {
        self.clock = self
            .clock
            .checked_add(by)
            .ok_or_else(|| TargetError("the virtual clock would overflow".into()))?;
        Ok(())
    }
}
