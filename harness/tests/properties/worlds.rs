//! Strategies: generated clusters (imports of every shape, multi-cluster
//! EndpointSlices, local Services) and questions about them.

use std::path::Path;

use hickory_proto::rr::RecordType;
use mcsdns::model::{ClusterState, Resource, World};
use proptest::prelude::*;
use serde_json::{Value, json};

/// How many cases each property runs: `MCSDNS_PROPTEST_CASES` (default 48).
pub fn cases() -> u32 {
    std::env::var("MCSDNS_PROPTEST_CASES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(48)
}

pub const NAMESPACES: [&str; 2] = ["team", "ops"];
pub const SERVICES: [&str; 4] = ["web", "db", "api", "q"];
pub const CLUSTER_IDS: [&str; 3] = ["c-a", "c-b", "east.prod"];

#[derive(Clone, Debug)]
pub struct Port {
    pub name: Option<&'static str>,
    pub proto: &'static str,
    pub port: u16,
}

fn arb_ports() -> impl Strategy<Value = Vec<Port>> {
    prop::collection::vec(
        (
            prop::option::of(prop::sample::select(vec!["http", "dns", "grpc"])),
            prop::sample::select(vec!["TCP", "UDP", "SCTP"]),
            prop::sample::select(vec![53u16, 80, 443, 9000]),
        ),
        0..3,
    )
    .prop_map(|v| {
        let mut seen = Vec::new();
        v.into_iter()
            .filter(|(n, _, _)| {
                n.is_none_or(|n| {
                    if seen.contains(&n) {
                        false
                    } else {
                        seen.push(n);
                        true
                    }
                })
            })
            .map(|(name, proto, port)| Port { name, proto, port })
            .collect()
    })
}

fn port_json(p: &Port) -> Value {
    let mut v = json!({"port": p.port, "protocol": p.proto});
    if let Some(n) = p.name {
        v["name"] = json!(n);
    }
    v
}

#[derive(Clone, Debug)]
pub struct Endpoint {
    pub address: String,
    pub hostname: Option<&'static str>,
    pub ready: Option<bool>,
}

#[derive(Clone, Debug)]
pub struct Slice {
    pub cluster: &'static str,
    pub v6: bool,
    pub endpoints: Vec<Endpoint>,
    pub ports: Vec<Port>,
}

#[derive(Clone, Debug)]
pub struct Import {
    pub ns: &'static str,
    pub name: &'static str,
    pub headless: bool,
    pub ips: Vec<String>,
    pub ports: Vec<Port>,
    pub slices: Vec<Slice>,
}

fn arb_slice() -> impl Strategy<Value = Slice> {
    (
        prop::sample::select(CLUSTER_IDS.to_vec()),
        any::<bool>(),
        prop::collection::vec(
            (
                0u8..6,
                prop::option::of(prop::sample::select(vec!["h0", "h1"])),
                prop::option::of(any::<bool>()),
            ),
            0..4,
        ),
        arb_ports(),
    )
        .prop_map(|(cluster, v6, eps, ports)| Slice {
            cluster,
            v6,
            endpoints: eps
                .into_iter()
                .map(|(n, hostname, ready)| Endpoint {
                    address: if v6 {
                        format!("fd00::{}", n + 1)
                    } else {
                        format!("10.1.0.{}", n + 1)
                    },
                    hostname,
                    ready,
                })
                .collect(),
            ports,
        })
}

fn arb_import() -> impl Strategy<Value = Import> {
    (
        prop::sample::select(NAMESPACES.to_vec()),
        prop::sample::select(SERVICES.to_vec()),
        any::<bool>(),
        0u8..4,
        0u8..200,
        arb_ports(),
        prop::collection::vec(arb_slice(), 0..3),
    )
        .prop_map(|(ns, name, headless, families, n, ports, slices)| {
            let mut ips = Vec::new();
            if !headless {
                if families & 1 == 1 {
                    ips.push(format!("10.42.0.{}", n + 1));
                }
                if families & 2 == 2 {
                    ips.push(format!("fd42::{}", n + 1));
                }
            }
            Import {
                ns,
                name,
                headless,
                ips,
                ports,
                slices,
            }
        })
}

/// A local Service of the resolver's cluster (it may shadow an import).
#[derive(Clone, Debug)]
pub struct LocalService {
    pub ns: &'static str,
    pub name: &'static str,
    pub ip: String,
}

/// A generated cluster: its imports and local Services, and the cluster
/// state holding them.
#[derive(Clone, Debug)]
pub struct Gen {
    pub imports: Vec<Import>,
    pub locals: Vec<LocalService>,
    pub state: ClusterState,
}

fn arb_locals() -> impl Strategy<Value = Vec<LocalService>> {
    prop::collection::vec(
        (
            prop::sample::select(NAMESPACES.to_vec()),
            prop::sample::select(SERVICES.to_vec()),
            1u8..250,
        ),
        0..3,
    )
    .prop_map(|v| {
        let mut seen = Vec::new();
        v.into_iter()
            .filter(|(ns, name, _)| {
                if seen.contains(&(*ns, *name)) {
                    false
                } else {
                    seen.push((*ns, *name));
                    true
                }
            })
            .map(|(ns, name, n)| LocalService {
                ns,
                name,
                ip: format!("10.96.0.{n}"),
            })
            .collect()
    })
}

pub fn arb_world() -> impl Strategy<Value = Gen> {
    (prop::collection::vec(arb_import(), 0..5), arb_locals()).prop_map(|(mut imports, locals)| {
        // One import per namespace/name.
        let mut seen = Vec::new();
        imports.retain(|i| {
            let k = (i.ns, i.name);
            if seen.contains(&k) { false } else { seen.push(k); true }
        });
        let mut docs = String::new();
        docs.push_str("apiVersion: v1\nkind: Namespace\nmetadata: {name: team}\n---\napiVersion: v1\nkind: Namespace\nmetadata: {name: ops}\n");
        let mut state = World::parse_cluster("c1", Path::new("gen.yaml"), &docs, 1).expect("namespaces load");
        for (n, i) in imports.iter().enumerate() {
            let si = json!({"apiVersion": "multicluster.x-k8s.io/v1alpha1", "kind": "ServiceImport",
                "metadata": {"name": i.name, "namespace": i.ns},
                "spec": {"type": if i.headless { "Headless" } else { "ClusterSetIP" }, "ips": i.ips,
                         "ports": i.ports.iter().map(port_json).collect::<Vec<_>>()}});
            state.apply(Resource::from_json(mcsdns::model::Kind::ServiceImport, si).expect("import"), None);
            for (k, s) in i.slices.iter().enumerate() {
                let eps: Vec<Value> = s
                    .endpoints
                    .iter()
                    .map(|e| {
                        let mut v = json!({"addresses": [e.address]});
                        if let Some(h) = e.hostname {
                            v["hostname"] = json!(h);
                        }
                        if let Some(r) = e.ready {
                            v["conditions"] = json!({"ready": r});
                        }
                        v
                    })
                    .collect();
                let slice = json!({"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
                    "metadata": {"name": format!("{}-{n}-{k}", i.name), "namespace": i.ns,
                        "labels": {"multicluster.kubernetes.io/service-name": i.name, "multicluster.kubernetes.io/source-cluster": s.cluster}},
                    "addressType": if s.v6 { "IPv6" } else { "IPv4" },
                    "endpoints": eps,
                    "ports": s.ports.iter().map(port_json).collect::<Vec<_>>()});
                state.apply(Resource::from_json(mcsdns::model::Kind::EndpointSlice, slice).expect("slice"), None);
            }
        }
        for l in &locals {
            let svc = json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": l.name, "namespace": l.ns},
                "spec": {"clusterIP": l.ip, "ports": [{"name": "http", "port": 80}]}});
            state.apply(Resource::from_json(mcsdns::model::Kind::Service, svc).expect("service"), None);
        }
        Gen { imports, locals, state }
    })
}

/// Names worth asking about a generated world: every form the spec
/// defines, near misses, and plain misses.
pub fn names(g: &Gen) -> Vec<String> {
    let z = "clusterset.local";
    let mut out = vec![
        z.to_owned(),
        format!("svc.{z}"),
        format!("dns-version.{z}"),
        format!("nope.team.svc.{z}"),
        format!("team.svc.{z}"),
        format!("ops.svc.{z}"),
        format!("x.{z}"),
        format!("web.team.pod.{z}"),
    ];
    for i in &g.imports {
        let svc = format!("{}.{}.svc.{z}", i.name, i.ns);
        out.push(svc.clone());
        out.push(format!(
            "{}.{}.svc.{z}",
            i.name,
            if i.ns == "team" { "ops" } else { "team" }
        ));
        out.push(format!("extra.{svc}"));
        for c in CLUSTER_IDS {
            out.push(format!("{c}.{svc}"));
            for h in ["h0", "h1", "10-1-0-1", "10-1-0-2", "fd00--1"] {
                out.push(format!("{h}.{c}.{svc}"));
            }
        }
        out.push(format!("prod.{svc}"));
        for p in &i.ports {
            let proto = p.proto.to_ascii_lowercase();
            out.push(format!("_{proto}.{svc}"));
            if let Some(n) = p.name {
                out.push(format!("_{n}._{proto}.{svc}"));
            }
        }
        out.push(format!("_http._tcp.{svc}"));
    }
    out
}

pub const QTYPES: [RecordType; 9] = [
    RecordType::A,
    RecordType::AAAA,
    RecordType::SRV,
    RecordType::TXT,
    RecordType::SOA,
    RecordType::NS,
    RecordType::PTR,
    RecordType::MX,
    RecordType::ANY,
];

/// Flips the case of some letters of `name`, chosen by the bits of `mask`.
pub fn recase(name: &str, mask: u64) -> String {
    name.chars()
        .enumerate()
        .map(|(i, c)| {
            if mask >> (i % 64) & 1 == 1 {
                c.to_ascii_uppercase()
            } else {
                c
            }
        })
        .collect()
}
