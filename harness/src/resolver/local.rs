//! Answers the cluster-local zone (`cluster.local`) and reverse zones from
//! the resolver's own Services and EndpointSlices, as the Kubernetes DNS
//! specification 1.1.0 and CoreDNS's `kubernetes` plugin do.
//!
//! This is the zone that makes Karmada's `derived-serve` resolvable and in
//! which a same-named local Service shadows an import during a search-list
//! walk.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::rdata::{CNAME, PTR};
use hickory_proto::rr::{Name, RData, RecordType};

use super::config::PodsMode;
use super::reply::record;
use super::view::{ClusterView, Endpoint, cluster_ips, host_label};
use super::zone::{
    Lookup, Node, ZoneCtx, ZoneReply, address, child, endpoint_addresses, relative_labels, srv,
    srv_set, txt, weight,
};

/// The schema version of the Kubernetes DNS specification served at `dns-version`.
pub const K8S_SCHEMA_VERSION: &str = "1.1.0";

/// Everything one cluster-local answer needs.
pub struct Local<'a> {
    /// Zone-wide values.
    pub ctx: ZoneCtx<'a>,
    /// The resolver's cluster.
    pub view: &'a ClusterView,
    /// `pods` mode.
    pub pods: PodsMode,
    /// Addresses of the cluster's DNS service, for `ns.dns.<zone>`.
    pub ns_addresses: &'a [IpAddr],
}

impl Local<'_> {
    /// Answers one question in the zone.
    pub fn answer(&self, qname: &Name, qtype: RecordType) -> ZoneReply {
        let rel = relative_labels(qname, self.ctx.zone);
        let lookup = self.node(qname, &rel);
        let reply = self.ctx.finish(lookup, qtype);
        self.unsynced(reply)
    }

    /// Answers a PTR question in a reverse zone; `forward_zone` names targets.
    pub fn answer_reverse(
        &self,
        qname: &Name,
        qtype: RecordType,
        forward_zone: &Name,
    ) -> ZoneReply {
        let lookup = match reverse_ip(qname) {
            Some(ip) => {
                let records: Vec<_> = self
                    .view
                    .ptr(ip)
                    .filter(|t| {
                        // Endpoint PTRs exist for headless services only.
                        t.host.is_none()
                            || self
                                .view
                                .service(&t.namespace, &t.service)
                                .is_some_and(|s| cluster_ips(s).is_empty())
                    })
                    .map(|t| {
                        let mut labels: Vec<&str> = t.host.iter().map(String::as_str).collect();
                        labels.extend([t.service.as_str(), t.namespace.as_str(), "svc"]);
                        record(
                            qname,
                            self.ctx.ttl,
                            RData::PTR(PTR(child(forward_zone, &labels))),
                        )
                    })
                    .collect();
                Lookup::of(records, Vec::new())
            }
            None => Lookup::Missing,
        };
        self.unsynced(self.ctx.finish(lookup, qtype))
    }

    /// Before Services are listed, name errors are SERVFAIL (CoreDNS's kubernetes plugin).
    fn unsynced(&self, mut reply: ZoneReply) -> ZoneReply {
        if reply.rcode == ResponseCode::NXDomain && !self.view.sync.local.is_synced() {
            reply.rcode = ResponseCode::ServFail;
        }
        reply
    }

    fn node(&self, qname: &Name, rel: &[String]) -> Lookup {
        let ttl = self.ctx.ttl;
        let labels: Vec<&str> = rel.iter().map(String::as_str).collect();
        let found = |records| {
            Lookup::Found(Node {
                records,
                glue: Vec::new(),
            })
        };
        match labels.as_slice() {
            [] => found(vec![self.ctx.soa_at(qname), self.ctx.ns(qname)]),
            ["dns-version"] => found(vec![txt(qname, 28800, K8S_SCHEMA_VERSION)]),
            ["ns", "dns"] if !self.ns_addresses.is_empty() => found(
                self.ns_addresses
                    .iter()
                    .map(|ip| address(qname, ttl, *ip))
                    .collect(),
            ),
            ["dns"] if !self.ns_addresses.is_empty() => Lookup::Found(Node::empty()),
            ["svc"] | ["pod"] => Lookup::Found(Node::empty()),
            [ns, "svc"] | [ns, "pod"] => {
                if self.view.has_namespace(ns) {
                    Lookup::Found(Node::empty())
                } else {
                    Lookup::Missing
                }
            }
            [ip, ns, "pod"] => self.pod(qname, ip, ns),
            [prefix @ .., svc, ns, "svc"] => self.service(qname, prefix, svc, ns),
            _ => Lookup::Missing,
        }
    }

    fn pod(&self, qname: &Name, label: &str, ns: &str) -> Lookup {
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
                self.view.has_namespace(ns) && self.view.ptr(ip).any(|t| t.namespace == ns)
            }
        };
        if allowed {
            Lookup::Found(Node {
                records: vec![address(qname, self.ctx.ttl, ip)],
                glue: Vec::new(),
            })
        } else {
            Lookup::Missing
        }
    }

    fn service(&self, qname: &Name, prefix: &[&str], svc: &str, ns: &str) -> Lookup {
        let ttl = self.ctx.ttl;
        let Some(service) = self.view.service(ns, svc) else {
            return Lookup::Missing;
        };
        let spec = service.spec.clone().unwrap_or_default();
        let svc_name = child(self.ctx.zone, &[svc, ns, "svc"]);
        if spec.type_.as_deref() == Some("ExternalName") {
            let Some(target) = spec
                .external_name
                .as_deref()
                .and_then(|t| Name::from_utf8(t).ok())
            else {
                return Lookup::Missing;
            };
            let mut target = target;
            target.set_fqdn(true);
            return match prefix {
                [] => Lookup::Found(Node {
                    records: vec![record(qname, ttl, RData::CNAME(CNAME(target)))],
                    glue: Vec::new(),
                }),
                _ => Lookup::Missing,
            };
        }
        let headless = spec.cluster_ip.as_deref() == Some("None");
        if !headless {
            let ips = cluster_ips(service);
            let ports: Vec<(Option<String>, String, u16)> = spec
                .ports
                .iter()
                .flatten()
                .filter_map(|p| {
                    Some((
                        p.name.clone().filter(|n| !n.is_empty()),
                        p.protocol
                            .clone()
                            .unwrap_or_else(|| "TCP".into())
                            .to_ascii_lowercase(),
                        u16::try_from(p.port).ok()?,
                    ))
                })
                .collect();
            let glue: Vec<_> = ips.iter().map(|ip| address(&svc_name, ttl, *ip)).collect();
            return match prefix {
                [] => {
                    let mut records: Vec<_> =
                        ips.iter().map(|ip| address(qname, ttl, *ip)).collect();
                    let mut nums: Vec<u16> = ports.iter().map(|p| p.2).collect();
                    nums.sort_unstable();
                    nums.dedup();
                    let w = weight(nums.len());
                    records.extend(
                        nums.iter()
                            .map(|n| srv(qname, ttl, 0, w, *n, svc_name.clone())),
                    );
                    Lookup::Found(Node { records, glue })
                }
                [proto]
                    if ports
                        .iter()
                        .any(|p| p.0.is_some() && format!("_{}", p.1) == *proto) =>
                {
                    Lookup::Found(Node::empty())
                }
                [port, proto] => {
                    let hits: Vec<u16> = ports
                        .iter()
                        .filter(|p| {
                            p.0.as_deref()
                                .is_some_and(|n| format!("_{}", n.to_ascii_lowercase()) == *port)
                                && format!("_{}", p.1) == *proto
                        })
                        .map(|p| p.2)
                        .collect();
                    if hits.is_empty() {
                        return Lookup::Missing;
                    }
                    let w = weight(hits.len());
                    Lookup::Found(Node {
                        records: hits
                            .iter()
                            .map(|n| srv(qname, ttl, 0, w, *n, svc_name.clone()))
                            .collect(),
                        glue,
                    })
                }
                _ => Lookup::Missing,
            };
        }
        let endpoints = self.view.local_endpoints(ns, svc);
        if endpoints.is_empty() {
            return Lookup::Missing;
        }
        let target_of = |ep: &Endpoint| {
            child(
                self.ctx.zone,
                &[host_label(ep, true).as_str(), svc, ns, "svc"],
            )
        };
        let srvs = |owner: &Name, pred: &dyn Fn(Option<&str>, &str) -> bool| {
            let mut pairs = Vec::new();
            let mut glue = Vec::new();
            for ep in &endpoints {
                let target = target_of(ep);
                for (name, proto, port) in ep.ports.iter() {
                    if pred(name.as_deref(), &proto.to_ascii_lowercase()) {
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
}

/// The address a reverse name (`4.3.2.1.in-addr.arpa.`, 32 nibbles of
/// `ip6.arpa.`) stands for.
pub fn reverse_ip(qname: &Name) -> Option<IpAddr> {
    let labels: Vec<String> = qname
        .iter()
        .map(|l| String::from_utf8_lossy(l).to_ascii_lowercase())
        .collect();
    let n = labels.len();
    if n == 6 && labels[4] == "in-addr" && labels[5] == "arpa" {
        let octets: Option<Vec<u8>> = labels[..4].iter().rev().map(|l| l.parse().ok()).collect();
        let o = octets?;
        return Some(IpAddr::V4(Ipv4Addr::new(o[0], o[1], o[2], o[3])));
    }
    if n == 34 && labels[32] == "ip6" && labels[33] == "arpa" {
        let mut value: u128 = 0;
        for l in labels[..32].iter().rev() {
            let d = u8::from_str_radix(l, 16).ok()?;
            if l.len() != 1 {
                return None;
            }
            value = (value << 4) | u128::from(d);
        }
        return Some(IpAddr::V6(Ipv6Addr::from(value)));
    }
    None
}

/// The reverse name of an address.
pub fn reverse_name(ip: IpAddr) -> Name {
    let text = match ip {
        IpAddr::V4(v4) => {
            let o = v4.octets();
            format!("{}.{}.{}.{}.in-addr.arpa.", o[3], o[2], o[1], o[0])
        }
        IpAddr::V6(v6) => {
            let mut s = String::new();
            for b in v6.octets().iter().rev() {
                s.push_str(&format!("{:x}.{:x}.", b & 0xf, b >> 4));
            }
            s.push_str("ip6.arpa.");
            s
        }
    };
    Name::from_ascii(text).expect("reverse names are valid")
}
