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
    match config.profile {
        Profile::Coredns => (config.has_standalone_multicluster()
            && !view.sync.service_imports.is_synced())
        .then(|| {
            "CoreDNS's multicluster plugin waits for ServiceImports to be listed before the server \
             starts (its start-up never times out), so no DNS is served at all"
                .into()
        }),
        Profile::Lighthouse => lighthouse_silence(view),
        Profile::Kep1645 => None,
    }
}

/// Why a Lighthouse server sends nothing: its port stays closed until every
/// informer has synced (admiral's `WaitForCacheSync`), it exits at start-up
/// without the ServiceImport CRD, and it dies on a slice port without a number.
fn lighthouse_silence(view: &ClusterView) -> Option<String> {
    use super::view::Sync;
    use super::zone::{
        LABEL_IS_HEADLESS, LABEL_MANAGED_BY, LABEL_SOURCE_NAMESPACE, LIGHTHOUSE_MANAGER,
    };
    use crate::model::crd::{LABEL_SERVICE_NAME, LABEL_SOURCE_CLUSTER};
    for (what, sync) in [
        ("ServiceImports", &view.sync.service_imports),
        ("EndpointSlices", &view.sync.mcs_endpoint_slices),
    ] {
        match sync {
            Sync::Synced => {}
            Sync::Pending => {
                return Some(format!(
                    "Lighthouse waits for its informers to sync before it opens the DNS port: \
                     {what} are not listed yet, so clients get connection refused"
                ));
            }
            Sync::Failed(why) if why.contains("forbidden") => {
                return Some(format!(
                    "Lighthouse may not list {what} ({why}): it stays up with the DNS port \
                     closed and retries the list; grant list and watch on them"
                ));
            }
            Sync::Failed(why) => {
                return Some(format!(
                    "Lighthouse cannot list {what} ({why}): it exits with code 1 at start-up \
                     (\"error getting REST mapper\" when the ServiceImport CRD is missing)"
                ));
            }
        }
    }
    view.slices_with_portless_ports().find_map(|(ns, name)| {
        let slice = view.slice(ns, name)?;
        let labels = slice.metadata.labels.as_ref();
        let label = |k: &str| labels.and_then(|l| l.get(k)).map(String::as_str);
        let managed = label(LABEL_MANAGED_BY) == Some(LIGHTHOUSE_MANAGER);
        // The slice reaches mcsServicePortsFrom only as PutEndpointSlices
        // takes it (endpoint_slice.go:42-128): all three labels, not a
        // broker copy, its ServiceImport seen (else it is requeued), and
        // then either a headless import (every slice) or a slice labelled
        // is-headless with an endpoint (one without the label is a legacy
        // slice, whose ports are not read).
        let svc = label(LABEL_SERVICE_NAME);
        let reached = label(LABEL_SOURCE_CLUSTER).is_some()
            && label(LABEL_SOURCE_NAMESPACE)
                == Some(slice.metadata.namespace.as_deref().unwrap_or(ns))
            && svc.and_then(|svc| view.import(ns, svc)).is_some_and(|si| {
                si.is_headless()
                    || (label(LABEL_IS_HEADLESS).is_some()
                        && slice.endpoints.as_ref().is_some_and(|e| !e.is_empty()))
            });
        (managed && reached).then(|| {
            format!(
                "EndpointSlice {ns}/{name} has a port without a `port` number: Lighthouse \
                 panics in mcsServicePortsFrom and dies, and again on every restart until the \
                 slice is removed (newer Lighthouse reads ports with ptr.Deref)"
            )
        })
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

#[cfg(test)]
mod tests {
    use std::path::Path;

    use hickory_proto::rr::Name;

    use super::*;
    use crate::resolver::config::STOCK_ORDER;
    use crate::resolver::corefile::Corefile;
    use crate::resolver::view::Sync;

    const STANDALONE: &str =
        ".:53 {\n    kubernetes cluster.local in-addr.arpa\n    multicluster clusterset.local\n}\n";
    const IN_TREE: &str = ".:53 {\n    kubernetes cluster.local clusterset.local in-addr.arpa {\n        multicluster clusterset.local\n    }\n}\n";
    const REVERSE_ONLY: &str = ".:53 {\n    kubernetes in-addr.arpa\n}\n";

    fn config(corefile: &str, profile: Profile) -> ResolverConfig {
        let cf = Corefile::parse(Path::new("Corefile"), corefile).unwrap();
        ResolverConfig::from_corefile(&cf, profile, &STOCK_ORDER).unwrap()
    }

    /// The gate of the plugin serving `zone`.
    fn gate(corefile: &str, profile: Profile, zone: &str, sync: &SyncState) -> Gate {
        let config = config(corefile, profile);
        let zone = Name::from_ascii(zone).unwrap();
        let zp = config
            .zone_plugins()
            .find(|zp| zp.zones.contains(&zone))
            .expect("a plugin serves the zone");
        Gate::of(profile, zp, Role::of(zp, &zone), sync)
    }

    fn pending(imports: bool, local: bool) -> SyncState {
        let state = |pending| if pending { Sync::Pending } else { Sync::Synced };
        SyncState {
            service_imports: state(imports),
            mcs_endpoint_slices: Sync::Synced,
            local: state(local),
        }
    }

    #[test]
    fn each_profile_and_plugin_waits_for_what_it_watches() {
        use Gate::{Closed, NameErrorsWait as Wait, Open};
        use Profile::{Coredns, Kep1645};
        let mcs = "clusterset.local.";
        let local = "cluster.local.";
        let arpa = "in-addr.arpa.";
        #[rustfmt::skip]
        let table = [
            // (Corefile, profile, zone, imports pending, local pending, gate)
            (STANDALONE, Kep1645, mcs, false, false, Open),
            (STANDALONE, Kep1645, mcs, true, false, Closed),
            (IN_TREE, Kep1645, mcs, true, false, Closed),
            (STANDALONE, Coredns, mcs, true, false, Open),
            (IN_TREE, Coredns, mcs, true, false, Wait),
            (IN_TREE, Coredns, mcs, false, true, Open),
            (STANDALONE, Kep1645, local, false, true, Wait),
            (STANDALONE, Coredns, local, true, false, Open),
            (IN_TREE, Kep1645, local, true, false, Open),
            (IN_TREE, Coredns, local, true, false, Wait),
            (IN_TREE, Coredns, local, false, true, Wait),
            (STANDALONE, Kep1645, arpa, false, true, Wait),
            (IN_TREE, Coredns, arpa, true, false, Open),
            (REVERSE_ONLY, Kep1645, arpa, false, true, Open),
        ];
        for (i, (corefile, profile, zone, imports, local, want)) in table.into_iter().enumerate() {
            let got = gate(corefile, profile, zone, &pending(imports, local));
            assert_eq!(
                got, want,
                "row {i}: {profile} {zone} imports pending {imports}, local pending {local}"
            );
        }
    }

    #[test]
    fn a_gate_holds_back_only_what_it_does_not_trust() {
        let answer = || Flow::Answer {
            records: Vec::new(),
            glue: Vec::new(),
        };
        assert_eq!(Gate::Closed.pass(answer), Flow::NotReady);
        assert_eq!(Gate::NameErrorsWait.pass(answer), answer());
        assert_eq!(
            Gate::NameErrorsWait.pass(|| Flow::NameError),
            Flow::NotReady
        );
        assert_eq!(Gate::NameErrorsWait.pass(|| Flow::NoData), Flow::NoData);
        assert_eq!(Gate::Open.pass(|| Flow::NameError), Flow::NameError);
    }

    #[test]
    fn only_coredns_with_the_standalone_plugin_goes_silent() {
        let view = |imports| {
            let mut view = ClusterView::new("c");
            view.sync = pending(imports, false);
            view
        };
        assert!(silence(&config(STANDALONE, Profile::Coredns), &view(true)).is_some());
        assert!(silence(&config(STANDALONE, Profile::Coredns), &view(false)).is_none());
        assert!(silence(&config(STANDALONE, Profile::Kep1645), &view(true)).is_none());
        assert!(silence(&config(IN_TREE, Profile::Coredns), &view(true)).is_none());
    }
}
