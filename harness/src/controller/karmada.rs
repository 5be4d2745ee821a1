//! Simulates Karmada v1.6.1 (`fdc7ac62`): propagation by policy into member
//! clusters, then its MCS controllers (`pkg/controllers/mcs/`): member
//! slices collected into Works, `imported-<member>-<slice>` slices and a
//! `derived-<svc>` Service per ClusterSetIP import, all propagated with
//! the import. Karmada 1.6 never fills `ServiceImport.spec.ips`.
//!
//! Placement is by `resourceSelectors` (apiVersion, kind, name or
//! `labelSelector.matchLabels`, namespace) and
//! `placement.clusterAffinity.clusterNames` only; the rest of Karmada's
//! scheduling (spread constraints, weights, taints, overrides, failover)
//! is out of scope.

use serde_json::{Map, Value, json};

use super::api::{Apis, labels, service_ports};
use crate::model::Kind;
use crate::model::kinds::ApiResource;

/// The controller's name in transcripts.
pub const NAME: &str = "karmada";
/// The Karmada control plane's cluster in the world.
pub const CONTROL_PLANE: &str = "karmada";

const MANAGED: &str = "karmada.io/managed";
const PP_NAMESPACE: &str = "propagationpolicy.karmada.io/namespace";
const PP_NAME: &str = "propagationpolicy.karmada.io/name";
const CPP_NAME: &str = "clusterpropagationpolicy.karmada.io/name";
const WORK_NAMESPACE: &str = "work.karmada.io/namespace";
const WORK_NAME: &str = "work.karmada.io/name";
const ES_NAMESPACE: &str = "endpointslice.karmada.io/namespace";
const ES_NAME: &str = "endpointslice.karmada.io/name";
const K8S_SVC: &str = "kubernetes.io/service-name";

/// The execution namespace of a member cluster in the control plane.
pub fn execution_namespace(member: &str) -> String {
    format!("karmada-es-{member}")
}

/// The Work holding `kind` `namespace/name` for a member:
/// `<name>-<suffix>`, the suffix a hash of `<namespace>-<name>-<kind>`
/// (GenerateWorkName, util/names/names.go), so two objects of one name in
/// two namespaces get two Works. Karmada hashes go-spew's rendering of
/// that string (`DeepHashObject`); the model hashes the string itself
/// with the same FNV-32a and encoding, so its suffixes have Karmada's
/// shape but not its exact letters.
fn work_name(kind: &str, namespace: &str, name: &str) -> String {
    let name = name.replace(':', ".");
    let key = if namespace.is_empty() {
        format!("{name}-{kind}")
    } else {
        format!("{namespace}-{name}-{kind}")
    }
    .to_lowercase();
    let mut hash: u32 = 0x811c_9dc5;
    for b in key.bytes() {
        hash ^= u32::from(b);
        hash = hash.wrapping_mul(0x0100_0193);
    }
    // rand.SafeEncodeString: each character of the decimal hash through
    // an alphabet without vowels.
    const ALPHANUMS: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    let suffix: String = hash
        .to_string()
        .bytes()
        .map(|b| ALPHANUMS[usize::from(b) % ALPHANUMS.len()] as char)
        .collect();
    format!("{}-{suffix}", name.to_lowercase())
}

/// One pass of propagation and the MCS controllers.
pub fn reconcile(apis: &mut Apis) {
    apis.by = NAME;
    if !apis.has(CONTROL_PLANE) {
        return;
    }
    derived_services(apis);
    collect_slices(apis);
    imported_slices(apis);
    propagate(apis);
}

fn members(apis: &Apis) -> Vec<String> {
    apis.clusters()
        .filter(|c| *c != CONTROL_PLANE)
        .map(str::to_owned)
        .collect()
}

/// Whether `have` holds every field `want` sets (server defaults aside).
pub(super) fn contains(have: &Value, want: &Value) -> bool {
    match (have, want) {
        (Value::Object(h), Value::Object(w)) => w
            .iter()
            .all(|(k, wv)| wv.is_null() || h.get(k).is_some_and(|hv| contains(hv, wv))),
        (Value::Array(h), Value::Array(w)) => {
            h.len() == w.len() && h.iter().zip(w).all(|(a, b)| contains(a, b))
        }
        _ => have == want,
    }
}

/// `want` written over `have`: objects merged, everything else replaced.
pub(super) fn merged(have: &Value, want: &Value) -> Value {
    match (have, want) {
        (Value::Object(h), Value::Object(w)) => {
            let mut out: Map<String, Value> = h.clone();
            for (k, wv) in w {
                let next = match h.get(k) {
                    Some(hv) => merged(hv, wv),
                    None => wv.clone(),
                };
                out.insert(k.clone(), next);
            }
            Value::Object(out)
        }
        _ => want.clone(),
    }
}

/// Creates `want`, or updates what is there when it lacks a field of it.
pub(super) fn ensure(apis: &mut Apis, cluster: &str, res: &'static ApiResource, want: Value) {
    let ns = want["metadata"]["namespace"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let name = want["metadata"]["name"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    match apis.get(cluster, res, &ns, &name) {
        None => {
            let _ = apis.create(cluster, res, want);
        }
        Some(have) if !contains(&have, &want) => {
            let _ = apis.update(cluster, res, merged(&have, &want), None);
        }
        Some(_) => {}
    }
}

/// service_import_controller.go:85-165: `derived-<svc>` for each
/// ClusterSetIP import in the control plane (Headless: nothing, line 44).
fn derived_services(apis: &mut Apis) {
    let si_res = ApiResource::of(Kind::ServiceImport);
    let svc_res = ApiResource::of(Kind::Service);
    // A derived Service whose import is gone goes too (the field report's
    // step 4 saw it leave member2 with the import).
    for svc in apis.list(CONTROL_PLANE, svc_res, "", &format!("{MANAGED}=true")) {
        let (ns, name) = super::api::id_of(&svc);
        let Some(import) = name.strip_prefix("derived-") else {
            continue;
        };
        let wanted = apis
            .get(CONTROL_PLANE, si_res, &ns, import)
            .is_some_and(|si| si["spec"]["type"].as_str() == Some("ClusterSetIP"));
        if !wanted {
            let _ = apis.delete(CONTROL_PLANE, svc_res, &ns, &name);
        }
    }
    for si in apis.list(CONTROL_PLANE, si_res, "", "") {
        if si["spec"]["type"].as_str() != Some("ClusterSetIP") {
            continue;
        }
        let ns = si["metadata"]["namespace"]
            .as_str()
            .unwrap_or("default")
            .to_owned();
        let name = format!(
            "derived-{}",
            si["metadata"]["name"].as_str().unwrap_or_default()
        );
        let ports = service_ports(&si);
        let want = json!({
            "metadata": {"name": name, "namespace": ns, "labels": {MANAGED: "true"}},
            "spec": {"type": "ClusterIP", "ports": ports},
        });
        ensure(apis, CONTROL_PLANE, svc_res, want);
        // status.loadBalancer.ingress from spec.ips (never filled by Karmada
        // itself, so only a hand-set ips gets here).
        let ips: Vec<Value> = si["spec"]["ips"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|ip| json!({"ip": ip}))
            .collect();
        if let Some(svc) = apis.get(CONTROL_PLANE, svc_res, &ns, &name)
            && !ips.is_empty()
            && svc["status"]["loadBalancer"]["ingress"] != json!(ips)
        {
            let mut next = svc.clone();
            next["status"]["loadBalancer"]["ingress"] = json!(ips);
            let _ = apis.update_status(
                CONTROL_PLANE,
                svc_res,
                next,
                Some("status.loadBalancer.ingress from spec.ips".into()),
            );
        }
    }
}

/// service_export_controller.go:334-402: a slice of an exported Service in
/// a member becomes a Work in the member's execution namespace.
fn collect_slices(apis: &mut Apis) {
    let se_res = ApiResource::of(Kind::ServiceExport);
    let slice_res = ApiResource::of(Kind::EndpointSlice);
    let Some(work_res) = ApiResource::by_kind("work.karmada.io/v1alpha1", "Work") else {
        return;
    };
    let mut wanted: Vec<(String, String)> = Vec::new();
    for member in members(apis) {
        let es_ns = execution_namespace(&member);
        for export in apis.list(&member, se_res, "", "") {
            let ns = export["metadata"]["namespace"]
                .as_str()
                .unwrap_or("default")
                .to_owned();
            let svc = export["metadata"]["name"]
                .as_str()
                .unwrap_or_default()
                .to_owned();
            let selector = format!("{K8S_SVC}={svc}");
            for slice in apis.list(&member, slice_res, &ns, &selector) {
                let slice_name = slice["metadata"]["name"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned();
                let name = work_name("EndpointSlice", &ns, &slice_name);
                let mut manifest = slice.clone();
                strip_server_fields(&mut manifest);
                let want = json!({
                    "metadata": {
                        "name": name,
                        "namespace": es_ns,
                        "labels": {ES_NAMESPACE: ns, ES_NAME: svc, MANAGED: "true"},
                    },
                    "spec": {"workload": {"manifests": [manifest]}},
                });
                wanted.push((es_ns.clone(), name));
                ensure(apis, CONTROL_PLANE, work_res, want);
            }
        }
    }
    // Works whose slice or export is gone are removed.
    for work in apis.list(CONTROL_PLANE, work_res, "", ES_NAME) {
        let id = super::api::id_of(&work);
        if !wanted.contains(&id) {
            let _ = apis.delete(CONTROL_PLANE, work_res, &id.0, &id.1);
        }
    }
}

/// endpointslice_controller.go:80-125: each collected slice becomes
/// `imported-<member>-<slice>` in the control plane, its labels replaced
/// by exactly four.
fn imported_slices(apis: &mut Apis) {
    let slice_res = ApiResource::of(Kind::EndpointSlice);
    let Some(work_res) = ApiResource::by_kind("work.karmada.io/v1alpha1", "Work") else {
        return;
    };
    let mut wanted: Vec<(String, String)> = Vec::new();
    for work in apis.list(CONTROL_PLANE, work_res, "", ES_NAME) {
        let (work_ns, work_name) = super::api::id_of(&work);
        let Some(member) = work_ns.strip_prefix("karmada-es-") else {
            continue;
        };
        let svc = labels(&work).get(ES_NAME).cloned().unwrap_or_default();
        for slice in work["spec"]["workload"]["manifests"]
            .as_array()
            .into_iter()
            .flatten()
        {
            let ns = slice["metadata"]["namespace"]
                .as_str()
                .unwrap_or("default")
                .to_owned();
            let name = format!(
                "imported-{member}-{}",
                slice["metadata"]["name"].as_str().unwrap_or_default()
            );
            let mut want = json!({
                "metadata": {
                    "name": name,
                    "namespace": ns,
                    "labels": {
                        WORK_NAMESPACE: work_ns,
                        WORK_NAME: work_name,
                        K8S_SVC: format!("derived-{svc}"),
                        MANAGED: "true",
                    },
                },
                "addressType": slice["addressType"],
            });
            for field in ["endpoints", "ports"] {
                if !slice[field].is_null() {
                    want[field] = slice[field].clone();
                }
            }
            wanted.push((ns.clone(), name.clone()));
            match apis.get(CONTROL_PLANE, slice_res, &ns, &name) {
                None => {
                    let _ = apis.create(CONTROL_PLANE, slice_res, want);
                }
                // Labels are replaced, not merged.
                Some(have) if !contains(&have, &want) || labels(&have) != labels(&want) => {
                    let mut next = merged(&have, &want);
                    next["metadata"]["labels"] = want["metadata"]["labels"].clone();
                    let _ = apis.update(CONTROL_PLANE, slice_res, next, None);
                }
                Some(_) => {}
            }
        }
    }
    for slice in apis.list(CONTROL_PLANE, slice_res, "", &format!("{MANAGED}=true")) {
        let id = super::api::id_of(&slice);
        if id.1.starts_with("imported-") && !wanted.contains(&id) {
            let _ = apis.delete(CONTROL_PLANE, slice_res, &id.0, &id.1);
        }
    }
}

/// What the API server sets, which a copy must not carry.
fn strip_server_fields(v: &mut Value) {
    if let Some(meta) = v["metadata"].as_object_mut() {
        for f in [
            "resourceVersion",
            "uid",
            "creationTimestamp",
            "managedFields",
            "generation",
            "ownerReferences",
            "selfLink",
        ] {
            meta.remove(f);
        }
    }
    if let Some(obj) = v.as_object_mut() {
        obj.remove("status");
    }
}

/// One resource selector of a policy.
struct Selected {
    res: &'static ApiResource,
    namespace: String,
    name: Option<String>,
    labels: String,
}

/// The selectors of a policy, with the ones Karmada adds for each
/// ServiceImport it names (util/helper/policy.go:63-104): its
/// `derived-<svc>` Service and the slices labelled for it.
fn selectors(policy: &Value, namespace: &str) -> Vec<Selected> {
    let mut out = Vec::new();
    for s in policy["spec"]["resourceSelectors"]
        .as_array()
        .into_iter()
        .flatten()
    {
        let api_version = s["apiVersion"].as_str().unwrap_or_default();
        let kind = s["kind"].as_str().unwrap_or_default();
        // Types the API does not serve here (CustomResourceDefinitions: every
        // cluster serves the MCS CRDs already) are not propagated.
        let Some(res) = ApiResource::by_kind(api_version, kind) else {
            continue;
        };
        let ns = s["namespace"].as_str().unwrap_or(namespace).to_owned();
        let name = s["name"].as_str().map(str::to_owned);
        let labels = s["labelSelector"]["matchLabels"]
            .as_object()
            .map(|m| {
                m.iter()
                    .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or_default()))
                    .collect::<Vec<_>>()
                    .join(",")
            })
            .unwrap_or_default();
        if kind == "ServiceImport"
            && let Some(n) = &name
        {
            out.push(Selected {
                res: ApiResource::of(Kind::Service),
                namespace: ns.clone(),
                name: Some(format!("derived-{n}")),
                labels: String::new(),
            });
            out.push(Selected {
                res: ApiResource::of(Kind::EndpointSlice),
                namespace: ns.clone(),
                name: None,
                labels: format!("{K8S_SVC}=derived-{n}"),
            });
        }
        out.push(Selected {
            res,
            namespace: ns,
            name,
            labels,
        });
    }
    out
}

/// Puts what each policy selects into the clusters it names; copies a
/// policy no longer selects are deleted.
fn propagate(apis: &mut Apis) {
    let (Some(pp), Some(cpp)) = (
        ApiResource::by_kind("policy.karmada.io/v1alpha1", "PropagationPolicy"),
        ApiResource::by_kind("policy.karmada.io/v1alpha1", "ClusterPropagationPolicy"),
    ) else {
        return;
    };
    let mut policies: Vec<(Value, bool)> = apis
        .list(CONTROL_PLANE, pp, "", "")
        .into_iter()
        .map(|p| (p, false))
        .collect();
    policies.extend(
        apis.list(CONTROL_PLANE, cpp, "", "")
            .into_iter()
            .map(|p| (p, true)),
    );
    let mut placed: Vec<(String, &'static str, String, String)> = Vec::new();
    for (policy, cluster_wide) in policies {
        let (pns, pname) = super::api::id_of(&policy);
        let mut policy_labels = Map::new();
        if cluster_wide {
            policy_labels.insert(CPP_NAME.into(), json!(pname));
        } else {
            policy_labels.insert(PP_NAMESPACE.into(), json!(pns));
            policy_labels.insert(PP_NAME.into(), json!(pname));
        }
        let clusters: Vec<String> = policy["spec"]["placement"]["clusterAffinity"]["clusterNames"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|c| c.as_str().map(str::to_owned))
            .filter(|c| c != CONTROL_PLANE && apis.has(c))
            .collect();
        let scope_ns = if cluster_wide {
            String::new()
        } else {
            pns.clone()
        };
        for sel in selectors(&policy, &scope_ns) {
            let ns = if sel.res.namespaced {
                sel.namespace.clone()
            } else {
                String::new()
            };
            let objects: Vec<Value> = apis
                .list(CONTROL_PLANE, sel.res, &ns, &sel.labels)
                .into_iter()
                .filter(|o| {
                    sel.name
                        .as_deref()
                        .is_none_or(|n| o["metadata"]["name"].as_str() == Some(n))
                })
                .collect();
            for object in objects {
                let (ons, oname) = super::api::id_of(&object);
                for member in &clusters {
                    let copy = propagated(&object, sel.res, &policy_labels, member);
                    placed.push((member.clone(), sel.res.plural, ons.clone(), oname.clone()));
                    place(apis, member, sel.res, copy);
                }
            }
        }
    }
    // Copies no policy places any more.
    for member in members(apis) {
        for res in crate::model::kinds::RESOURCES {
            for copy in apis.list(&member, res, "", WORK_NAMESPACE) {
                let l = labels(&copy);
                if !l.contains_key(PP_NAME) && !l.contains_key(CPP_NAME) {
                    continue;
                }
                let (ns, name) = super::api::id_of(&copy);
                if !placed.contains(&(member.clone(), res.plural, ns.clone(), name.clone())) {
                    let _ = apis.delete(&member, res, &ns, &name);
                }
            }
        }
    }
}

/// The copy of `object` a member gets: server fields and status dropped,
/// a Service's ClusterIPs left to the member's allocator, and the labels
/// of the policy and of the Work that carries it.
fn propagated(
    object: &Value,
    res: &'static ApiResource,
    policy_labels: &Map<String, Value>,
    member: &str,
) -> Value {
    let mut copy = object.clone();
    strip_server_fields(&mut copy);
    if res.kind == "Service"
        && let Some(spec) = copy["spec"].as_object_mut()
    {
        for f in ["clusterIP", "clusterIPs", "ipFamilies", "ipFamilyPolicy"] {
            spec.remove(f);
        }
    }
    let (namespace, name) = super::api::id_of(&copy);
    let mut l = copy["metadata"]["labels"]
        .as_object()
        .cloned()
        .unwrap_or_default();
    l.extend(policy_labels.clone());
    l.insert(WORK_NAMESPACE.into(), json!(execution_namespace(member)));
    l.insert(
        WORK_NAME.into(),
        json!(work_name(res.kind, &namespace, &name)),
    );
    copy["metadata"]["labels"] = Value::Object(l);
    copy
}

/// Creates or updates a member's copy; the member keeps what its API server
/// set (a Service's ClusterIP), as Karmada's resource interpreter retains it.
fn place(apis: &mut Apis, member: &str, res: &'static ApiResource, copy: Value) {
    ensure(apis, member, res, copy);
}
