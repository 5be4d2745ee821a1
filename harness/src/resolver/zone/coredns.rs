//! Answers the MCS zone (`clusterset.local`) as CoreDNS's multicluster code does.
//!
//! It reproduces the plugin's parse-then-lookup logic (parse.go,
//! multicluster.go), quirks included: the name is parsed into a service,
//! port or endpoint selection first, then looked up; the qtype decides the
//! rest. docs/semantics.md has the table of every difference from `kep1645`.

use std::net::IpAddr;

use hickory_proto::rr::{Name, RecordType};

use super::records::{address, child, dedup, relative_labels, srv, txt, weight};
use super::{Flow, ZoneCx, ZoneSource};
use crate::model::ServiceImport;
use crate::resolver::reply::Question;
use crate::resolver::view::host_label;

/// The version CoreDNS serves at `dns-version` (shared with cluster.local).
pub const COREDNS_SCHEMA_VERSION: &str = "1.1.0";
/// TTL of the `dns-version` TXT record.
const VERSION_TTL: u32 = super::kep::VERSION_TTL;

/// The MCS zone as CoreDNS serves it.
pub struct Coredns {
    /// The zone is served by the `kubernetes` plugin's `multicluster` option
    /// (CoreDNS >= 1.12.2), not the standalone plugin. They differ at the
    /// apex NS and under `pod.` (measured on 1.15.0).
    pub in_tree: bool,
    /// The standalone plugin's `noendpoints` option: it starts no
    /// EndpointSlice watch, and a lookup that reads endpoints dereferences
    /// the missing watcher (measured: SERVFAIL, a recovered nil-pointer
    /// panic; its README promises NXDOMAIN).
    pub noendpoints: bool,
}

/// Why the standalone plugin sends nothing to an apex NS question.
pub const NS_APEX_SILENCE: &str = "the standalone multicluster plugin writes no reply to an \
     apex NS question (measured on the real plugin: UDP and TCP time out while its log records \
     NXDOMAIN; likely, not confirmed: plugin.NS rewrites the question name to ns.dns.<zone> and \
     the write of the reply fails silently)";

impl ZoneSource for Coredns {
    fn lookup(&self, cx: &ZoneCx<'_>, q: &Question) -> Flow {
        let qname = &q.name;
        let rel = relative_labels(qname, cx.zone);
        let is_apex = rel.is_empty();
        if self.noendpoints && !self.in_tree && self.reads_endpoints(cx, &rel) {
            return Flow::Failed(
                "the multicluster plugin's `noendpoints` option leaves it without an EndpointSlice \
                 watch, and a headless or <host>.<cluster> name dereferences it: the server \
                 recovers the panic and answers SERVFAIL (its README says NXDOMAIN)"
                    .into(),
            );
        }
        match q.qtype {
            RecordType::TXT if rel.len() == 1 && rel[0] == "dns-version" => Flow::Answer {
                records: vec![txt(qname, VERSION_TTL, COREDNS_SCHEMA_VERSION)],
                glue: Vec::new(),
            },
            // NODATA only when the A-path lookup finds records (multicluster.go:213-222).
            RecordType::TXT => match self.records(cx, &rel) {
                Some(r) if !r.is_empty() => Flow::NoData,
                _ => Flow::NameError,
            },
            RecordType::SOA if is_apex => Flow::Answer {
                records: vec![cx.soa_at(qname)],
                glue: Vec::new(),
            },
            RecordType::SOA => Flow::NoData,
            // The in-tree option answers NODATA (measured on CoreDNS 1.15.0).
            RecordType::NS if is_apex && self.in_tree => Flow::NoData,
            // plugin.NS looks up ns.dns.<zone>, which the plugin cannot
            // parse: its log says NXDOMAIN, but no reply reaches the client.
            RecordType::NS if is_apex => Flow::Silent(NS_APEX_SILENCE.into()),
            qtype => match self.records(cx, &rel) {
                None => Flow::NameError,
                Some(items) => answer(qname, qtype, cx.ttl, &items),
            },
        }
    }
}

/// The answer to `qtype` from the services the lookup found.
fn answer(qname: &Name, qtype: RecordType, ttl: u32, items: &[Item]) -> Flow {
    let wanted = |ip: &IpAddr| match qtype {
        RecordType::A => ip.is_ipv4(),
        RecordType::AAAA => ip.is_ipv6(),
        _ => false,
    };
    let (records, glue) = match qtype {
        RecordType::A | RecordType::AAAA => {
            let mut ips: Vec<IpAddr> = items.iter().map(|i| i.ip).filter(|ip| wanted(ip)).collect();
            ips.dedup();
            let records = ips.iter().map(|ip| address(qname, ttl, *ip)).collect();
            (records, Vec::new())
        }
        RecordType::SRV => {
            let with_port: Vec<&Item> = items.iter().filter(|i| i.port.is_some()).collect();
            let w = weight(with_port.len());
            let mut records = Vec::new();
            let mut glue = Vec::new();
            let mut seen: Vec<(Name, u16)> = Vec::new();
            for i in with_port {
                let port = i.port.unwrap_or_default();
                // Every address of a target is glue, IPv4 and IPv6 alike.
                glue.push(address(&i.target, ttl, i.ip));
                if seen.contains(&(i.target.clone(), port)) {
                    continue;
                }
                seen.push((i.target.clone(), port));
                records.push(srv(qname, ttl, 0, w, port, i.target.clone()));
            }
            (records, dedup(glue))
        }
        // Every other type: a lookup to see whether the name exists, then NODATA.
        _ => (Vec::new(), Vec::new()),
    };
    if records.is_empty() {
        Flow::NoData
    } else {
        Flow::Answer { records, glue }
    }
}

impl Coredns {
    /// Whether answering `rel` reads the EndpointSlice watch: a headless
    /// service's names and every `<host>.<cluster>` name (`findServices`).
    fn reads_endpoints(&self, cx: &ZoneCx<'_>, rel: &[String]) -> bool {
        let labels: Vec<&str> = rel.iter().map(String::as_str).collect();
        let rest = match labels.as_slice() {
            [rest @ .., last] if *last == "svc" || *last == "pod" => rest,
            _ => return false,
        };
        let (svc, ns, endpoint) = match rest {
            [svc, ns] => (*svc, *ns, false),
            [_, b, svc, ns] if b.starts_with('_') => (*svc, *ns, false),
            [_, _, svc, ns] => (*svc, *ns, true),
            _ => return false,
        };
        cx.view.has_namespace(ns)
            && cx
                .view
                .import(ns, svc)
                .is_some_and(|si| endpoint || si.is_headless())
    }

    /// The plugin's `Records`: parse the name, then find services; `None`
    /// is its "not found" error.
    fn records(&self, cx: &ZoneCx<'_>, rel: &[String]) -> Option<Vec<Item>> {
        let labels: Vec<&str> = rel.iter().map(String::as_str).collect();
        // parse.go: the last label must be svc or pod; `.pod.` is answered like `.svc.`.
        let rest = match labels.as_slice() {
            [] => return Some(Vec::new()),
            // The in-tree option hands `.pod.` names to the kubernetes
            // plugin's pod lookup, which (pods disabled) finds nothing.
            [_, .., last] if *last == "pod" && self.in_tree => return None,
            [rest @ .., last] if *last == "svc" || *last == "pod" => rest,
            _ => return None,
        };
        match rest {
            [] => Some(Vec::new()),
            [ns] => cx.view.has_namespace(ns).then(Vec::new),
            [svc, ns] => find(cx, ns, svc, Sel::Service),
            [a, b, svc, ns] if b.starts_with('_') => {
                let port = a.trim_start_matches('_');
                let proto = b.trim_start_matches('_');
                find(cx, ns, svc, Sel::Port { port, proto })
            }
            [host, cid, svc, ns] => find(cx, ns, svc, Sel::Endpoint { host, cid }),
            _ => None,
        }
    }
}

/// The plugin's `findServices`: the items of one service that `sel` selects;
/// `None` when the service, or anything it selects, is missing.
fn find(cx: &ZoneCx<'_>, ns: &str, svc: &str, sel: Sel<'_>) -> Option<Vec<Item>> {
    if !cx.view.has_namespace(ns) {
        return None;
    }
    let si = cx.view.import(ns, svc)?;
    if si.is_headless() || matches!(sel, Sel::Endpoint { .. }) {
        find_endpoints(cx, ns, svc, sel)
    } else {
        find_cluster_set_ip(cx, si, ns, svc, sel)
    }
}

/// The ClusterSetIP branch: one item per (ip x matching port).
fn find_cluster_set_ip(
    cx: &ZoneCx<'_>,
    si: &ServiceImport,
    ns: &str,
    svc: &str,
    sel: Sel<'_>,
) -> Option<Vec<Item>> {
    let svc_name = child(cx.zone, &[svc, ns, "svc"]);
    let mut items = Vec::new();
    let mut matched = false;
    for p in &si.spec.ports {
        if let Sel::Port { port, proto } = sel {
            let name = p.name.as_deref().unwrap_or_default().to_ascii_lowercase();
            if !(port.is_empty() || name == port)
                || !(proto.is_empty() || p.protocol().eq_ignore_ascii_case(proto))
            {
                continue;
            }
        }
        matched = true;
        for ip in si.spec.ips.iter().filter_map(|s| s.parse::<IpAddr>().ok()) {
            items.push(Item {
                ip,
                // A number no SRV record can hold still counts as a port
                // (the name has addresses) but gives no SRV record.
                port: p.number(),
                target: svc_name.clone(),
            });
        }
    }
    matched.then_some(items)
}

/// The headless branch (also any endpoint name): one item per (endpoint
/// address x matching port), portless slices giving port-less items.
fn find_endpoints(cx: &ZoneCx<'_>, ns: &str, svc: &str, sel: Sel<'_>) -> Option<Vec<Item>> {
    let mut items = Vec::new();
    for ep in cx.view.mcs_endpoints(ns, svc) {
        let host = host_label(&ep, false);
        let cid = ep
            .cluster_id
            .clone()
            .unwrap_or_default()
            .to_ascii_lowercase();
        if let Sel::Endpoint { host: h, cid: c } = sel
            && (host != h || cid != c)
        {
            continue;
        }
        // A two-label cluster id is two labels of the name, as CoreDNS
        // builds the target as text (`db-0.east.prod.db...`).
        let mut labels = vec![host.as_str()];
        labels.extend(cid.split('.'));
        labels.extend([svc, ns, "svc"]);
        let target = child(cx.zone, &labels);
        if ep.portless {
            if matches!(sel, Sel::Port { .. }) {
                continue;
            }
            for ip in &ep.addresses {
                items.push(Item {
                    ip: *ip,
                    port: None,
                    target: target.clone(),
                });
            }
            continue;
        }
        for (name, proto, port) in ep.ports.iter() {
            if let Sel::Port {
                port: want,
                proto: want_proto,
            } = sel
            {
                let name = name.as_deref().unwrap_or_default().to_ascii_lowercase();
                if !(want.is_empty() || name == want)
                    || !(want_proto.is_empty() || proto.eq_ignore_ascii_case(want_proto))
                {
                    continue;
                }
            }
            for ip in &ep.addresses {
                items.push(Item {
                    ip: *ip,
                    port: Some(*port),
                    target: target.clone(),
                });
            }
        }
    }
    if items.is_empty() { None } else { Some(items) }
}

/// What the coredns lookup selects within a service.
#[derive(Clone, Copy)]
enum Sel<'a> {
    Service,
    Port { port: &'a str, proto: &'a str },
    Endpoint { host: &'a str, cid: &'a str },
}

/// CoreDNS's `msg.Service`: one address, maybe one port, and its SRV target.
struct Item {
    ip: IpAddr,
    port: Option<u16>,
    target: Name,
}
