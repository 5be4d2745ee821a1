//! Answers the MCS zone (`clusterset.local`) from ServiceImports and
//! multi-cluster EndpointSlices, by profile.
//!
//! `kep1645` builds the zone the spec describes and answers it as a plain
//! authoritative zone: a name exists when it owns records or has a name
//! below it that does (RFC 8020), so NXDOMAIN means "nothing here or below".
//! `coredns` reproduces the multicluster plugin's parse-then-lookup logic
//! (parse.go, multicluster.go), quirks included. docs/semantics.md has the
//! table of every difference.

use std::net::IpAddr;

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::{Name, RecordType};

use super::config::Profile;
use super::view::{ClusterView, Endpoint, host_label};
use super::zone::{
    Lookup, Node, ZoneCtx, ZoneReply, address, child, endpoint_addresses, relative_labels, srv,
    srv_set, txt, weight,
};
use crate::model::ServiceImport;

/// The schema version the MCS DNS spec defines (KEP-1645 §1).
pub const KEP_SCHEMA_VERSION: &str = "1.0.0";
/// The version CoreDNS serves at `dns-version` (shared with cluster.local).
pub const COREDNS_SCHEMA_VERSION: &str = "1.1.0";
/// TTL of the `dns-version` TXT record.
pub const VERSION_TTL: u32 = 28800;

/// Everything one MCS answer needs.
pub struct Mcs<'a> {
    /// Zone-wide values.
    pub ctx: ZoneCtx<'a>,
    /// The behaviour to follow.
    pub profile: Profile,
    /// The resolver's cluster.
    pub view: &'a ClusterView,
    /// Addresses of the cluster's DNS service, for `ns.dns.<zone>`.
    pub ns_addresses: &'a [IpAddr],
    /// Under `coredns`: the zone is served by the `kubernetes` plugin's
    /// `multicluster` option (CoreDNS >= 1.12.2), not the standalone plugin.
    /// They differ at the apex NS and under `pod.` (measured on 1.15.0).
    pub in_tree: bool,
}

impl Mcs<'_> {
    /// Answers one question in the zone.
    pub fn answer(&self, qname: &Name, qtype: RecordType) -> ZoneReply {
        match self.profile {
            Profile::Kep1645 => self.answer_kep(qname, qtype),
            Profile::Coredns => self.answer_coredns(qname, qtype),
        }
    }

    // ----- kep1645 -----

    fn answer_kep(&self, qname: &Name, qtype: RecordType) -> ZoneReply {
        if !self.view.sync.service_imports.is_synced() {
            return self.ctx.finish(Lookup::ServFail, qtype);
        }
        if matches!(qtype, RecordType::AXFR | RecordType::IXFR) {
            return ZoneReply {
                rcode: ResponseCode::Refused,
                ..Default::default()
            };
        }
        let rel = relative_labels(qname, self.ctx.zone);
        let lookup = self.node_kep(qname, &rel);
        self.ctx.finish(lookup, qtype)
    }

    fn node_kep(&self, qname: &Name, rel: &[String]) -> Lookup {
        let ttl = self.ctx.ttl;
        let found = |records| {
            Lookup::Found(Node {
                records,
                glue: Vec::new(),
            })
        };
        let labels: Vec<&str> = rel.iter().map(String::as_str).collect();
        match labels.as_slice() {
            [] => found(vec![self.ctx.soa_at(qname), self.ctx.ns(qname)]),
            ["dns-version"] => found(vec![txt(qname, VERSION_TTL, KEP_SCHEMA_VERSION)]),
            ["ns", "dns"] if !self.ns_addresses.is_empty() => found(
                self.ns_addresses
                    .iter()
                    .map(|ip| address(qname, ttl, *ip))
                    .collect(),
            ),
            ["dns"] if !self.ns_addresses.is_empty() => Lookup::Found(Node::empty()),
            ["svc"] => {
                if self
                    .view
                    .import_namespaces()
                    .any(|ns| self.namespace_exists_kep(ns))
                {
                    Lookup::Found(Node::empty())
                } else {
                    Lookup::Missing
                }
            }
            [ns, "svc"] => {
                if self.namespace_exists_kep(ns) {
                    Lookup::Found(Node::empty())
                } else {
                    Lookup::Missing
                }
            }
            [prefix @ .., svc, ns, "svc"] => match self.view.import(ns, svc) {
                Some(si) => self.service_node_kep(qname, si, ns, svc, prefix),
                None => Lookup::Missing,
            },
            _ => Lookup::Missing,
        }
    }

    /// Whether `<ns>.svc.<zone>` has any name below it.
    fn namespace_exists_kep(&self, ns: &str) -> bool {
        self.view.import_names(ns).any(|svc| {
            self.view
                .import(ns, svc)
                .is_some_and(|si| !si.is_headless() || !self.mcs_endpoints(ns, svc).is_empty())
        })
    }

    fn mcs_endpoints(&self, ns: &str, svc: &str) -> Vec<Endpoint> {
        self.view.mcs_endpoints(ns, svc)
    }

    fn service_node_kep(
        &self,
        qname: &Name,
        si: &ServiceImport,
        ns: &str,
        svc: &str,
        prefix: &[&str],
    ) -> Lookup {
        let ttl = self.ctx.ttl;
        let svc_name = child(self.ctx.zone, &[svc, ns, "svc"]);
        if !si.is_headless() {
            // R2/R3: ClusterSetIP: A/AAAA from spec.ips, SRV for named ports only.
            let mut ips: Vec<IpAddr> = Vec::new();
            for ip in si.spec.ips.iter().filter_map(|s| s.parse().ok()) {
                // An RRset holds each address once.
                if !ips.contains(&ip) {
                    ips.push(ip);
                }
            }
            let named: Vec<(&str, String, u16)> = if ips.is_empty() {
                Vec::new()
            } else {
                si.spec
                    .ports
                    .iter()
                    .filter_map(|p| {
                        Some((
                            p.name.as_deref()?,
                            p.protocol().to_ascii_lowercase(),
                            p.port,
                        ))
                    })
                    .collect()
            };
            let glue: Vec<_> = ips.iter().map(|ip| address(&svc_name, ttl, *ip)).collect();
            return match prefix {
                [] => {
                    let mut records: Vec<_> =
                        ips.iter().map(|ip| address(qname, ttl, *ip)).collect();
                    let mut ports: Vec<u16> = named.iter().map(|p| p.2).collect();
                    ports.sort_unstable();
                    ports.dedup();
                    let w = weight(ports.len());
                    records.extend(
                        ports
                            .iter()
                            .map(|port| srv(qname, ttl, 0, w, *port, svc_name.clone())),
                    );
                    Lookup::Found(Node { records, glue })
                }
                [proto] if named.iter().any(|(_, p, _)| format!("_{p}") == *proto) => {
                    Lookup::Found(Node::empty())
                }
                [port, proto] => {
                    let hits: Vec<u16> = named
                        .iter()
                        .filter(|(n, p, _)| {
                            format!("_{}", n.to_ascii_lowercase()) == *port
                                && format!("_{p}") == *proto
                        })
                        .map(|(_, _, port)| *port)
                        .collect();
                    if hits.is_empty() {
                        return Lookup::Missing;
                    }
                    let w = weight(hits.len());
                    let records = hits
                        .iter()
                        .map(|port| srv(qname, ttl, 0, w, *port, svc_name.clone()))
                        .collect();
                    Lookup::Found(Node { records, glue })
                }
                _ => Lookup::Missing,
            };
        }
        // R6/R7/R9: headless: ready endpoints of every cluster.
        if !self.view.sync.mcs_endpoint_slices.is_synced() {
            return Lookup::ServFail;
        }
        let endpoints = self.mcs_endpoints(ns, svc);
        if endpoints.is_empty() {
            // R8: no ready endpoints: NXDOMAIN.
            return Lookup::Missing;
        }
        let named_ep = |ep: &Endpoint| -> Option<Name> {
            let cid = ep.cluster_id.as_deref()?;
            let host = host_label(ep, true);
            let mut labels = vec![host.as_str()];
            labels.extend(cid.split('.'));
            labels.extend([svc, ns, "svc"]);
            Some(child(self.ctx.zone, &labels))
        };
        let srv_records = |owner: &Name, port_pred: &dyn Fn(&str, &str) -> bool| {
            let mut pairs = Vec::new();
            let mut glue = Vec::new();
            for ep in &endpoints {
                let Some(target) = named_ep(ep) else { continue };
                for (name, proto, port) in ep.ports.iter() {
                    let Some(name) = name else { continue };
                    if port_pred(&name.to_ascii_lowercase(), &proto.to_ascii_lowercase()) {
                        pairs.push((target.clone(), *port));
                        glue.extend(ep.addresses.iter().map(|ip| address(&target, ttl, *ip)));
                    }
                }
            }
            (srv_set(owner, ttl, pairs), glue)
        };
        match prefix {
            [] => {
                let mut records = endpoint_addresses(qname, ttl, &endpoints);
                let (srvs, glue) = srv_records(qname, &|_, _| true);
                records.extend(srvs);
                Lookup::Found(Node { records, glue })
            }
            [port, proto] if port.starts_with('_') && proto.starts_with('_') => {
                let (records, glue) = srv_records(qname, &|n, p| {
                    format!("_{n}") == *port && format!("_{p}") == *proto
                });
                Lookup::of(records, glue)
            }
            [proto] if proto.starts_with('_') => {
                let (records, _) = srv_records(qname, &|_, p| format!("_{p}") == *proto);
                if records.is_empty() {
                    Lookup::Missing
                } else {
                    Lookup::Found(Node::empty())
                }
            }
            _ => {
                // <hostname>.<clusterid>: the clusterid may have one or two labels.
                let mut records = Vec::new();
                let mut below = false;
                for ep in &endpoints {
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
        }
    }

    // ----- coredns -----

    fn answer_coredns(&self, qname: &Name, qtype: RecordType) -> ZoneReply {
        let rel = relative_labels(qname, self.ctx.zone);
        let ttl = self.ctx.ttl;
        let is_apex = rel.is_empty();
        let nodata = || self.ctx.negative(ResponseCode::NoError);
        let nxdomain = || self.ctx.negative(ResponseCode::NXDomain);
        match qtype {
            RecordType::TXT if rel.len() == 1 && rel[0] == "dns-version" => {
                return ZoneReply {
                    answers: vec![txt(qname, VERSION_TTL, COREDNS_SCHEMA_VERSION)],
                    ..Default::default()
                };
            }
            RecordType::TXT => {
                // NODATA only when the A-path lookup finds records (multicluster.go:213-222).
                return match self.records_coredns(qname, &rel) {
                    Ok(r) if !r.is_empty() => nodata(),
                    _ => nxdomain(),
                };
            }
            RecordType::SOA if is_apex => {
                return ZoneReply {
                    answers: vec![self.ctx.soa_at(qname)],
                    ..Default::default()
                };
            }
            RecordType::SOA => return nodata(),
            // The in-tree option answers NODATA (measured on CoreDNS 1.15.0).
            RecordType::NS if is_apex && self.in_tree => return nodata(),
            RecordType::NS if is_apex => {
                // plugin.NS looks up ns.dns.<zone>, which the plugin cannot parse.
                return nxdomain();
            }
            _ => {}
        }
        let result = self.records_coredns(qname, &rel);
        let items = match result {
            Err(CoreErr::NotFound) => return nxdomain(),
            Ok(items) => items,
        };
        let wanted = |ip: &IpAddr| match qtype {
            RecordType::A => ip.is_ipv4(),
            RecordType::AAAA => ip.is_ipv6(),
            _ => false,
        };
        match qtype {
            RecordType::A | RecordType::AAAA => {
                let mut ips: Vec<IpAddr> =
                    items.iter().map(|i| i.ip).filter(|ip| wanted(ip)).collect();
                ips.dedup();
                let answers: Vec<_> = ips.iter().map(|ip| address(qname, ttl, *ip)).collect();
                if answers.is_empty() {
                    return nodata();
                }
                ZoneReply {
                    answers,
                    ..Default::default()
                }
            }
            RecordType::SRV => {
                let with_port: Vec<&Item> = items.iter().filter(|i| i.port.is_some()).collect();
                let w = weight(with_port.len());
                let mut answers = Vec::new();
                let mut additionals = Vec::new();
                let mut seen: Vec<(Name, u16)> = Vec::new();
                for i in with_port {
                    let port = i.port.unwrap_or_default();
                    // Every address of a target is glue, IPv4 and IPv6 alike.
                    additionals.push(address(&i.target, ttl, i.ip));
                    if seen.contains(&(i.target.clone(), port)) {
                        continue;
                    }
                    seen.push((i.target.clone(), port));
                    answers.push(srv(qname, ttl, 0, w, port, i.target.clone()));
                }
                if answers.is_empty() {
                    return nodata();
                }
                let mut glue = Vec::new();
                for r in additionals {
                    if !glue.contains(&r) {
                        glue.push(r);
                    }
                }
                ZoneReply {
                    answers,
                    additionals: glue,
                    ..Default::default()
                }
            }
            // Every other type: a lookup to see whether the name exists, then NODATA.
            _ => nodata(),
        }
    }

    /// The plugin's `Records`: parse the name, then find services.
    fn records_coredns(&self, _qname: &Name, rel: &[String]) -> Result<Vec<Item>, CoreErr> {
        let labels: Vec<&str> = rel.iter().map(String::as_str).collect();
        // parse.go: the last label must be svc or pod; `.pod.` is answered like `.svc.`.
        let (kind_at, rest) = match labels.as_slice() {
            [] => return Ok(Vec::new()),
            // The in-tree option hands `.pod.` names to the kubernetes
            // plugin's pod lookup, which (pods disabled) finds nothing.
            [_, .., last] if *last == "pod" && self.in_tree => return Err(CoreErr::NotFound),
            [.., last] if *last == "svc" || *last == "pod" => {
                (labels.len() - 1, &labels[..labels.len() - 1])
            }
            _ => return Err(CoreErr::NotFound),
        };
        let _ = kind_at;
        match rest {
            [] => Ok(Vec::new()),
            [ns] => {
                if self.view.has_namespace(ns) {
                    Ok(Vec::new())
                } else {
                    Err(CoreErr::NotFound)
                }
            }
            [svc, ns] => self.find_coredns(ns, svc, Sel::Service),
            [a, b, svc, ns] if b.starts_with('_') => {
                let port = a.trim_start_matches('_');
                let proto = b.trim_start_matches('_');
                self.find_coredns(ns, svc, Sel::Port { port, proto })
            }
            [host, cid, svc, ns] => self.find_coredns(ns, svc, Sel::Endpoint { host, cid }),
            _ => Err(CoreErr::NotFound),
        }
    }

    fn find_coredns(&self, ns: &str, svc: &str, sel: Sel<'_>) -> Result<Vec<Item>, CoreErr> {
        if !self.view.has_namespace(ns) {
            return Err(CoreErr::NotFound);
        }
        let Some(si) = self.view.import(ns, svc) else {
            return Err(CoreErr::NotFound);
        };
        let svc_name = child(self.ctx.zone, &[svc, ns, "svc"]);
        let headless_path = si.is_headless() || matches!(sel, Sel::Endpoint { .. });
        if !headless_path {
            // findServices, ClusterSetIP branch: one item per (ip x matching port).
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
                        port: Some(p.port),
                        target: svc_name.clone(),
                    });
                }
            }
            return if matched {
                Ok(items)
            } else {
                Err(CoreErr::NotFound)
            };
        }
        let mut items = Vec::new();
        for ep in self.mcs_endpoints(ns, svc) {
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
            let target = child(self.ctx.zone, &labels);
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
        if items.is_empty() {
            Err(CoreErr::NotFound)
        } else {
            Ok(items)
        }
    }
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

enum CoreErr {
    NotFound,
}
