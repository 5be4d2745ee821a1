//! Builds the records the zones share: nodes, SOA and NS, SRV sets, service names.

use std::net::IpAddr;

use hickory_proto::rr::rdata::{A, AAAA, NS, SOA, SRV, TXT};
use hickory_proto::rr::{Name, RData, Record, RecordType};

use super::{Flow, ZoneCx};
use crate::resolver::reply::record;
use crate::resolver::view::Endpoint;

/// The records that live at one name, for every type.
#[derive(Clone, Debug, Default)]
pub struct Node {
    /// Records owned by the queried name.
    pub records: Vec<Record>,
    /// Glue for SRV targets (A/AAAA), sent in the additional section.
    pub glue: Vec<Record>,
}

impl Node {
    /// An empty non-terminal: the name exists, but owns nothing.
    pub fn empty() -> Self {
        Node::default()
    }
}

/// What a zone knows of the queried name.
pub enum Lookup {
    /// The name exists (perhaps as an empty non-terminal).
    Found(Node),
    /// The name does not exist.
    Missing,
    /// The records of the name come from a watch that has not listed yet.
    NotReady,
}

impl Lookup {
    /// The name owns these records; a name that owns none does not exist.
    pub fn of(records: Vec<Record>, glue: Vec<Record>) -> Lookup {
        if records.is_empty() {
            Lookup::Missing
        } else {
            Lookup::Found(Node { records, glue })
        }
    }
}

impl ZoneCx<'_> {
    /// The zone's SOA record:
    /// `<zone> <ttl> IN SOA ns.dns.<zone> hostmaster.<zone> <serial> 7200 1800 86400 <ttl>`,
    /// with the record TTL capped at 300 as CoreDNS does.
    pub fn soa(&self) -> Record {
        let mname = child(self.zone, &["ns", "dns"]);
        let rname = child(self.zone, &["hostmaster"]);
        let soa = SOA::new(mname, rname, self.serial, 7200, 1800, 86400, self.ttl);
        record(self.zone, self.ttl.min(300), RData::SOA(soa))
    }

    /// The SOA record owned by `owner` (the apex in the question's case).
    pub fn soa_at(&self, owner: &Name) -> Record {
        let mut r = self.soa();
        r.name = owner.clone();
        r
    }

    /// The apex NS record, naming `ns.dns.<zone>`.
    pub fn ns(&self, owner: &Name) -> Record {
        record(
            owner,
            self.ttl,
            RData::NS(NS(child(self.zone, &["ns", "dns"]))),
        )
    }

    /// The node `ns.dns.<zone>` and its parent `dns.<zone>`, which exist only
    /// while the cluster's DNS Service has addresses to glue the NS record to.
    pub fn dns_node(&self, qname: &Name, labels: &[&str]) -> Option<Lookup> {
        if self.ns_addresses.is_empty() {
            return None;
        }
        match labels {
            ["ns", "dns"] => Some(Lookup::Found(Node {
                records: self
                    .ns_addresses
                    .iter()
                    .map(|ip| address(qname, self.ttl, *ip))
                    .collect(),
                glue: Vec::new(),
            })),
            ["dns"] => Some(Lookup::Found(Node::empty())),
            _ => None,
        }
    }
}

/// Turns a lookup into the flow for `qtype`: the node's records of that type
/// (all of them for ANY), NODATA when it has none, a name error when the name
/// is missing; SRV answers carry their targets' addresses as glue.
pub fn finish(lookup: Lookup, qtype: RecordType) -> Flow {
    match lookup {
        Lookup::Missing => Flow::NameError,
        Lookup::NotReady => Flow::NotReady,
        Lookup::Found(node) => {
            let records: Vec<Record> = node
                .records
                .into_iter()
                .filter(|r| qtype == RecordType::ANY || r.record_type() == qtype)
                .collect();
            if records.is_empty() {
                return Flow::NoData;
            }
            let glue = if records.iter().any(|r| r.record_type() == RecordType::SRV) {
                dedup(node.glue)
            } else {
                Vec::new()
            };
            Flow::Answer { records, glue }
        }
    }
}

/// `records` with each record kept once, in first-seen order.
pub fn dedup(mut records: Vec<Record>) -> Vec<Record> {
    let mut seen = Vec::with_capacity(records.len());
    records.retain(|r| {
        if seen.contains(r) {
            false
        } else {
            seen.push(r.clone());
            true
        }
    });
    records
}

/// `labels` (leftmost first) prepended to `zone`.
pub fn child(zone: &Name, labels: &[&str]) -> Name {
    let mut name = zone.clone();
    for l in labels.iter().rev() {
        name = name.prepend_label(*l).unwrap_or_else(|_| zone.clone());
    }
    name
}

/// The labels of `qname` left of `zone`, lower-cased, leftmost first.
pub fn relative_labels(qname: &Name, zone: &Name) -> Vec<String> {
    let n = qname.num_labels().saturating_sub(zone.num_labels()) as usize;
    qname
        .iter()
        .take(n)
        .map(|l| String::from_utf8_lossy(l).to_ascii_lowercase())
        .collect()
}

/// An A or AAAA record for an address.
pub fn address(owner: &Name, ttl: u32, ip: IpAddr) -> Record {
    match ip {
        IpAddr::V4(v4) => record(owner, ttl, RData::A(A(v4))),
        IpAddr::V6(v6) => record(owner, ttl, RData::AAAA(AAAA(v6))),
    }
}

/// An SRV record.
pub fn srv(owner: &Name, ttl: u32, priority: u16, weight: u16, port: u16, target: Name) -> Record {
    record(
        owner,
        ttl,
        RData::SRV(SRV::new(priority, weight, port, target)),
    )
}

/// A TXT record with one string.
pub fn txt(owner: &Name, ttl: u32, text: &str) -> Record {
    record(owner, ttl, RData::TXT(TXT::new(vec![text.to_owned()])))
}

/// SRV records for `(target, port)` pairs: sorted, deduplicated, priority 0,
/// each weighted `floor(100/n)`.
pub fn srv_set(owner: &Name, ttl: u32, mut pairs: Vec<(Name, u16)>) -> Vec<Record> {
    pairs.sort();
    pairs.dedup();
    let w = weight(pairs.len());
    pairs
        .into_iter()
        .map(|(t, port)| srv(owner, ttl, 0, w, port, t))
        .collect()
}

/// A/AAAA records for the union of the endpoints' addresses, in address order.
pub fn endpoint_addresses(owner: &Name, ttl: u32, endpoints: &[Endpoint]) -> Vec<Record> {
    let mut ips: Vec<IpAddr> = endpoints
        .iter()
        .flat_map(|e| e.addresses.iter().copied())
        .collect();
    ips.sort();
    ips.dedup();
    ips.into_iter().map(|ip| address(owner, ttl, ip)).collect()
}

/// The SRV weight CoreDNS gives each of `n` records: `floor(100 / n)`.
pub fn weight(n: usize) -> u16 {
    100usize.checked_div(n).map_or(0, |w| w as u16)
}

/// A Service's or ServiceImport's port as DNS names it: `_<name>._<proto>`.
pub struct Port {
    /// The port's name; an unnamed port has no SRV name of its own.
    pub name: Option<String>,
    /// The protocol, lower-cased.
    pub proto: String,
    /// The port number.
    pub number: u16,
}

impl Port {
    /// Whether the port is named and `_<name>` and `_<proto>` are `port` and `proto`.
    fn is(&self, port: &str, proto: &str) -> bool {
        self.name
            .as_deref()
            .is_some_and(|n| format!("_{}", n.to_ascii_lowercase()) == port)
            && format!("_{}", self.proto) == proto
    }
}

/// The node at `prefix` below a service with a virtual address (a
/// ClusterIP, or a ClusterSetIP): the service name owns its addresses and an
/// SRV per distinct port number, `_<port>._<proto>` owns the SRVs of the
/// named ports it names, `_<proto>` is an empty non-terminal while a named
/// port uses that protocol; SRVs target the service name, whose addresses
/// are glue. Both zones answer these names alike, so the rule is written once.
pub fn virtual_ip_node(
    qname: &Name,
    svc_name: &Name,
    ttl: u32,
    ips: &[IpAddr],
    ports: &[Port],
    prefix: &[&str],
) -> Lookup {
    let glue: Vec<_> = ips.iter().map(|ip| address(svc_name, ttl, *ip)).collect();
    let srvs = |numbers: &[u16]| -> Vec<Record> {
        let w = weight(numbers.len());
        numbers
            .iter()
            .map(|n| srv(qname, ttl, 0, w, *n, svc_name.clone()))
            .collect()
    };
    match prefix {
        [] => {
            let mut records: Vec<_> = ips.iter().map(|ip| address(qname, ttl, *ip)).collect();
            let mut numbers: Vec<u16> = ports.iter().map(|p| p.number).collect();
            numbers.sort_unstable();
            numbers.dedup();
            records.extend(srvs(&numbers));
            Lookup::Found(Node { records, glue })
        }
        [proto]
            if ports
                .iter()
                .any(|p| p.name.is_some() && format!("_{}", p.proto) == *proto) =>
        {
            Lookup::Found(Node::empty())
        }
        [port, proto] => {
            let hits: Vec<u16> = ports
                .iter()
                .filter(|p| p.is(port, proto))
                .map(|p| p.number)
                .collect();
            if hits.is_empty() {
                return Lookup::Missing;
            }
            Lookup::Found(Node {
                records: srvs(&hits),
                glue,
            })
        }
        _ => Lookup::Missing,
    }
}

/// The SRV set of `owner` over the ports of `endpoints` that `wanted` keeps
/// (given the port's name as written and its lower-cased protocol), each
/// targeting the name `target` gives its endpoint (none: no SRV), and the
/// targets' addresses as glue.
pub fn endpoint_srvs(
    owner: &Name,
    ttl: u32,
    endpoints: &[Endpoint],
    target: impl Fn(&Endpoint) -> Option<Name>,
    wanted: impl Fn(Option<&str>, &str) -> bool,
) -> (Vec<Record>, Vec<Record>) {
    let mut pairs = Vec::new();
    let mut glue = Vec::new();
    for ep in endpoints {
        let Some(target) = target(ep) else { continue };
        for (name, proto, port) in ep.ports.iter() {
            if wanted(name.as_deref(), &proto.to_ascii_lowercase()) {
                pairs.push((target.clone(), *port));
                glue.extend(ep.addresses.iter().map(|ip| address(&target, ttl, *ip)));
            }
        }
    }
    (srv_set(owner, ttl, pairs), glue)
}
