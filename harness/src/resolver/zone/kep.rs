//! Answers the MCS zone (`clusterset.local`) as KEP-1645 describes it.
//!
//! The zone is built from ServiceImports and multi-cluster EndpointSlices
//! and answered as a plain authoritative zone: a name exists when it owns
//! records or has a name below it that does (RFC 8020), so NXDOMAIN means
//! "nothing here or below". docs/semantics.md has the table of every
//! difference from the `coredns` profile.

use std::net::IpAddr;

use hickory_proto::rr::{Name, RecordType};

use super::records::{
    Lookup, Node, Port, address, child, endpoint_addresses, endpoint_srvs, finish, relative_labels,
    txt, virtual_ip_node,
};
use super::{Flow, ZoneCx, ZoneSource};
use crate::model::ServiceImport;
use crate::resolver::reply::Question;
use crate::resolver::view::{Endpoint, host_label};

/// The schema version the MCS DNS spec defines (KEP-1645 §1).
pub const KEP_SCHEMA_VERSION: &str = "1.0.0";
/// TTL of the `dns-version` TXT record.
pub const VERSION_TTL: u32 = 28800;

/// The MCS zone of the spec; it needs nothing beyond the zone's values.
pub struct Kep;

impl ZoneSource for Kep {
    fn lookup(&self, cx: &ZoneCx<'_>, q: &Question) -> Flow {
        if matches!(q.qtype, RecordType::AXFR | RecordType::IXFR) {
            return Flow::Refused;
        }
        let rel = relative_labels(&q.name, cx.zone);
        finish(node(cx, &q.name, &rel), q.qtype)
    }
}

fn node(cx: &ZoneCx<'_>, qname: &Name, rel: &[String]) -> Lookup {
    let labels: Vec<&str> = rel.iter().map(String::as_str).collect();
    if let Some(dns) = cx.dns_node(qname, &labels) {
        return dns;
    }
    let found = |records| {
        Lookup::Found(Node {
            records,
            glue: Vec::new(),
        })
    };
    let exists = |yes: bool| {
        if yes {
            Lookup::Found(Node::empty())
        } else {
            Lookup::Missing
        }
    };
    match labels.as_slice() {
        [] => found(vec![cx.soa_at(qname), cx.ns(qname)]),
        ["dns-version"] => found(vec![txt(qname, VERSION_TTL, KEP_SCHEMA_VERSION)]),
        ["svc"] => exists(
            cx.view
                .import_namespaces()
                .any(|ns| namespace_exists(cx, ns)),
        ),
        [ns, "svc"] => exists(namespace_exists(cx, ns)),
        [prefix @ .., svc, ns, "svc"] => match cx.view.import(ns, svc) {
            Some(si) if si.is_headless() => headless(cx, qname, ns, svc, prefix),
            Some(si) => cluster_set_ip(cx, qname, si, ns, svc, prefix),
            None => Lookup::Missing,
        },
        _ => Lookup::Missing,
    }
}

/// Whether `<ns>.svc.<zone>` has any name below it.
fn namespace_exists(cx: &ZoneCx<'_>, ns: &str) -> bool {
    cx.view.import_names(ns).any(|svc| {
        cx.view
            .import(ns, svc)
            .is_some_and(|si| !si.is_headless() || !cx.view.mcs_endpoints(ns, svc).is_empty())
    })
}

/// R2/R3: a ClusterSetIP service: A/AAAA from `spec.ips`, SRV for named ports only.
fn cluster_set_ip(
    cx: &ZoneCx<'_>,
    qname: &Name,
    si: &ServiceImport,
    ns: &str,
    svc: &str,
    prefix: &[&str],
) -> Lookup {
    let mut ips: Vec<IpAddr> = Vec::new();
    for ip in si.spec.ips.iter().filter_map(|s| s.parse().ok()) {
        // An RRset holds each address once.
        if !ips.contains(&ip) {
            ips.push(ip);
        }
    }
    // Without an address there is nothing for an SRV to target.
    let ports: Vec<Port> = if ips.is_empty() {
        Vec::new()
    } else {
        si.spec
            .ports
            .iter()
            // A port outside 1..=65535 (the CRD stores any integer) can be
            // in no SRV record; the import's other ports still are.
            .filter_map(|p| {
                Some(Port {
                    name: Some(p.name.clone()?),
                    proto: p.protocol().to_ascii_lowercase(),
                    number: p.number()?,
                })
            })
            .collect()
    };
    let svc_name = child(cx.zone, &[svc, ns, "svc"]);
    virtual_ip_node(qname, &svc_name, cx.ttl, &ips, &ports, prefix)
}

/// R6/R7/R9: a headless service: the ready endpoints of every cluster.
fn headless(cx: &ZoneCx<'_>, qname: &Name, ns: &str, svc: &str, prefix: &[&str]) -> Lookup {
    // Only these names are built from the multi-cluster EndpointSlices, so
    // only they wait for that watch to list (ready.rs says what that means).
    if !cx.view.sync.mcs_endpoint_slices.is_synced() {
        return Lookup::NotReady;
    }
    let ttl = cx.ttl;
    let endpoints = cx.view.mcs_endpoints(ns, svc);
    if endpoints.is_empty() {
        // R8: no ready endpoints: NXDOMAIN.
        return Lookup::Missing;
    }
    // An endpoint without a cluster id has no name, so no SRV targets it.
    let target = |ep: &Endpoint| -> Option<Name> {
        let cid = ep.cluster_id.as_deref()?;
        let host = host_label(ep, true);
        let mut labels = vec![host.as_str()];
        labels.extend(cid.split('.'));
        labels.extend([svc, ns, "svc"]);
        Some(child(cx.zone, &labels))
    };
    // Only named ports have SRV names.
    let srvs = |owner: &Name, wanted: &dyn Fn(&str, &str) -> bool| {
        endpoint_srvs(owner, ttl, &endpoints, target, |n, p| {
            n.is_some_and(|n| wanted(&n.to_ascii_lowercase(), p))
        })
    };
    match prefix {
        [] => {
            let mut records = endpoint_addresses(qname, ttl, &endpoints);
            let (srv_records, glue) = srvs(qname, &|_, _| true);
            records.extend(srv_records);
            Lookup::Found(Node { records, glue })
        }
        [port, proto] if port.starts_with('_') && proto.starts_with('_') => {
            let (records, glue) = srvs(qname, &|n, p| {
                format!("_{n}") == *port && format!("_{p}") == *proto
            });
            Lookup::of(records, glue)
        }
        [proto] if proto.starts_with('_') => {
            let (records, _) = srvs(qname, &|_, p| format!("_{p}") == *proto);
            if records.is_empty() {
                Lookup::Missing
            } else {
                Lookup::Found(Node::empty())
            }
        }
        _ => endpoint_node(qname, ttl, &endpoints, prefix),
    }
}

/// `<hostname>.<clusterid>` of a headless service; the cluster id may have
/// one or two labels.
fn endpoint_node(qname: &Name, ttl: u32, endpoints: &[Endpoint], prefix: &[&str]) -> Lookup {
    let mut records = Vec::new();
    let mut below = false;
    for ep in endpoints {
        let Some(cid) = ep.cluster_id.as_deref() else {
            continue;
        };
        let host = host_label(ep, true);
        let mut full: Vec<String> = vec![host];
        full.extend(cid.to_ascii_lowercase().split('.').map(str::to_owned));
        if full.len() == prefix.len() && full.iter().zip(prefix).all(|(a, b)| a == b) {
            for ip in &ep.addresses {
                let r = address(qname, ttl, *ip);
                if !records.contains(&r) {
                    records.push(r);
                }
            }
        } else if full.len() > prefix.len()
            && full[full.len() - prefix.len()..]
                .iter()
                .zip(prefix)
                .all(|(a, b)| a == b)
        {
            below = true;
        }
    }
    if !records.is_empty() {
        Lookup::Found(Node {
            records,
            glue: Vec::new(),
        })
    } else if below {
        // `<clusterid>.<svc>` of a headless service is an empty
        // non-terminal: it owns no record (R10), but answering
        // NXDOMAIN would tell RFC 8020 resolvers that the
        // `<hostname>.<clusterid>` names below it (R7) do not exist.
        Lookup::Found(Node::empty())
    } else {
        Lookup::Missing
    }
}
