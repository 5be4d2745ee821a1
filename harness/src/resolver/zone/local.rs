//! Answers the cluster-local zone (`cluster.local`) from the resolver's own
//! Services and EndpointSlices, as the Kubernetes DNS specification 1.1.0
//! and CoreDNS's `kubernetes` plugin do.
//!
//! This is the zone that makes Karmada's `derived-serve` resolvable and in
//! which a same-named local Service shadows an import during a search-list
//! walk.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use hickory_proto::rr::rdata::CNAME;
use hickory_proto::rr::{Name, RData};

use super::records::{
    Lookup, Node, Port, address, child, endpoint_addresses, endpoint_srvs, finish, relative_labels,
    txt, virtual_ip_node,
};
use super::{Flow, ZoneCx, ZoneSource};
use crate::resolver::config::PodsMode;
use crate::resolver::reply::{Question, record};
use crate::resolver::view::{Endpoint, cluster_ips, host_label};

/// The schema version of the Kubernetes DNS specification served at `dns-version`.
pub const K8S_SCHEMA_VERSION: &str = "1.1.0";

/// The cluster's own zone.
pub struct Local {
    /// `pods` mode.
    pub pods: PodsMode,
}

impl ZoneSource for Local {
    fn lookup(&self, cx: &ZoneCx<'_>, q: &Question) -> Flow {
        let rel = relative_labels(&q.name, cx.zone);
        finish(self.node(cx, &q.name, &rel), q.qtype)
    }
}

impl Local {
    fn node(&self, cx: &ZoneCx<'_>, qname: &Name, rel: &[String]) -> Lookup {
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
        match labels.as_slice() {
            [] => found(vec![cx.soa_at(qname), cx.ns(qname)]),
            ["dns-version"] => found(vec![txt(qname, 28800, K8S_SCHEMA_VERSION)]),
            ["svc"] | ["pod"] => Lookup::Found(Node::empty()),
            [ns, "svc"] | [ns, "pod"] => {
                if cx.view.has_namespace(ns) {
                    Lookup::Found(Node::empty())
                } else {
                    Lookup::Missing
                }
            }
            [ip, ns, "pod"] => self.pod(cx, qname, ip, ns),
            [prefix @ .., svc, ns, "svc"] => service(cx, qname, prefix, svc, ns),
            _ => Lookup::Missing,
        }
    }

    fn pod(&self, cx: &ZoneCx<'_>, qname: &Name, label: &str, ns: &str) -> Lookup {
        let ip = if label.contains('-') && !label.contains(':') {
            label
                .replace('-', ".")
                .parse::<Ipv4Addr>()
                .ok()
                .map(IpAddr::V4)
        } else {
            None
        }
        .or_else(|| {
            label
                .replace('-', ":")
                .parse::<Ipv6Addr>()
                .ok()
                .map(IpAddr::V6)
        });
        let Some(ip) = ip else { return Lookup::Missing };
        let allowed = match self.pods {
            PodsMode::Disabled => false,
            PodsMode::Insecure => true,
            PodsMode::Verified => {
                cx.view.has_namespace(ns) && cx.view.ptr(ip).any(|t| t.namespace == ns)
            }
        };
        if allowed {
            Lookup::Found(Node {
                records: vec![address(qname, cx.ttl, ip)],
                glue: Vec::new(),
            })
        } else {
            Lookup::Missing
        }
    }
}

/// The names at and below `<svc>.<ns>.svc.<zone>`.
fn service(cx: &ZoneCx<'_>, qname: &Name, prefix: &[&str], svc: &str, ns: &str) -> Lookup {
    let Some(service) = cx.view.service(ns, svc) else {
        return Lookup::Missing;
    };
    let spec = service.spec.clone().unwrap_or_default();
    if spec.type_.as_deref() == Some("ExternalName") {
        return external_name(cx, qname, spec.external_name.as_deref(), prefix);
    }
    if spec.cluster_ip.as_deref() == Some("None") {
        return headless(cx, qname, prefix, svc, ns);
    }
    let ports: Vec<Port> = spec
        .ports
        .iter()
        .flatten()
        .filter_map(|p| {
            Some(Port {
                name: p.name.clone().filter(|n| !n.is_empty()),
                proto: p
                    .protocol
                    .clone()
                    .unwrap_or_else(|| "TCP".into())
                    .to_ascii_lowercase(),
                number: u16::try_from(p.port).ok()?,
            })
        })
        .collect();
    let svc_name = child(cx.zone, &[svc, ns, "svc"]);
    virtual_ip_node(
        qname,
        &svc_name,
        cx.ttl,
        &cluster_ips(service),
        &ports,
        prefix,
    )
}

/// An ExternalName service: a CNAME at the service name, nothing below it.
fn external_name(cx: &ZoneCx<'_>, qname: &Name, target: Option<&str>, prefix: &[&str]) -> Lookup {
    let Some(mut target) = target.and_then(|t| Name::from_utf8(t).ok()) else {
        return Lookup::Missing;
    };
    target.set_fqdn(true);
    match prefix {
        [] => Lookup::Found(Node {
            records: vec![record(qname, cx.ttl, RData::CNAME(CNAME(target)))],
            glue: Vec::new(),
        }),
        _ => Lookup::Missing,
    }
}

/// A headless service: its ready endpoints, each named by its hostname.
fn headless(cx: &ZoneCx<'_>, qname: &Name, prefix: &[&str], svc: &str, ns: &str) -> Lookup {
    let ttl = cx.ttl;
    let endpoints = cx.view.local_endpoints(ns, svc);
    if endpoints.is_empty() {
        return Lookup::Missing;
    }
    let target = |ep: &Endpoint| {
        Some(child(
            cx.zone,
            &[host_label(ep, true).as_str(), svc, ns, "svc"],
        ))
    };
    let srvs = |owner: &Name, wanted: &dyn Fn(Option<&str>, &str) -> bool| {
        endpoint_srvs(owner, ttl, &endpoints, target, wanted)
    };
    match prefix {
        [] => {
            let mut records = endpoint_addresses(qname, ttl, &endpoints);
            let (s, glue) = srvs(qname, &|_, _| true);
            records.extend(s);
            Lookup::Found(Node { records, glue })
        }
        [port, proto] if port.starts_with('_') => {
            let (records, glue) = srvs(qname, &|n, p| {
                n.is_some_and(|n| format!("_{}", n.to_ascii_lowercase()) == *port)
                    && format!("_{p}") == *proto
            });
            Lookup::of(records, glue)
        }
        [proto] if proto.starts_with('_') => {
            let (records, _) = srvs(qname, &|n, p| n.is_some() && format!("_{p}") == *proto);
            if records.is_empty() {
                Lookup::Missing
            } else {
                Lookup::Found(Node::empty())
            }
        }
        [host] => {
            let records: Vec<_> = endpoints
                .iter()
                .filter(|ep| host_label(ep, true) == *host)
                .flat_map(|ep| ep.addresses.iter().copied())
                .collect::<std::collections::BTreeSet<IpAddr>>()
                .into_iter()
                .map(|ip| address(qname, ttl, ip))
                .collect();
            Lookup::of(records, Vec::new())
        }
        _ => Lookup::Missing,
    }
}
