//! Over any set of exports across one to four member clusters, each
//! controller model settles to what its reference
//! (`docs/controllers.md`) says it writes, and a settled world stays
//! settled: a second reaction writes nothing.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use mcsdns::controller::mcsapi::derived_name;
use mcsdns::controller::{ControllerKind, Controllers, Verb};
use mcsdns::model::World;
use proptest::prelude::*;
use serde_json::{Value, json};

use crate::worlds::{NAMESPACES, SERVICES, cases};

const SVC_NAME: &str = "multicluster.kubernetes.io/service-name";
const SRC_CLUSTER: &str = "multicluster.kubernetes.io/source-cluster";
const K8S_SVC: &str = "kubernetes.io/service-name";

/// A port as an import or Service lists it: name, protocol, number.
type Port = (Option<&'static str>, &'static str, u16);

/// One service exported from some members and imported by others.
#[derive(Clone, Debug)]
struct Export {
    ns: &'static str,
    name: &'static str,
    headless: bool,
    /// The import's ports as a user or agent wrote them (maybe none, maybe
    /// a second one unnamed: the API refuses a Service with those).
    ports: Vec<Port>,
    /// The members exporting it (indices, at least one).
    exporters: Vec<usize>,
    /// The members importing it (indices, at least one).
    consumers: Vec<usize>,
    /// Hand-set `spec.ips` on the import (ClusterSetIP only).
    ips: Vec<String>,
    /// Endpoints per exporting cluster's slice.
    endpoints: u8,
    /// The import placed by a ClusterPropagationPolicy (else a PropagationPolicy).
    cluster_wide: bool,
}

#[derive(Clone, Debug)]
struct Gen {
    members: usize,
    exports: Vec<Export>,
}

fn member(i: usize) -> String {
    format!("member{}", i + 1)
}

fn arb_ports() -> impl Strategy<Value = Vec<Port>> {
    prop::collection::vec(
        (
            prop::option::of(prop::sample::select(vec!["http", "dns", "grpc"])),
            prop::sample::select(vec!["TCP", "UDP", "SCTP"]),
            prop::sample::select(vec![53u16, 80, 443, 9000]),
        ),
        0..4,
    )
    .prop_map(|v| {
        // Names and (port, protocol) pairs are unique, as the CRD and the
        // Service validation require of anything that got stored.
        let mut out: Vec<Port> = Vec::new();
        for p in v {
            if out
                .iter()
                .any(|q| (p.0.is_some() && q.0 == p.0) || (q.1 == p.1 && q.2 == p.2))
            {
                continue;
            }
            out.push(p);
        }
        out
    })
}

/// The members whose bits are set in `mask`, at least one.
fn pick(mask: u8, members: usize) -> Vec<usize> {
    let v: Vec<usize> = (0..members).filter(|i| mask >> i & 1 == 1).collect();
    if v.is_empty() {
        vec![usize::from(mask) % members]
    } else {
        v
    }
}

fn arb_gen() -> impl Strategy<Value = Gen> {
    let export = (
        prop::sample::select(NAMESPACES.to_vec()),
        prop::sample::select(SERVICES.to_vec()),
        any::<bool>(),
        arb_ports(),
        (any::<u8>(), any::<u8>()),
        prop::option::of(0u8..2),
        0u8..3,
        any::<bool>(),
    );
    (1usize..=4, prop::collection::vec(export, 0..5)).prop_map(|(members, raw)| {
        let mut seen = BTreeSet::new();
        let exports = raw
            .into_iter()
            .filter(|e| seen.insert((e.0, e.1)))
            .enumerate()
            .map(
                |(n, (ns, name, headless, ports, (ex, co), ips, endpoints, cluster_wide))| {
                    let ips = match ips {
                        Some(k) if !headless => {
                            (0..=k).map(|j| format!("10.42.{n}.{}", j + 1)).collect()
                        }
                        _ => Vec::new(),
                    };
                    Export {
                        ns,
                        name,
                        headless,
                        ports,
                        exporters: pick(ex, members),
                        consumers: pick(co, members),
                        ips,
                        endpoints,
                        cluster_wide,
                    }
                },
            )
            .collect();
        Gen { members, exports }
    })
}

/// Whether the API would store a ClusterIP Service with these ports.
fn service_ports_valid(ports: &[Port]) -> bool {
    !ports.is_empty() && (ports.len() == 1 || ports.iter().all(|p| p.0.is_some()))
}

/// The ports of the exported Service itself: what a user got past the API.
fn service_ports(ports: &[Port]) -> Vec<Port> {
    if ports.is_empty() {
        return vec![(Some("http"), "TCP", 80)];
    }
    if ports.len() == 1 {
        return ports.to_vec();
    }
    const SPARE: [&str; 3] = ["p0", "p1", "p2"];
    ports
        .iter()
        .enumerate()
        .map(|(i, p)| (p.0.or(Some(SPARE[i])), p.1, p.2))
        .collect()
}

fn port_json(p: &Port) -> Value {
    let mut v = json!({"port": p.2, "protocol": p.1});
    if let Some(n) = p.0 {
        v["name"] = json!(n);
    }
    v
}

fn ports_json(ports: &[Port]) -> Vec<Value> {
    ports.iter().map(port_json).collect()
}

fn namespaces() -> Vec<Value> {
    NAMESPACES
        .iter()
        .map(|ns| json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}}))
        .collect()
}

fn import(e: &Export, ports: &[Port]) -> Value {
    let mut spec = json!({
        "type": if e.headless { "Headless" } else { "ClusterSetIP" },
        "ports": ports_json(ports),
    });
    if !e.ips.is_empty() {
        spec["ips"] = json!(e.ips);
    }
    json!({"apiVersion": "multicluster.x-k8s.io/v1alpha1", "kind": "ServiceImport",
        "metadata": {"name": e.name, "namespace": e.ns}, "spec": spec})
}

/// The exporting Service in member `m` (its ClusterIP set, as the member's
/// allocator would have).
fn service(e: &Export, n: usize, m: usize, with_ip: bool) -> Value {
    let mut spec =
        json!({"ports": ports_json(&service_ports(&e.ports)), "selector": {"app": e.name}});
    if e.headless {
        spec["clusterIP"] = json!("None");
    } else if with_ip {
        spec["clusterIP"] = json!(cluster_ip(n, m));
    }
    json!({"apiVersion": "v1", "kind": "Service",
        "metadata": {"name": e.name, "namespace": e.ns}, "spec": spec})
}

fn cluster_ip(n: usize, m: usize) -> String {
    format!("10.96.{}.{}", 100 + n, m + 1)
}

fn export_object(e: &Export) -> Value {
    json!({"apiVersion": "multicluster.x-k8s.io/v1alpha1", "kind": "ServiceExport",
        "metadata": {"name": e.name, "namespace": e.ns}})
}

/// The slice kube-controller-manager made for the Service in member `m`.
fn local_slice(e: &Export, n: usize, m: usize) -> Value {
    let endpoints: Vec<Value> = (0..e.endpoints)
        .map(|k| json!({"addresses": [format!("10.{}.{n}.{}", 10 + m, k + 1)], "conditions": {"ready": k != 1}}))
        .collect();
    json!({"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
        "metadata": {"name": format!("{}-{}", e.name, member(m)), "namespace": e.ns,
            "labels": {K8S_SVC: e.name}},
        "addressType": "IPv4",
        "endpoints": endpoints,
        "ports": ports_json(&service_ports(&e.ports))})
}

fn world(clusters: BTreeMap<String, Vec<Value>>) -> World {
    let mut w = World::default();
    for (name, docs) in clusters {
        let text = docs
            .iter()
            .map(Value::to_string)
            .collect::<Vec<_>>()
            .join("\n---\n");
        let state = World::parse_cluster(&name, Path::new("gen.yaml"), &text, 1)
            .unwrap_or_else(|e| panic!("generated {name} loads: {e}"));
        w.clusters.insert(name, state);
    }
    w
}

fn members(g: &Gen) -> BTreeMap<String, Vec<Value>> {
    (0..g.members).map(|m| (member(m), namespaces())).collect()
}

/// Karmada's world: everything written to the control plane, the members'
/// own slices for what they run.
fn karmada_world(g: &Gen) -> World {
    let mut clusters = members(g);
    let mut cp = namespaces();
    for (n, e) in g.exports.iter().enumerate() {
        cp.push(service(e, n, 0, false));
        cp.push(export_object(e));
        cp.push(import(e, &service_ports(&e.ports)));
        let names = |v: &[usize]| v.iter().map(|m| member(*m)).collect::<Vec<_>>();
        cp.push(json!({"apiVersion": "policy.karmada.io/v1alpha1", "kind": "PropagationPolicy",
            "metadata": {"name": format!("{}-export", e.name), "namespace": e.ns},
            "spec": {"resourceSelectors": [
                {"apiVersion": "v1", "kind": "Service", "name": e.name},
                {"apiVersion": "multicluster.x-k8s.io/v1alpha1", "kind": "ServiceExport", "name": e.name}],
                "placement": {"clusterAffinity": {"clusterNames": names(&e.exporters)}}}}));
        let selector = json!({"apiVersion": "multicluster.x-k8s.io/v1alpha1", "kind": "ServiceImport", "name": e.name, "namespace": e.ns});
        let spec = json!({"resourceSelectors": [selector],
            "placement": {"clusterAffinity": {"clusterNames": names(&e.consumers)}}});
        cp.push(if e.cluster_wide {
            json!({"apiVersion": "policy.karmada.io/v1alpha1", "kind": "ClusterPropagationPolicy",
                "metadata": {"name": format!("{}-{}-import", e.ns, e.name)}, "spec": spec})
        } else {
            json!({"apiVersion": "policy.karmada.io/v1alpha1", "kind": "PropagationPolicy",
                "metadata": {"name": format!("{}-import", e.name), "namespace": e.ns}, "spec": spec})
        });
        for m in &e.exporters {
            clusters
                .get_mut(&member(*m))
                .unwrap()
                .push(local_slice(e, n, *m));
        }
    }
    clusters.insert("karmada".into(), cp);
    world(clusters)
}

/// The mcs-api controller's world: in each consuming member, the import
/// (as some agent wrote it, ips maybe set by hand) and one slice per
/// exporting cluster labelled for it.
fn mcs_api_world(g: &Gen) -> World {
    let mut clusters = members(g);
    for (n, e) in g.exports.iter().enumerate() {
        for c in &e.consumers {
            let docs = clusters.get_mut(&member(*c)).unwrap();
            docs.push(import(e, &e.ports));
            for x in &e.exporters {
                let mut s = local_slice(e, n, *x);
                s["metadata"]["name"] = json!(format!("{}-from-{}", e.name, member(*x)));
                s["metadata"]["labels"] = json!({SVC_NAME: e.name, SRC_CLUSTER: member(*x)});
                docs.push(s);
            }
        }
    }
    world(clusters)
}

/// Submariner's world: the broker, and in each exporting member the
/// Service, its export and its slice.
fn submariner_world(g: &Gen) -> World {
    let mut clusters = members(g);
    for (n, e) in g.exports.iter().enumerate() {
        for m in &e.exporters {
            let docs = clusters.get_mut(&member(*m)).unwrap();
            docs.push(service(e, n, *m, true));
            docs.push(export_object(e));
            docs.push(local_slice(e, n, *m));
        }
    }
    clusters.insert("broker".into(), Vec::new());
    world(clusters)
}

/// Every object of a cluster after the reaction, as JSON.
fn objects(c: &Controllers, cluster: &str) -> Vec<Value> {
    let api = c.api(cluster).expect("cluster").lock().unwrap();
    api.state().resources().map(|r| r.to_json()).collect()
}

fn of_kind<'a>(objects: &'a [Value], kind: &str) -> impl Iterator<Item = &'a Value> {
    let kind = kind.to_owned();
    objects.iter().filter(move |o| o["kind"] == kind.as_str())
}

fn named<'a>(objects: &'a [Value], kind: &str, ns: &str, name: &str) -> Option<&'a Value> {
    of_kind(objects, kind)
        .find(|o| o["metadata"]["namespace"] == ns && o["metadata"]["name"] == name)
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .into_iter()
        .flatten()
        .filter_map(|s| s.as_str().map(str::to_owned))
        .collect()
}

fn label<'a>(o: &'a Value, key: &str) -> Option<&'a str> {
    o["metadata"]["labels"][key].as_str()
}

/// Runs one model to rest and checks that it settled and that a second
/// reaction writes nothing.
fn settle(
    world: &World,
    kind: ControllerKind,
) -> Result<(Controllers, Vec<mcsdns::controller::Write>), TestCaseError> {
    let mut c = Controllers::new(world, &[kind]);
    let r = c.react();
    prop_assert!(r.settled, "{kind} did not settle in {} passes", r.passes);
    let again = c.react();
    prop_assert!(
        again.writes.is_empty(),
        "{kind} writes again: {:?}",
        again
            .writes
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
    );
    Ok((c, r.writes))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(), ..ProptestConfig::default() })]

    /// Karmada 1.6: a `derived-<svc>` Service per ClusterSetIP import in the
    /// control plane and in each consumer, none for a headless one; the
    /// exporters' slices collected as `imported-<member>-<slice>` with
    /// exactly Karmada's four labels, `k8s-svc=derived-<svc>` and no MCS
    /// label; the import's `ips` left exactly as the user wrote them.
    #[test]
    fn karmada_settles_to_its_reference(g in arb_gen()) {
        let (c, writes) = settle(&karmada_world(&g), ControllerKind::Karmada16)?;
        prop_assert!(writes.iter().all(|w| w.verb != Verb::Refused || w.res.kind == "Service"),
            "only the ingress status is refused: {:?}", writes.iter().map(ToString::to_string).collect::<Vec<_>>());
        let cp = objects(&c, "karmada");
        for e in &g.exports {
            let derived = format!("derived-{}", e.name);
            let want = usize::from(!e.headless);
            let in_cp = of_kind(&cp, "Service").filter(|s| s["metadata"]["namespace"] == e.ns && s["metadata"]["name"] == derived.as_str()).count();
            prop_assert_eq!(in_cp, want, "control plane {}", derived);
            for x in &e.exporters {
                let slice = format!("imported-{}-{}-{}", member(*x), e.name, member(*x));
                let s = named(&cp, "EndpointSlice", e.ns, &slice);
                prop_assert!(s.is_some(), "no {}", slice);
                let labels: BTreeSet<&str> = s.unwrap()["metadata"]["labels"].as_object().unwrap().keys().map(String::as_str).collect();
                prop_assert_eq!(labels, BTreeSet::from(["work.karmada.io/namespace", "work.karmada.io/name", K8S_SVC, "karmada.io/managed"]));
                prop_assert_eq!(label(s.unwrap(), K8S_SVC), Some(derived.as_str()));
            }
            for m in 0..g.members {
                let objs = objects(&c, &member(m));
                let consumer = e.consumers.contains(&m);
                let exporter = e.exporters.contains(&m);
                prop_assert_eq!(named(&objs, "ServiceExport", e.ns, e.name).is_some(), exporter, "export of {} in {}", e.name, member(m));
                let si = named(&objs, "ServiceImport", e.ns, e.name);
                prop_assert_eq!(si.is_some(), consumer, "import of {} in {}", e.name, member(m));
                if let Some(si) = si {
                    prop_assert_eq!(strings(&si["spec"]["ips"]), e.ips.clone(), "ips of {} in {}", e.name, member(m));
                }
                let services = of_kind(&objs, "Service").filter(|s| s["metadata"]["namespace"] == e.ns && s["metadata"]["name"] == derived.as_str()).count();
                prop_assert_eq!(services, if consumer { want } else { 0 }, "{} in {}", derived, member(m));
                let slices: Vec<&Value> = of_kind(&objs, "EndpointSlice").filter(|s| s["metadata"]["namespace"] == e.ns && label(s, K8S_SVC) == Some(derived.as_str())).collect();
                prop_assert_eq!(slices.len(), if consumer { e.exporters.len() } else { 0 }, "slices for {} in {}", derived, member(m));
                for s in slices {
                    prop_assert!(label(s, SVC_NAME).is_none() && label(s, SRC_CLUSTER).is_none());
                }
            }
        }
    }

    /// The mcs-api controller: in every cluster, one Service
    /// `derived-<hash>` owned by each ClusterSetIP import whose ports a
    /// Service can have, and the import's `ips` are its ClusterIPs (a
    /// hand-set value overwritten); ports the API refuses leave no Service
    /// and the ips as they were; headless imports get nothing; every
    /// labelled slice points at the derived name.
    #[test]
    fn mcs_api_settles_to_its_reference(g in arb_gen()) {
        let (c, writes) = settle(&mcs_api_world(&g), ControllerKind::McsApi)?;
        for m in 0..g.members {
            let objs = objects(&c, &member(m));
            for e in g.exports.iter().filter(|e| e.consumers.contains(&m)) {
                let derived = derived_name(e.ns, e.name);
                let si = named(&objs, "ServiceImport", e.ns, e.name).unwrap();
                let owned: Vec<&Value> = of_kind(&objs, "Service").filter(|s| {
                    s["metadata"]["namespace"] == e.ns && s["metadata"]["ownerReferences"].as_array().into_iter().flatten()
                        .any(|o| o["kind"] == "ServiceImport" && o["name"] == e.name)
                }).collect();
                let ips = strings(&si["spec"]["ips"]);
                if e.headless {
                    prop_assert!(owned.is_empty(), "headless {} got a Service", e.name);
                    prop_assert!(si["metadata"]["annotations"][mcsdns::controller::mcsapi::DERIVED_ANNOTATION].is_null());
                    prop_assert_eq!(ips, e.ips.clone());
                } else if service_ports_valid(&e.ports) {
                    prop_assert_eq!(owned.len(), 1, "{} in {}", derived, member(m));
                    prop_assert_eq!(owned[0]["metadata"]["name"].as_str(), Some(derived.as_str()));
                    let want: Vec<String> = strings(&owned[0]["spec"]["clusterIPs"]).into_iter().take(2).collect();
                    prop_assert!(!want.is_empty());
                    prop_assert_eq!(&ips, &want, "ips of {} in {}", e.name, member(m));
                    if !e.ips.is_empty() && e.ips != want {
                        prop_assert!(c.overwritten().iter().any(|o| o.cluster == member(m) && o.name == e.name && o.before == e.ips),
                            "the overwrite of {} in {} is not recorded", e.name, member(m));
                    }
                } else {
                    prop_assert!(owned.is_empty(), "{} in {} was stored", derived, member(m));
                    prop_assert_eq!(ips, e.ips.clone());
                    prop_assert!(writes.iter().any(|w| w.verb == Verb::Refused && w.name == derived && w.cluster == member(m)),
                        "the refusal of {} in {} is not in the journal", derived, member(m));
                }
            }
            for s in of_kind(&objs, "EndpointSlice") {
                if let Some(svc) = label(s, SVC_NAME) {
                    let ns = s["metadata"]["namespace"].as_str().unwrap();
                    let want = derived_name(ns, svc);
                    prop_assert_eq!(label(s, K8S_SVC), Some(want.as_str()));
                }
            }
        }
    }

    /// Submariner: per exporting cluster an import in the agent's
    /// namespace with the labels the agent sets; one `<svc>` import in
    /// every cluster, with no ips and, when headless, no ports; in every
    /// cluster a slice per exporting cluster labelled for the
    /// multi-cluster service and its source, not for the local Service;
    /// exports Valid, Ready and without Conflict.
    #[test]
    fn submariner_settles_to_its_reference(g in arb_gen()) {
        let (c, writes) = settle(&submariner_world(&g), ControllerKind::Submariner)?;
        prop_assert!(writes.iter().all(|w| w.verb != Verb::Refused), "refused: {:?}", writes.iter().filter(|w| w.verb == Verb::Refused).map(ToString::to_string).collect::<Vec<_>>());
        prop_assert!(writes.iter().all(|w| w.res.kind != "Service"), "Submariner makes no Service");
        let broker = objects(&c, "broker");
        for (n, e) in g.exports.iter().enumerate() {
            let agg = format!("{}-{}", e.name, e.ns);
            prop_assert!(named(&broker, "ServiceImport", "submariner-k8s-broker", &agg).is_some(), "no {} on the broker", agg);
            for m in 0..g.members {
                let objs = objects(&c, &member(m));
                let si = named(&objs, "ServiceImport", e.ns, e.name);
                prop_assert!(si.is_some(), "no import {} in {}", e.name, member(m));
                let si = si.unwrap();
                prop_assert_eq!(si["spec"]["type"].as_str(), Some(if e.headless { "Headless" } else { "ClusterSetIP" }));
                prop_assert!(strings(&si["spec"]["ips"]).is_empty());
                if e.headless {
                    prop_assert!(si["spec"]["ports"].as_array().is_none_or(Vec::is_empty));
                }
                let clusters: BTreeSet<String> = si["status"]["clusters"].as_array().into_iter().flatten()
                    .filter_map(|c| c["cluster"].as_str().map(str::to_owned)).collect();
                prop_assert_eq!(clusters, e.exporters.iter().map(|x| member(*x)).collect::<BTreeSet<_>>());
                if e.exporters.contains(&m) {
                    let local = named(&objs, "ServiceImport", "submariner-operator", &format!("{}-{}-{}", e.name, e.ns, member(m)));
                    prop_assert!(local.is_some(), "no local import of {} in {}", e.name, member(m));
                    let local = local.unwrap();
                    prop_assert_eq!(label(local, SVC_NAME), Some(e.name));
                    prop_assert_eq!(label(local, "lighthouse.submariner.io/sourceNamespace"), Some(e.ns));
                    let here = member(m);
                    prop_assert_eq!(label(local, SRC_CLUSTER), Some(here.as_str()));
                    let export = named(&objs, "ServiceExport", e.ns, e.name).unwrap();
                    let conditions: BTreeMap<String, String> = export["status"]["conditions"].as_array().into_iter().flatten()
                        .map(|c| (c["type"].as_str().unwrap_or_default().to_owned(), c["status"].as_str().unwrap_or_default().to_owned())).collect();
                    let want: BTreeMap<String, String> = [("Conflict", "False"), ("Ready", "True"), ("Valid", "True")].map(|(k, v)| (k.to_owned(), v.to_owned())).into();
                    prop_assert_eq!(conditions, want);
                }
                for x in &e.exporters {
                    let source = format!("{}-{}", e.name, member(*x));
                    let copies: Vec<&Value> = of_kind(&objs, "EndpointSlice")
                        .filter(|s| s["metadata"]["namespace"] == e.ns && label(s, SRC_CLUSTER) == Some(member(*x).as_str()) && label(s, "lighthouse.submariner.io/source-name") == Some(source.as_str()))
                        .collect();
                    prop_assert_eq!(copies.len(), 1, "copies of {} in {}", source, member(m));
                    let s = copies[0];
                    prop_assert_eq!(label(s, SVC_NAME), Some(e.name));
                    prop_assert_eq!(label(s, "endpointslice.kubernetes.io/managed-by"), Some("lighthouse-agent.submariner.io"));
                    let headless = e.headless.to_string();
                    prop_assert_eq!(label(s, "lighthouse.submariner.io/is-headless"), Some(headless.as_str()));
                    prop_assert!(label(s, K8S_SVC).is_none());
                    if !e.headless {
                        let addresses: Vec<String> = s["endpoints"].as_array().into_iter().flatten().flat_map(|ep| strings(&ep["addresses"])).collect();
                        prop_assert_eq!(addresses, vec![cluster_ip(n, *x)]);
                    }
                }
            }
        }
    }
}
