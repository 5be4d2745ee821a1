//! Properties of the resolver over generated worlds and questions: what
//! hand-written scenarios cover is what someone thought of; these cover
//! what nobody did; hostile bytes for the scenario loader and the bundle
//! reader; the controller models over generated exports.
//! `MCSDNS_PROPTEST_CASES` raises the case count.

#[path = "../common/mod.rs"]
mod common;
mod controllers;
mod events;
mod hostile;
mod libc;
mod wire;
mod worlds;
mod zonefile;

use std::collections::BTreeSet;
use std::net::IpAddr;

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::{Name, RecordType};
use mcsdns::resolver::export::zone_records;
use mcsdns::resolver::text::rdata_text;
use mcsdns::resolver::{ClusterView, Outcome, Profile, Question, Reply, ResolverConfig, answer};
use proptest::prelude::*;
use worlds::{QTYPES, arb_world, cases, names, recase};

fn config() -> ResolverConfig {
    ResolverConfig::default_for(Profile::Kep1645)
}

fn ask(view: &ClusterView, name: &str, t: RecordType) -> Reply {
    let q = Question::parse(name, t).expect("valid name");
    match answer(&config(), view, &q) {
        Outcome::Reply(r) => r,
        Outcome::Silent(why) => panic!("silent: {why}"),
    }
}

fn zone() -> Name {
    Name::from_ascii("clusterset.local.").unwrap()
}

fn sorted(v: impl IntoIterator<Item = String>) -> Vec<String> {
    let mut v: Vec<String> = v.into_iter().collect();
    v.sort();
    v.dedup();
    v
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(), ..ProptestConfig::default() })]

    /// RFC 8020 and the spec: NXDOMAIN exactly when nothing exists at or
    /// below the name; an empty non-terminal is NODATA; every negative
    /// answer carries the zone's SOA.
    #[test]
    fn nxdomain_exactly_when_the_name_does_not_exist(g in arb_world(), pick in any::<prop::sample::Index>(), t in prop::sample::select(QTYPES.to_vec())) {
        let view = ClusterView::from_state(&g.state);
        let owners: BTreeSet<Name> = zone_records(&config(), &view, &zone()).iter().map(|r| r.name.to_lowercase()).collect();
        let all = names(&g);
        let name = &all[pick.index(all.len())];
        let q = Name::from_ascii(format!("{name}.")).unwrap().to_lowercase();
        // A ClusterSetIP import's name exists in the world even when it owns
        // no record yet (no ips): NODATA, like CoreDNS (docs/semantics.md).
        let imported = g.imports.iter().filter(|i| !i.headless).map(|i| Name::from_ascii(format!("{}.{}.svc.clusterset.local.", i.name, i.ns)).unwrap());
        let exists = owners.iter().any(|o| q.zone_of(o)) || imported.into_iter().any(|n| q.zone_of(&n));
        let r = ask(&view, name, t);
        prop_assert_eq!(r.rcode == ResponseCode::NXDomain, !exists, "{} {} exists={}", name, t, exists);
        if r.answers.is_empty() {
            prop_assert_eq!(r.authorities.len(), 1);
            prop_assert_eq!(r.authorities[0].record_type(), RecordType::SOA);
        }
    }

    /// A/AAAA of a ClusterSetIP import are its ips of that family; of a
    /// headless import, the ready endpoints of every cluster; `_port._proto`
    /// SRV is exactly the named ports (times the ready endpoints when headless).
    #[test]
    fn addresses_and_srv_follow_the_world(g in arb_world()) {
        let view = ClusterView::from_state(&g.state);
        // Local Services answer in cluster.local, whatever is imported.
        for l in &g.locals {
            let got = sorted(ask(&view, &format!("{}.{}.svc.cluster.local", l.name, l.ns), RecordType::A).answers.iter().map(rdata_text));
            prop_assert_eq!(got, vec![l.ip.clone()]);
        }
        for i in &g.imports {
            let svc = format!("{}.{}.svc.clusterset.local", i.name, i.ns);
            let ready: Vec<&worlds::Endpoint> = i.slices.iter().flat_map(|s| &s.endpoints).filter(|e| e.ready != Some(false)).collect();
            for (t, v6) in [(RecordType::A, false), (RecordType::AAAA, true)] {
                let want: Vec<String> = if i.headless {
                    sorted(ready.iter().map(|e| e.address.parse::<IpAddr>().unwrap()).filter(|ip| ip.is_ipv6() == v6).map(|ip| ip.to_string()))
                } else {
                    sorted(i.ips.iter().map(|s| s.parse::<IpAddr>().unwrap()).filter(|ip| ip.is_ipv6() == v6).map(|ip| ip.to_string()))
                };
                let got = sorted(ask(&view, &svc, t).answers.iter().map(rdata_text));
                prop_assert_eq!(got, want, "{} {}", svc, t);
            }
            let named: Vec<&worlds::Port> = i.ports.iter().filter(|p| p.name.is_some()).collect();
            for p in named {
                let q = format!("_{}._{}.{svc}", p.name.unwrap(), p.proto.to_ascii_lowercase());
                let got = sorted(ask(&view, &q, RecordType::SRV).answers.iter().map(|r| {
                    let t = rdata_text(r);
                    let f: Vec<&str> = t.split(' ').collect();
                    format!("{} {}", f[2], f[3])
                }));
                let want: Vec<String> = if i.headless {
                    // Per ready endpoint with a cluster id, per matching slice port.
                    let svc = svc.as_str();
                    sorted(i.slices.iter().flat_map(|s| {
                        s.endpoints.iter().filter(|e| e.ready != Some(false)).flat_map(move |e| {
                            let host = e.hostname.map(str::to_owned).unwrap_or_else(|| {
                                let mut h = e.address.parse::<IpAddr>().unwrap().to_string().replace(['.', ':'], "-");
                                if h.starts_with('-') { h.insert(0, '0'); }
                                if h.ends_with('-') { h.push('0'); }
                                h
                            });
                            s.ports.iter().filter(|sp| sp.name == p.name && sp.proto == p.proto).map(move |sp| {
                                format!("{} {host}.{}.{svc}.", sp.port, s.cluster)
                            })
                        })
                    }))
                } else if i.ips.is_empty() {
                    Vec::new()
                } else {
                    vec![format!("{} {svc}.", p.port)]
                };
                prop_assert_eq!(got, want, "{}", q);
            }
        }
    }

    /// Answers do not depend on the question's case, and echo it.
    #[test]
    fn answers_ignore_the_case_of_the_question_and_echo_it(g in arb_world(), pick in any::<prop::sample::Index>(), mask in any::<u64>(), t in prop::sample::select(QTYPES.to_vec())) {
        let view = ClusterView::from_state(&g.state);
        let all = names(&g);
        let name = &all[pick.index(all.len())];
        let upper = recase(name, mask);
        let plain = ask(&view, name, t);
        let cased = ask(&view, &upper, t);
        prop_assert_eq!(plain.rcode, cased.rcode);
        prop_assert_eq!(sorted(plain.answers.iter().map(rdata_text)), sorted(cased.answers.iter().map(rdata_text)));
        let q = Name::from_ascii(format!("{upper}.")).unwrap();
        for r in &cased.answers {
            prop_assert_eq!(r.name.to_string(), q.to_string());
        }
    }

    /// AA inside the served zones, RA as configured, REFUSED elsewhere.
    #[test]
    fn aa_inside_the_zones_ra_as_configured_refused_outside(g in arb_world(), label in "[a-z]{1,12}", ra in any::<bool>()) {
        let view = ClusterView::from_state(&g.state);
        let text = if ra { ".:53 {\n header {\n  response set ra\n }\n kubernetes cluster.local\n multicluster clusterset.local\n}\n" } else { ".:53 {\n kubernetes cluster.local\n multicluster clusterset.local\n}\n" };
        let cf = mcsdns::resolver::corefile::Corefile::parse(std::path::Path::new("p"), text).unwrap();
        let config = ResolverConfig::from_corefile(&cf, Profile::Kep1645, &mcsdns::resolver::config::STOCK_ORDER).unwrap();
        for (name, inside) in [(format!("{label}.team.svc.clusterset.local."), true), (format!("{label}.example."), false), (format!("{label}.cluster.local."), true)] {
            let q = Question::parse(&name, RecordType::A).unwrap();
            let r = answer(&config, &view, &q).reply().cloned().unwrap();
            if inside {
                prop_assert!(r.authoritative, "{}", name);
                prop_assert_eq!(r.recursion_available, ra);
                prop_assert_ne!(r.rcode, ResponseCode::Refused);
            } else {
                prop_assert_eq!(r.rcode, ResponseCode::Refused);
                prop_assert!(r.answers.is_empty() && !r.authoritative);
            }
        }
    }
}
