//! Answers the MCS zone (`clusterset.local`) as Submariner Lighthouse does.
//!
//! Lighthouse is a CoreDNS plugin of its own (submariner-io/lighthouse,
//! folder `coredns/`), measured at `9d3c39e8` against a real kube-apiserver
//! (docs/lighthouse.md has the table, with the source file behind each row).
//! It reads ServiceImports and the EndpointSlices its agent writes, and it
//! answers differently from the spec: one cluster's address per query
//! (local first, then round-robin), the `<clusterid>.<svc>` form, NOTIMP
//! for every type but A, AAAA and SRV, AAAA always NODATA, no SOA on
//! negative answers. The round-robin is the one answer that depends on the
//! questions before it; its position lives in the view's [`Turns`], which
//! makes a scenario's sequence of answers reproducible.
//!
//! [`Turns`]: crate::resolver::view::Turns

use std::collections::BTreeMap;
use std::net::IpAddr;

use hickory_proto::rr::{Name, RData, Record, RecordType};
use k8s_openapi::api::discovery::v1::EndpointSlice;

use super::records::{child, relative_labels, srv};
use super::{Flow, ZoneCx, ZoneSource};
use crate::model::crd::{LABEL_SERVICE_NAME, LABEL_SOURCE_CLUSTER};
use crate::resolver::reply::{Question, record};

/// The label every EndpointSlice Lighthouse reads carries (its informer's selector).
pub const LABEL_MANAGED_BY: &str = "endpointslice.kubernetes.io/managed-by";
/// The value of [`LABEL_MANAGED_BY`] on the slices Lighthouse's agent writes.
pub const LIGHTHOUSE_MANAGER: &str = "lighthouse-agent.submariner.io";
/// The label naming the namespace of the exported Service.
pub const LABEL_SOURCE_NAMESPACE: &str = "lighthouse.submariner.io/sourceNamespace";
/// The label choosing headless mode (`"true"`).
pub const LABEL_IS_HEADLESS: &str = "lighthouse.submariner.io/is-headless";
/// The annotation that keeps not-ready endpoints (`"true"`).
pub const PUBLISH_NOT_READY: &str = "lighthouse.submariner.io/publish-not-ready-addresses";

/// SRV weight of every record Lighthouse writes (record.go).
const SRV_WEIGHT: u16 = 50;

/// The MCS zone as Lighthouse serves it.
pub struct Lighthouse;

impl ZoneSource for Lighthouse {
    fn lookup(&self, cx: &ZoneCx<'_>, q: &Question) -> Flow {
        // handler.go:48-51: A, AAAA and SRV only; the rest NOTIMP (with AA).
        if !matches!(q.qtype, RecordType::A | RecordType::AAAA | RecordType::SRV) {
            return Flow::NotImplemented;
        }
        let rel = relative_labels(&q.name, cx.zone);
        let Some(req) = parse(&rel, q.qtype) else {
            return Flow::NameError;
        };
        let Some(service) = service(cx, req.ns, req.svc) else {
            return Flow::NameError;
        };
        let Some(found) = records(cx, &service, &req) else {
            return Flow::NameError;
        };
        match q.qtype {
            // handler.go:81-84: AAAA is never answered.
            RecordType::AAAA => Flow::NoData,
            RecordType::A => {
                let records: Vec<Record> = found
                    .iter()
                    .map(|f| a_record(&q.name, cx.ttl, f.ip))
                    .collect();
                answered(records)
            }
            _ => srv_answer(cx, &q.name, &service, &req, &found),
        }
    }
}

fn answered(records: Vec<Record>) -> Flow {
    if records.is_empty() {
        // handler.go:76-79: found, but no record: NODATA.
        Flow::NoData
    } else {
        Flow::Answer {
            records,
            glue: Vec::new(),
        }
    }
}

/// An A record as record.go writes it: `To4()` of an IPv6 address is nil,
/// and the reply carries an A with empty rdata (a malformed packet).
fn a_record(owner: &Name, ttl: u32, ip: IpAddr) -> Record {
    match ip {
        IpAddr::V4(v4) => record(owner, ttl, RData::A(v4.into())),
        IpAddr::V6(_) => record(owner, ttl, RData::Update0(RecordType::A)),
    }
}

/// What a name asks for, as parse.go reads it (labels relative to the zone,
/// lower-cased, the last one `svc`).
#[derive(Debug, PartialEq, Eq)]
struct Request<'a> {
    ns: &'a str,
    svc: &'a str,
    cluster: Option<&'a str>,
    host: Option<&'a str>,
    /// SRV's `_port._proto`, leading `_` removed.
    port: Option<(&'a str, &'a str)>,
}

/// parse.go:55-150: `<svc>.<ns>`, `<cluster>.<svc>.<ns>`,
/// `<host>.<cluster>.<svc>.<ns>`; for SRV the four-label form is
/// `_port._proto.<svc>.<ns>` (the `_` optional) and five labels
/// `_port._proto.<cluster>.<svc>.<ns>`. Anything else is not found.
fn parse(rel: &[String], qtype: RecordType) -> Option<Request<'_>> {
    let labels: Vec<&str> = rel.iter().map(String::as_str).collect();
    let [rest @ .., "svc"] = labels.as_slice() else {
        return None;
    };
    let base = |svc, ns| Request {
        ns,
        svc,
        cluster: None,
        host: None,
        port: None,
    };
    Some(match (rest, qtype) {
        ([svc, ns], _) => base(*svc, *ns),
        ([cid, svc, ns], _) => Request {
            cluster: Some(*cid),
            ..base(*svc, *ns)
        },
        ([port, proto, svc, ns], RecordType::SRV) => Request {
            port: Some((trim(port), trim(proto))),
            ..base(*svc, *ns)
        },
        ([port, proto, cid, svc, ns], RecordType::SRV) => Request {
            cluster: Some(*cid),
            port: Some((trim(port), trim(proto))),
            ..base(*svc, *ns)
        },
        ([host, cid, svc, ns], _) => Request {
            cluster: Some(*cid),
            host: Some(*host),
            ..base(*svc, *ns)
        },
        _ => return None,
    })
}

/// A `_port` or `_proto` label without its optional `_` (parse.go:153).
fn trim(label: &str) -> &str {
    label.strip_prefix('_').unwrap_or(label)
}

/// One endpoint as Lighthouse stores it: its first address, the name it
/// answers to, and whether it counts as ready.
#[derive(Clone, Debug)]
struct Rec {
    ip: IpAddr,
    /// The hostname, else the Pod name of its `targetRef`, else empty.
    host: String,
    ready: bool,
}

/// A port of a slice or of the import.
#[derive(Clone, Debug, PartialEq, Eq)]
struct PortSpec {
    name: String,
    proto: String,
    number: u16,
}

/// One exporting cluster of a service.
#[derive(Clone, Debug, Default)]
struct Cluster {
    records: Vec<Rec>,
    ports: Vec<PortSpec>,
}

impl Cluster {
    fn has_ready(&self) -> bool {
        self.records.iter().any(|r| r.ready)
    }
}

/// A service as Lighthouse's resolver holds it.
#[derive(Debug)]
struct Service {
    /// `spec.ips[0]` of the import, if any.
    ip: Option<IpAddr>,
    /// The import's ports (used with `ip`).
    import_ports: Vec<PortSpec>,
    headless: bool,
    /// By cluster id, in id order (the rotation's order).
    clusters: BTreeMap<String, Cluster>,
}

/// Why Lighthouse skips an EndpointSlice labelled with a service name in
/// `ns`, in its terms; `None` when it reads the slice.
pub fn slice_problem(slice: &EndpointSlice, ns: &str) -> Option<String> {
    let labels = slice.metadata.labels.as_ref();
    let label = |k: &str| labels.and_then(|l| l.get(k)).map(String::as_str);
    let name = slice.metadata.name.as_deref().unwrap_or_default();
    if label(LABEL_MANAGED_BY) != Some(LIGHTHOUSE_MANAGER) {
        return Some(format!(
            "EndpointSlice {ns}/{name} lacks the label {LABEL_MANAGED_BY}={LIGHTHOUSE_MANAGER}, \
             Lighthouse's informer selector, so Lighthouse never sees it"
        ));
    }
    for key in [
        LABEL_SERVICE_NAME,
        LABEL_SOURCE_NAMESPACE,
        LABEL_SOURCE_CLUSTER,
    ] {
        if label(key).is_none_or(str::is_empty) {
            return Some(format!(
                "EndpointSlice {ns}/{name} lacks the label {key}: Lighthouse logs it and skips \
                 the slice (endpoint_slice.go:273-293)"
            ));
        }
    }
    let source_ns = label(LABEL_SOURCE_NAMESPACE).unwrap_or_default();
    if !source_ns.eq_ignore_ascii_case(ns) {
        return Some(format!(
            "EndpointSlice {ns}/{name} has {LABEL_SOURCE_NAMESPACE}={source_ns}, not its own \
             namespace: Lighthouse takes it for a broker copy and ignores it (controller.go:163)"
        ));
    }
    None
}

/// The ServiceImport keys Lighthouse ignores (service_import.go:109-113):
/// the agent's per-cluster copies (labelled) and the broker's (annotated).
fn ignored_import(meta: &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta) -> bool {
    let has = |m: &Option<BTreeMap<String, String>>| {
        m.as_ref()
            .is_some_and(|m| m.contains_key(LABEL_SERVICE_NAME))
    };
    has(&meta.labels) || has(&meta.annotations)
}

/// The service `ns/svc` as Lighthouse knows it: from its import, and from
/// the slices it reads even once the import is gone (service_import.go:75-98).
fn service(cx: &ZoneCx<'_>, ns: &str, svc: &str) -> Option<Service> {
    let import = cx
        .view
        .import(ns, svc)
        .filter(|si| !ignored_import(&si.metadata));
    let mut clusters: BTreeMap<String, Cluster> = BTreeMap::new();
    let mut headless_label = false;
    for slice in cx.view.mcs_slices(ns, svc) {
        if slice_problem(&slice, ns).is_some() {
            continue;
        }
        let labels = slice.metadata.labels.as_ref();
        let label = |k: &str| labels.and_then(|l| l.get(k)).map(String::as_str);
        headless_label |= label(LABEL_IS_HEADLESS) == Some("true");
        let cid = label(LABEL_SOURCE_CLUSTER)
            .unwrap_or_default()
            .to_ascii_lowercase();
        let publish_not_ready = slice
            .metadata
            .annotations
            .as_ref()
            .and_then(|a| a.get(PUBLISH_NOT_READY))
            .is_some_and(|v| v == "true");
        let cluster = clusters.entry(cid).or_default();
        for p in slice.ports.iter().flatten() {
            let Some(number) = p.port.and_then(|n| u16::try_from(n).ok()) else {
                continue;
            };
            cluster.ports.push(PortSpec {
                name: p.name.clone().unwrap_or_default(),
                proto: p.protocol.clone().unwrap_or_else(|| "TCP".into()),
                number,
            });
        }
        for ep in slice.endpoints.iter().flatten() {
            let Some(ip) = ep.addresses.first().and_then(|a| a.parse().ok()) else {
                continue;
            };
            let ready = ep.conditions.as_ref().and_then(|c| c.ready).unwrap_or(true);
            let pod = ep
                .target_ref
                .as_ref()
                .filter(|t| t.kind.as_deref() == Some("Pod"))
                .and_then(|t| t.name.clone());
            cluster.records.push(Rec {
                ip,
                host: ep
                    .hostname
                    .clone()
                    .filter(|h| !h.is_empty())
                    .or(pod)
                    .unwrap_or_default()
                    .to_ascii_lowercase(),
                ready: ready || publish_not_ready,
            });
        }
    }
    if import.is_none() && clusters.is_empty() {
        return None;
    }
    let (ip, import_ports, headless) = match import {
        Some(si) => (
            si.spec.ips.first().and_then(|s| s.parse().ok()),
            si.spec
                .ports
                .iter()
                .filter_map(|p| {
                    Some(PortSpec {
                        name: p.name.clone().unwrap_or_default(),
                        proto: p.protocol().to_owned(),
                        number: p.number()?,
                    })
                })
                .collect(),
            si.is_headless(),
        ),
        None => (None, Vec::new(), headless_label),
    };
    Some(Service {
        ip,
        import_ports,
        headless,
        clusters,
    })
}

/// One record found for a name: an address and the ports SRV gives it.
struct Found {
    ip: IpAddr,
    host: String,
    cluster: String,
    ports: Vec<PortSpec>,
}

/// resolver.go's `GetDNSRecords`: the records of the name, `None` when it
/// is not found.
fn records(cx: &ZoneCx<'_>, s: &Service, req: &Request<'_>) -> Option<Vec<Found>> {
    let connectivity = &cx.view.connectivity;
    let local = connectivity
        .local_cluster(&cx.view.cluster)
        .to_ascii_lowercase();
    let of = |id: &str, c: &Cluster, ports: &[PortSpec], ready_only: bool| -> Vec<Found> {
        c.records
            .iter()
            .filter(|r| r.ready || !ready_only)
            .map(|r| Found {
                ip: r.ip,
                host: r.host.clone(),
                cluster: id.to_owned(),
                ports: ports.to_vec(),
            })
            .collect()
    };
    // resolver.go:58-65 and 107-114: one cluster's records, ready or not for
    // a ClusterSetIP service, whatever its connectivity.
    if let Some(cid) = req.cluster {
        let c = s.clusters.get(cid)?;
        let mut found = of(cid, c, &c.ports, s.headless);
        if let Some(host) = req.host {
            found.retain(|f| f.host == host && !f.host.is_empty());
            if found.is_empty() {
                return None;
            }
        }
        return Some(found);
    }
    if s.headless {
        // resolver.go:96-106: the ready endpoints of every connected cluster.
        let mut found = Vec::new();
        for (id, c) in &s.clusters {
            if *id == local || connectivity.is_connected(id) {
                found.extend(of(id, c, &c.ports, true));
            }
        }
        return Some(found);
    }
    // resolver.go:67-72: `spec.ips[0]` with the import's ports; no slice needed.
    if let Some(ip) = s.ip {
        return Some(vec![Found {
            ip,
            host: String::new(),
            cluster: String::new(),
            ports: s.import_ports.clone(),
        }]);
    }
    // resolver.go:74-91: the local cluster if it has a ready endpoint, else
    // the next in the round-robin of connected clusters that have one.
    let eligible: Vec<(&String, &Cluster)> = s
        .clusters
        .iter()
        .filter(|(id, c)| c.has_ready() && (**id == local || connectivity.is_connected(id)))
        .collect();
    if eligible.is_empty() {
        return Some(Vec::new());
    }
    let (id, c) = match eligible.iter().find(|(id, _)| **id == local) {
        Some(pick) => *pick,
        None => {
            let turn = cx.view.turns.next(req.ns, req.svc);
            eligible[(turn % eligible.len() as u64) as usize]
        }
    };
    Some(of(id, c, &common_ports(s), true))
}

/// service_info.go:40-52: the ports every exporting cluster has.
fn common_ports(s: &Service) -> Vec<PortSpec> {
    let mut clusters = s.clusters.values();
    let Some(first) = clusters.next() else {
        return Vec::new();
    };
    let rest: Vec<&Cluster> = clusters.collect();
    first
        .ports
        .iter()
        .filter(|p| rest.iter().all(|c| c.ports.contains(p)))
        .cloned()
        .collect()
}

/// record.go:45-95: one SRV per record and matching port, priority 0,
/// weight 50; a headless endpoint without a name makes a target that
/// starts with an empty label, which fails to pack (SERVFAIL).
fn srv_answer(
    cx: &ZoneCx<'_>,
    owner: &Name,
    s: &Service,
    req: &Request<'_>,
    found: &[Found],
) -> Flow {
    let mut records = Vec::new();
    for f in found {
        let mut labels: Vec<&str> = Vec::new();
        if s.headless {
            if f.host.is_empty() {
                return Flow::Failed(format!(
                    "Lighthouse builds the SRV target of an endpoint without a hostname (or \
                     Pod name) of {ip} in cluster {cid} as `.{cid}.{svc}...`, which does not \
                     pack: the server logs \"dns: bad rdata\" and answers SERVFAIL",
                    ip = f.ip,
                    cid = f.cluster,
                    svc = req.svc,
                ));
            }
            labels.push(&f.host);
            labels.push(&f.cluster);
        } else if let Some(cid) = req.cluster {
            labels.push(cid);
        }
        labels.extend([req.svc, req.ns, "svc"]);
        let target = child(cx.zone, &labels);
        for p in &f.ports {
            if let Some((name, proto)) = req.port
                && !(p.name.eq_ignore_ascii_case(name) && p.proto.eq_ignore_ascii_case(proto))
            {
                continue;
            }
            records.push(srv(owner, cx.ttl, 0, SRV_WEIGHT, p.number, target.clone()));
        }
    }
    answered(records)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(s: &str) -> Vec<String> {
        s.split('.').map(str::to_owned).collect()
    }

    #[test]
    fn parse_reads_names_as_parse_go_does() {
        let rel = labels("web.lh.svc");
        assert_eq!(
            parse(&rel, RecordType::A),
            Some(Request {
                ns: "lh",
                svc: "web",
                cluster: None,
                host: None,
                port: None
            })
        );
        let rel = labels("http._tcp.web.lh.svc");
        let r = parse(&rel, RecordType::SRV).unwrap();
        assert_eq!(r.port, Some(("http", "tcp")));
        let r = parse(&rel, RecordType::A).unwrap();
        assert_eq!((r.host, r.cluster), (Some("http"), Some("_tcp")));
        let rel = labels("_http._tcp.c2.web.lh.svc");
        assert_eq!(parse(&rel, RecordType::SRV).unwrap().cluster, Some("c2"));
        assert_eq!(parse(&rel, RecordType::A), None);
        for bad in ["svc", "lh.svc", "web.lh.pod", "web.lh.foo", "a.b.c.d.e.svc"] {
            assert_eq!(parse(&labels(bad), RecordType::A), None, "{bad}");
        }
    }
}
