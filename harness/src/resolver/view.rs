//! Indexes one cluster's objects for the answer engine, as an immutable
//! snapshot that is cheap to copy and change.
//!
//! Every map is a persistent (structurally shared) map, so building the next
//! snapshot after one object changes costs O(log n) and readers of the old
//! snapshot are never disturbed. A query touches only the entries of the
//! service it names; nothing scans the whole state.

use std::net::IpAddr;
use std::sync::Arc;

use imbl::{HashMap, OrdSet};
use k8s_openapi::api::core::v1::Service;
use k8s_openapi::api::discovery::v1::EndpointSlice;

use crate::model::crd::{LABEL_SERVICE_NAME, LABEL_SOURCE_CLUSTER};
use crate::model::{ClusterState, Kind, ObjectKey, Resource, ServiceImport};

/// Label on an EndpointSlice naming the (cluster-local) Service it backs.
pub const LABEL_LOCAL_SERVICE_NAME: &str = "kubernetes.io/service-name";

/// `(namespace, name)`, lower-cased for case-insensitive lookup.
pub type NsName = (String, String);

fn ns_name(ns: &str, name: &str) -> NsName {
    (ns.to_ascii_lowercase(), name.to_ascii_lowercase())
}

/// Whether the resolver has listed a source of objects from the API.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum Sync {
    /// Listed and watching.
    #[default]
    Synced,
    /// Not listed yet (start-up, or a relist in progress).
    Pending,
    /// Listing fails; the text is the API's error (e.g. RBAC's "forbidden").
    Failed(String),
}

impl Sync {
    /// Whether the source is usable.
    pub fn is_synced(&self) -> bool {
        matches!(self, Sync::Synced)
    }
}

/// The sync state of each source the resolver watches.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SyncState {
    /// ServiceImports (all namespaces).
    pub service_imports: Sync,
    /// EndpointSlices labelled with `multicluster.kubernetes.io/service-name`.
    pub mcs_endpoint_slices: Sync,
    /// Namespaces, Services and their EndpointSlices (the `kubernetes` plugin).
    pub local: Sync,
}

/// One ready endpoint of a service, flattened from an EndpointSlice.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Endpoint {
    /// Its addresses (one family per slice).
    pub addresses: Vec<IpAddr>,
    /// `hostname` from the slice, if set.
    pub hostname: Option<String>,
    /// The source cluster id (`multicluster.kubernetes.io/source-cluster`), if labelled.
    pub cluster_id: Option<String>,
    /// The slice's ports: (name, protocol, port).
    pub ports: Arc<[(Option<String>, String, u16)]>,
    /// Whether the slice had no ports at all (CoreDNS uses port sentinel -1).
    pub portless: bool,
}

/// An immutable, indexed view of one cluster, as a resolver in it sees it.
#[derive(Clone, Debug, Default)]
pub struct ClusterView {
    /// The cluster's name.
    pub cluster: Arc<str>,
    /// Sync state of each watched source.
    pub sync: SyncState,
    /// A number that changes with every change of the view (the SOA serial).
    pub serial: u32,
    namespaces: OrdSet<String>,
    imports: HashMap<NsName, Arc<ServiceImport>>,
    imports_by_ns: HashMap<String, OrdSet<String>>,
    services: HashMap<NsName, Arc<Service>>,
    slices: HashMap<NsName, Arc<EndpointSlice>>,
    mcs_slices_by_service: HashMap<NsName, OrdSet<String>>,
    local_slices_by_service: HashMap<NsName, OrdSet<String>>,
    ptr: HashMap<IpAddr, OrdSet<PtrTarget>>,
    /// Slices with a port that has no number (Lighthouse crashes on them).
    portless_ports: OrdSet<NsName>,
    /// Submariner's view of which clusters are connected (Lighthouse reads it).
    pub connectivity: Connectivity,
    /// Where Lighthouse's round-robin stands for each service.
    pub turns: Turns,
}

/// Which clusters Submariner reports connected, as Lighthouse reads its
/// Gateway objects (gateway/controller.go:253-279).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum Connectivity {
    /// No Submariner object listed (NotFound, NoMatch or an empty list):
    /// tracking is off and every cluster counts as connected.
    #[default]
    Untracked,
    /// Tracking is on: the Gateway's local cluster id (it overrides
    /// `SUBMARINER_CLUSTERID`) and the clusters its connections report `connected`.
    Tracked {
        /// `status.localEndpoint.cluster_id`, if a Gateway gave one.
        local: Option<String>,
        /// Cluster ids of connections whose status is `connected`.
        connected: OrdSet<String>,
    },
}

impl Connectivity {
    /// Whether Lighthouse counts `cluster` (not the local one) as connected.
    pub fn is_connected(&self, cluster: &str) -> bool {
        match self {
            Connectivity::Untracked => true,
            Connectivity::Tracked { local, connected } => {
                local.as_deref() == Some(cluster) || connected.contains(cluster)
            }
        }
    }

    /// The local cluster id: the Gateway's, else `SUBMARINER_CLUSTERID`'s.
    pub fn local_cluster<'a>(&'a self, env: &'a str) -> &'a str {
        match self {
            Connectivity::Tracked {
                local: Some(id), ..
            } => id,
            _ => env,
        }
    }
}

/// The position of a round-robin per service: the one piece of state an
/// answer changes (Lighthouse's load balancer advances on every pick). It is
/// shared by every snapshot of one resolver, so a view rebuilt after an
/// event keeps the rotation where it was, and it starts at zero with the
/// resolver, which makes a scenario's sequence of answers reproducible.
#[derive(Clone, Debug, Default)]
pub struct Turns(Arc<std::sync::Mutex<std::collections::HashMap<NsName, u64>>>);

impl Turns {
    /// The turn of `ns/name`'s next pick, then advances it.
    pub fn next(&self, ns: &str, name: &str) -> u64 {
        let mut map = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let turn = map.entry(ns_name(ns, name)).or_default();
        let now = *turn;
        *turn = turn.wrapping_add(1);
        now
    }
}

/// Where a reverse lookup of an IP leads, relative to the `kubernetes` zone.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PtrTarget {
    /// The namespace.
    pub namespace: String,
    /// The service.
    pub service: String,
    /// The endpoint's host label, for headless endpoints.
    pub host: Option<String>,
}

impl ClusterView {
    /// An empty, synced view of a cluster.
    pub fn new(cluster: &str) -> Self {
        ClusterView {
            cluster: cluster.into(),
            ..Default::default()
        }
    }

    /// Builds the view of a cluster's current objects.
    pub fn from_state(state: &ClusterState) -> Self {
        let mut view = ClusterView::new(&state.name);
        for r in state.resources() {
            match r {
                // Keys are unique in a state: nothing to replace, and an
                // import is only indexed (a 100,000-import world spends most
                // of its indexing here).
                Resource::ServiceImport(si) => view.insert_import(si.clone()),
                other => view.apply(other),
            }
        }
        view.serial = 1;
        view
    }

    /// The view of `state` as `identity` lists it: a list the world's RBAC
    /// forbids has failed with the API server's words, as the reference
    /// target's watchers would find it, so `query` and `serve` answer (or
    /// stay silent) as a deployed resolver would while it cannot list.
    pub fn listed_as(state: &ClusterState, identity: &str) -> Self {
        let mut view = ClusterView::from_state(state);
        view.sync = Self::access_of(state, identity);
        view
    }

    /// Which of the resolver's lists `identity` may make in `state`.
    fn access_of(state: &ClusterState, identity: &str) -> SyncState {
        use crate::model::rbac::{Access, LIST_ENDPOINTSLICES, LIST_SERVICEIMPORTS, check};
        let mut view_sync = SyncState::default();
        let sync = |access: &[Access<'_>]| {
            access
                .iter()
                .find_map(|a| check(state, identity, *a).err())
                .map_or(Sync::Synced, |d| Sync::Failed(d.message()))
        };
        view_sync.service_imports = sync(&[LIST_SERVICEIMPORTS]);
        view_sync.mcs_endpoint_slices = sync(&[LIST_ENDPOINTSLICES]);
        let list = |group, resource| Access {
            verb: "list",
            group,
            resource,
        };
        view_sync.local = sync(&[
            list("", "namespaces"),
            list("", "services"),
            LIST_ENDPOINTSLICES,
        ]);
        view_sync
    }

    /// Indexes one import (not yet in the view).
    fn insert_import(&mut self, si: Arc<ServiceImport>) {
        let ns = si.metadata.namespace.as_deref().unwrap_or("default");
        let key = ns_name(ns, si.metadata.name.as_deref().unwrap_or_default());
        self.imports_by_ns
            .entry(key.0.clone())
            .or_default()
            .insert(key.1.clone());
        self.imports.insert(key, si);
    }

    /// Adds or replaces one object.
    pub fn apply(&mut self, resource: &Resource) {
        let key = resource.key();
        self.remove(&key);
        let meta = resource.metadata();
        let ns = meta.namespace.as_deref().unwrap_or("default");
        let name = meta.name.as_deref().unwrap_or_default();
        match resource {
            Resource::Namespace(_) => {
                self.namespaces.insert(name.to_ascii_lowercase());
            }
            Resource::ServiceImport(si) => self.insert_import(si.clone()),
            Resource::Service(svc) => {
                let svc = svc.clone();
                for ip in cluster_ips(&svc) {
                    self.ptr.entry(ip).or_default().insert(PtrTarget {
                        namespace: ns.to_ascii_lowercase(),
                        service: name.to_ascii_lowercase(),
                        host: None,
                    });
                }
                self.services.insert(ns_name(ns, name), svc);
            }
            Resource::EndpointSlice(slice) => {
                let labels = slice.metadata.labels.as_ref();
                let label = |k: &str| labels.and_then(|l| l.get(k)).cloned();
                if let Some(svc) = label(LABEL_SERVICE_NAME) {
                    self.mcs_slices_by_service
                        .entry(ns_name(ns, &svc))
                        .or_default()
                        .insert(name.to_ascii_lowercase());
                }
                if let Some(svc) = label(LABEL_LOCAL_SERVICE_NAME) {
                    self.local_slices_by_service
                        .entry(ns_name(ns, &svc))
                        .or_default()
                        .insert(name.to_ascii_lowercase());
                    for ep in endpoints_of(slice, false) {
                        let host = host_label(&ep, false);
                        for ip in &ep.addresses {
                            self.ptr.entry(*ip).or_default().insert(PtrTarget {
                                namespace: ns.to_ascii_lowercase(),
                                service: svc.to_ascii_lowercase(),
                                host: Some(host.clone()),
                            });
                        }
                    }
                }
                if slice.ports.iter().flatten().any(|p| p.port.is_none()) {
                    self.portless_ports.insert(ns_name(ns, name));
                }
                self.slices.insert(ns_name(ns, name), slice.clone());
            }
            Resource::ServiceExport(_)
            | Resource::ClusterRole(_)
            | Resource::ClusterRoleBinding(_) => {}
        }
        self.serial = self.serial.wrapping_add(1);
    }

    /// Removes one object, if present.
    pub fn remove(&mut self, key: &ObjectKey) {
        let (ns, name) = (key.namespace.as_str(), key.name.as_str());
        let k = ns_name(ns, name);
        let mut changed = false;
        match key.kind {
            Kind::Namespace => {
                changed = self.namespaces.remove(&name.to_ascii_lowercase()).is_some()
            }
            Kind::ServiceImport => {
                if self.imports.remove(&k).is_some() {
                    changed = true;
                    if let Some(set) = self.imports_by_ns.get_mut(&k.0) {
                        set.remove(&k.1);
                        if set.is_empty() {
                            self.imports_by_ns.remove(&k.0);
                        }
                    }
                }
            }
            Kind::Service => {
                if let Some(svc) = self.services.remove(&k) {
                    changed = true;
                    for ip in cluster_ips(&svc) {
                        self.unlink_ptr(ip, |t| {
                            t.host.is_none() && t.namespace == k.0 && t.service == k.1
                        });
                    }
                }
            }
            Kind::EndpointSlice => {
                if let Some(slice) = self.slices.remove(&k) {
                    changed = true;
                    self.portless_ports.remove(&k);
                    let labels = slice.metadata.labels.as_ref();
                    let label = |key: &str| labels.and_then(|l| l.get(key)).cloned();
                    if let Some(svc) = label(LABEL_SERVICE_NAME) {
                        unlink(&mut self.mcs_slices_by_service, ns_name(ns, &svc), &k.1);
                    }
                    if let Some(svc) = label(LABEL_LOCAL_SERVICE_NAME) {
                        let svc = svc.to_ascii_lowercase();
                        unlink(&mut self.local_slices_by_service, ns_name(ns, &svc), &k.1);
                        for ep in endpoints_of(&slice, false) {
                            let host = host_label(&ep, false);
                            for ip in &ep.addresses {
                                self.unlink_ptr(*ip, |t| {
                                    t.namespace == k.0
                                        && t.service == svc
                                        && t.host.as_deref() == Some(&host)
                                });
                            }
                        }
                    }
                }
            }
            Kind::ServiceExport | Kind::ClusterRole | Kind::ClusterRoleBinding => {}
        }
        if changed {
            self.serial = self.serial.wrapping_add(1);
        }
    }

    fn unlink_ptr(&mut self, ip: IpAddr, pred: impl Fn(&PtrTarget) -> bool) {
        if let Some(set) = self.ptr.get_mut(&ip) {
            let doomed: Vec<PtrTarget> = set.iter().filter(|t| pred(t)).cloned().collect();
            for t in doomed {
                set.remove(&t);
            }
            if set.is_empty() {
                self.ptr.remove(&ip);
            }
        }
    }

    /// Whether a Namespace object exists.
    pub fn has_namespace(&self, ns: &str) -> bool {
        self.namespaces.contains(&ns.to_ascii_lowercase())
    }

    /// The ServiceImport `ns/name`.
    pub fn import(&self, ns: &str, name: &str) -> Option<&Arc<ServiceImport>> {
        self.imports.get(&ns_name(ns, name))
    }

    /// The names of the ServiceImports in a namespace.
    pub fn import_names(&self, ns: &str) -> impl Iterator<Item = &String> {
        self.imports_by_ns
            .get(&ns.to_ascii_lowercase())
            .into_iter()
            .flat_map(|s| s.iter())
    }

    /// Namespaces that hold at least one ServiceImport.
    pub fn import_namespaces(&self) -> impl Iterator<Item = &String> {
        self.imports_by_ns.keys()
    }

    /// Every ServiceImport, keyed by lower-cased `(namespace, name)`.
    pub fn imports(&self) -> impl Iterator<Item = (&NsName, &Arc<ServiceImport>)> {
        self.imports.iter()
    }

    /// Every Service, keyed by lower-cased `(namespace, name)`.
    pub fn services(&self) -> impl Iterator<Item = (&NsName, &Arc<Service>)> {
        self.services.iter()
    }

    /// The Service `ns/name`.
    pub fn service(&self, ns: &str, name: &str) -> Option<&Arc<Service>> {
        self.services.get(&ns_name(ns, name))
    }

    /// Ready endpoints of the multi-cluster service `ns/name`, from slices
    /// labelled `multicluster.kubernetes.io/service-name`, all clusters.
    pub fn mcs_endpoints(&self, ns: &str, name: &str) -> Vec<Endpoint> {
        self.endpoints(&self.mcs_slices_by_service, ns, name, true)
    }

    /// The EndpointSlices labelled `multicluster.kubernetes.io/service-name=<name>`
    /// in `ns`, whatever their endpoints' state (Lighthouse reads them whole).
    pub fn mcs_slices(&self, ns: &str, name: &str) -> Vec<Arc<EndpointSlice>> {
        let Some(names) = self.mcs_slices_by_service.get(&ns_name(ns, name)) else {
            return Vec::new();
        };
        let ns = ns.to_ascii_lowercase();
        names
            .iter()
            .filter_map(|slice| self.slices.get(&(ns.clone(), slice.clone())).cloned())
            .collect()
    }

    /// The slices that have a port without a number, as `(namespace, name)`.
    pub fn slices_with_portless_ports(&self) -> impl Iterator<Item = &NsName> {
        self.portless_ports.iter()
    }

    /// The slice `ns/name`.
    pub fn slice(&self, ns: &str, name: &str) -> Option<&Arc<EndpointSlice>> {
        self.slices.get(&ns_name(ns, name))
    }

    /// Ready endpoints of the local Service `ns/name`, from slices labelled
    /// `kubernetes.io/service-name`.
    pub fn local_endpoints(&self, ns: &str, name: &str) -> Vec<Endpoint> {
        self.endpoints(&self.local_slices_by_service, ns, name, false)
    }

    fn endpoints(
        &self,
        index: &HashMap<NsName, OrdSet<String>>,
        ns: &str,
        name: &str,
        mcs: bool,
    ) -> Vec<Endpoint> {
        let Some(names) = index.get(&ns_name(ns, name)) else {
            return Vec::new();
        };
        let ns = ns.to_ascii_lowercase();
        names
            .iter()
            .filter_map(|slice| self.slices.get(&(ns.clone(), slice.clone())))
            .flat_map(|slice| endpoints_of(slice, mcs))
            .collect()
    }

    /// Reverse-lookup targets of an address.
    pub fn ptr(&self, ip: IpAddr) -> impl Iterator<Item = &PtrTarget> {
        self.ptr.get(&ip).into_iter().flat_map(|s| s.iter())
    }
}

fn unlink(index: &mut HashMap<NsName, OrdSet<String>>, key: NsName, slice: &str) {
    if let Some(set) = index.get_mut(&key) {
        set.remove(slice);
        if set.is_empty() {
            index.remove(&key);
        }
    }
}

/// The ClusterIPs of a Service (none for headless or ExternalName Services).
pub fn cluster_ips(svc: &Service) -> Vec<IpAddr> {
    let Some(spec) = &svc.spec else {
        return Vec::new();
    };
    let mut ips: Vec<String> = spec.cluster_ips.clone().unwrap_or_default();
    if ips.is_empty() {
        ips.extend(spec.cluster_ip.clone());
    }
    let mut out: Vec<IpAddr> = Vec::new();
    for ip in ips.iter().filter_map(|s| s.parse().ok()) {
        if !out.contains(&ip) {
            out.push(ip);
        }
    }
    out
}

/// Flattens the ready endpoints of a slice. `conditions.ready` unset counts as ready.
pub fn endpoints_of(slice: &EndpointSlice, mcs: bool) -> Vec<Endpoint> {
    if slice.address_type == "FQDN" {
        return Vec::new();
    }
    let cluster_id = if mcs {
        slice
            .metadata
            .labels
            .as_ref()
            .and_then(|l| l.get(LABEL_SOURCE_CLUSTER))
            .cloned()
    } else {
        None
    };
    let ports: Arc<[(Option<String>, String, u16)]> = slice
        .ports
        .iter()
        .flatten()
        .filter_map(|p| {
            let port = u16::try_from(p.port?).ok()?;
            Some((
                p.name.clone().filter(|n| !n.is_empty()),
                p.protocol.clone().unwrap_or_else(|| "TCP".into()),
                port,
            ))
        })
        .collect();
    let portless = ports.is_empty();
    slice
        .endpoints
        .iter()
        .flatten()
        .filter(|ep| ep.conditions.as_ref().and_then(|c| c.ready).unwrap_or(true))
        .map(|ep| Endpoint {
            addresses: ep.addresses.iter().filter_map(|a| a.parse().ok()).collect(),
            hostname: ep.hostname.clone().filter(|h| !h.is_empty()),
            cluster_id: cluster_id.clone(),
            ports: ports.clone(),
            portless,
        })
        .filter(|ep| !ep.addresses.is_empty())
        .collect()
}

/// The DNS label naming an endpoint: its hostname, or its first address with
/// `.` and `:` turned into `-`. `pad` adds a `0` where an IPv6 address would
/// give a label that starts or ends with `-` (not a valid host label).
pub fn host_label(ep: &Endpoint, pad: bool) -> String {
    if let Some(h) = &ep.hostname {
        return h.to_ascii_lowercase();
    }
    let Some(ip) = ep.addresses.first() else {
        return String::new();
    };
    let mut s = ip.to_string().replace(['.', ':'], "-");
    if pad {
        if s.starts_with('-') {
            s.insert(0, '0');
        }
        if s.ends_with('-') {
            s.push('0');
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resolver::export::zone_file;
    use crate::resolver::{Profile, ResolverConfig};

    #[test]
    fn a_view_shares_the_objects_of_its_state() {
        let text = "\
apiVersion: v1
kind: Namespace
metadata: {name: team}
---
apiVersion: multicluster.x-k8s.io/v1alpha1
kind: ServiceImport
metadata: {name: Web, namespace: team}
spec: {type: ClusterSetIP, ips: [10.9.0.1], ports: [{name: http, protocol: TCP, port: 80}]}
---
apiVersion: multicluster.x-k8s.io/v1alpha1
kind: ServiceImport
metadata: {name: db}
spec: {type: Headless, ports: []}
";
        let state =
            crate::model::World::parse_cluster("c1", std::path::Path::new("w.yaml"), text, 1)
                .unwrap();
        let config = ResolverConfig::default_for(Profile::Kep1645);
        let zone = hickory_proto::rr::Name::from_ascii("clusterset.local.").unwrap();
        let view = ClusterView::from_state(&state);
        assert_eq!(view.imports.len(), 2);
        // Each import the view indexes is the state's own copy, not another.
        for r in state.resources() {
            if let Resource::ServiceImport(si) = r {
                let key = ns_name(
                    si.metadata.namespace.as_deref().unwrap_or("default"),
                    si.metadata.name.as_deref().unwrap_or_default(),
                );
                assert!(Arc::ptr_eq(&view.imports[&key], si), "{key:?} was copied");
            }
        }
        // The view outlives the state, and answers the same without it.
        let before = zone_file(&config, &view, &zone);
        drop(state);
        assert_eq!(zone_file(&config, &view, &zone), before);
        assert!(
            before.contains("web.team.svc.clusterset.local."),
            "{before}"
        );
    }
}
