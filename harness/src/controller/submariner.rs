//! Simulates Submariner's lighthouse-agent (`9d3c39e8`,
//! `pkg/agent/controller/`): a ServiceImport per exporting cluster, an
//! aggregated one on the broker, one `<svc>` import in every cluster, and
//! EndpointSlices labelled for the multi-cluster service in every cluster.
//!
//! The broker is the world's `broker` cluster (namespace
//! `submariner-k8s-broker`); each cluster's id is its name; Globalnet and
//! clusterset IPs are off (the agent's defaults), so imports carry no
//! `ips` and ClusterSetIP slices carry the exporting Service's ClusterIP.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use super::api::{Apis, labels};
use super::karmada::{contains, ensure, merged};
use crate::model::Kind;
use crate::model::crd::{LABEL_SERVICE_NAME, LABEL_SOURCE_CLUSTER};
use crate::model::kinds::ApiResource;

/// The controller's name in transcripts.
pub const NAME: &str = "submariner";
/// The broker's cluster in the world.
pub const BROKER: &str = "broker";
/// The broker's namespace.
pub const BROKER_NAMESPACE: &str = "submariner-k8s-broker";
/// The agent's namespace in each cluster.
pub const AGENT_NAMESPACE: &str = "submariner-operator";

const SOURCE_NAMESPACE: &str = "lighthouse.submariner.io/sourceNamespace";
const PUBLISH_NOT_READY: &str = "lighthouse.submariner.io/publish-not-ready-addresses";
const MANAGED_BY: &str = "endpointslice.kubernetes.io/managed-by";
const AGENT: &str = "lighthouse-agent.submariner.io";
const IS_HEADLESS: &str = "lighthouse.submariner.io/is-headless";
const SOURCE_NAME: &str = "lighthouse.submariner.io/source-name";
const K8S_SVC: &str = "kubernetes.io/service-name";

/// What the agent remembers: the services it imported everywhere, so that
/// an import whose exports are all gone is removed.
#[derive(Clone, Debug, Default)]
pub struct Memory {
    imported: std::collections::BTreeSet<(String, String)>,
}

/// One pass of the agent in every cluster, and of the broker sync.
pub fn reconcile(apis: &mut Apis, memory: &mut Memory) {
    apis.by = NAME;
    let clusters: Vec<String> = apis
        .clusters()
        .filter(|c| *c != BROKER)
        .map(str::to_owned)
        .collect();
    for c in &clusters {
        local_imports(apis, c);
    }
    aggregate(apis, memory, &clusters);
    let mut wanted = Vec::new();
    for c in &clusters {
        slices(apis, c, &clusters, &mut wanted);
    }
    let res = ApiResource::of(Kind::EndpointSlice);
    for c in &clusters {
        for slice in apis.list(c, res, "", &format!("{MANAGED_BY}={AGENT}")) {
            let id = super::api::id_of(&slice);
            if !wanted.contains(&id) {
                let _ = apis.delete(c, res, &id.0, &id.1);
            }
        }
    }
}

/// A Service's ports as an import or a slice carries them: number,
/// protocol and, when it has one, name.
fn plain_ports(svc: &Value) -> Vec<Value> {
    svc["spec"]["ports"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|p| {
            let mut port = json!({"port": p["port"], "protocol": p["protocol"]});
            if let Some(n) = p["name"].as_str() {
                port["name"] = json!(n);
            }
            port
        })
        .collect()
}

fn condition(kind: &str, status: bool, reason: &str, message: &str) -> Value {
    json!({
        "type": kind,
        "status": if status { "True" } else { "False" },
        "reason": reason,
        "message": message,
        "lastTransitionTime": "1970-01-01T00:00:00Z",
    })
}

/// Writes an export's conditions through its status subresource when they differ.
fn set_conditions(apis: &mut Apis, cluster: &str, export: &Value, conditions: Vec<Value>) {
    let res = ApiResource::of(Kind::ServiceExport);
    let strip = |v: &Value| -> Vec<(String, String, String)> {
        v.as_array()
            .into_iter()
            .flatten()
            .map(|c| {
                (
                    c["type"].as_str().unwrap_or_default().to_owned(),
                    c["status"].as_str().unwrap_or_default().to_owned(),
                    c["reason"].as_str().unwrap_or_default().to_owned(),
                )
            })
            .collect()
    };
    if strip(&export["status"]["conditions"]) == strip(&json!(conditions)) {
        return;
    }
    let summary = conditions
        .iter()
        .map(|c| {
            format!(
                "{}={}{}",
                c["type"].as_str().unwrap_or_default(),
                c["status"].as_str().unwrap_or_default(),
                c["reason"]
                    .as_str()
                    .filter(|r| !r.is_empty())
                    .map(|r| format!(" {r}"))
                    .unwrap_or_default()
            )
        })
        .collect::<Vec<_>>()
        .join(", ");
    let mut next = export.clone();
    next["status"]["conditions"] = json!(conditions);
    let _ = apis.update_status(cluster, res, next, Some(summary));
}

/// agent.go:205-307, 381-413: the per-cluster import, and the export's `Valid`.
fn local_imports(apis: &mut Apis, cluster: &str) {
    let se_res = ApiResource::of(Kind::ServiceExport);
    let svc_res = ApiResource::of(Kind::Service);
    let si_res = ApiResource::of(Kind::ServiceImport);
    let mut wanted = Vec::new();
    for export in apis.list(cluster, se_res, "", "") {
        let ns = export["metadata"]["namespace"]
            .as_str()
            .unwrap_or("default")
            .to_owned();
        let name = export["metadata"]["name"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        let Some(svc) = apis.get(cluster, svc_res, &ns, &name) else {
            let c = condition(
                "Valid",
                false,
                "ServiceUnavailable",
                "Service to be exported doesn't exist",
            );
            set_conditions(apis, cluster, &export, vec![c]);
            continue;
        };
        let svc_type = svc["spec"]["type"].as_str().unwrap_or("ClusterIP");
        if svc_type != "ClusterIP" {
            let c = condition(
                "Valid",
                false,
                "UnsupportedServiceType",
                &format!("Service of type {svc_type} not supported"),
            );
            set_conditions(apis, cluster, &export, vec![c]);
            continue;
        }
        let headless = svc["spec"]["clusterIP"] == "None";
        let ports = plain_ports(&svc);
        let si_name = format!("{name}-{ns}-{cluster}");
        let mut spec = json!({
            "type": if headless { "Headless" } else { "ClusterSetIP" },
            "ports": ports,
        });
        if !headless && let Some(ip) = svc["spec"]["clusterIP"].as_str() {
            spec["ips"] = json!([ip]);
        }
        let want = json!({
            "metadata": {
                "name": si_name,
                "namespace": AGENT_NAMESPACE,
                "labels": {LABEL_SERVICE_NAME: name, SOURCE_NAMESPACE: ns, LABEL_SOURCE_CLUSTER: cluster},
                "annotations": {PUBLISH_NOT_READY: svc["spec"]["publishNotReadyAddresses"].as_bool().unwrap_or(false).to_string()},
            },
            "spec": spec,
        });
        wanted.push(si_name);
        ensure(apis, cluster, si_res, want);
        let c = condition(
            "Valid",
            true,
            "",
            "Service was successfully exported to the broker",
        );
        let mut conditions = vec![c];
        if let Some(e) = apis.get(cluster, se_res, &ns, &name) {
            // Ready and Conflict come from the broker's view (aggregate).
            for kind in ["Ready", "Conflict"] {
                if let Some(old) = e["status"]["conditions"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .find(|c| c["type"] == kind)
                {
                    conditions.push(old.clone());
                }
            }
            set_conditions(apis, cluster, &e, conditions);
        }
    }
    for si in apis.list(cluster, si_res, AGENT_NAMESPACE, LABEL_SOURCE_CLUSTER) {
        let (ns, name) = super::api::id_of(&si);
        if !wanted.contains(&name) {
            let _ = apis.delete(cluster, si_res, &ns, &name);
        }
    }
}

/// service_import.go:334-531 and service_import_aggregator.go:60-103: the
/// broker's aggregated import, every cluster's `<svc>` import, and the
/// exports' `Ready` and `Conflict`.
fn aggregate(apis: &mut Apis, memory: &mut Memory, clusters: &[String]) {
    let si_res = ApiResource::of(Kind::ServiceImport);
    let se_res = ApiResource::of(Kind::ServiceExport);
    // (ns, svc) -> [(cluster, local import)]
    let mut by_service: BTreeMap<(String, String), Vec<(String, Value)>> = BTreeMap::new();
    for c in clusters {
        for si in apis.list(c, si_res, AGENT_NAMESPACE, LABEL_SOURCE_CLUSTER) {
            let l = labels(&si);
            let key = (
                l.get(SOURCE_NAMESPACE).cloned().unwrap_or_default(),
                l.get(LABEL_SERVICE_NAME).cloned().unwrap_or_default(),
            );
            by_service.entry(key).or_default().push((c.clone(), si));
        }
    }
    let broker = apis.has(BROKER);
    let gone: Vec<(String, String)> = memory
        .imported
        .iter()
        .filter(|k| !by_service.contains_key(*k))
        .cloned()
        .collect();
    for (ns, svc) in gone {
        memory.imported.remove(&(ns.clone(), svc.clone()));
        if broker {
            let _ = apis.delete(BROKER, si_res, BROKER_NAMESPACE, &format!("{svc}-{ns}"));
        }
        for c in clusters {
            let _ = apis.delete(c, si_res, &ns, &svc);
        }
    }
    for ((ns, svc), exporters) in &by_service {
        memory.imported.insert((ns.clone(), svc.clone()));
        let first_type = exporters[0].1["spec"]["type"].clone();
        let conflict = exporters
            .iter()
            .any(|(_, si)| si["spec"]["type"] != first_type);
        let headless = first_type == "Headless";
        let mut ports: Vec<Value> = Vec::new();
        if !headless {
            for (_, si) in exporters {
                for p in si["spec"]["ports"].as_array().into_iter().flatten() {
                    if !ports.contains(p) {
                        ports.push(p.clone());
                    }
                }
            }
        }
        let spec = json!({"type": first_type, "ports": ports});
        let status = json!({"clusters": exporters.iter().map(|(c, _)| json!({"cluster": c})).collect::<Vec<_>>()});
        if broker {
            let want = json!({
                "metadata": {
                    "name": format!("{svc}-{ns}"),
                    "namespace": BROKER_NAMESPACE,
                    "annotations": {LABEL_SERVICE_NAME: svc, SOURCE_NAMESPACE: ns},
                },
                "spec": spec,
            });
            ensure(apis, BROKER, si_res, want);
            write_status(
                apis,
                BROKER,
                BROKER_NAMESPACE,
                &format!("{svc}-{ns}"),
                &status,
            );
        }
        for c in clusters {
            let want = json!({"metadata": {"name": svc, "namespace": ns}, "spec": spec});
            ensure(apis, c, si_res, want);
            write_status(apis, c, ns, svc, &status);
        }
        for (c, _) in exporters {
            if let Some(e) = apis.get(c, se_res, ns, svc) {
                let mut conditions: Vec<Value> = e["status"]["conditions"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter(|c| c["type"] == "Valid")
                    .cloned()
                    .collect();
                conditions.push(condition(
                    "Ready",
                    true,
                    "",
                    "Service was successfully exported to the broker",
                ));
                conditions.push(if conflict {
                    condition(
                        "Conflict",
                        true,
                        "ConflictingType",
                        "the Service types of the exporting clusters differ",
                    )
                } else {
                    condition("Conflict", false, "", "")
                });
                set_conditions(apis, c, &e, conditions);
            }
        }
    }
}

fn write_status(apis: &mut Apis, cluster: &str, ns: &str, name: &str, status: &Value) {
    let si_res = ApiResource::of(Kind::ServiceImport);
    if let Some(si) = apis.get(cluster, si_res, ns, name)
        && !contains(&si["status"], status)
    {
        let mut next = si.clone();
        next["status"] = merged(&si["status"], status);
        let _ = apis.update_status(cluster, si_res, next, Some("status.clusters".into()));
    }
}

/// A suffix in place of generateName's random one, repeatable across runs.
fn suffix(cluster: &str, slice: &str) -> String {
    const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    let digest = ring::digest::digest(
        &ring::digest::SHA256,
        format!("{cluster}/{slice}").as_bytes(),
    );
    digest.as_ref()[..5]
        .iter()
        .map(|b| ALPHABET[usize::from(*b) % ALPHABET.len()] as char)
        .collect()
}

/// service_endpoint_slices.go:187-282: each exported Service's local
/// slices become a slice labelled for the multi-cluster service in every cluster.
fn slices(apis: &mut Apis, cluster: &str, clusters: &[String], wanted: &mut Vec<(String, String)>) {
    let si_res = ApiResource::of(Kind::ServiceImport);
    let slice_res = ApiResource::of(Kind::EndpointSlice);
    let svc_res = ApiResource::of(Kind::Service);
    for local in apis.list(cluster, si_res, AGENT_NAMESPACE, LABEL_SOURCE_CLUSTER) {
        let l = labels(&local);
        let (Some(ns), Some(svc)) = (l.get(SOURCE_NAMESPACE), l.get(LABEL_SERVICE_NAME)) else {
            continue;
        };
        let headless = local["spec"]["type"] == "Headless";
        let Some(service) = apis.get(cluster, svc_res, ns, svc) else {
            continue;
        };
        for slice in apis.list(cluster, slice_res, ns, &format!("{K8S_SVC}={svc}")) {
            let slice_name = slice["metadata"]["name"].as_str().unwrap_or_default();
            let mut lab = labels(&slice);
            // The copy is not an endpoint of the local Service of that name.
            lab.remove(K8S_SVC);
            lab.insert(MANAGED_BY.into(), AGENT.into());
            lab.insert(SOURCE_NAMESPACE.into(), ns.clone());
            lab.insert(LABEL_SOURCE_CLUSTER.into(), cluster.to_owned());
            lab.insert(LABEL_SERVICE_NAME.into(), svc.clone());
            lab.insert(IS_HEADLESS.into(), headless.to_string());
            lab.insert(SOURCE_NAME.into(), slice_name.to_owned());
            let mut want = json!({
                "metadata": {
                    "name": format!("{svc}-{}", suffix(cluster, slice_name)),
                    "namespace": ns,
                    "labels": lab,
                },
                "addressType": slice["addressType"],
            });
            if headless {
                want["endpoints"] = slice["endpoints"].clone();
                want["ports"] = slice["ports"].clone();
            } else {
                let ready = slice["endpoints"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .any(|e| e["conditions"]["ready"].as_bool().unwrap_or(true));
                let ip = service["spec"]["clusterIP"].as_str().unwrap_or_default();
                want["endpoints"] = json!([{"addresses": [ip], "conditions": {"ready": ready}}]);
                want["ports"] = json!(plain_ports(&local));
            }
            wanted.push((
                ns.clone(),
                want["metadata"]["name"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned(),
            ));
            for c in clusters {
                ensure(apis, c, slice_res, want.clone());
            }
        }
    }
}
