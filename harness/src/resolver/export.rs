//! Writes one zone of a cluster's view as an RFC 1035 zone file.
//!
//! The names are enumerated from the view and each is asked of the engine
//! with qtype ANY, so the file holds exactly what the engine answers: a peer
//! server (Knot, hickory's in-memory zone) loaded with it must agree.

use std::collections::BTreeSet;

use hickory_proto::rr::{Name, Record, RecordType};

use super::config::ResolverConfig;
use super::engine::answer;
use super::reply::Question;
use super::text::record_line;
use super::view::{ClusterView, host_label};
use super::zone::child;

/// Every record of `zone` as the engine serves it, SOA first.
pub fn zone_records(config: &ResolverConfig, view: &ClusterView, zone: &Name) -> Vec<Record> {
    let mut names: BTreeSet<Name> = BTreeSet::new();
    names.insert(zone.clone());
    names.insert(child(zone, &["dns-version"]));
    names.insert(child(zone, &["ns", "dns"]));
    for ((ns, svc), si) in view.imports() {
        names.insert(child(zone, &[svc, ns, "svc"]));
        for p in si.spec.ports.iter().filter(|p| p.number().is_some()) {
            if let Some(n) = &p.name {
                let port = format!("_{}", n.to_ascii_lowercase());
                let proto = format!("_{}", p.protocol().to_ascii_lowercase());
                names.insert(child(zone, &[&port, &proto, svc, ns, "svc"]));
            }
        }
        for ep in view.mcs_endpoints(ns, svc) {
            let host = host_label(&ep, true);
            if let Some(cid) = &ep.cluster_id {
                let mut labels = vec![host.as_str()];
                labels.extend(cid.split('.'));
                labels.extend([svc.as_str(), ns.as_str(), "svc"]);
                names.insert(child(zone, &labels));
            }
            for (name, proto, _) in ep.ports.iter() {
                if let Some(n) = name {
                    let port = format!("_{}", n.to_ascii_lowercase());
                    let proto = format!("_{}", proto.to_ascii_lowercase());
                    names.insert(child(zone, &[&port, &proto, svc, ns, "svc"]));
                }
            }
        }
    }
    for ((ns, svc), service) in view.services() {
        names.insert(child(zone, &[svc, ns, "svc"]));
        for p in service.spec.iter().flat_map(|s| s.ports.iter().flatten()) {
            if let Some(n) = &p.name {
                let proto = p.protocol.as_deref().unwrap_or("TCP").to_ascii_lowercase();
                names.insert(child(
                    zone,
                    &[
                        &format!("_{}", n.to_ascii_lowercase()),
                        &format!("_{proto}"),
                        svc,
                        ns,
                        "svc",
                    ],
                ));
            }
        }
        for ep in view.local_endpoints(ns, svc) {
            names.insert(child(
                zone,
                &[host_label(&ep, true).as_str(), svc, ns, "svc"],
            ));
        }
    }
    let mut soa = Vec::new();
    let mut records: Vec<Record> = Vec::new();
    for name in names.into_iter().filter(|n| zone.zone_of(n)) {
        let q = Question::new(name, RecordType::ANY);
        let Some(reply) = answer(config, view, &q).reply().cloned() else {
            continue;
        };
        for r in reply.answers {
            if r.record_type() == RecordType::SOA {
                soa.push(r);
            } else {
                // Names are distinct and the engine never repeats a record, so no dedup is needed.
                records.push(r);
            }
        }
    }
    soa.truncate(1);
    soa.extend(records);
    soa
}

/// The zone file text: `$ORIGIN`, then one record a line.
pub fn zone_file(config: &ResolverConfig, view: &ClusterView, zone: &Name) -> String {
    let mut out = format!(
        "; zone {zone} as served to cluster {}\n$ORIGIN {zone}\n",
        view.cluster
    );
    for r in zone_records(config, view, zone) {
        out.push_str(&record_line(&r));
        out.push('\n');
    }
    out
}
