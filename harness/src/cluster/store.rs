//! Keeps one cluster's objects as the API server does: every change gets a
//! resourceVersion and an event, lists and watches see a consistent order,
//! and RBAC decides who may read what.
//!
//! This is "what the API does", shared by every transport through
//! `cluster::rest`: the in-process tower service behind `kube::Client`
//! (`cluster::mock`) and the HTTP(S) emulator (`cluster::http`).

use std::collections::BTreeMap;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use serde_json::{Value, json};
use tokio::sync::mpsc;

use crate::model::rbac::{self, Access};
use crate::model::{ClusterState, Kind, ObjectKey, Resource};

/// A cluster's API, shared by its clients and the scenario that changes it.
pub type SharedApi = Arc<std::sync::Mutex<ApiStore>>;

/// A resource type the API serves.
#[derive(Debug, PartialEq, Eq)]
pub struct ApiResource {
    /// Its kind, as manifests spell it.
    pub kind: &'static str,
    /// The model's kind, for the types DNS reads; `None` for types the API
    /// only stores (Deployments, ConfigMaps, Karmada policies).
    pub model: Option<Kind>,
    /// The API group (`""` for core).
    pub group: &'static str,
    /// The versions served, preferred first.
    pub versions: &'static [&'static str],
    /// The plural resource name (the path segment).
    pub plural: &'static str,
    /// The singular name (`kubectl get service`).
    pub singular: &'static str,
    /// Whether objects live in a namespace.
    pub namespaced: bool,
    /// Short names (`svc`, `ep`).
    pub short_names: &'static [&'static str],
}

impl ApiResource {
    /// The resource a model kind is served as.
    pub fn of(kind: Kind) -> &'static ApiResource {
        RESOURCES
            .iter()
            .find(|r| r.model == Some(kind))
            .unwrap_or(&RESOURCES[0])
    }

    /// The resource of a path's group and plural (`""`, `pods`).
    pub fn by_plural(group: &str, plural: &str) -> Option<&'static ApiResource> {
        RESOURCES
            .iter()
            .find(|r| r.group == group && r.plural == plural)
    }

    /// The resource of a manifest's `apiVersion` and `kind`.
    pub fn by_kind(api_version: &str, kind: &str) -> Option<&'static ApiResource> {
        let (group, version) = api_version.rsplit_once('/').unwrap_or(("", api_version));
        RESOURCES
            .iter()
            .find(|r| r.kind == kind && r.group == group && r.versions.contains(&version))
    }

    /// `group/version` for the preferred version (`v1` for core).
    pub fn api_version(&self, version: &str) -> String {
        if self.group.is_empty() {
            version.to_owned()
        } else {
            format!("{}/{version}", self.group)
        }
    }
}

/// The resources the API serves.
pub const RESOURCES: &[ApiResource] = &[
    ApiResource {
        kind: "Namespace",
        model: Some(Kind::Namespace),
        group: "",
        versions: &["v1"],
        plural: "namespaces",
        singular: "namespace",
        namespaced: false,
        short_names: &["ns"],
    },
    ApiResource {
        kind: "Service",
        model: Some(Kind::Service),
        group: "",
        versions: &["v1"],
        plural: "services",
        singular: "service",
        namespaced: true,
        short_names: &["svc"],
    },
    ApiResource {
        kind: "EndpointSlice",
        model: Some(Kind::EndpointSlice),
        group: "discovery.k8s.io",
        versions: &["v1"],
        plural: "endpointslices",
        singular: "endpointslice",
        namespaced: true,
        short_names: &[],
    },
    ApiResource {
        kind: "ServiceImport",
        model: Some(Kind::ServiceImport),
        group: "multicluster.x-k8s.io",
        versions: &["v1alpha1", "v1beta1"],
        plural: "serviceimports",
        singular: "serviceimport",
        namespaced: true,
        short_names: &["svcim"],
    },
    ApiResource {
        kind: "ServiceExport",
        model: Some(Kind::ServiceExport),
        group: "multicluster.x-k8s.io",
        versions: &["v1alpha1", "v1beta1"],
        plural: "serviceexports",
        singular: "serviceexport",
        namespaced: true,
        short_names: &["svcex"],
    },
    ApiResource {
        kind: "ClusterRole",
        model: Some(Kind::ClusterRole),
        group: "rbac.authorization.k8s.io",
        versions: &["v1"],
        plural: "clusterroles",
        singular: "clusterrole",
        namespaced: false,
        short_names: &[],
    },
    ApiResource {
        kind: "ClusterRoleBinding",
        model: Some(Kind::ClusterRoleBinding),
        group: "rbac.authorization.k8s.io",
        versions: &["v1"],
        plural: "clusterrolebindings",
        singular: "clusterrolebinding",
        namespaced: false,
        short_names: &[],
    },
    ApiResource {
        kind: "ConfigMap",
        model: None,
        group: "",
        versions: &["v1"],
        plural: "configmaps",
        singular: "configmap",
        namespaced: true,
        short_names: &["cm"],
    },
    ApiResource {
        kind: "ServiceAccount",
        model: None,
        group: "",
        versions: &["v1"],
        plural: "serviceaccounts",
        singular: "serviceaccount",
        namespaced: true,
        short_names: &["sa"],
    },
    ApiResource {
        kind: "Pod",
        model: None,
        group: "",
        versions: &["v1"],
        plural: "pods",
        singular: "pod",
        namespaced: true,
        short_names: &["po"],
    },
    ApiResource {
        kind: "Deployment",
        model: None,
        group: "apps",
        versions: &["v1"],
        plural: "deployments",
        singular: "deployment",
        namespaced: true,
        short_names: &["deploy"],
    },
    ApiResource {
        kind: "PropagationPolicy",
        model: None,
        group: "policy.karmada.io",
        versions: &["v1alpha1"],
        plural: "propagationpolicies",
        singular: "propagationpolicy",
        namespaced: true,
        short_names: &["pp"],
    },
    ApiResource {
        kind: "ClusterPropagationPolicy",
        model: None,
        group: "policy.karmada.io",
        versions: &["v1alpha1"],
        plural: "clusterpropagationpolicies",
        singular: "clusterpropagationpolicy",
        namespaced: false,
        short_names: &["cpp"],
    },
];

/// What a request asks for: one resource type, maybe one namespace, maybe
/// one object.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Scope {
    /// The resource type served at the path.
    pub res: &'static ApiResource,
    /// The version asked for.
    pub version: &'static str,
    /// The namespace, for namespaced requests.
    pub namespace: Option<String>,
    /// The object's name, for requests on one object.
    pub name: Option<String>,
}

impl Scope {
    /// The whole collection of a resource type, all namespaces.
    pub fn all(res: &'static ApiResource) -> Scope {
        Scope {
            res,
            version: res.versions[0],
            namespace: None,
            name: None,
        }
    }

    /// Whether an object in `namespace` named `name` is in scope.
    fn covers(&self, namespace: &str, name: &str) -> bool {
        self.namespace.as_ref().is_none_or(|ns| ns == namespace)
            && self.name.as_ref().is_none_or(|n| n == name)
    }
}

/// A label selector: `a=b`, `a!=b`, `a`, `!a`, comma separated.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Selector(Vec<(String, Op)>);

#[derive(Clone, Debug, PartialEq, Eq)]
enum Op {
    Eq(String),
    Ne(String),
    Exists,
    Absent,
}

impl Selector {
    /// Parses a `labelSelector` query value.
    pub fn parse(s: &str) -> Selector {
        let terms = s
            .split(',')
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .map(|t| {
                if let Some((k, v)) = t.split_once("!=") {
                    (k.trim().to_owned(), Op::Ne(v.trim().to_owned()))
                } else if let Some((k, v)) = t.split_once("==").or_else(|| t.split_once('=')) {
                    (k.trim().to_owned(), Op::Eq(v.trim().to_owned()))
                } else if let Some(k) = t.strip_prefix('!') {
                    (k.trim().to_owned(), Op::Absent)
                } else {
                    (t.to_owned(), Op::Exists)
                }
            })
            .collect();
        Selector(terms)
    }

    /// Whether an object's labels match.
    pub fn matches(&self, labels: Option<&BTreeMap<String, String>>) -> bool {
        self.0.iter().all(|(k, op)| {
            let v = labels.and_then(|l| l.get(k));
            match op {
                Op::Eq(want) => v == Some(want),
                Op::Ne(want) => v != Some(want),
                Op::Exists => v.is_some(),
                Op::Absent => v.is_none(),
            }
        })
    }
}

/// An error as the API server returns it: HTTP code and `Status` body.
#[derive(Clone, Debug, PartialEq)]
pub struct ApiError {
    /// HTTP status code.
    pub code: u16,
    /// The `Status` object.
    pub status: Value,
}

impl ApiError {
    /// A `Status` failure as the API server words it.
    pub fn new(code: u16, reason: &str, message: String, details: Value) -> ApiError {
        ApiError {
            code,
            status: json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                "message": message, "reason": reason, "details": details, "code": code}),
        }
    }

    /// The message of the Status.
    pub fn message(&self) -> &str {
        self.status["message"].as_str().unwrap_or_default()
    }
}

/// One recorded change.
#[derive(Clone, Debug)]
struct Event {
    rv: u64,
    res: &'static ApiResource,
    namespace: String,
    name: String,
    kind_of_event: &'static str,
    object: Value,
    /// The labels before a modification, to tell selector transitions.
    old_labels: Option<Option<BTreeMap<String, String>>>,
}

impl Event {
    /// What a watch with `selector` sees of this change, as the API server
    /// does: an object that starts matching is ADDED, one that stops is DELETED.
    fn seen_as(&self, selector: &Selector) -> Option<&'static str> {
        let now = selector.matches(labels(&self.object).as_ref());
        match (self.kind_of_event, &self.old_labels) {
            ("MODIFIED", Some(old)) => match (selector.matches(old.as_ref()), now) {
                (true, true) => Some("MODIFIED"),
                (false, true) => Some("ADDED"),
                (true, false) => Some("DELETED"),
                (false, false) => None,
            },
            (kind, _) => now.then_some(kind),
        }
    }

    fn is_for(&self, t: &Scope) -> bool {
        std::ptr::eq(self.res, t.res) && t.covers(&self.namespace, &self.name)
    }
}

/// How many events a watch was sent and how many its reader has taken.
#[derive(Debug, Default)]
pub struct Delivery {
    sent: AtomicU64,
    taken: AtomicU64,
}

impl Delivery {
    /// Counts one event taken by the reader.
    pub fn take_one(&self) {
        self.taken.fetch_add(1, Ordering::SeqCst);
    }

    fn pending(&self) -> bool {
        self.sent.load(Ordering::SeqCst) != self.taken.load(Ordering::SeqCst)
    }
}

struct Watch {
    /// The newest resourceVersion this watch has delivered.
    last: u64,
    scope: Scope,
    selector: Selector,
    selector_text: String,
    tx: mpsc::UnboundedSender<Value>,
    delivery: Arc<Delivery>,
}

impl Watch {
    fn send(&self, v: Value) -> bool {
        self.delivery.sent.fetch_add(1, Ordering::SeqCst);
        self.tx.send(v).is_ok()
    }
}

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
    log: Vec<Event>,
    /// Watches from a resourceVersion older than this get 410 Gone.
    oldest: u64,
    watches: Vec<Watch>,
    /// When objects were created, for `creationTimestamp`.
    created: String,
    /// Faults in force.
    pub faults: Faults,
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
            log: Vec::new(),
            oldest: 0,
            watches: Vec::new(),
            created: rfc3339_now(),
            faults: Faults::default(),
        };
        for s in state.objects.values() {
            store.apply(s.resource.clone());
        }
        for (res, body) in served_others(state) {
            let _ = store.put(res, body);
        }
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

    /// The objects as they are now.
    pub fn state(&self) -> &ClusterState {
        &self.state
    }

    /// The resourceVersion of one object.
    pub fn version_of(&self, key: &ObjectKey) -> Option<u64> {
        self.versions.get(key).copied()
    }

    /// The current resourceVersion.
    pub fn resource_version(&self) -> u64 {
        self.rv
    }

    fn json_of(&self, r: &Resource, rv: u64) -> Value {
        let mut v = r.to_json();
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
        let old_labels = self
            .state
            .objects
            .get(&key)
            .map(|s| s.resource.metadata().labels.clone());
        let created = old_labels.is_none();
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
            old_labels,
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
        let key = StoredKey {
            plural: res.plural,
            group: res.group,
            namespace: namespace.clone(),
            name: name.clone(),
        };
        let old_labels = self.stored.get(&key).map(|(v, _)| labels(v));
        self.rv += 1;
        if let Some(meta) = body["metadata"].as_object_mut() {
            meta.remove("resourceVersion");
        }
        self.stamp(&mut body, self.rv);
        self.stored.insert(key, (body.clone(), self.rv));
        let event = if old_labels.is_some() {
            "MODIFIED"
        } else {
            "ADDED"
        };
        self.record(res, namespace, name, event, body.clone(), old_labels);
        Ok(body)
    }

    /// Deletes one object of any served type, returning it as it was.
    pub fn remove(
        &mut self,
        res: &'static ApiResource,
        namespace: &str,
        name: &str,
    ) -> Option<Value> {
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

    fn record(
        &mut self,
        res: &'static ApiResource,
        namespace: String,
        name: String,
        kind_of_event: &'static str,
        object: Value,
        old_labels: Option<Option<BTreeMap<String, String>>>,
    ) {
        let e = Event {
            rv: self.rv,
            res,
            namespace,
            name,
            kind_of_event,
            object,
            old_labels,
        };
        self.watches.retain_mut(|w| {
            if !e.is_for(&w.scope) {
                return !w.tx.is_closed();
            }
            match e.seen_as(&w.selector) {
                Some(t) => {
                    w.last = e.rv;
                    w.send(json!({"type": t, "object": e.object}))
                }
                None => !w.tx.is_closed(),
            }
        });
        self.log.push(e);
    }

    /// Ends every open watch (a dropped connection); clients re-watch.
    pub fn drop_watches(&mut self) {
        self.watches.clear();
    }

    /// Forgets the event history: a watch from any older resourceVersion
    /// gets 410 Gone and the client must list again.
    pub fn expire_history(&mut self) {
        self.oldest = self.rv + 1;
        self.log.clear();
        for w in self.watches.drain(..) {
            let _ = w.send(json!({"type": "ERROR", "object": gone(w.last, self.oldest).status}));
        }
    }

    /// Checks that `identity` may `verb` the scope, and that it is served.
    pub fn authorize(&self, identity: &str, verb: &str, t: &Scope) -> Result<(), ApiError> {
        self.authorize_sub(identity, verb, t, None)
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
            return Err(ApiError::new(
                503,
                "ServiceUnavailable",
                "the server is currently unable to handle the request".into(),
                json!({}),
            ));
        }
        if self.faults.crds_missing && t.res.group == "multicluster.x-k8s.io" {
            return Err(ApiError::new(
                404,
                "NotFound",
                "the server could not find the requested resource".into(),
                json!({}),
            ));
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
            d.namespace = t.namespace.clone();
            d.name = t.name.clone();
            ApiError::new(
                403,
                "Forbidden",
                d.message(),
                json!({"group": t.res.group, "kind": t.res.plural}),
            )
        })
    }

    /// A list response.
    pub fn list(&self, t: &Scope, selector: &Selector) -> Value {
        let items: Vec<Value> = self
            .all_of(t.res)
            .into_iter()
            .filter(|v| {
                t.covers(
                    v["metadata"]["namespace"].as_str().unwrap_or_default(),
                    v["metadata"]["name"].as_str().unwrap_or_default(),
                ) && selector.matches(labels(v).as_ref())
            })
            .map(|mut v| {
                v["apiVersion"] = json!(t.res.api_version(t.version));
                v
            })
            .collect();
        json!({"apiVersion": t.res.api_version(t.version), "kind": format!("{}List", t.res.kind), "metadata": {"resourceVersion": self.rv.to_string()}, "items": items})
    }

    /// Opens a watch from `from`: the events after it (or 410 Gone), then
    /// every later change, on the returned channel; the counter tells how
    /// many of them the reader has taken.
    pub fn watch(
        &mut self,
        t: Scope,
        selector_text: &str,
        from: u64,
    ) -> (mpsc::UnboundedReceiver<Value>, Arc<Delivery>) {
        let (tx, rx) = mpsc::unbounded_channel();
        let selector = Selector::parse(selector_text);
        let mut w = Watch {
            last: from.max(self.oldest.saturating_sub(1)),
            scope: t,
            selector,
            selector_text: selector_text.to_owned(),
            tx,
            delivery: Arc::default(),
        };
        if from != 0 && from.saturating_add(1) < self.oldest {
            let _ = w.send(json!({"type": "ERROR", "object": gone(from, self.oldest).status}));
            return (rx, w.delivery);
        }
        if from == 0 {
            // Watching from "any version" starts with the current objects, as ADDED.
            for mut v in self.all_of(w.scope.res) {
                let (ns, name) = (
                    v["metadata"]["namespace"]
                        .as_str()
                        .unwrap_or_default()
                        .to_owned(),
                    v["metadata"]["name"]
                        .as_str()
                        .unwrap_or_default()
                        .to_owned(),
                );
                if w.scope.covers(&ns, &name) && w.selector.matches(labels(&v).as_ref()) {
                    v["apiVersion"] = json!(w.scope.res.api_version(w.scope.version));
                    let _ = w.send(json!({"type": "ADDED", "object": v}));
                }
            }
        } else {
            for e in self.log.iter().filter(|e| e.rv > from) {
                if e.is_for(&w.scope)
                    && let Some(t) = e.seen_as(&w.selector)
                {
                    w.last = e.rv;
                    let _ = w.send(json!({"type": t, "object": e.object}));
                }
            }
        }
        w.last = w.last.max(self.rv);
        // A bookmark tells the client how far it has seen, even with no
        // event. After initial events it carries the annotation that ends a
        // streaming list (client-go's WatchList, `sendInitialEvents=true`).
        let mut meta = json!({"resourceVersion": self.rv.to_string()});
        if from == 0 {
            meta["annotations"] = json!({"k8s.io/initial-events-end": "true"});
        }
        let _ = w.send(json!({"type": "BOOKMARK", "object": {"kind": w.scope.res.kind, "apiVersion": w.scope.res.api_version(w.scope.version), "metadata": meta}}));
        let delivery = w.delivery.clone();
        self.watches.push(w);
        (rx, delivery)
    }

    /// Whether a watch of `kind` with exactly this selector is open.
    pub fn is_watched(&self, kind: Kind, selector_text: &str) -> bool {
        let res = ApiResource::of(kind);
        self.watches.iter().any(|w| {
            std::ptr::eq(w.scope.res, res) && w.selector_text == selector_text && !w.tx.is_closed()
        })
    }

    /// Whether any open watch holds events its reader has not taken yet.
    pub fn has_undelivered(&self) -> bool {
        self.watches
            .iter()
            .any(|w| !w.tx.is_closed() && w.delivery.pending())
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

/// 410 Gone: `from` is older than `oldest`, the oldest version still served.
fn gone(from: u64, oldest: u64) -> ApiError {
    ApiError::new(
        410,
        "Expired",
        format!("too old resource version: {from} ({oldest})"),
        json!({}),
    )
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

/// Finds what a request path names:
/// `/api/v1/[namespaces/{ns}/]{resource}[/{name}]` or
/// `/apis/{group}/{version}/[namespaces/{ns}/]{resource}[/{name}]`.
pub fn route(path: &str) -> Option<Scope> {
    let parts: Vec<&str> = path.trim_matches('/').split('/').collect();
    let (group, version, rest) = match parts.as_slice() {
        ["api", version, rest @ ..] => ("", *version, rest),
        ["apis", group, version, rest @ ..] => (*group, *version, rest),
        _ => return None,
    };
    let (namespace, resource, name) = match rest {
        [resource] => (None, *resource, None),
        // `namespaces/{name}` is one Namespace, not a namespace's collection.
        ["namespaces", name] => (None, "namespaces", Some(name.to_string())),
        [resource, name] => (None, *resource, Some(name.to_string())),
        ["namespaces", ns, resource] => (Some(ns.to_string()), *resource, None),
        ["namespaces", ns, resource, name] => {
            (Some(ns.to_string()), *resource, Some(name.to_string()))
        }
        _ => return None,
    };
    let res = ApiResource::by_plural(group, resource)?;
    let version = res.versions.iter().copied().find(|v| *v == version)?;
    if namespace.is_some() && !res.namespaced {
        return None;
    }
    Some(Scope {
        res,
        version,
        namespace,
        name,
    })
}
