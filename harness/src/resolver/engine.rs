//! Answers one DNS question from a cluster's view: the pure answer engine.
//!
//! `answer(config, view, question)` walks the server block's plugin chain as
//! CoreDNS does: the first zone plugin whose zones hold the name answers; a
//! name error goes on to the next plugin only where `fallthrough` covers the
//! name; `header` changes the flags of whatever a later plugin answers.
//! Nothing here does I/O, reads a clock or waits on a lock.

use std::net::IpAddr;

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::{DNSClass, Name};

use super::config::{Flag, Plugin, PluginKind, Profile, ResolverConfig, ZonePlugin};
use super::local::Local;
use super::mcs::Mcs;
use super::reply::{Outcome, Question, Reply};
use super::view::{ClusterView, cluster_ips};
use super::zone::{ZoneCtx, ZoneReply};

/// Answers `question` as the configured resolver in `view`'s cluster would.
pub fn answer(config: &ResolverConfig, view: &ClusterView, question: &Question) -> Outcome {
    if config.profile == Profile::Coredns
        && config.has_standalone_multicluster()
        && !view.sync.service_imports.is_synced()
    {
        return Outcome::Silent(
            "CoreDNS's multicluster plugin waits for ServiceImports to be listed before the server \
             starts (its start-up never times out), so no DNS is served at all"
                .into(),
        );
    }
    if question.qclass != DNSClass::IN {
        return Outcome::Reply(Reply::rcode(ResponseCode::Refused));
    }
    let qname = &question.name;
    let Some(server) = config.server_for(qname) else {
        return Outcome::Reply(Reply::rcode(ResponseCode::Refused));
    };
    let ns_addresses = dns_service_addresses(view);
    let mut flags: Vec<(bool, Flag)> = Vec::new();
    for plugin in &server.chain {
        match plugin {
            Plugin::Header { actions, .. } => flags.extend(actions.iter().map(|a| (a.set, a.flag))),
            // The engine is pure: caching is simulated by whoever owns a clock.
            Plugin::Cache(_) => {}
            Plugin::Zone(zp) => {
                let Some(zone) = zp.zone_for(qname) else {
                    continue;
                };
                let reply = zone_answer(
                    config,
                    view,
                    zp,
                    zone,
                    server_forward_zone(zp),
                    question,
                    &ns_addresses,
                );
                if reply.rcode == ResponseCode::NXDomain && zp.fallthrough.covers(qname) {
                    continue;
                }
                let mut out = Reply {
                    rcode: reply.rcode,
                    authoritative: reply.rcode != ResponseCode::Refused,
                    recursion_available: false,
                    answers: reply.answers,
                    authorities: reply.authorities,
                    additionals: reply.additionals,
                };
                for (set, flag) in &flags {
                    match flag {
                        Flag::Aa => out.authoritative = *set,
                        Flag::Ra => out.recursion_available = *set,
                        Flag::Rd => {}
                    }
                }
                return Outcome::Reply(out);
            }
        }
    }
    // No plugin answered: mcsdns never recurses (CoreDNS would hand the name to `forward`).
    Outcome::Reply(Reply::rcode(ResponseCode::Refused))
}

fn zone_answer(
    config: &ResolverConfig,
    view: &ClusterView,
    zp: &ZonePlugin,
    zone: &Name,
    forward_zone: Option<&Name>,
    q: &Question,
    ns_addresses: &[IpAddr],
) -> ZoneReply {
    let ctx = ZoneCtx {
        zone,
        ttl: zp.ttl,
        serial: view.serial,
    };
    if zp.mcs_zones.contains(zone) {
        let mut reply = Mcs {
            ctx,
            profile: config.profile,
            view,
            ns_addresses,
            in_tree: zp.kind == PluginKind::Kubernetes,
        }
        .answer(&q.name, q.qtype);
        // The kubernetes plugin's `multicluster` option: not synced means not
        // ready, and name errors become SERVFAIL (k8s handler.go).
        if zp.kind == PluginKind::Kubernetes
            && config.profile == Profile::Coredns
            && reply.rcode == ResponseCode::NXDomain
            && !view.sync.service_imports.is_synced()
        {
            reply.rcode = ResponseCode::ServFail;
        }
        return reply;
    }
    let local = Local {
        ctx,
        view,
        pods: zp.pods,
        ns_addresses,
    };
    if is_reverse(zone) {
        match forward_zone {
            Some(fz) => local.answer_reverse(&q.name, q.qtype, fz),
            None => local.ctx.negative(ResponseCode::NXDomain),
        }
    } else {
        let mut reply = local.answer(&q.name, q.qtype);
        if zp.kind == PluginKind::Kubernetes
            && config.profile == Profile::Coredns
            && !zp.mcs_zones.is_empty()
            && reply.rcode == ResponseCode::NXDomain
            && !view.sync.service_imports.is_synced()
        {
            reply.rcode = ResponseCode::ServFail;
        }
        reply
    }
}

/// The first forward (non-reverse, non-MCS) zone of a plugin: PTR targets live there.
fn server_forward_zone(zp: &ZonePlugin) -> Option<&Name> {
    zp.zones
        .iter()
        .find(|z| !is_reverse(z) && !zp.mcs_zones.contains(z))
}

fn is_reverse(zone: &Name) -> bool {
    let arpa = Name::from_ascii("arpa.").expect("valid");
    arpa.zone_of(zone)
}

/// The ClusterIPs of `kube-system/kube-dns`: the resolver's own addresses,
/// used as glue for `ns.dns.<zone>`.
pub fn dns_service_addresses(view: &ClusterView) -> Vec<IpAddr> {
    view.service("kube-system", "kube-dns")
        .map(|s| cluster_ips(s))
        .unwrap_or_default()
}
