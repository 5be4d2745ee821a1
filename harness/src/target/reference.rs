//! Runs the reference resolver in process, on a virtual clock, fed through
//! kube-rs watchers from an in-process Kubernetes API.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::{Answer, Capabilities, Events, Operation, Target, TargetError, unique_events};
use crate::check::CacheNote;
use crate::cluster::mock::{SharedApi, client};
use crate::cluster::scope::{Scope, Selector};
use crate::cluster::store::ApiStore;
use crate::cluster::watch::{Retry, SharedState, WATCHED, WatchState, spawn};
use crate::model::Kind;
use crate::model::kinds::ApiResource;
use crate::resolver::cache::{Cached, Served};
use crate::resolver::corefile::Corefile;
use crate::resolver::view::Sync;
use crate::resolver::{Outcome, Question, ResolverConfig, answer};
use crate::scenario::{Change, Fault, Scenario};

/// The reference resolver, in process: deterministic, with a virtual clock.
///
/// It reaches its state as a deployed resolver does: kube-rs watchers list
/// and watch its cluster's API (served in process by `cluster::mock` from the
/// scenario's world), as the resolver's identity, so RBAC denials, missing
/// CRDs, dropped watches and 410 relists happen for real. After each change
/// the target runs its runtime (tokio, paused time) until every watcher has
/// caught up, or has failed for a reason that still holds: answers never
/// depend on timing. A Corefile `cache` is simulated on the scenario's
/// virtual clock, so `advance` decides when a fix becomes visible.
#[derive(Default)]
pub struct ReferenceTarget {
    clock: Duration,
    state: Option<Session>,
    /// A profile that replaces each scenario's own (`reference=PROFILE`).
    profile: Option<crate::resolver::Profile>,
}

struct Session {
    runtime: tokio::runtime::Runtime,
    api: SharedApi,
    watch: SharedState,
    cluster: String,
    identity: String,
    config: ResolverConfig,
    /// The scenario's plugin order, to read a `corefile` step's file in
    /// the target's own profile.
    order: Vec<crate::resolver::config::PluginKind>,
    cache: Cached,
    down_until: Option<Duration>,
    events_seen: usize,
}

impl Drop for Session {
    fn drop(&mut self) {
        // End the watch streams so the runtime's tasks finish.
        if let Ok(mut api) = self.api.lock() {
            api.drop_watches();
        }
    }
}

/// How long a settle may run in the runtime's (paused, virtual) time:
/// longer than kube's largest watcher backoff.
const SETTLE_LIMIT: Duration = Duration::from_secs(120);

impl Session {
    /// Whether every watcher has caught up with the API, or cannot.
    fn caught_up(&self) -> bool {
        let (Ok(api), Ok(st)) = (self.api.lock(), self.watch.lock()) else {
            return true;
        };
        // Events already on the wire are taken before anything counts as current.
        if api.has_undelivered() {
            return false;
        }
        WATCHED.iter().all(|source| {
            let sync = st.sync.get(source).cloned().unwrap_or(Sync::Pending);
            let target = list_scope(source.kind());
            let allowed = api.authorize(&self.identity, "list", &target).is_ok()
                && api.authorize(&self.identity, "watch", &target).is_ok();
            if !allowed {
                return sync != Sync::Pending;
            }
            // Synced, and watching again (not waiting out a retry).
            if !sync.is_synced()
                || !api.is_watched(source.kind(), source.selector().unwrap_or_default())
            {
                return false;
            }
            let selector =
                Selector::parse(source.selector().unwrap_or_default()).unwrap_or_default();
            // Both sides are ordered by key: one pass over each, no lookups.
            let empty = BTreeMap::new();
            let mut have = st.known.get(source).unwrap_or(&empty).iter();
            let all_known = api
                .versioned_of_kind(source.kind())
                .filter(|(_, r, _)| selector.matches(r.metadata().labels.as_ref()))
                .all(|(key, _, version)| {
                    have.next()
                        .is_some_and(|(k, v)| k == key && Some(*v) == version)
                });
            all_known && have.next().is_none()
        })
    }

    /// Runs the watchers until they have caught up (bounded in virtual time).
    fn settle(&self) {
        self.settle_at_least(Duration::ZERO);
    }

    /// Runs the watchers for at least `min` (so they meet a fault) and until
    /// they have caught up.
    fn settle_at_least(&self, min: Duration) {
        let settled = self.runtime.block_on(async {
            // Long advances take bigger steps; at least one step always runs.
            let step = Duration::from_millis(50).max(min / 200);
            let limit = SETTLE_LIMIT.max(min + SETTLE_LIMIT / 2);
            let mut waited = Duration::ZERO;
            loop {
                tokio::time::sleep(step).await;
                waited += step;
                if waited >= min && self.caught_up() {
                    return true;
                }
                if waited >= limit {
                    return false;
                }
            }
        });
        if !settled && let Ok(mut st) = self.watch.lock() {
            st.push_error(format!(
                "resolver: the watchers did not catch up within {}s of virtual time; the view may be stale",
                SETTLE_LIMIT.as_secs()
            ));
        }
        // The SOA serial is the API's resourceVersion the view is current to,
        // whatever order the events came in.
        if self.caught_up()
            && let (Ok(api), Ok(mut st)) = (self.api.lock(), self.watch.lock())
        {
            st.view.serial = api.resource_version() as u32;
        }
    }
}

fn list_scope(kind: Kind) -> Scope {
    Scope::all(ApiResource::of(kind))
}

impl ReferenceTarget {
    /// A fresh reference target.
    pub fn new() -> Self {
        ReferenceTarget::default()
    }

    /// A reference target that answers in `profile` whatever each scenario
    /// says: `diff` can hold one profile against another
    /// (`--target reference=kep1645 --target reference=lighthouse`).
    pub fn in_profile(profile: crate::resolver::Profile) -> Self {
        ReferenceTarget {
            profile: Some(profile),
            ..ReferenceTarget::default()
        }
    }

    /// The watch errors seen so far (the API's own words).
    pub fn watch_errors(&self) -> Vec<String> {
        self.state
            .as_ref()
            .and_then(|s| {
                s.watch
                    .lock()
                    .ok()
                    .map(|w| w.errors.iter().cloned().collect())
            })
            .unwrap_or_default()
    }

    /// A copy of the view the resolver answers from.
    pub fn view(&self) -> Option<crate::resolver::ClusterView> {
        self.state
            .as_ref()
            .and_then(|s| s.watch.lock().ok().map(|w| w.view.clone()))
    }

    fn session(&mut self) -> Result<&mut Session, TargetError> {
        self.state.as_mut().ok_or(TargetError::NotStarted)
    }

    fn change(&mut self, cluster: &str, change: &Change) -> Result<(), TargetError> {
        let s = self.session()?;
        if cluster != s.cluster {
            // The resolver watches only its own cluster.
            return Ok(());
        }
        if let Ok(mut api) = s.api.lock() {
            change.apply_to(&mut api);
        }
        s.settle();
        Ok(())
    }

    fn fault(&mut self, cluster: &str, fault: &Fault) -> Result<(), TargetError> {
        let now = self.clock;
        let s = self.session()?;
        if cluster != s.cluster {
            return Ok(());
        }
        if let Ok(mut api) = s.api.lock() {
            fault.apply_to(&mut api);
        }
        if let Fault::Unavailable(d) = fault {
            s.down_until = Some(now + *d);
        }
        s.settle_at_least(Duration::from_secs(1));
        Ok(())
    }

    fn advance(&mut self, by: Duration) -> Result<(), TargetError> {
        self.clock = self
            .clock
            .checked_add(by)
            .ok_or_else(|| TargetError::failed("the virtual clock would overflow"))?;
        let now = self.clock;
        let s = self.session()?;
        if s.down_until.is_some_and(|t| now >= t) {
            s.down_until = None;
            if let Ok(mut api) = s.api.lock() {
                api.faults.unavailable = false;
            }
        }
        // The watchers' own timers (retries) follow the scenario's clock.
        s.settle_at_least(by.min(Duration::from_secs(24 * 3600)));
        Ok(())
    }

    fn reconfigure(
        &mut self,
        config: &ResolverConfig,
        corefile: &Corefile,
    ) -> Result<(), TargetError> {
        let profile = self.profile;
        let s = self.session()?;
        s.config = match profile {
            Some(p) => ResolverConfig::from_corefile(corefile, p, &s.order)
                .map_err(|e| TargetError::failed(format!("in the {p} profile: {e}")))?,
            None => config.clone(),
        };
        // A reload builds new plugin instances: the cache starts empty.
        s.cache.clear();
        Ok(())
    }

    /// The watch errors since the last report, each once.
    fn events(&mut self) -> Events {
        let Some(s) = self.state.as_mut() else {
            return Vec::new();
        };
        let Ok(w) = s.watch.lock() else {
            return Vec::new();
        };
        let (new, total) = w.errors_since(s.events_seen);
        let new: Vec<String> = new.map(|e| format!("api: {e}")).collect();
        s.events_seen = total;
        unique_events(new)
    }
}

impl Target for ReferenceTarget {
    fn name(&self) -> String {
        match self.profile {
            Some(p) => format!("reference={p}"),
            None => "reference".into(),
        }
    }

    fn version(&self) -> String {
        format!(
            "mcsdns {} reference resolver, in process",
            env!("CARGO_PKG_VERSION")
        )
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities {
            apply_state: true,
            advance_time: true,
            reconfigure: true,
            inject_faults: true,
            settle: None,
        }
    }

    fn start(&mut self, scenario: &Scenario) -> Result<Events, TargetError> {
        let profiled;
        let scenario = match self.profile {
            Some(p) => {
                profiled = scenario
                    .with_profile(p)
                    .map_err(|e| TargetError::failed(format!("in the {p} profile: {e}")))?;
                &profiled
            }
            None => scenario,
        };
        let cluster = scenario
            .world
            .clusters
            .get(&scenario.resolver.cluster)
            .ok_or_else(|| {
                TargetError::failed(format!("no cluster {}", scenario.resolver.cluster))
            })?;
        self.state = None;
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .start_paused(true)
            .build()
            .map_err(|e| TargetError::failed(format!("cannot start a runtime: {e}")))?;
        let api: SharedApi = Arc::new(Mutex::new(ApiStore::new(cluster)));
        let watch: SharedState = Arc::new(Mutex::new(WatchState::default()));
        // The resolver's own cluster id (Lighthouse's SUBMARINER_CLUSTERID).
        if let Ok(mut st) = watch.lock() {
            st.view.cluster = scenario.resolver.cluster.as_str().into();
        }
        {
            let _guard = runtime.enter();
            spawn(
                &client(api.clone(), &scenario.resolver.identity),
                &watch,
                Retry::Steady,
            );
        }
        self.clock = Duration::ZERO;
        let session = Session {
            runtime,
            api,
            watch,
            cluster: scenario.resolver.cluster.clone(),
            identity: scenario.resolver.identity.clone(),
            config: scenario.resolver.config.clone(),
            order: scenario.resolver.order.clone(),
            cache: Default::default(),
            down_until: None,
            events_seen: 0,
        };
        session.settle();
        self.state = Some(session);
        Ok(self.events())
    }

    fn perform(&mut self, operation: Operation<'_>) -> Result<Events, TargetError> {
        match operation {
            Operation::Apply { cluster, change } => self.change(cluster, change)?,
            Operation::Fault { cluster, fault } => self.fault(cluster, fault)?,
            Operation::Advance(by) => self.advance(by)?,
            Operation::Reconfigure { config, corefile } => self.reconfigure(config, corefile)?,
        }
        Ok(self.events())
    }

    fn ask(&mut self, question: &Question) -> Result<Answer, TargetError> {
        let now = self.clock;
        let s = self.session()?;
        let view = s
            .watch
            .lock()
            .map(|w| w.view.clone())
            .map_err(|_| TargetError::failed("watch state poisoned"))?;
        let (outcome, cache) = match s.cache.answer(&s.config, &view, question, now) {
            Served::Fresh(outcome) => (outcome, None),
            Served::Hit {
                reply,
                age,
                remaining,
                line,
                ..
            } => {
                let fresh = answer(&s.config, &view, question);
                let note = CacheNote {
                    age,
                    remaining,
                    line,
                    fresh: CacheNote::fresh_if_changed(&fresh, &reply),
                };
                (Outcome::Reply(reply), Some(note))
            }
        };
        Ok(Answer {
            outcome,
            cache,
            events: self.events(),
        })
    }
}
