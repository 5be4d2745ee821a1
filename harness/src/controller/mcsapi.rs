//! Simulates the kubernetes-sigs/mcs-api reference controller (commit
//! `ded161af`): a `derived-<hash>` Service per ClusterSetIP import, its
//! ClusterIPs copied into `spec.ips` (over whatever was there), and every
//! slice labelled `multicluster.kubernetes.io/service-name` pointed at the
//! derived Service.
//!
//! Measured against kube-apiserver v1.34.3; what it does not do is part of
//! the model: no status conditions, no `source-cluster` label, nothing for
//! headless imports, no garbage collection of its own (a derived Service
//! outlives its import unless kube-controller-manager's GC runs, and none
//! runs in process).

use std::collections::BTreeSet;

use serde_json::{Value, json};

use super::api::{Apis, labels, service_ports};
use crate::model::Kind;
use crate::model::crd::LABEL_SERVICE_NAME;
use crate::model::kinds::ApiResource;

/// The controller's name in transcripts.
pub const NAME: &str = "mcs-api";
/// The annotation the controller puts on an import, naming its derived Service.
pub const DERIVED_ANNOTATION: &str = "multicluster.kubernetes.io/derived-service";
/// The label kube-proxy and the `kubernetes` plugin read on a slice.
pub const LABEL_K8S_SERVICE: &str = "kubernetes.io/service-name";

/// The derived Service's name for import `ns/name`: `derived-` and the
/// first 10 characters of the lowercase, unpadded base32hex of
/// SHA-256(`"<ns>/<name>"`) (common.go:39-43).
pub fn derived_name(namespace: &str, name: &str) -> String {
    let digest = ring::digest::digest(
        &ring::digest::SHA256,
        format!("{namespace}/{name}").as_bytes(),
    );
    let encoded = base32hex(digest.as_ref());
    format!("derived-{}", &encoded[..10])
}

/// RFC 4648 base32 with the extended hex alphabet, lowercase, no padding.
fn base32hex(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 32] = b"0123456789abcdefghijklmnopqrstuv";
    let mut out = String::new();
    let (mut acc, mut bits) = (0u32, 0u32);
    for b in bytes {
        acc = (acc << 8) | u32::from(*b);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(ALPHABET[((acc >> bits) & 31) as usize] as char);
        }
    }
    if bits > 0 {
        out.push(ALPHABET[((acc << (5 - bits)) & 31) as usize] as char);
    }
    out
}

/// What the controller remembers between reconciles: the load-balancer
/// status writes it made (once per import), and the hand-set ips it overwrote.
#[derive(Clone, Debug, Default)]
pub struct Memory {
    reported: BTreeSet<String>,
    /// `(cluster, namespace, import, ips before)` for every non-empty
    /// `spec.ips` the controller replaced.
    pub overwritten: Vec<Overwrite>,
}

/// A `spec.ips` the controller replaced with the derived Service's ClusterIPs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Overwrite {
    /// The cluster.
    pub cluster: String,
    /// The import's namespace.
    pub namespace: String,
    /// The import's name.
    pub name: String,
    /// The ips before.
    pub before: Vec<String>,
    /// The ips after.
    pub after: Vec<String>,
    /// The derived Service the new ips come from.
    pub derived: String,
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .into_iter()
        .flatten()
        .filter_map(|s| s.as_str().map(str::to_owned))
        .collect()
}

/// One pass of the three reconcilers over every cluster.
pub fn reconcile(apis: &mut Apis, memory: &mut Memory) {
    apis.by = NAME;
    let clusters: Vec<String> = apis.clusters().map(str::to_owned).collect();
    for cluster in &clusters {
        imports(apis, memory, cluster);
        services(apis, memory, cluster);
        slices(apis, cluster);
    }
}

/// serviceimport.go:53-143.
fn imports(apis: &mut Apis, memory: &mut Memory, cluster: &str) {
    let si_res = ApiResource::of(Kind::ServiceImport);
    let svc_res = ApiResource::of(Kind::Service);
    for si in apis.list(cluster, si_res, "", "") {
        if si["spec"]["type"].as_str() == Some("Headless") {
            continue;
        }
        let ns = si["metadata"]["namespace"]
            .as_str()
            .unwrap_or("default")
            .to_owned();
        let name = si["metadata"]["name"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        let derived = derived_name(&ns, &name);
        // First reconcile: the annotation.
        if si["metadata"]["annotations"][DERIVED_ANNOTATION].as_str() != Some(&derived) {
            let mut next = si.clone();
            next["metadata"]["annotations"][DERIVED_ANNOTATION] = json!(derived);
            let _ = apis.update(
                cluster,
                si_res,
                next,
                Some(format!("annotated {DERIVED_ANNOTATION}: {derived}")),
            );
            continue;
        }
        // Second: the derived Service.
        let Some(svc) = apis.get(cluster, svc_res, &ns, &derived) else {
            let ports = service_ports(&si);
            let body = json!({
                "metadata": {
                    "name": derived,
                    "namespace": ns,
                    "ownerReferences": [{
                        "apiVersion": "multicluster.x-k8s.io/v1beta1",
                        "kind": "ServiceImport",
                        "name": name,
                        "uid": si["metadata"]["uid"],
                    }],
                },
                "spec": {"type": "ClusterIP", "ports": ports},
            });
            let _ = apis.create(cluster, svc_res, body);
            continue;
        };
        // With ips set, it mirrors them into the derived Service's
        // load-balancer status, which the API refuses for a ClusterIP Service.
        let ips = strings(&si["spec"]["ips"]);
        let key = format!("ingress {cluster}/{ns}/{name}");
        if !ips.is_empty() && !memory.reported.contains(&key) {
            memory.reported.insert(key);
            let mut next = svc.clone();
            next["status"]["loadBalancer"]["ingress"] =
                json!(ips.iter().map(|ip| json!({"ip": ip})).collect::<Vec<_>>());
            let _ = apis.update_status(
                cluster,
                svc_res,
                next,
                Some(format!("status.loadBalancer.ingress from spec.ips {ips:?}")),
            );
        }
    }
}

/// service.go:50-84: an import owned Service's ClusterIPs become its `spec.ips`.
fn services(apis: &mut Apis, memory: &mut Memory, cluster: &str) {
    let si_res = ApiResource::of(Kind::ServiceImport);
    let svc_res = ApiResource::of(Kind::Service);
    for svc in apis.list(cluster, svc_res, "", "") {
        let Some(owner) = svc["metadata"]["ownerReferences"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|o| o["kind"] == "ServiceImport")
        else {
            continue;
        };
        let ns = svc["metadata"]["namespace"]
            .as_str()
            .unwrap_or("default")
            .to_owned();
        let import = owner["name"].as_str().unwrap_or_default().to_owned();
        let Some(si) = apis.get(cluster, si_res, &ns, &import) else {
            continue;
        };
        let want: Vec<String> = strings(&svc["spec"]["clusterIPs"])
            .into_iter()
            .filter(|ip| ip != "None")
            .take(2)
            .collect();
        let have = strings(&si["spec"]["ips"]);
        if have == want {
            continue;
        }
        let mut next = si.clone();
        next["spec"]["ips"] = json!(want);
        let note = format!(
            "spec.ips {have:?} -> {want:?} from Service {}",
            svc["metadata"]["name"].as_str().unwrap_or_default()
        );
        if apis.update(cluster, si_res, next, Some(note)).is_ok() && !have.is_empty() {
            memory.overwritten.push(Overwrite {
                cluster: cluster.to_owned(),
                namespace: ns,
                name: import,
                before: have,
                after: want,
                derived: svc["metadata"]["name"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned(),
            });
        }
    }
}

/// endpointslice.go:49-72: `kubernetes.io/service-name` follows
/// `multicluster.kubernetes.io/service-name`, whatever the import.
fn slices(apis: &mut Apis, cluster: &str) {
    let res = ApiResource::of(Kind::EndpointSlice);
    for slice in apis.list(cluster, res, "", LABEL_SERVICE_NAME) {
        let l = labels(&slice);
        let Some(svc) = l.get(LABEL_SERVICE_NAME) else {
            continue;
        };
        let ns = slice["metadata"]["namespace"].as_str().unwrap_or("default");
        let want = derived_name(ns, svc);
        if l.get(LABEL_K8S_SERVICE) == Some(&want) {
            continue;
        }
        let mut next = slice.clone();
        next["metadata"]["labels"][LABEL_K8S_SERVICE] = json!(want);
        let _ = apis.update(
            cluster,
            res,
            next,
            Some(format!("{LABEL_K8S_SERVICE}={want}")),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_derived_name_is_the_measured_one() {
        assert_eq!(derived_name("mcs", "web"), "derived-5760ms054u");
        assert_eq!(derived_name("mcs", "db"), "derived-4p0q31q0j1");
    }
}
