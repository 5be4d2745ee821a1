//! Keeps one cluster's objects as the API server does: every change gets a
//! resourceVersion and an event, and RBAC decides who may read what.
//!
//! This is "what the API does" to its objects, shared by every transport
//! through `cluster::rest`: the in-process tower service behind
//! `kube::Client` (`cluster::mock`) and the HTTP(S) emulator
//! (`cluster::http`). `watch` delivers the events to open watches.

mod watch;

use std::collections::BTreeMap;

use std::sync::Arc;

use serde_json::{Value, json};

pub use self::watch::{Delivery, HISTORY_BYTES, HISTORY_EVENTS, WATCH_QUEUE, WatchOptions};
use self::watch::{Event, Watch};
use super::scope::Scope;
use super::selector::Filter;
use super::status::{ApiError, not_found_path, unavailable};
use super::validation::Crds;
use crate::model::kinds::ApiResource;
use crate::model::rbac::{self, Access};
use crate::model::{ClusterState, Kind, ObjectKey, Resource};

/// A cluster's API, shared by its clients and the scenario that changes it.
pub type SharedApi = Arc<std::sync::Mutex<ApiStore>>;

/// Faults a scenario can inject.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Faults {
    /// Every request fails with 503 (the API server is down).
    pub unavailable: bool,
    /// The MCS CRDs are not installed: their paths give 404.
    pub crds_missing: bool,
}

/// The identity that may do anything, as `system:masters` may.
pub const ADMIN: &str = "kubernetes-admin";

/// An object of a type the API only stores.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct StoredKey {
    plural: &'static str,
    group: &'static str,
    namespace: String,
    name: String,
}

impl StoredKey {
    fn new(res: &'static ApiResource, namespace: &str, name: &str) -> StoredKey {
        StoredKey {
            plural: res.plural,
            group: res.group,
            namespace: if res.namespaced {
                namespace.to_owned()
            } else {
                String::new()
            },
            name: name.to_owned(),
        }
    }
}

/// One cluster's API: objects, resourceVersions, watches, RBAC.
pub struct ApiStore {
    state: ClusterState,
    versions: BTreeMap<ObjectKey, u64>,
    /// Objects of types DNS does not read, as JSON (with their version).
    stored: BTreeMap<StoredKey, (Value, u64)>,
    rv: u64,
    /// The window of recent events watches resume from.
    log: std::collections::VecDeque<Event>,
    /// About how many bytes the window's objects hold.
    log_bytes: usize,
    /// Watches from a resourceVersion older than this get 410 Gone.
    oldest: u64,
    watches: Vec<Watch>,
    /// When objects were created, for `creationTimestamp`.
    created: String,
    /// Faults in force.
    pub faults: Faults,
    /// The CRDs custom resources are validated against (none: unchecked).
    crds: Option<Arc<Crds>>,
    /// Who owns which fields of the objects written through the API.
    managed: BTreeMap<StoredKey, crate::cluster::rest::Managed>,
}

impl ApiStore {
    /// The API of a cluster's objects, each created in key order; objects of
    /// other kinds that the API serves (Deployments, ...) are stored too.
    pub fn new(state: &ClusterState) -> Self {
        let mut store = ApiStore {
            state: ClusterState {
                objects: BTreeMap::new(),
                ..state.clone()
            },
            versions: BTreeMap::new(),
            stored: BTreeMap::new(),
            rv: 0,
            log: std::collections::VecDeque::new(),
            log_bytes: 0,
            oldest: 0,
            watches: Vec::new(),
            created: rfc3339_now(),
            faults: Faults::default(),
            crds: Crds::discovered(),
            managed: BTreeMap::new(),
        };
        for s in state.objects.values() {
            store.apply(s.resource.clone());
        }
        for (res, body) in served_others(state) {
            let _ = store.put(res, body);
        }
        store.start_history();
        store
    }

    /// Changes the objects to `state`'s, through ordinary events (so open
    /// watches follow): what is gone is deleted, what differs is replaced.
    /// Faults are cleared.
    pub fn reset_to(&mut self, state: &ClusterState) {
        self.faults = Faults::default();
        let gone: Vec<ObjectKey> = self
            .state
            .objects
            .keys()
            .filter(|k| !state.objects.contains_key(*k))
            .cloned()
            .collect();
        for k in gone {
            self.delete(&k);
        }
        for (k, s) in &state.objects {
            if self.state.objects.get(k).map(|o| &o.resource) != Some(&s.resource) {
                self.apply(s.resource.clone());
            }
        }
        let wanted = served_others(state);
        let stale: Vec<StoredKey> = self.stored.keys().cloned().collect();
        for k in stale {
            if let Some(res) = ApiResource::by_plural(k.group, k.plural) {
                self.remove(res, &k.namespace, &k.name);
            }
        }
        for (res, body) in wanted {
            let _ = self.put(res, body);
        }
    }

    /// The CRDs written custom resources are validated against.
    pub fn crds(&self) -> Option<&Crds> {
        self.crds.as_deref()
    }

    /// Validates custom resources against these CRDs from now on (`None`:
    /// stores them unchecked). The default is [`Crds::discovered`].
    pub fn set_crds(&mut self, crds: Option<Arc<Crds>>) {
        self.crds = crds;
    }

    /// The objects as they are now.
    pub fn state(&self) -> &ClusterState {
        &self.state
    }

    /// The resourceVersion of one object.
    pub fn version_of(&self, key: &ObjectKey) -> Option<u64> {
        self.versions.get(key).copied()
    }

    /// The objects of one kind with their resourceVersions, in key order:
    /// one ordered pass over the kind, without a lookup per object (a
    /// check that a watcher has caught up walks 100,000 imports this way).
    pub fn versioned_of_kind(
        &self,
        kind: Kind,
    ) -> impl Iterator<Item = (&ObjectKey, &Resource, Option<u64>)> {
        let mut versions = self
            .versions
            .range(ObjectKey::first_of(kind)..)
            .take_while(move |(k, _)| k.kind == kind)
            .peekable();
        self.state.keyed_of_kind(kind).map(move |(key, resource)| {
            // Both maps are ordered by key: skip versions of keys the
            // state no longer holds, then take this key's if present.
            while versions.next_if(|(k, _)| *k < key).is_some() {}
            let version = versions.next_if(|(k, _)| *k == key).map(|(_, v)| *v);
            (key, resource, version)
        })
    }

    /// The current resourceVersion.
    pub fn resource_version(&self) -> u64 {
        self.rv
    }

    fn json_of(&self, r: &Resource, rv: u64) -> Value {
        let mut v = r.to_json();
        // Objects the scenario places are served as the API server would
        // have stored them: a slice port without a name has `name: ""` and
        // one without a protocol TCP (clients that dereference them, as
        // Lighthouse does, crash on a port the API never serves).
        if r.kind() == crate::model::Kind::EndpointSlice {
            super::validation::endpointslice::default(&mut v);
        }
        self.stamp(&mut v, rv);
        v
    }

    /// Adds what the server sets: resourceVersion, uid, creationTimestamp.
    fn stamp(&self, v: &mut Value, rv: u64) {
        v["metadata"]["resourceVersion"] = json!(rv.to_string());
        if v["metadata"]["uid"].is_null() {
            let uid = format!(
                "{}-{}-{}",
                v["kind"].as_str().unwrap_or_default(),
                v["metadata"]["namespace"].as_str().unwrap_or_default(),
                v["metadata"]["name"].as_str().unwrap_or_default()
            )
            .to_lowercase();
            v["metadata"]["uid"] = json!(uid);
        }
        if v["metadata"]["creationTimestamp"].is_null() {
            v["metadata"]["creationTimestamp"] = json!(self.created);
        }
    }

    /// Creates or replaces an object.
    pub fn apply(&mut self, r: Resource) {
        let key = r.key();
        let old = self.state.objects.get(&key).map(|s| &s.resource);
        let created = old.is_none();
        let before = old
            .filter(|o| o.metadata().labels != r.metadata().labels)
            .map(|o| self.json_of(o, self.versions.get(&key).copied().unwrap_or(self.rv)));
        self.rv += 1;
        let object = self.json_of(&r, self.rv);
        self.versions.insert(key.clone(), self.rv);
        self.state.apply(r, None);
        self.record(
            ApiResource::of(key.kind),
            key.namespace,
            key.name,
            if created { "ADDED" } else { "MODIFIED" },
            object,
            before,
        );
    }

    /// Deletes an object; false when there was none.
    pub fn delete(&mut self, key: &ObjectKey) -> bool {
        let Some(old) = self.state.delete(key) else {
            return false;
        };
        self.versions.remove(key);
        self.rv += 1;
        let object = self.json_of(&old.resource, self.rv);
        self.record(
            ApiResource::of(key.kind),
            key.namespace.clone(),
            key.name.clone(),
            "DELETED",
            object,
            None,
        );
        true
    }

    /// Creates or replaces an object of any served type from its JSON,
    /// returning it as served. Model kinds are decoded (and so checked).
    pub fn put(&mut self, res: &'static ApiResource, mut body: Value) -> Result<Value, ApiError> {
        body["kind"] = json!(res.kind);
        if body["apiVersion"].is_null() {
            body["apiVersion"] = json!(res.api_version(res.versions[0]));
        }
        if let Some(kind) = res.model {
            let r = Resource::from_json(kind, body.clone()).map_err(|e| {
                ApiError::new(
                    400,
                    "BadRequest",
                    format!(
                        "{} in version {:?} cannot be handled as a {}: {e}",
                        res.kind, res.versions[0], res.kind
                    ),
                    json!({}),
                )
            })?;
            let key = r.key();
            self.apply(r);
            return Ok(self.get_model(&key).unwrap_or(Value::Null));
        }
        let namespace = if res.namespaced {
            body["metadata"]["namespace"]
                .as_str()
                .unwrap_or("default")
                .to_owned()
        } else {
            String::new()
        };
        let name = body["metadata"]["name"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        let key = StoredKey::new(res, &namespace, &name);
        let old = self.stored.get(&key).map(|(v, _)| v);
        let modified = old.is_some();
        let before = old.filter(|v| labels(v) != labels(&body)).cloned();
        self.rv += 1;
        if let Some(meta) = body["metadata"].as_object_mut() {
            meta.remove("resourceVersion");
        }
        self.stamp(&mut body, self.rv);
        self.stored.insert(key, (body.clone(), self.rv));
        let event = if modified { "MODIFIED" } else { "ADDED" };
        self.record(res, namespace, name, event, body.clone(), before);
        Ok(body)
    }

    /// Who owns which fields of an object (nobody, for objects the world
    /// holds from the start).
    pub fn managed(
        &self,
        res: &'static ApiResource,
        namespace: &str,
        name: &str,
    ) -> crate::cluster::rest::Managed {
        self.managed
            .get(&StoredKey::new(res, namespace, name))
            .cloned()
            .unwrap_or_default()
    }

    /// Records who owns which fields of an object after a write.
    pub fn set_managed(
        &mut self,
        res: &'static ApiResource,
        namespace: &str,
        name: &str,
        managed: crate::cluster::rest::Managed,
    ) {
        self.managed
            .insert(StoredKey::new(res, namespace, name), managed);
    }

    /// Deletes one object of any served type, returning it as it was.
    pub fn remove(
        &mut self,
        res: &'static ApiResource,
        namespace: &str,
        name: &str,
    ) -> Option<Value> {
        self.managed.remove(&StoredKey::new(res, namespace, name));
        if let Some(kind) = res.model {
            let key = ObjectKey::new(kind, namespace, name);
            let old = self.get_model(&key)?;
            self.delete(&key);
            return Some(old);
        }
        let key = StoredKey::new(res, namespace, name);
        let (mut old, _) = self.stored.remove(&key)?;
        self.rv += 1;
        old["metadata"]["resourceVersion"] = json!(self.rv.to_string());
        self.record(res, key.namespace, key.name, "DELETED", old.clone(), None);
        Some(old)
    }

    fn get_model(&self, key: &ObjectKey) -> Option<Value> {
        let s = self.state.objects.get(key)?;
        Some(self.json_of(
            &s.resource,
            self.versions.get(key).copied().unwrap_or(self.rv),
        ))
    }

    /// One object as served.
    pub fn get(&self, res: &'static ApiResource, namespace: &str, name: &str) -> Option<Value> {
        match res.model {
            Some(kind) => self.get_model(&ObjectKey::new(kind, namespace, name)),
            None => self
                .stored
                .get(&StoredKey::new(res, namespace, name))
                .map(|(v, _)| v.clone()),
        }
    }

    /// Every object of a type as served, in key order.
    fn all_of(&self, res: &'static ApiResource) -> Vec<Value> {
        match res.model {
            Some(kind) => self
                .state
                .objects
                .iter()
                .filter(|(k, _)| k.kind == kind)
                .map(|(k, s)| {
                    self.json_of(
                        &s.resource,
                        self.versions.get(k).copied().unwrap_or(self.rv),
                    )
                })
                .collect(),
            None => self
                .stored
                .iter()
                .filter(|(k, _)| k.plural == res.plural && k.group == res.group)
                .map(|(_, (v, _))| v.clone())
                .collect(),
        }
    }

    /// Checks that `identity` may `verb` the scope, and that it is served.
    pub fn authorize(&self, identity: &str, verb: &str, t: &Scope) -> Result<(), ApiError> {
        self.authorize_sub(identity, verb, t, t.status.then_some("status"))
    }

    /// As [`Self::authorize`], for a subresource (`pods/portforward`).
    pub fn authorize_sub(
        &self,
        identity: &str,
        verb: &str,
        t: &Scope,
        subresource: Option<&str>,
    ) -> Result<(), ApiError> {
        let resource = match subresource {
            Some(sub) => format!("{}/{sub}", t.res.plural),
            None => t.res.plural.to_owned(),
        };
        if self.faults.unavailable {
            return Err(unavailable());
        }
        if self.faults.crds_missing && t.res.group == "multicluster.x-k8s.io" {
            return Err(not_found_path());
        }
        if identity == ADMIN {
            return Ok(());
        }
        let access = Access {
            verb,
            group: t.res.group,
            resource: &resource,
        };
        // Only ClusterRoles are modelled: a binding grants every namespace.
        rbac::check(&self.state, identity, access).map_err(|mut d| {
            // A Namespace is the namespace of requests on it, as the API
            // server's request info has it.
            d.namespace = if t.res.plural == "namespaces" && t.name.is_some() {
                t.name.clone()
            } else {
                t.namespace.clone()
            };
            d.name = t.name.clone();
            ApiError::new(
                403,
                "Forbidden",
                d.message(),
                json!({"name": t.name.as_deref().unwrap_or_default(), "group": t.res.group, "kind": t.res.plural}),
            )
        })
    }

    /// A list response.
    pub fn list(&self, t: &Scope, filter: &Filter) -> Value {
        let items: Vec<Value> = self
            .all_of(t.res)
            .into_iter()
            .filter(|v| {
                t.covers(
                    v["metadata"]["namespace"].as_str().unwrap_or_default(),
                    v["metadata"]["name"].as_str().unwrap_or_default(),
                ) && filter.matches(v)
            })
            .map(|mut v| {
                v["apiVersion"] = json!(t.res.api_version(t.version));
                v
            })
            .collect();
        json!({"apiVersion": t.res.api_version(t.version), "kind": format!("{}List", t.res.kind), "metadata": {"resourceVersion": self.rv.to_string()}, "items": items})
    }
}

/// The objects of a world the model keeps aside (Deployments, ...) that the
/// API serves, as JSON with their namespace filled in.
fn served_others(state: &ClusterState) -> Vec<(&'static ApiResource, Value)> {
    state
        .others
        .iter()
        .filter_map(|(other, _)| {
            let res = ApiResource::by_kind(&other.api_version, &other.kind)?;
            let mut body = other.body.clone();
            if res.namespaced && body["metadata"]["namespace"].is_null() {
                body["metadata"]["namespace"] = json!("default");
            }
            Some((res, body))
        })
        .collect()
}

fn labels(v: &Value) -> Option<BTreeMap<String, String>> {
    serde_json::from_value(v["metadata"]["labels"].clone()).ok()
}

/// The time now as RFC 3339 (UTC, seconds), as `creationTimestamp` holds it.
fn rfc3339_now() -> String {
    k8s_openapi::jiff::Timestamp::now()
        .strftime("%Y-%m-%dT%H:%M:%SZ")
        .to_string()
}
