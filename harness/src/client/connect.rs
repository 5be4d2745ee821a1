//! Simulates the data plane: does a connection to an address and port reach
//! a backend that listens there? Nothing is ever dialled.
//!
//! A Pod IP reaches the Pod directly (the clusters' networks are taken as
//! routed to each other, as in the field report); a ClusterIP goes through
//! its Service's port -> targetPort to the ready endpoints; a clusterset IP
//! goes to the exporting clusters' Services the same way. A backend listens
//! on the ports of the EndpointSlices that list it.

use std::net::IpAddr;

use k8s_openapi::api::core::v1::{Service, ServicePort};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use crate::model::{ClusterState, Resource, World};
use crate::resolver::view::{Endpoint, LABEL_LOCAL_SERVICE_NAME, cluster_ips, endpoints_of};

/// What an address turned out to be.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AddressKind {
    /// A Pod, listed in an EndpointSlice of `cluster`.
    Pod {
        /// The cluster.
        cluster: String,
        /// The slice that lists it (`namespace/name`).
        slice: String,
    },
    /// A Service's ClusterIP in the client's cluster.
    ClusterIp {
        /// `namespace/name`.
        service: String,
    },
    /// A ServiceImport's clusterset IP in the client's cluster.
    ClusterSetIp {
        /// `namespace/name`.
        import: String,
    },
    /// Nothing in the world has this address.
    Unknown,
}

/// The result of a simulated connection.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Connection {
    /// The address connected to.
    pub address: IpAddr,
    /// The port.
    pub port: u16,
    /// What the address is.
    pub kind: AddressKind,
    /// Whether a ready backend listens at the end of the path.
    pub reachable: bool,
    /// The ports the address accepts (a Pod's listening ports, a Service's or import's ports).
    pub accepts: Vec<u16>,
    /// The ports backends behind a VIP listen on.
    pub listening: Vec<u16>,
    /// The path taken, hop by hop, for reports.
    pub path: Vec<String>,
}

/// Connects from a Pod in `client_cluster` to `address:port`. The address
/// is tried as a Pod IP in any cluster, then as a ClusterIP and a clusterset
/// IP of the client's cluster, the first match deciding what it is.
pub fn connect(world: &World, client_cluster: &str, address: IpAddr, port: u16) -> Connection {
    if let Some(c) = to_pod(world, address, port) {
        return c;
    }
    let Some(client) = world.clusters.get(client_cluster) else {
        return Connection::unknown(address, port);
    };
    if let Some(c) = to_cluster_ip(client, client_cluster, address, port) {
        return c;
    }
    if let Some(c) = to_clusterset_ip(world, client, client_cluster, address, port) {
        return c;
    }
    let mut c = Connection::unknown(address, port);
    c.path.push(format!(
        "no Pod, Service or ServiceImport has the address {address}"
    ));
    c
}

impl Connection {
    /// A connection to an address nothing has (yet): no ports, no path.
    fn unknown(address: IpAddr, port: u16) -> Self {
        Connection {
            address,
            port,
            kind: AddressKind::Unknown,
            reachable: false,
            accepts: Vec::new(),
            listening: Vec::new(),
            path: Vec::new(),
        }
    }
}

/// A Pod IP, in any cluster: the networks are taken as routed to each other,
/// so the Pod is reached directly and only its own ports count. A slice of
/// the Pod's own cluster is preferred to a controller's copy of it (an MCS
/// import, Karmada's `imported-*` slices in its control plane).
fn to_pod(world: &World, address: IpAddr, port: u16) -> Option<Connection> {
    for copies in [false, true] {
        for cluster in world.clusters.values() {
            for r in cluster.resources() {
                let Resource::EndpointSlice(slice) = r else {
                    continue;
                };
                if is_copy(slice) != copies {
                    continue;
                }
                let eps = endpoints_of(slice, false);
                if let Some(ep) = eps.iter().find(|e| e.addresses.contains(&address)) {
                    return Some(pod(cluster, slice, ep, address, port));
                }
            }
        }
    }
    None
}

/// Whether a slice is a controller's copy of another cluster's endpoints.
fn is_copy(slice: &EndpointSlice) -> bool {
    slice.metadata.labels.as_ref().is_some_and(|l| {
        l.contains_key("karmada.io/managed")
            || l.contains_key(crate::model::crd::LABEL_SERVICE_NAME)
            || l.contains_key(crate::model::crd::LABEL_SOURCE_CLUSTER)
    })
}

/// The connection to the Pod `ep` of `slice`: it accepts where its
/// containers listen when a Deployment says, else its slice's ports.
fn pod(
    cluster: &ClusterState,
    slice: &EndpointSlice,
    ep: &Endpoint,
    address: IpAddr,
    port: u16,
) -> Connection {
    let mut c = Connection::unknown(address, port);
    let ns = slice.metadata.namespace.as_deref().unwrap_or("default");
    let name = slice.metadata.name.as_deref().unwrap_or_default();
    c.kind = AddressKind::Pod {
        cluster: cluster.name.clone(),
        slice: format!("{ns}/{name}"),
    };
    let service = slice
        .metadata
        .labels
        .as_ref()
        .and_then(|l| l.get(LABEL_LOCAL_SERVICE_NAME))
        .cloned();
    let containers = service
        .as_deref()
        .and_then(|svc| container_ports(cluster, ns, svc));
    c.accepts = match &containers {
        Some((ports, _)) => ports.iter().map(|p| p.1).collect(),
        None => ep.ports.iter().map(|p| p.2).collect(),
    };
    c.accepts.sort_unstable();
    c.accepts.dedup();
    c.reachable = c.accepts.contains(&port);
    c.path.push(format!(
        "{address} is a Pod in {} (EndpointSlice {ns}/{name})",
        cluster.name
    ));
    let source = containers.map_or("its EndpointSlice ports".to_owned(), |(_, d)| {
        format!("the containers of Deployment {d}")
    });
    c.path.push(if c.reachable {
        format!("it listens on {port} ({source})")
    } else {
        format!(
            "it listens on {} ({source}) — not on {port}",
            list(&c.accepts)
        )
    });
    c
}

/// A ClusterIP of the client's cluster: the Service's port, then its
/// targetPort on the ready endpoints.
fn to_cluster_ip(
    client: &ClusterState,
    client_cluster: &str,
    address: IpAddr,
    port: u16,
) -> Option<Connection> {
    let svc = client.resources().find_map(|r| match r {
        Resource::Service(svc) if cluster_ips(svc).contains(&address) => Some(svc),
        _ => None,
    })?;
    let mut c = Connection::unknown(address, port);
    let ns = svc.metadata.namespace.as_deref().unwrap_or("default");
    let name = svc.metadata.name.as_deref().unwrap_or_default();
    c.kind = AddressKind::ClusterIp {
        service: format!("{ns}/{name}"),
    };
    c.path.push(format!(
        "{address} is the ClusterIP of Service {ns}/{name} in {client_cluster}"
    ));
    let ports = service_ports(svc);
    c.accepts = ports
        .iter()
        .filter_map(|p| u16::try_from(p.port).ok())
        .collect();
    let Some(sp) = ports.iter().find(|p| p.port == i32::from(port)) else {
        c.path.push(format!(
            "the Service has no port {port} (ports: {})",
            list(&c.accepts)
        ));
        return Some(c);
    };
    let (reachable, listening, hop) = backends(client, ns, name, (sp, has_selector(svc)), port);
    c.reachable = reachable;
    c.listening = listening;
    c.path.push(hop);
    Some(c)
}

/// A clusterset IP of an import in the client's cluster: the import's port,
/// then each exporting cluster's Service in turn, until one reaches a backend.
fn to_clusterset_ip(
    world: &World,
    client: &ClusterState,
    client_cluster: &str,
    address: IpAddr,
    port: u16,
) -> Option<Connection> {
    let si = client.resources().find_map(|r| match r {
        Resource::ServiceImport(si)
            if si
                .spec
                .ips
                .iter()
                .any(|ip| ip.parse::<IpAddr>().ok() == Some(address)) =>
        {
            Some(si)
        }
        _ => None,
    })?;
    let mut c = Connection::unknown(address, port);
    let ns = si.metadata.namespace.as_deref().unwrap_or("default");
    let name = si.metadata.name.as_deref().unwrap_or_default();
    c.kind = AddressKind::ClusterSetIp {
        import: format!("{ns}/{name}"),
    };
    c.accepts = si.spec.ports.iter().filter_map(|p| p.number()).collect();
    c.path.push(format!(
        "{address} is the clusterset IP of ServiceImport {ns}/{name} in {client_cluster}"
    ));
    if !c.accepts.contains(&port) {
        c.path.push(format!(
            "the import has no port {port} (ports: {})",
            list(&c.accepts)
        ));
        return Some(c);
    }
    through_exporters(world, &mut c, ns, name);
    if c.path.len() == 1 {
        c.path.push(format!(
            "no cluster exports {ns}/{name} with a Service behind it"
        ));
    }
    Some(c)
}

/// Follows `c` into each cluster that exports `ns/name` and has the Service,
/// a hop per cluster, stopping at the first that reaches a backend.
fn through_exporters(world: &World, c: &mut Connection, ns: &str, name: &str) {
    let port = c.port;
    for exporter in world.clusters.values() {
        let exported = exporter.resources().any(|r| {
            matches!(r, Resource::ServiceExport(e) if e.metadata.name.as_deref() == Some(name)
                && e.metadata.namespace.as_deref().unwrap_or("default") == ns)
        });
        if !exported {
            continue;
        }
        let Some(svc) = service(exporter, ns, name) else {
            continue;
        };
        let ports = service_ports(svc);
        let Some(sp) = ports.iter().find(|p| p.port == i32::from(port)) else {
            c.path.push(format!(
                "Service {ns}/{name} in {} has no port {port}",
                exporter.name
            ));
            continue;
        };
        let (reachable, listening, hop) =
            backends(exporter, ns, name, (sp, has_selector(svc)), port);
        c.listening.extend(listening);
        c.path
            .push(format!("exported from {}: {hop}", exporter.name));
        if reachable {
            c.reachable = true;
            return;
        }
    }
}

/// Whether a Service has a selector (its endpoints are its Pods); one
/// without is fed EndpointSlices by someone else (an MCS controller).
fn has_selector(svc: &Service) -> bool {
    svc.spec
        .as_ref()
        .and_then(|s| s.selector.as_ref())
        .is_some_and(|s| !s.is_empty())
}

/// Service `ns/name` of `cluster`.
fn service<'a>(cluster: &'a ClusterState, ns: &str, name: &str) -> Option<&'a Service> {
    cluster.resources().find_map(|r| match r {
        Resource::Service(s)
            if s.metadata.name.as_deref() == Some(name)
                && s.metadata.namespace.as_deref().unwrap_or("default") == ns =>
        {
            Some(&**s)
        }
        _ => None,
    })
}

/// The ports a Service declares, none when it has no spec.
fn service_ports(svc: &Service) -> Vec<ServicePort> {
    svc.spec
        .as_ref()
        .and_then(|s| s.ports.clone())
        .unwrap_or_default()
}

/// Ports with their names, as containers and slices declare them.
pub type NamedPorts = Vec<(Option<String>, u16)>;

/// The container ports of the Pods behind Service `ns/svc`: those of the
/// Deployments (kept as unused objects) whose Pod template labels match the
/// Service's selector, with the Deployment's name. `None` when none says.
pub fn container_ports(
    cluster: &ClusterState,
    ns: &str,
    svc: &str,
) -> Option<(NamedPorts, String)> {
    let selector = cluster.resources().find_map(|r| match r {
        Resource::Service(s)
            if s.metadata.name.as_deref() == Some(svc)
                && s.metadata.namespace.as_deref().unwrap_or("default") == ns =>
        {
            s.spec.as_ref().and_then(|sp| sp.selector.clone())
        }
        _ => None,
    })?;
    for (other, _) in &cluster.others {
        let in_ns = if other.namespace.is_empty() {
            "default"
        } else {
            other.namespace.as_str()
        };
        if other.kind != "Deployment" || in_ns != ns {
            continue;
        }
        let template = &other.body["spec"]["template"];
        let labels = &template["metadata"]["labels"];
        if !selector
            .iter()
            .all(|(k, v)| labels[k].as_str() == Some(v.as_str()))
        {
            continue;
        }
        let ports: Vec<(Option<String>, u16)> = template["spec"]["containers"]
            .as_array()
            .into_iter()
            .flatten()
            .flat_map(|c| c["ports"].as_array().cloned().unwrap_or_default())
            .filter_map(|p| {
                let n = u16::try_from(p["containerPort"].as_u64()?).ok()?;
                Some((p["name"].as_str().map(str::to_owned), n))
            })
            .collect();
        if !ports.is_empty() {
            return Some((ports, other.name.clone()));
        }
    }
    None
}

/// Whether a ready endpoint of Service `ns/name` in `cluster` listens on the
/// target port: where the containers listen when a Deployment says,
/// else where the EndpointSlices say. For a Service without a selector,
/// kube-proxy sends to the port of the same name its EndpointSlices give
/// (targetPort is only the EndpointSlice controller's business).
fn backends(
    cluster: &ClusterState,
    ns: &str,
    name: &str,
    (service_port, selector): (&ServicePort, bool),
    port: u16,
) -> (bool, Vec<u16>, String) {
    let target = service_port.target_port.as_ref();
    let containers = container_ports(cluster, ns, name);
    let mut slice_ports: Vec<(Option<String>, u16)> = Vec::new();
    let mut ready = 0;
    for r in cluster.resources() {
        let Resource::EndpointSlice(slice) = r else {
            continue;
        };
        let labels = slice.metadata.labels.as_ref();
        if slice.metadata.namespace.as_deref().unwrap_or("default") != ns
            || labels
                .and_then(|l| l.get(LABEL_LOCAL_SERVICE_NAME))
                .map(String::as_str)
                != Some(name)
        {
            continue;
        }
        for ep in endpoints_of(slice, false) {
            ready += 1;
            slice_ports.extend(ep.ports.iter().map(|(n, _, p)| (n.clone(), *p)));
        }
    }
    if !selector && ready > 0 {
        let wanted = service_port.name.clone().filter(|n| !n.is_empty());
        let mut listening: Vec<u16> = slice_ports.iter().map(|p| p.1).collect();
        listening.sort_unstable();
        listening.dedup();
        let to = slice_ports
            .iter()
            .find(|(n, _)| n.clone().filter(|n| !n.is_empty()) == wanted)
            .map(|p| p.1);
        let hop = match to {
            Some(to) => format!(
                "port {port} -> endpoint port {to}: {ready} ready endpoint(s) (a Service without a selector: kube-proxy takes the port of the same name from its EndpointSlices)"
            ),
            None => format!(
                "port {port}: its EndpointSlices have no port of the same name (they list {})",
                list(&listening)
            ),
        };
        return (to.is_some(), listening, hop);
    }
    let listen: Vec<(Option<String>, u16)> = match &containers {
        Some((ports, _)) => ports.clone(),
        None => slice_ports,
    };
    let target_port: Option<u16> = match (target, &containers) {
        (None, _) => Some(port),
        (Some(IntOrString::Int(t)), _) => u16::try_from(*t).ok(),
        // A named targetPort names a container port.
        (Some(IntOrString::String(t)), Some(_)) => listen
            .iter()
            .find(|(n, _)| n.as_deref() == Some(t.as_str()))
            .map(|p| p.1),
        // Without the containers, the slice tells: its ports carry the
        // Service port's name and the resolved target number.
        (Some(IntOrString::String(_)), None) => listen
            .iter()
            .find(|(n, _)| *n == service_port.name.clone().filter(|n| !n.is_empty()))
            .map(|p| p.1),
    };
    let mut listening: Vec<u16> = if ready == 0 {
        Vec::new()
    } else {
        listen.iter().map(|p| p.1).collect()
    };
    listening.sort_unstable();
    listening.dedup();
    let hit = ready > 0 && target_port.is_some_and(|t| listening.contains(&t));
    let target_text = match target {
        None => port.to_string(),
        Some(IntOrString::Int(t)) => t.to_string(),
        Some(IntOrString::String(t)) => t.clone(),
    };
    let source = containers.map_or("per their EndpointSlices".to_owned(), |(_, d)| {
        format!("per Deployment {d}")
    });
    let hop = if ready == 0 {
        format!("port {port} -> targetPort {target_text}: no ready endpoints")
    } else if hit {
        format!(
            "port {port} -> targetPort {target_text}: {ready} ready endpoint(s) listen there ({source})"
        )
    } else {
        format!(
            "port {port} -> targetPort {target_text}: the endpoints listen on {} instead ({source})",
            list(&listening)
        )
    };
    (hit, listening, hop)
}

fn list(ports: &[u16]) -> String {
    if ports.is_empty() {
        "no port".into()
    } else {
        ports
            .iter()
            .map(u16::to_string)
            .collect::<Vec<_>>()
            .join(", ")
    }
}
