//! Answers one zone of a plugin: the seam between the chain walk and the zones' contents.
//!
//! Every zone a plugin serves is answered by one [`ZoneSource`]: `kep` and
//! `coredns` for the MCS zone (one per profile), `local` for the cluster's
//! own zone, `reverse` for PTR names. A source says what it knows of the
//! name as a [`Flow`]; the engine turns that into a reply or walks on, and
//! `ready.rs` decides what an unlisted watch does to it.

use std::net::IpAddr;

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::{Name, Record};

use super::config::{PluginKind, Profile, ZonePlugin};
use super::reply::{Question, Reply};
use super::view::ClusterView;

mod coredns;
mod kep;
mod lighthouse;
mod local;
pub mod records;
mod reverse;

pub use coredns::{COREDNS_SCHEMA_VERSION, Coredns};
pub use kep::{KEP_SCHEMA_VERSION, Kep, VERSION_TTL};
pub use lighthouse::{
    LABEL_IS_HEADLESS, LABEL_MANAGED_BY, LABEL_SOURCE_NAMESPACE, LIGHTHOUSE_MANAGER, Lighthouse,
    PUBLISH_NOT_READY, slice_problem as lighthouse_slice_problem,
};
pub use local::{K8S_SCHEMA_VERSION, Local};
pub use records::{address, child, relative_labels};
pub use reverse::{Reverse, reverse_ip, reverse_name};

/// What a zone knows of one question.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Flow {
    /// The name owns records of the asked type; SRV targets' addresses go as glue.
    Answer {
        /// The answer section.
        records: Vec<Record>,
        /// The additional section.
        glue: Vec<Record>,
    },
    /// The name exists but owns nothing of the asked type (NODATA).
    NoData,
    /// The name does not exist: a later plugin may answer where `fallthrough` covers it.
    NameError,
    /// The zone will not answer this kind of question (a zone transfer).
    Refused,
    /// The zone cannot tell yet: a watch it answers from has not listed.
    NotReady,
    /// The plugin does not implement this type of question (NOTIMP, with AA).
    NotImplemented,
    /// The plugin failed while answering: SERVFAIL as CoreDNS's server
    /// writes it for a plugin error or a recovered panic (no AA, no SOA).
    /// Why, in the user's terms.
    Failed(String),
    /// No reply is written at all: the client times out. Why, in the user's terms.
    Silent(String),
}

impl Flow {
    /// The reply this flow sends, before the chain's flags: negative answers
    /// carry the zone's SOA (RFC 2308) where the zone's source sends one
    /// ([`ZoneCx::negative_soa`]), a not-ready zone answers SERVFAIL; every
    /// reply but REFUSED and a failure is authoritative. `None` for
    /// [`Flow::Silent`], which sends nothing.
    pub fn into_reply(self, cx: &ZoneCx<'_>) -> Option<Reply> {
        let aa = |rcode| Reply {
            authoritative: true,
            ..Reply::rcode(rcode)
        };
        let negative = |rcode| Reply {
            authorities: if cx.negative_soa {
                vec![cx.soa()]
            } else {
                Vec::new()
            },
            ..aa(rcode)
        };
        Some(match self {
            Flow::Answer { records, glue } => Reply {
                answers: records,
                additionals: glue,
                ..aa(ResponseCode::NoError)
            },
            Flow::NoData => negative(ResponseCode::NoError),
            Flow::NameError => negative(ResponseCode::NXDomain),
            Flow::NotReady => negative(ResponseCode::ServFail),
            Flow::NotImplemented => aa(ResponseCode::NotImp),
            Flow::Failed(_) => Reply::rcode(ResponseCode::ServFail),
            Flow::Refused => Reply::rcode(ResponseCode::Refused),
            Flow::Silent(_) => return None,
        })
    }
}

/// The zone-wide values a source answers with.
pub struct ZoneCx<'a> {
    /// The zone's origin.
    pub zone: &'a Name,
    /// The TTL of its records.
    pub ttl: u32,
    /// The SOA serial.
    pub serial: u32,
    /// The resolver's cluster.
    pub view: &'a ClusterView,
    /// Addresses of the cluster's DNS Service, for `ns.dns.<zone>`.
    pub ns_addresses: &'a [IpAddr],
    /// Whether NXDOMAIN and NODATA carry the zone's SOA (Lighthouse's do not).
    pub negative_soa: bool,
}

/// One zone's contents, looked up one question at a time.
pub trait ZoneSource {
    /// What the zone knows of `q`, whose name is at or below `cx.zone`.
    fn lookup(&self, cx: &ZoneCx<'_>, q: &Question) -> Flow;
}

/// What a zone of a plugin is, which decides its source and its readiness.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// The MCS zone, answered from ServiceImports.
    Mcs,
    /// The cluster's own zone, answered from Services.
    Local,
    /// A reverse zone (`in-addr.arpa`, `ip6.arpa`).
    Reverse,
}

impl Role {
    /// The role of `zone` in `zp`: a zone the plugin serves as MCS is MCS
    /// even under `arpa.`.
    pub fn of(zp: &ZonePlugin, zone: &Name) -> Role {
        if zp.mcs_zones.contains(zone) {
            Role::Mcs
        } else if is_reverse(zone) {
            Role::Reverse
        } else {
            Role::Local
        }
    }
}

/// Whether `zone` is under `arpa.`.
pub fn is_reverse(zone: &Name) -> bool {
    let arpa = Name::from_ascii("arpa.").expect("valid");
    arpa.zone_of(zone)
}

/// The source that answers a zone of `role` in `zp` under `profile`.
pub enum Source<'a> {
    /// The MCS zone as KEP-1645 describes it.
    Kep(Kep),
    /// The MCS zone as CoreDNS answers it.
    Coredns(Coredns),
    /// The MCS zone as Submariner Lighthouse answers it.
    Lighthouse(Lighthouse),
    /// The cluster's own zone.
    Local(Local),
    /// A reverse zone.
    Reverse(Reverse<'a>),
}

impl<'a> Source<'a> {
    /// Picks the source: the profile chooses only the MCS zone's algorithm.
    pub fn new(profile: Profile, zp: &'a ZonePlugin, role: Role) -> Self {
        match (role, profile) {
            (Role::Mcs, Profile::Kep1645) => Source::Kep(Kep),
            (Role::Mcs, Profile::Coredns) => Source::Coredns(Coredns {
                in_tree: zp.kind == PluginKind::Kubernetes,
                noendpoints: zp.noendpoints,
            }),
            (Role::Mcs, Profile::Lighthouse) => Source::Lighthouse(Lighthouse),
            (Role::Local, _) => Source::Local(Local { pods: zp.pods }),
            (Role::Reverse, _) => Source::Reverse(Reverse {
                forward_zone: zp.forward_zone(),
            }),
        }
    }
}

impl Source<'_> {
    /// Whether its NXDOMAIN and NODATA replies carry the zone's SOA.
    pub fn negative_soa(&self) -> bool {
        !matches!(self, Source::Lighthouse(_))
    }
}

impl ZoneSource for Source<'_> {
    fn lookup(&self, cx: &ZoneCx<'_>, q: &Question) -> Flow {
        match self {
            Source::Kep(s) => s.lookup(cx, q),
            Source::Coredns(s) => s.lookup(cx, q),
            Source::Lighthouse(s) => s.lookup(cx, q),
            Source::Local(s) => s.lookup(cx, q),
            Source::Reverse(s) => s.lookup(cx, q),
        }
    }
}
