//! Decides what the resolver answers while its watches have not listed yet.
//!
//! Every "not synced means SERVFAIL, or silence" rule lives here, so a
//! profile's start-up behaviour can be read (and changed) in one place:
//! - `coredns` with the standalone `multicluster` plugin: the server does not
//!   start until ServiceImports are listed, so nothing is answered at all;
//! - `kep1645`: the MCS zone answers SERVFAIL until ServiceImports are
//!   listed, and a headless service's names until the multi-cluster
//!   EndpointSlices are (the `kep` source says which names those are);
//! - the `kubernetes` plugin, in both profiles: a name error is SERVFAIL
//!   until Services are listed; under `coredns` with its `multicluster`
//!   option also until ServiceImports are, in every forward zone it serves.

use super::config::{PluginKind, Profile, ResolverConfig, ZonePlugin};
use super::view::{ClusterView, SyncState};
use super::zone::{Flow, Role};

/// Why the whole server is silent, if it is: checked before the question is read.
pub fn silence(config: &ResolverConfig, view: &ClusterView) -> Option<String> {
    (config.profile == Profile::Coredns
        && config.has_standalone_multicluster()
        && !view.sync.service_imports.is_synced())
    .then(|| {
        "CoreDNS's multicluster plugin waits for ServiceImports to be listed before the server \
         starts (its start-up never times out), so no DNS is served at all"
            .into()
    })
}

/// What an unlisted watch does to one zone's answers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Gate {
    /// The zone answers as its source says.
    Open,
    /// Every question is not ready: the zone is not consulted.
    Closed,
    /// A name error is not trusted, so it is not ready; other answers stand.
    NameErrorsWait,
}

impl Gate {
    /// The gate of `zp`'s zone of `role` under `profile`, given what has listed.
    pub fn of(profile: Profile, zp: &ZonePlugin, role: Role, sync: &SyncState) -> Gate {
        let imports = sync.service_imports.is_synced();
        let local = sync.local.is_synced();
        let in_tree_mcs = profile == Profile::Coredns
            && zp.kind == PluginKind::Kubernetes
            && !zp.mcs_zones.is_empty();
        let waits = match role {
            Role::Mcs if profile == Profile::Kep1645 => {
                return Gate::open_unless(imports, Gate::Closed);
            }
            // The kubernetes plugin's `multicluster` option: not synced means
            // not ready, and name errors become SERVFAIL (k8s handler.go).
            Role::Mcs => zp.kind == PluginKind::Kubernetes && !imports,
            Role::Local => !local || (in_tree_mcs && !imports),
            // Without a forward zone the plugin names no PTR target, listed or not.
            Role::Reverse => zp.forward_zone().is_some() && !local,
        };
        Gate::open_unless(!waits, Gate::NameErrorsWait)
    }

    fn open_unless(ready: bool, gate: Gate) -> Gate {
        if ready { Gate::Open } else { gate }
    }

    /// Runs `lookup` through the gate.
    pub fn pass(self, lookup: impl FnOnce() -> Flow) -> Flow {
        match (self, lookup) {
            (Gate::Closed, _) => Flow::NotReady,
            (Gate::Open, lookup) => lookup(),
            (Gate::NameErrorsWait, lookup) => match lookup() {
                Flow::NameError => Flow::NotReady,
                flow => flow,
            },
        }
    }
}
