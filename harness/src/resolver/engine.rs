//! Answers one DNS question from a cluster's view: the pure answer engine.
//!
//! `answer(config, view, question)` walks the server block's plugin chain as
//! CoreDNS does: the first zone plugin whose zones hold the name answers; a
//! name error goes on to the next plugin only where `fallthrough` covers the
//! name; `header` changes the flags of whatever a later plugin answers.
//! What each zone holds is its [`ZoneSource`]'s business, what an unlisted
//! watch does is `ready.rs`'s. Nothing here does I/O, reads a clock or waits
//! on a lock.

use std::net::IpAddr;

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::DNSClass;

use super::config::{Flag, Plugin, ResolverConfig};
use super::ready::{Gate, silence};
use super::reply::{Outcome, Question, Reply};
use super::view::{ClusterView, cluster_ips};
use super::zone::{Flow, Role, Source, ZoneCx, ZoneSource};

/// Answers `question` as the configured resolver in `view`'s cluster would.
pub fn answer(config: &ResolverConfig, view: &ClusterView, question: &Question) -> Outcome {
    if let Some(why) = silence(config, view) {
        return Outcome::Silent(why);
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
                let role = Role::of(zp, zone);
                let source = Source::new(config.profile, zp, role);
                let cx = ZoneCx {
                    zone,
                    ttl: zp.ttl,
                    serial: view.serial,
                    view,
                    ns_addresses: &ns_addresses,
                    negative_soa: source.negative_soa(),
                };
                let flow = Gate::of(config.profile, zp, role, &view.sync)
                    .pass(|| source.lookup(&cx, question));
                if flow == Flow::NameError && zp.fallthrough.covers(qname) {
                    continue;
                }
                if let Flow::Silent(why) = flow {
                    return Outcome::Silent(why);
                }
                let Some(mut out) = flow.into_reply(&cx) else {
                    return Outcome::Silent("the zone sends no reply".into());
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

/// The ClusterIPs of `kube-system/kube-dns`: the resolver's own addresses,
/// used as glue for `ns.dns.<zone>`.
pub fn dns_service_addresses(view: &ClusterView) -> Vec<IpAddr> {
    view.service("kube-system", "kube-dns")
        .map(|s| cluster_ips(s))
        .unwrap_or_default()
}
