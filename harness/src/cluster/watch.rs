//! Learns a cluster through kube-runtime watchers, as a deployed resolver
//! does: ServiceImports, EndpointSlices, Namespaces and Services, each
//! listed then watched, every event applied to the resolver's view.
//!
//! The code takes a `kube::Client` and knows nothing of mocks: the same
//! watchers run against the in-process API or a real API server.
//!
//! A source that has never listed is not synced (`Pending`, or `Failed`
//! with the API's message, e.g. RBAC's 403). Once synced, a broken watch
//! does not unsync it: the view keeps serving what it had (stale but
//! serving) while the watcher re-watches or re-lists.
//!
//! Objects are watched untyped and decoded one by one: an object the API
//! accepted but the model cannot hold is skipped with a warning naming it,
//! where a typed list would fail whole and leave the resolver blind.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use futures::StreamExt;
use k8s_openapi::api::core::v1::{Namespace, Service};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use kube::api::{ApiResource, DynamicObject};
use kube::runtime::watcher::{self, Event};
use kube::{Api, Client};

use crate::model::{Kind, ObjectKey, Resource, ServiceImport};
use crate::resolver::ClusterView;
use crate::resolver::view::Sync;

/// One list-and-watch the resolver keeps open.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Source {
    /// ServiceImports, all namespaces.
    ServiceImports,
    /// EndpointSlices labelled `multicluster.kubernetes.io/service-name`.
    McsEndpointSlices,
    /// EndpointSlices labelled `kubernetes.io/service-name` (cluster.local).
    LocalEndpointSlices,
    /// Namespaces.
    Namespaces,
    /// Services, all namespaces.
    Services,
}

impl Source {
    /// The kind it lists.
    pub fn kind(self) -> Kind {
        match self {
            Source::ServiceImports => Kind::ServiceImport,
            Source::McsEndpointSlices | Source::LocalEndpointSlices => Kind::EndpointSlice,
            Source::Namespaces => Kind::Namespace,
            Source::Services => Kind::Service,
        }
    }

    /// Its label selector, if it has one.
    pub fn selector(self) -> Option<&'static str> {
        match self {
            Source::McsEndpointSlices => Some(crate::model::crd::LABEL_SERVICE_NAME),
            Source::LocalEndpointSlices => Some(crate::resolver::view::LABEL_LOCAL_SERVICE_NAME),
            _ => None,
        }
    }
}

impl std::fmt::Display for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.selector() {
            Some(s) => write!(f, "{} ({s})", self.kind()),
            None => write!(f, "{}", self.kind()),
        }
    }
}

/// What the watchers have built: the view, and the resourceVersion of
/// every object each source holds (to tell when it has caught up).
#[derive(Debug, Default)]
pub struct WatchState {
    /// The resolver's view.
    pub view: ClusterView,
    /// Known objects and their resourceVersions, per source.
    pub known: BTreeMap<Source, BTreeMap<ObjectKey, u64>>,
    /// The latest watch errors, oldest first (for reports); at most
    /// `ERRORS_KEPT`, so [`WatchState::push_error`] adds them.
    pub errors: std::collections::VecDeque<String>,
    /// How many errors were ever pushed, kept or not.
    pub errors_total: usize,
    /// Each source's sync state.
    pub sync: BTreeMap<Source, Sync>,
    /// Woken after every event, for a server that republishes the view.
    pub changed: Arc<tokio::sync::Notify>,
}

/// How many watch errors are kept (a long-running server retries forever).
const ERRORS_KEPT: usize = 1000;

impl WatchState {
    /// Records a watch error, forgetting the oldest past `ERRORS_KEPT`.
    pub fn push_error(&mut self, error: String) {
        if self.errors.len() >= ERRORS_KEPT {
            self.errors.pop_front();
        }
        self.errors.push_back(error);
        self.errors_total += 1;
    }

    /// The kept errors pushed after the first `seen` ever pushed, and the
    /// count to pass next time.
    pub fn errors_since(&self, seen: usize) -> (impl Iterator<Item = &String>, usize) {
        let dropped = self.errors_total - self.errors.len();
        (
            self.errors.iter().skip(seen.saturating_sub(dropped)),
            self.errors_total,
        )
    }
}

/// The watch state shared between watcher tasks and readers.
pub type SharedState = Arc<Mutex<WatchState>>;

fn rv_of(r: &Resource) -> u64 {
    r.metadata()
        .resource_version
        .as_deref()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

/// Derives the view's sync flags from each source's.
fn derive_sync(st: &mut WatchState) {
    let of = |k: Source| st.sync.get(&k).cloned().unwrap_or(Sync::Pending);
    let local = [
        Source::Namespaces,
        Source::Services,
        Source::LocalEndpointSlices,
    ]
    .map(of);
    st.view.sync.service_imports = of(Source::ServiceImports);
    st.view.sync.mcs_endpoint_slices = of(Source::McsEndpointSlices);
    st.view.sync.local = local
        .iter()
        .find(|s| matches!(s, Sync::Failed(_)))
        .or_else(|| local.iter().find(|s| **s == Sync::Pending))
        .cloned()
        .unwrap_or(Sync::Synced);
}

/// Whether another source still holds the object (a slice with both
/// service-name labels), so one source's removal must not drop it.
fn held_elsewhere(st: &WatchState, key: &ObjectKey) -> bool {
    st.known.values().any(|m| m.contains_key(key))
}

fn apply(
    state: &SharedState,
    source: Source,
    event: Result<Event<Resource>, watcher::Error>,
    batch: &mut Vec<Resource>,
) {
    let Ok(mut guard) = state.lock() else { return };
    let st = &mut *guard;
    let mut known = st.known.remove(&source).unwrap_or_default();
    match event {
        Ok(Event::Init) => batch.clear(),
        Ok(Event::InitApply(r)) => batch.push(r),
        Ok(Event::InitDone) => {
            // A (re)list replaces everything this source holds.
            let fresh: BTreeMap<ObjectKey, Resource> =
                batch.drain(..).map(|r| (r.key(), r)).collect();
            let stale: Vec<ObjectKey> = known
                .keys()
                .filter(|k| !fresh.contains_key(k))
                .cloned()
                .collect();
            for k in stale {
                known.remove(&k);
                if !held_elsewhere(st, &k) {
                    st.view.remove(&k);
                }
            }
            for (k, r) in fresh {
                let rv = rv_of(&r);
                if known.get(&k) != Some(&rv) {
                    st.view.apply(&r);
                    known.insert(k, rv);
                }
            }
            st.sync.insert(source, Sync::Synced);
            derive_sync(st);
        }
        Ok(Event::Apply(r)) => {
            known.insert(r.key(), rv_of(&r));
            st.view.apply(&r);
        }
        Ok(Event::Delete(r)) => {
            known.remove(&r.key());
            if !held_elsewhere(st, &r.key()) {
                st.view.remove(&r.key());
            }
        }
        Err(e) => {
            let message = match &e {
                watcher::Error::InitialListFailed(kube::Error::Api(s))
                | watcher::Error::WatchStartFailed(kube::Error::Api(s)) => s.message.clone(),
                watcher::Error::WatchError(s) => s.message.clone(),
                other => other.to_string(),
            };
            st.push_error(format!("{source}: {message}"));
            if !st.sync.get(&source).is_some_and(Sync::is_synced) {
                st.sync.insert(source, Sync::Failed(message));
                derive_sync(st);
            }
        }
    }
    st.known.insert(source, known);
    st.changed.notify_one();
}

/// An object a watch delivered that does not decode as its model type:
/// the API accepted it (a CRD field wider than the model, a newer field),
/// but the view cannot hold it.
struct Undecodable {
    key: ObjectKey,
    error: String,
}

/// Decodes one watched object as the model type of `kind`. Watches are
/// untyped so that one object the model cannot hold fails alone: a typed
/// list fails whole on one bad item, and the resolver would serve nothing.
fn decode(kind: Kind, object: DynamicObject) -> Result<Resource, Undecodable> {
    let key = ObjectKey::new(
        kind,
        object.metadata.namespace.as_deref().unwrap_or("default"),
        object.metadata.name.as_deref().unwrap_or_default(),
    );
    serde_json::to_value(object)
        .and_then(|v| Resource::from_json(kind, v))
        .map_err(|e| Undecodable {
            key,
            error: e.to_string(),
        })
}

/// Drops an object from what `source` holds (and from the view, unless
/// another source holds it) by its key alone.
fn forget(state: &SharedState, source: Source, key: &ObjectKey) {
    let Ok(mut guard) = state.lock() else { return };
    let st = &mut *guard;
    if let Some(known) = st.known.get_mut(&source) {
        known.remove(key);
    }
    if !held_elsewhere(st, key) {
        st.view.remove(key);
    }
    st.changed.notify_one();
}

/// The API resource a source lists, for an untyped watch.
fn api_resource(kind: Kind) -> ApiResource {
    match kind {
        Kind::ServiceImport => ApiResource::erase::<ServiceImport>(&()),
        Kind::EndpointSlice => ApiResource::erase::<EndpointSlice>(&()),
        Kind::Service => ApiResource::erase::<Service>(&()),
        _ => ApiResource::erase::<Namespace>(&()),
    }
}

/// Decodes the object an event carries; `Err` names an object that does
/// not decode, with whether the event deleted it.
fn decode_event(
    kind: Kind,
    event: Event<DynamicObject>,
) -> Result<Event<Resource>, (Undecodable, bool)> {
    let live = |o| decode(kind, o).map_err(|bad| (bad, false));
    Ok(match event {
        Event::Apply(o) => Event::Apply(live(o)?),
        Event::InitApply(o) => Event::InitApply(live(o)?),
        Event::Delete(o) => Event::Delete(decode(kind, o).map_err(|bad| (bad, true))?),
        Event::Init => Event::Init,
        Event::InitDone => Event::InitDone,
    })
}

async fn run(client: Client, source: Source, state: SharedState, retry: Retry) {
    let kind = source.kind();
    let api = Api::<DynamicObject>::all_with(client, &api_resource(kind));
    let config = match source.selector() {
        Some(label) => watcher::Config::default().labels(label),
        None => watcher::Config::default(),
    };
    // The backoff is kept here, not by kube's `StreamBackoff`: that resets
    // on every event, and a watcher's relist starts with one (`Init`), so
    // a list that keeps failing would be retried every second for ever.
    // Here only a list that completes, or a change, starts it again.
    let mut backoff = Backoff::new(retry);
    let stream = watcher::watcher(api, config);
    let mut stream = std::pin::pin!(stream);
    let mut batch = Vec::new();
    while let Some(event) = stream.next().await {
        if matches!(
            event,
            Ok(Event::InitDone | Event::Apply(_) | Event::Delete(_))
        ) {
            kube::runtime::utils::Backoff::reset(&mut backoff);
        }
        // Recorded at once (readers see the error), then waited out.
        let retry_after = event.is_err().then(|| backoff.next()).flatten();
        let event = match event.map(|e| decode_event(kind, e)) {
            Ok(Ok(e)) => Ok(e),
            Err(e) => Err(e),
            // Deleted: gone whatever it held.
            Ok(Err((bad, true))) => {
                forget(&state, source, &bad.key);
                continue;
            }
            // Listed or changed into something the model cannot hold: the
            // view forgets it (a list leaves it out of the batch) and says
            // so among the watch errors (`follow` logs each as a warning).
            Ok(Err((bad, false))) => {
                if let Ok(mut st) = state.lock() {
                    st.push_error(format!(
                        "{source}: skipping {}: it does not decode: {}",
                        bad.key, bad.error
                    ));
                }
                forget(&state, source, &bad.key);
                continue;
            }
        };
        apply(&state, source, event, &mut batch);
        if let Some(wait) = retry_after {
            tokio::time::sleep(wait).await;
        }
    }
}

/// How a failed list or watch is retried.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Retry {
    /// Every second: kube's default backoff adds random jitter, and a
    /// steady one keeps the reference target, on its virtual clock,
    /// deterministic.
    Steady,
    /// After 1 s, doubling up to 4 s until a list or watch succeeds: a
    /// server that has lost its API logs one line per retry, not five a
    /// second for as long as the outage lasts.
    Growing,
}

/// The longest wait between two retries under [`Retry::Growing`]: short
/// enough that a server sees its API back within the 5 s an outside
/// target's checks wait for it to catch up.
const GROWING_MAX: std::time::Duration = std::time::Duration::from_secs(4);

/// The retry schedule of one watcher.
pub struct Backoff {
    retry: Retry,
    next: std::time::Duration,
}

impl Backoff {
    /// A schedule starting at one second.
    pub fn new(retry: Retry) -> Backoff {
        Backoff {
            retry,
            next: std::time::Duration::from_secs(1),
        }
    }
}

impl Iterator for Backoff {
    type Item = std::time::Duration;
    fn next(&mut self) -> Option<Self::Item> {
        let now = self.next;
        if self.retry == Retry::Growing {
            self.next = (self.next * 2).min(GROWING_MAX);
        }
        Some(now)
    }
}

impl kube::runtime::utils::Backoff for Backoff {
    fn reset(&mut self) {
        self.next = std::time::Duration::from_secs(1);
    }
}

/// The sources the watchers follow.
pub const WATCHED: [Source; 5] = [
    Source::ServiceImports,
    Source::McsEndpointSlices,
    Source::LocalEndpointSlices,
    Source::Namespaces,
    Source::Services,
];

/// Starts the five watchers on the current tokio runtime; they run until
/// the runtime stops.
pub fn spawn(
    client: &Client,
    state: &SharedState,
    retry: Retry,
) -> Vec<tokio::task::JoinHandle<()>> {
    if let Ok(mut st) = state.lock() {
        for source in WATCHED {
            st.sync.insert(source, Sync::Pending);
        }
        derive_sync(&mut st);
    }
    WATCHED
        .into_iter()
        .map(|source| tokio::spawn(run(client.clone(), source, state.clone(), retry)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_growing_backoff_doubles_to_its_cap_and_starts_again_after_a_success() {
        use kube::runtime::utils::Backoff as _;
        let secs = |b: &mut Backoff, n: usize| -> Vec<u64> {
            b.by_ref().take(n).map(|d| d.as_secs()).collect()
        };
        let mut growing = Backoff::new(Retry::Growing);
        assert_eq!(secs(&mut growing, 5), [1, 2, 4, 4, 4]);
        growing.reset();
        assert_eq!(secs(&mut growing, 2), [1, 2]);
        assert_eq!(secs(&mut Backoff::new(Retry::Steady), 3), [1, 1, 1]);
    }

    #[test]
    fn readers_see_new_errors_after_old_ones_are_forgotten() {
        let mut st = WatchState::default();
        let mut seen = 0;
        for round in 0..3 {
            for i in 0..ERRORS_KEPT {
                st.push_error(format!("{round}/{i}"));
            }
            let (new, total) = st.errors_since(seen);
            let new: Vec<&String> = new.collect();
            assert_eq!(new.len(), ERRORS_KEPT, "round {round}");
            assert_eq!(new[0], &format!("{round}/0"));
            seen = total;
        }
        assert_eq!(st.errors.len(), ERRORS_KEPT);
        st.push_error("last".into());
        let (new, _) = st.errors_since(seen);
        assert_eq!(new.collect::<Vec<_>>(), [&"last".to_owned()]);
    }
}
