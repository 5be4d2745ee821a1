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

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use futures::StreamExt;
use k8s_openapi::api::core::v1::{Namespace, Service};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use kube::runtime::watcher::{self, Event};
use kube::{Api, Client, Resource as KubeResource};
use serde::de::DeserializeOwned;

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

async fn run<K>(api: Api<K>, source: Source, wrap: fn(K) -> Resource, state: SharedState)
where
    K: KubeResource + Clone + DeserializeOwned + std::fmt::Debug + Send + 'static,
{
    use kube::runtime::WatchStreamExt;
    let config = match source.selector() {
        Some(label) => watcher::Config::default().labels(label),
        None => watcher::Config::default(),
    };
    let stream = watcher::watcher(api, config).backoff(Steady);
    let mut stream = std::pin::pin!(stream);
    let mut batch = Vec::new();
    while let Some(event) = stream.next().await {
        let event = event.map(|e| match e {
            Event::Apply(k) => Event::Apply(wrap(k)),
            Event::Delete(k) => Event::Delete(wrap(k)),
            Event::Init => Event::Init,
            Event::InitApply(k) => Event::InitApply(wrap(k)),
            Event::InitDone => Event::InitDone,
        });
        apply(&state, source, event, &mut batch);
    }
}

/// The kinds the watchers follow.
/// Retries a failed list or watch every second. kube's default backoff adds
/// random jitter; a steady one keeps the reference target deterministic.
pub struct Steady;

impl Iterator for Steady {
    type Item = std::time::Duration;
    fn next(&mut self) -> Option<Self::Item> {
        Some(std::time::Duration::from_secs(1))
    }
}

impl kube::runtime::utils::Backoff for Steady {
    fn reset(&mut self) {}
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
pub fn spawn(client: &Client, state: &SharedState) -> Vec<tokio::task::JoinHandle<()>> {
    if let Ok(mut st) = state.lock() {
        for source in WATCHED {
            st.sync.insert(source, Sync::Pending);
        }
        derive_sync(&mut st);
    }
    vec![
        tokio::spawn(run(
            Api::<ServiceImport>::all(client.clone()),
            Source::ServiceImports,
            Resource::ServiceImport,
            state.clone(),
        )),
        tokio::spawn(run(
            Api::<EndpointSlice>::all(client.clone()),
            Source::McsEndpointSlices,
            Resource::EndpointSlice,
            state.clone(),
        )),
        tokio::spawn(run(
            Api::<EndpointSlice>::all(client.clone()),
            Source::LocalEndpointSlices,
            Resource::EndpointSlice,
            state.clone(),
        )),
        tokio::spawn(run(
            Api::<Namespace>::all(client.clone()),
            Source::Namespaces,
            Resource::Namespace,
            state.clone(),
        )),
        tokio::spawn(run(
            Api::<Service>::all(client.clone()),
            Source::Services,
            Resource::Service,
            state.clone(),
        )),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

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
