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

/// What the watchers have built: the view, and the resourceVersion of
/// every object it holds (to tell when it has caught up).
#[derive(Debug, Default)]
pub struct WatchState {
    /// The resolver's view.
    pub view: ClusterView,
    /// Known objects and their resourceVersions.
    pub known: BTreeMap<ObjectKey, u64>,
    /// Watch errors seen, oldest first (for reports).
    pub errors: Vec<String>,
    /// Each watched kind's sync state.
    pub sync: BTreeMap<Kind, Sync>,
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

/// Derives the view's sync flags from each kind's.
fn derive_sync(st: &mut WatchState) {
    let of = |k: Kind| st.sync.get(&k).cloned().unwrap_or(Sync::Pending);
    let local = [Kind::Namespace, Kind::Service, Kind::EndpointSlice].map(of);
    st.view.sync.service_imports = of(Kind::ServiceImport);
    st.view.sync.mcs_endpoint_slices = of(Kind::EndpointSlice);
    st.view.sync.local = local
        .iter()
        .find(|s| matches!(s, Sync::Failed(_)))
        .or_else(|| local.iter().find(|s| **s == Sync::Pending))
        .cloned()
        .unwrap_or(Sync::Synced);
}

fn apply(
    state: &SharedState,
    kind: Kind,
    event: Result<Event<Resource>, watcher::Error>,
    batch: &mut Vec<Resource>,
) {
    let Ok(mut st) = state.lock() else { return };
    match event {
        Ok(Event::Init) => batch.clear(),
        Ok(Event::InitApply(r)) => batch.push(r),
        Ok(Event::InitDone) => {
            // A (re)list replaces everything of this kind.
            let fresh: BTreeMap<ObjectKey, Resource> =
                batch.drain(..).map(|r| (r.key(), r)).collect();
            let stale: Vec<ObjectKey> = st
                .known
                .keys()
                .filter(|k| k.kind == kind && !fresh.contains_key(k))
                .cloned()
                .collect();
            for k in stale {
                st.view.remove(&k);
                st.known.remove(&k);
            }
            for (k, r) in fresh {
                let rv = rv_of(&r);
                if st.known.get(&k) != Some(&rv) {
                    st.view.apply(&r);
                    st.known.insert(k, rv);
                }
            }
            // The SOA serial is the newest resourceVersion seen, so it does not
            // depend on how events interleaved.
            st.view.serial = st.known.values().copied().max().unwrap_or(0) as u32;
            st.sync.insert(kind, Sync::Synced);
            derive_sync(&mut st);
        }
        Ok(Event::Apply(r)) => {
            let rv = rv_of(&r);
            st.view.apply(&r);
            st.view.serial = rv as u32;
            st.known.insert(r.key(), rv);
        }
        Ok(Event::Delete(r)) => {
            st.view.remove(&r.key());
            st.view.serial = rv_of(&r) as u32;
            st.known.remove(&r.key());
        }
        Err(e) => {
            let message = match &e {
                watcher::Error::InitialListFailed(kube::Error::Api(s))
                | watcher::Error::WatchStartFailed(kube::Error::Api(s)) => s.message.clone(),
                watcher::Error::WatchError(s) => s.message.clone(),
                other => other.to_string(),
            };
            st.errors.push(format!("{kind}: {message}"));
            if !st.sync.get(&kind).is_some_and(Sync::is_synced) {
                st.sync.insert(kind, Sync::Failed(message));
                derive_sync(&mut st);
            }
        }
    }
}

async fn run<K>(api: Api<K>, kind: Kind, wrap: fn(K) -> Resource, state: SharedState)
where
    K: KubeResource + Clone + DeserializeOwned + std::fmt::Debug + Send + 'static,
{
    use kube::runtime::WatchStreamExt;
    let stream = watcher::watcher(api, watcher::Config::default()).default_backoff();
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
        apply(&state, kind, event, &mut batch);
    }
}

/// The kinds the watchers follow.
pub const WATCHED: [Kind; 4] = [
    Kind::ServiceImport,
    Kind::EndpointSlice,
    Kind::Namespace,
    Kind::Service,
];

/// Starts the four watchers on the current tokio runtime; they run until
/// the runtime stops.
pub fn spawn(client: &Client, state: &SharedState) -> Vec<tokio::task::JoinHandle<()>> {
    if let Ok(mut st) = state.lock() {
        for k in WATCHED {
            st.sync.insert(k, Sync::Pending);
        }
        derive_sync(&mut st);
    }
    vec![
        tokio::spawn(run(
            Api::<ServiceImport>::all(client.clone()),
            Kind::ServiceImport,
            Resource::ServiceImport,
            state.clone(),
        )),
        tokio::spawn(run(
            Api::<EndpointSlice>::all(client.clone()),
            Kind::EndpointSlice,
            Resource::EndpointSlice,
            state.clone(),
        )),
        tokio::spawn(run(
            Api::<Namespace>::all(client.clone()),
            Kind::Namespace,
            Resource::Namespace,
            state.clone(),
        )),
        tokio::spawn(run(
            Api::<Service>::all(client.clone()),
            Kind::Service,
            Resource::Service,
            state.clone(),
        )),
    ]
}
