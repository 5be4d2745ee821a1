//! Shared pieces of the authoritative zones: nodes, negative answers, SOA.

use std::net::IpAddr;

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::rdata::{A, AAAA, NS, SOA, SRV, TXT};
use hickory_proto::rr::{Name, RData, Record, RecordType};

use super::reply::record;

/// The answer of one zone plugin, before flags are applied.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ZoneReply {
    /// Response code.
    pub rcode: ResponseCode,
    /// Answer section.
    pub answers: Vec<Record>,
    /// Authority section.
    pub authorities: Vec<Record>,
    /// Additional section.
    pub additionals: Vec<Record>,
}

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
    /// The zone cannot answer (not synced).
    ServFail,
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

/// Zone-wide values the answer needs.
pub struct ZoneCtx<'a> {
    /// The zone's origin.
    pub zone: &'a Name,
    /// TTL for records.
    pub ttl: u32,
    /// The SOA serial.
    pub serial: u32,
}

impl ZoneCtx<'_> {
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

    /// Turns a lookup into a reply for `qtype`: the node's records of that
    /// type (all of them for ANY), NODATA when it has none, NXDOMAIN when the
    /// name is missing; SOA in the authority section of every negative answer.
    pub fn finish(&self, lookup: Lookup, qtype: RecordType) -> ZoneReply {
        match lookup {
            Lookup::Missing => self.negative(ResponseCode::NXDomain),
            Lookup::ServFail => self.negative(ResponseCode::ServFail),
            Lookup::Found(node) => {
                let answers: Vec<Record> = node
                    .records
                    .into_iter()
                    .filter(|r| qtype == RecordType::ANY || r.record_type() == qtype)
                    .collect();
                if answers.is_empty() {
                    return self.negative(ResponseCode::NoError);
                }
                let additionals = if answers.iter().any(|r| r.record_type() == RecordType::SRV) {
                    dedup(node.glue)
                } else {
                    Vec::new()
                };
                ZoneReply {
                    rcode: ResponseCode::NoError,
                    answers,
                    authorities: Vec::new(),
                    additionals,
                }
            }
        }
    }

    /// A negative reply with the SOA.
    pub fn negative(&self, rcode: ResponseCode) -> ZoneReply {
        ZoneReply {
            rcode,
            authorities: vec![self.soa()],
            ..Default::default()
        }
    }
}

fn dedup(mut records: Vec<Record>) -> Vec<Record> {
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
pub fn endpoint_addresses(
    owner: &Name,
    ttl: u32,
    endpoints: &[super::view::Endpoint],
) -> Vec<Record> {
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
