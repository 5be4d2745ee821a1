//! Puts a world into a real cluster and keeps it there: server-side apply
//! of each object (field manager `mcsdns-world`), its status through the
//! status subresource, and deletion of what the previous world had and
//! this one does not. Every object written carries the label
//! `mcsdns.io/world`, and only such objects are ever deleted.
//!
//! A real API server needs what the emulator takes for granted: the
//! namespaces objects live in, a service range (ServiceCIDR) for every
//! clusterIP, and a recreate where a field is immutable (a Service's
//! clusterIP). Those are handled here, so a world written for the emulator
//! runs unchanged.

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use k8s_openapi::api::authentication::v1::{TokenRequest, TokenRequestSpec};
use k8s_openapi::api::core::v1::{Namespace, ServiceAccount};
use kube::api::{DeleteParams, ListParams, Patch, PatchParams, PostParams};
use kube::core::{ApiResource as KubeApiResource, DynamicObject};
use serde_json::{Value, json};

use super::{ControlPlaneError, SETTLE_TIMEOUT};
use crate::model::kinds::ApiResource;
use crate::model::world::BUILTIN_NAMESPACES;
use crate::model::{ClusterState, Kind, ObjectKey, Resource, rbac};

/// The label on every object a world put into a cluster.
pub const WORLD_LABEL: &str = "mcsdns.io/world";

/// The field manager of world objects.
pub const MANAGER: &str = "mcsdns-world";

/// The ClusterRole (and binding) that lets the resolver read everything
/// when the world models no RBAC, as the emulator then allows it.
pub const OPEN_READ_ROLE: &str = "mcsdns:resolver-reads-everything";

/// The kinds in the order a world is applied (what others refer to first).
const APPLY_ORDER: [Kind; 7] = [
    Kind::Namespace,
    Kind::ClusterRole,
    Kind::ClusterRoleBinding,
    Kind::Service,
    Kind::EndpointSlice,
    Kind::ServiceImport,
    Kind::ServiceExport,
];

/// How kube-rs names one of the model's types (its first served version).
pub fn kube_resource(res: &ApiResource) -> KubeApiResource {
    let version = res.versions[0];
    KubeApiResource {
        group: res.group.to_owned(),
        version: version.to_owned(),
        api_version: res.api_version(version),
        kind: res.kind.to_owned(),
        plural: res.plural.to_owned(),
    }
}

fn dynamic(client: &kube::Client, kind: Kind, namespace: Option<&str>) -> kube::Api<DynamicObject> {
    let ar = kube_resource(ApiResource::of(kind));
    match namespace {
        Some(ns) if kind.is_namespaced() => kube::Api::namespaced_with(client.clone(), ns, &ar),
        _ => kube::Api::all_with(client.clone(), &ar),
    }
}

/// The API's words for a failed request: its Status message when it gave one.
pub fn reason(e: &kube::Error) -> String {
    match e {
        kube::Error::Api(s) => format!("{} ({})", s.message, s.code),
        other => other.to_string(),
    }
}

/// Whether a 422 says a field cannot change (`field is immutable`, a
/// clusterIP's `may not change once set`).
fn is_immutable(message: &str) -> bool {
    message.contains("immutable") || message.contains("may not change once set")
}

fn is_code(e: &kube::Error, code: u16) -> bool {
    matches!(e, kube::Error::Api(s) if s.code == code)
}

/// The CRD manifests of `files`, as objects.
fn read_crds(cluster: &str, files: &[PathBuf]) -> Result<Vec<DynamicObject>, ControlPlaneError> {
    files
        .iter()
        .map(|file| {
            let text =
                crate::files::read_to_string(file).map_err(|source| ControlPlaneError::Io {
                    what: format!("cannot read {}", file.display()),
                    source,
                })?;
            crate::yaml::from_str(&text).map_err(|e| {
                ControlPlaneError::api(cluster, format!("cannot read {}", file.display()), e)
            })
        })
        .collect()
}

/// Installs CRD manifests (server-side apply) and waits until each is
/// established and its resources are served.
pub async fn install_crds(
    client: &kube::Client,
    cluster: &str,
    files: &[PathBuf],
) -> Result<(), ControlPlaneError> {
    let api: kube::Api<DynamicObject> = kube::Api::all_with(client.clone(), &crd_resource());
    let mut names = Vec::new();
    for object in read_crds(cluster, files)? {
        let name = object.metadata.name.clone().unwrap_or_default();
        api.patch(
            &name,
            &PatchParams::apply(MANAGER).force(),
            &Patch::Apply(&object),
        )
        .await
        .map_err(|e| {
            ControlPlaneError::api(cluster, format!("cannot install CRD {name}"), reason(&e))
        })?;
        names.push(name);
    }
    wait(cluster, "the CRDs to be established", || async {
        for name in &names {
            let Ok(crd) = api.get(name).await else {
                return false;
            };
            let established = crd.data["status"]["conditions"]
                .as_array()
                .is_some_and(|cs| {
                    cs.iter()
                        .any(|c| c["type"] == "Established" && c["status"] == "True")
                });
            if !established {
                return false;
            }
        }
        // Established is not yet served: wait for a list to answer.
        for kind in [Kind::ServiceImport, Kind::ServiceExport] {
            if dynamic(client, kind, None)
                .list(&ListParams::default().limit(1))
                .await
                .is_err()
            {
                return false;
            }
        }
        true
    })
    .await
}

/// Deletes the CRDs of `files` and waits until they are gone.
pub async fn remove_crds(
    client: &kube::Client,
    cluster: &str,
    files: &[PathBuf],
) -> Result<(), ControlPlaneError> {
    let api: kube::Api<DynamicObject> = kube::Api::all_with(client.clone(), &crd_resource());
    let mut names = Vec::new();
    for object in read_crds(cluster, files)? {
        let name = object.metadata.name.unwrap_or_default();
        match api.delete(&name, &DeleteParams::default()).await {
            Ok(_) => {}
            Err(e) if is_code(&e, 404) => {}
            Err(e) => {
                return Err(ControlPlaneError::api(
                    cluster,
                    format!("cannot delete CRD {name}"),
                    reason(&e),
                ));
            }
        }
        names.push(name);
    }
    wait(cluster, "the CRDs to be deleted", || async {
        for name in &names {
            if !matches!(api.get_opt(name).await, Ok(None)) {
                return false;
            }
        }
        true
    })
    .await
}

fn crd_resource() -> KubeApiResource {
    KubeApiResource {
        group: "apiextensions.k8s.io".into(),
        version: "v1".into(),
        api_version: "apiextensions.k8s.io/v1".into(),
        kind: "CustomResourceDefinition".into(),
        plural: "customresourcedefinitions".into(),
    }
}

/// Polls `done` until it holds, for up to [`SETTLE_TIMEOUT`].
async fn wait<F, Fut>(cluster: &str, what: &str, mut done: F) -> Result<(), ControlPlaneError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let started = Instant::now();
    while !done().await {
        if started.elapsed() > SETTLE_TIMEOUT {
            return Err(ControlPlaneError::api(
                cluster,
                format!("waiting for {what}"),
                format!("not done after {} s", SETTLE_TIMEOUT.as_secs()),
            ));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Ok(())
}

/// Creates namespace `ns` if it does not exist, waiting out a deletion in
/// progress first (nothing can be created in a terminating namespace).
pub async fn ensure_namespace(
    client: &kube::Client,
    cluster: &str,
    ns: &str,
    labels: &BTreeMap<String, String>,
) -> Result<(), ControlPlaneError> {
    let api: kube::Api<Namespace> = kube::Api::all(client.clone());
    let existing = api.get_opt(ns).await.map_err(|e| {
        ControlPlaneError::api(cluster, format!("cannot read namespace {ns}"), reason(&e))
    })?;
    if let Some(n) = existing {
        if n.metadata.deletion_timestamp.is_none() {
            return Ok(());
        }
        wait(
            cluster,
            &format!("namespace {ns} to be deleted"),
            || async { matches!(api.get_opt(ns).await, Ok(None)) },
        )
        .await?;
    }
    let body = json!({"apiVersion": "v1", "kind": "Namespace",
        "metadata": {"name": ns, "labels": labels}});
    api.patch(
        ns,
        &PatchParams::apply(MANAGER).force(),
        &Patch::Apply(&body),
    )
    .await
    .map(|_| ())
    .map_err(|e| {
        ControlPlaneError::api(cluster, format!("cannot create namespace {ns}"), reason(&e))
    })
}

/// Creates service account `ns/name` if needed.
pub async fn ensure_service_account(
    client: &kube::Client,
    cluster: &str,
    ns: &str,
    name: &str,
) -> Result<(), ControlPlaneError> {
    let labels = BTreeMap::from([("mcsdns.io/identity".to_owned(), "true".to_owned())]);
    ensure_namespace(client, cluster, ns, &labels).await?;
    let api: kube::Api<ServiceAccount> = kube::Api::namespaced(client.clone(), ns);
    let body = json!({"apiVersion": "v1", "kind": "ServiceAccount",
        "metadata": {"name": name, "namespace": ns, "labels": labels}});
    api.patch(
        name,
        &PatchParams::apply(MANAGER).force(),
        &Patch::Apply(&body),
    )
    .await
    .map(|_| ())
    .map_err(|e| {
        ControlPlaneError::api(
            cluster,
            format!("cannot create service account {ns}/{name}"),
            reason(&e),
        )
    })
}

/// A token for service account `ns/name` from the TokenRequest API, valid
/// for two days.
pub async fn request_token(
    client: &kube::Client,
    cluster: &str,
    ns: &str,
    name: &str,
) -> Result<String, ControlPlaneError> {
    let api: kube::Api<ServiceAccount> = kube::Api::namespaced(client.clone(), ns);
    let request = TokenRequest {
        spec: Some(TokenRequestSpec {
            expiration_seconds: Some(48 * 3600),
            ..Default::default()
        }),
        ..Default::default()
    };
    api.create_token_request(name, &PostParams::default(), &request)
        .await
        .ok()
        .and_then(|t| t.status.and_then(|s| s.token))
        .ok_or_else(|| {
            ControlPlaneError::api(
                cluster,
                format!("cannot get a token for {ns}/{name}"),
                "no token returned",
            )
        })
}

/// An object as a world writes it: labelled, without server-set fields
/// or status (which goes through the status subresource).
fn body(r: &Resource, cluster: &str) -> (Value, Option<Value>) {
    let mut v = r.to_json();
    let res = ApiResource::of(r.kind());
    v["apiVersion"] = json!(res.api_version(res.versions[0]));
    if let Some(meta) = v["metadata"].as_object_mut() {
        for f in [
            "resourceVersion",
            "uid",
            "creationTimestamp",
            "generation",
            "managedFields",
        ] {
            meta.remove(f);
        }
        let labels = meta.entry("labels").or_insert_with(|| json!({}));
        labels[WORLD_LABEL] = json!(cluster);
    }
    let status = v.as_object_mut().and_then(|m| m.remove("status"));
    let status = status.filter(|s| s.as_object().is_some_and(|m| !m.is_empty()));
    (v, status)
}

/// The service range a clusterIP outside the primary range needs: its
/// /16 (IPv4) or /112 (IPv6).
fn range_for(ip: IpAddr) -> Option<String> {
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, ..] = v4.octets();
            (a, b) != (10, 96)
        }
        .then(|| format!("{a}.{b}.0.0/16", a = v4.octets()[0], b = v4.octets()[1])),
        IpAddr::V6(v6) => {
            let s = v6.segments();
            let primary = s[..7] == [0xfd00, 0x10, 0x96, 0, 0, 0, 0];
            (!primary).then(|| {
                let net = std::net::Ipv6Addr::new(s[0], s[1], s[2], s[3], s[4], s[5], s[6], 0);
                format!("{net}/112")
            })
        }
    }
}

/// The clusterIPs of a Service, as addresses.
fn cluster_ips(r: &Resource) -> Vec<IpAddr> {
    let Resource::Service(s) = r else {
        return Vec::new();
    };
    let spec = s.spec.as_ref();
    let mut ips: Vec<String> = spec.and_then(|s| s.cluster_ips.clone()).unwrap_or_default();
    ips.extend(spec.and_then(|s| s.cluster_ip.clone()));
    ips.iter().filter_map(|ip| ip.parse().ok()).collect()
}

/// One cluster's connection, and what it has been given so far.
pub struct WorldWriter {
    client: kube::Client,
    cluster: String,
    /// Service ranges known to exist.
    ranges: BTreeSet<String>,
}

impl WorldWriter {
    /// Writes to `cluster` through `client` (an administrator's).
    pub fn new(client: kube::Client, cluster: &str) -> WorldWriter {
        WorldWriter {
            client,
            cluster: cluster.to_owned(),
            ranges: BTreeSet::new(),
        }
    }

    /// Makes the cluster hold exactly `state` (of the kinds the model
    /// knows; objects not labelled as a world's are left alone), with the
    /// resolver's `identity` able to read everything when the world models
    /// no RBAC.
    pub async fn reset(
        &mut self,
        state: &ClusterState,
        identity: &str,
    ) -> Result<(), ControlPlaneError> {
        let mut desired: BTreeMap<ObjectKey, &Resource> =
            state.resources().map(|r| (r.key(), r)).collect();
        let open = (!rbac::is_modelled(state)).then(|| open_read(identity));
        let open_keys: Vec<ObjectKey> = open.iter().flatten().map(Resource::key).collect();
        if let Some(extra) = &open {
            for r in extra {
                desired.insert(r.key(), r);
            }
        }
        // What the previous world left and this one does not have.
        let mut gone_namespaces = Vec::new();
        for kind in APPLY_ORDER.iter().rev() {
            let api = dynamic(&self.client, *kind, None);
            let lp = ListParams::default().labels(WORLD_LABEL);
            let list = api.list(&lp).await.map_err(|e| {
                ControlPlaneError::api(&self.cluster, format!("cannot list {kind}s"), reason(&e))
            })?;
            for o in list.items {
                let name = o.metadata.name.clone().unwrap_or_default();
                let ns = o
                    .metadata
                    .namespace
                    .clone()
                    .unwrap_or_else(|| "default".into());
                let key = ObjectKey::new(*kind, &ns, &name);
                if desired.contains_key(&key) || o.metadata.deletion_timestamp.is_some() {
                    continue;
                }
                if *kind == Kind::Namespace {
                    if !BUILTIN_NAMESPACES.contains(&name.as_str()) {
                        gone_namespaces.push(name);
                    }
                    continue;
                }
                self.delete(&key).await?;
            }
        }
        for name in gone_namespaces {
            self.delete(&ObjectKey::new(Kind::Namespace, "", &name))
                .await?;
        }
        let mut ordered: Vec<&Resource> = desired.values().copied().collect();
        ordered.sort_by_key(|r| APPLY_ORDER.iter().position(|k| *k == r.kind()));
        for r in ordered {
            if r.kind() == Kind::Namespace
                && BUILTIN_NAMESPACES.contains(&r.key().name.as_str())
                && !open_keys.contains(&r.key())
                && state
                    .objects
                    .get(&r.key())
                    .is_some_and(|s| s.origin.is_none())
            {
                continue;
            }
            self.upsert(r).await?;
        }
        Ok(())
    }

    /// Creates or replaces one object (and its status).
    pub async fn upsert(&mut self, r: &Resource) -> Result<(), ControlPlaneError> {
        let key = r.key();
        if key.kind.is_namespaced() {
            let labels = BTreeMap::from([(WORLD_LABEL.to_owned(), self.cluster.clone())]);
            ensure_namespace(&self.client, &self.cluster, &key.namespace, &labels).await?;
        }
        for ip in cluster_ips(r) {
            if let Some(range) = range_for(ip) {
                self.ensure_range(&range).await?;
            }
        }
        let (object, status) = body(r, &self.cluster);
        let api = dynamic(&self.client, key.kind, Some(&key.namespace));
        let object: DynamicObject = serde_json::from_value(object).map_err(|e| {
            ControlPlaneError::api(&self.cluster, format!("cannot encode {key}"), e)
        })?;
        let pp = PatchParams::apply(MANAGER).force();
        let started = Instant::now();
        loop {
            match api.patch(&key.name, &pp, &Patch::Apply(&object)).await {
                Ok(_) => break,
                // A clusterIP (or another immutable field) changed: the
                // object is recreated, as `kubectl replace --force` would.
                Err(e) if is_code(&e, 422) && is_immutable(&reason(&e)) => {
                    self.delete(&key).await?;
                    self.wait_gone(&key).await?;
                }
                // A new service range is not used until the allocator has
                // seen it.
                Err(e)
                    if is_code(&e, 422)
                        && reason(&e).contains("does not match the current range")
                        && started.elapsed() < Duration::from_secs(10) =>
                {
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                Err(e) => {
                    return Err(ControlPlaneError::api(
                        &self.cluster,
                        format!("cannot apply {key}"),
                        reason(&e),
                    ));
                }
            }
        }
        if let Some(status) = status {
            let mut patch = json!({"apiVersion": object.types.as_ref().map(|t| t.api_version.clone()),
                "kind": key.kind.as_str(), "metadata": {"name": key.name}, "status": status});
            if key.kind.is_namespaced() {
                patch["metadata"]["namespace"] = json!(key.namespace);
            }
            if matches!(key.kind, Kind::ServiceImport | Kind::ServiceExport) {
                api.patch_status(&key.name, &pp, &Patch::Apply(&patch))
                    .await
                    .map_err(|e| {
                        ControlPlaneError::api(
                            &self.cluster,
                            format!("cannot set the status of {key}"),
                            reason(&e),
                        )
                    })?;
            }
        }
        Ok(())
    }

    /// Deletes one object if it is there.
    pub async fn delete(&mut self, key: &ObjectKey) -> Result<(), ControlPlaneError> {
        let api = dynamic(&self.client, key.kind, Some(&key.namespace));
        match api.delete(&key.name, &DeleteParams::background()).await {
            Ok(_) => Ok(()),
            Err(e) if is_code(&e, 404) => Ok(()),
            Err(e) => Err(ControlPlaneError::api(
                &self.cluster,
                format!("cannot delete {key}"),
                reason(&e),
            )),
        }
    }

    async fn wait_gone(&self, key: &ObjectKey) -> Result<(), ControlPlaneError> {
        let api = dynamic(&self.client, key.kind, Some(&key.namespace));
        wait(&self.cluster, &format!("{key} to be deleted"), || async {
            matches!(api.get_opt(&key.name).await, Ok(None))
        })
        .await
    }

    /// The resourceVersion the cluster is at now (one etcd revision for every kind).
    pub async fn current_version(&self) -> Result<u64, ControlPlaneError> {
        let api: kube::Api<Namespace> = kube::Api::all(self.client.clone());
        let list = api
            .list_metadata(&ListParams::default().limit(1))
            .await
            .map_err(|e| {
                ControlPlaneError::api(&self.cluster, "cannot list namespaces", reason(&e))
            })?;
        Ok(list
            .metadata
            .resource_version
            .and_then(|v| v.parse().ok())
            .unwrap_or_default())
    }

    /// Adds a ServiceCIDR for `range` unless one exists.
    async fn ensure_range(&mut self, range: &str) -> Result<(), ControlPlaneError> {
        if self.ranges.contains(range) {
            return Ok(());
        }
        let ar = KubeApiResource {
            group: "networking.k8s.io".into(),
            version: "v1".into(),
            api_version: "networking.k8s.io/v1".into(),
            kind: "ServiceCIDR".into(),
            plural: "servicecidrs".into(),
        };
        let api: kube::Api<DynamicObject> = kube::Api::all_with(self.client.clone(), &ar);
        let name = format!(
            "mcsdns-{}",
            range.replace(['.', ':', '/'], "-").trim_matches('-')
        );
        let body = json!({"apiVersion": "networking.k8s.io/v1", "kind": "ServiceCIDR",
            "metadata": {"name": name, "labels": {"mcsdns.io/range": "true"}},
            "spec": {"cidrs": [range]}});
        let object: DynamicObject = serde_json::from_value(body)
            .map_err(|e| ControlPlaneError::api(&self.cluster, "cannot encode a ServiceCIDR", e))?;
        api.patch(
            &name,
            &PatchParams::apply(MANAGER).force(),
            &Patch::Apply(&object),
        )
        .await
        .map_err(|e| {
            ControlPlaneError::api(
                &self.cluster,
                format!("cannot add service range {range}"),
                reason(&e),
            )
        })?;
        self.ranges.insert(range.to_owned());
        Ok(())
    }
}

/// The role and binding that let `identity` read everything.
fn open_read(identity: &str) -> Vec<Resource> {
    let subject = match super::service_account(identity) {
        Some((ns, name)) => json!({"kind": "ServiceAccount", "name": name, "namespace": ns}),
        None => json!({"kind": "User", "name": identity, "apiGroup": "rbac.authorization.k8s.io"}),
    };
    let role = json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
        "metadata": {"name": OPEN_READ_ROLE},
        "rules": [{"apiGroups": ["*"], "resources": ["*"], "verbs": ["get", "list", "watch"]}]});
    let binding = json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
        "metadata": {"name": OPEN_READ_ROLE},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": OPEN_READ_ROLE},
        "subjects": [subject]});
    [
        (Kind::ClusterRole, role),
        (Kind::ClusterRoleBinding, binding),
    ]
    .into_iter()
    .filter_map(|(k, v)| Resource::from_json(k, v).ok())
    .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_cover_addresses_outside_the_primary_one() {
        assert_eq!(range_for("10.96.3.4".parse().unwrap()), None);
        assert_eq!(
            range_for("10.11.0.5".parse().unwrap()).as_deref(),
            Some("10.11.0.0/16")
        );
        assert_eq!(range_for("fd00:10:96::5".parse().unwrap()), None);
        assert_eq!(
            range_for("fd00:10:11::7".parse().unwrap()).as_deref(),
            Some("fd00:10:11::/112")
        );
    }

    #[test]
    fn world_objects_are_labelled_and_lose_server_fields() {
        let r = Resource::from_json(
            Kind::ServiceImport,
            json!({"apiVersion": "multicluster.x-k8s.io/v1alpha1", "kind": "ServiceImport",
                "metadata": {"name": "a", "namespace": "n", "resourceVersion": "7"},
                "spec": {"type": "ClusterSetIP", "ports": []},
                "status": {"clusters": [{"cluster": "c1"}]}}),
        )
        .unwrap();
        let (object, status) = body(&r, "c1");
        assert_eq!(object["metadata"]["labels"][WORLD_LABEL], "c1");
        assert!(object["metadata"].get("resourceVersion").is_none());
        assert!(object.get("status").is_none());
        assert_eq!(status.unwrap()["clusters"][0]["cluster"], "c1");
    }

    #[test]
    fn the_open_role_binds_service_accounts_and_users() {
        let sa = open_read("system:serviceaccount:kube-system:coredns");
        let Resource::ClusterRoleBinding(b) = &sa[1] else {
            panic!("not a binding")
        };
        let s = &b.subjects.as_ref().unwrap()[0];
        assert_eq!(
            (s.kind.as_str(), s.name.as_str()),
            ("ServiceAccount", "coredns")
        );
        let user = open_read("jane");
        let Resource::ClusterRoleBinding(b) = &user[1] else {
            panic!("not a binding")
        };
        assert_eq!(b.subjects.as_ref().unwrap()[0].kind, "User");
    }
}
