//! Describes what the API serves: `/version`, `/api`, `/apis` and each
//! group and group/version, as kubectl and client-go discover it.

use serde_json::{Value, json};

use super::SERVED_VERSION;
use crate::cluster::store::ApiStore;
use crate::model::kinds::{ApiResource, RESOURCES};

/// The discovery documents: `/version`, `/api`, `/apis`, and each group and
/// group/version. `None` for paths that are not discovery.
pub(super) fn discovery(store: &ApiStore, path: &str) -> Option<Value> {
    let path = path.trim_end_matches('/');
    let served =
        |r: &&ApiResource| !(store.faults.crds_missing && r.group == "multicluster.x-k8s.io");
    let groups = || {
        let mut names: Vec<&'static str> = Vec::new();
        for r in RESOURCES
            .iter()
            .filter(served)
            .filter(|r| !r.group.is_empty())
        {
            if !names.contains(&r.group) {
                names.push(r.group);
            }
        }
        names
    };
    let group_doc = |g: &str| {
        let mut versions: Vec<&str> = Vec::new();
        for r in RESOURCES.iter().filter(served).filter(|r| r.group == g) {
            for v in r.versions {
                if !versions.contains(v) {
                    versions.push(v);
                }
            }
        }
        let vs: Vec<Value> = versions
            .iter()
            .map(|v| json!({"groupVersion": format!("{g}/{v}"), "version": v}))
            .collect();
        json!({"kind": "APIGroup", "apiVersion": "v1", "name": g, "versions": vs, "preferredVersion": vs.first()})
    };
    let resource_list = |g: &str, v: &str| {
        let resources: Vec<Value> = RESOURCES
            .iter()
            .filter(served)
            .filter(|r| r.group == g && r.versions.contains(&v))
            .map(|r| {
                json!({"name": r.plural, "singularName": r.singular, "namespaced": r.namespaced,
                    "kind": r.kind, "shortNames": r.short_names,
                    "verbs": ["create", "delete", "get", "list", "patch", "update", "watch"]})
            })
            .collect();
        let gv = if g.is_empty() {
            v.to_owned()
        } else {
            format!("{g}/{v}")
        };
        json!({"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": gv, "resources": resources})
    };
    let parts: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    match parts.as_slice() {
        ["version"] => Some(json!({
            "major": SERVED_VERSION.0, "minor": SERVED_VERSION.1,
            "gitVersion": format!("v{}.{}.0-mcsdns-{}", SERVED_VERSION.0, SERVED_VERSION.1, env!("CARGO_PKG_VERSION")),
            "platform": "linux/amd64"
        })),
        ["api"] => Some(json!({"kind": "APIVersions", "versions": ["v1"],
            "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": "127.0.0.1"}]})),
        ["api", "v1"] => Some(resource_list("", "v1")),
        ["apis"] => {
            let gs: Vec<Value> = groups().into_iter().map(group_doc).collect();
            Some(json!({"kind": "APIGroupList", "apiVersion": "v1", "groups": gs}))
        }
        ["apis", g] if groups().contains(g) => Some(group_doc(g)),
        ["apis", g, v] if groups().contains(g) => {
            let doc = resource_list(g, v);
            (!doc["resources"].as_array().is_none_or(Vec::is_empty)).then_some(doc)
        }
        _ => None,
    }
}
