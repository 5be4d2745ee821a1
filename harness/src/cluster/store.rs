//! Keeps one cluster's objects as the API server does: every change gets a
//! resourceVersion and an event, lists and watches see a consistent order,
//! and RBAC decides who may read what.
//!
//! This is "what the API does", shared by every transport: the in-process
//! tower service behind `kube::Client` (`cluster::mock`) today.

use std::collections::BTreeMap;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use serde_json::{Value, json};
use tokio::sync::mpsc;

use crate::model::rbac::{self, Access};
use crate::model::{ClusterState, Kind, ObjectKey, Resource};

/// What a request asks for: one resource type, maybe one namespace.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Target {
    /// The kind served at the path.
    pub kind: Kind,
    /// The API group (`""` for core).
    pub group: &'static str,
    /// The plural resource name.
    pub resource: &'static str,
    /// The namespace, for namespaced requests.
    pub namespace: Option<String>,
}

/// The resources the API serves: (kind, group, version, plural).
pub const RESOURCES: &[(Kind, &str, &str, &str)] = &[
    (Kind::Namespace, "", "v1", "namespaces"),
    (Kind::Service, "", "v1", "services"),
    (
        Kind::EndpointSlice,
        "discovery.k8s.io",
        "v1",
        "endpointslices",
    ),
    (
        Kind::ServiceImport,
        "multicluster.x-k8s.io",
        "v1alpha1",
        "serviceimports",
    ),
    (
        Kind::ServiceImport,
        "multicluster.x-k8s.io",
        "v1beta1",
        "serviceimports",
    ),
    (
        Kind::ServiceExport,
        "multicluster.x-k8s.io",
        "v1alpha1",
        "serviceexports",
    ),
    (
        Kind::ServiceExport,
        "multicluster.x-k8s.io",
        "v1beta1",
        "serviceexports",
    ),
    (
        Kind::ClusterRole,
        "rbac.authorization.k8s.io",
        "v1",
        "clusterroles",
    ),
    (
        Kind::ClusterRoleBinding,
        "rbac.authorization.k8s.io",
        "v1",
        "clusterrolebindings",
    ),
];

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
    fn new(code: u16, reason: &str, message: String, details: Value) -> ApiError {
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
    kind: Kind,
    namespace: String,
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
    target: Target,
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

/// One cluster's API: objects, resourceVersions, watches, RBAC.
pub struct ApiStore {
    state: ClusterState,
    versions: BTreeMap<ObjectKey, u64>,
    rv: u64,
    log: Vec<Event>,
    /// Watches from a resourceVersion older than this get 410 Gone.
    oldest: u64,
    watches: Vec<Watch>,
    /// Faults in force.
    pub faults: Faults,
}

impl ApiStore {
    /// The API of a cluster's objects, each created in key order.
    pub fn new(state: &ClusterState) -> Self {
        let mut store = ApiStore {
            state: ClusterState {
                objects: BTreeMap::new(),
                ..state.clone()
            },
            versions: BTreeMap::new(),
            rv: 0,
            log: Vec::new(),
            oldest: 0,
            watches: Vec::new(),
            faults: Faults::default(),
        };
        for s in state.objects.values() {
            store.apply(s.resource.clone());
        }
        store
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
        v["metadata"]["resourceVersion"] = json!(rv.to_string());
        if v["metadata"]["uid"].is_null() {
            let key = r.key();
            v["metadata"]["uid"] =
                json!(format!("{}-{}-{}", key.kind, key.namespace, key.name).to_lowercase());
        }
        v
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
            key,
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
        self.record(key.clone(), "DELETED", object, None);
        true
    }

    fn record(
        &mut self,
        key: ObjectKey,
        kind_of_event: &'static str,
        object: Value,
        old_labels: Option<Option<BTreeMap<String, String>>>,
    ) {
        let e = Event {
            rv: self.rv,
            kind: key.kind,
            namespace: key.namespace,
            kind_of_event,
            object,
            old_labels,
        };
        self.watches.retain_mut(|w| {
            if w.target.kind != e.kind
                || w.target
                    .namespace
                    .as_ref()
                    .is_some_and(|ns| *ns != e.namespace)
            {
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

    /// Checks that `identity` may `verb` the target, and that it is served.
    pub fn authorize(&self, identity: &str, verb: &str, t: &Target) -> Result<(), ApiError> {
        if self.faults.unavailable {
            return Err(ApiError::new(
                503,
                "ServiceUnavailable",
                "the server is currently unable to handle the request".into(),
                json!({}),
            ));
        }
        if self.faults.crds_missing && t.group == "multicluster.x-k8s.io" {
            return Err(ApiError::new(
                404,
                "NotFound",
                "the server could not find the requested resource".into(),
                json!({}),
            ));
        }
        let access = Access {
            verb,
            group: t.group,
            resource: t.resource,
        };
        let decision = match &t.namespace {
            None => rbac::check(&self.state, identity, access),
            // ClusterRoles bound cluster-wide grant every namespace too.
            Some(_) => rbac::check(&self.state, identity, access),
        };
        decision.map_err(|d| {
            let message = match &t.namespace {
                Some(ns) => d.message.replace(
                    "at the cluster scope",
                    &format!("in the namespace \"{ns}\""),
                ),
                None => d.message,
            };
            ApiError::new(
                403,
                "Forbidden",
                message,
                json!({"group": t.group, "kind": t.resource}),
            )
        })
    }

    /// A list response.
    pub fn list(&self, t: &Target, selector: &Selector) -> Value {
        let items: Vec<Value> = self
            .state
            .objects
            .iter()
            .filter(|(k, _)| {
                k.kind == t.kind && t.namespace.as_ref().is_none_or(|ns| *ns == k.namespace)
            })
            .map(|(k, s)| {
                self.json_of(
                    &s.resource,
                    self.versions.get(k).copied().unwrap_or(self.rv),
                )
            })
            .filter(|v| selector.matches(labels(v).as_ref()))
            .collect();
        let version = if t.group.is_empty() {
            "v1".to_owned()
        } else {
            format!("{}/{}", t.group, api_version_of(t.kind))
        };
        json!({"apiVersion": version, "kind": format!("{}List", t.kind), "metadata": {"resourceVersion": self.rv.to_string()}, "items": items})
    }

    /// Opens a watch from `from`: the events after it (or 410 Gone), then
    /// every later change, on the returned channel; the counter tells how
    /// many of them the reader has taken.
    pub fn watch(
        &mut self,
        t: Target,
        selector_text: &str,
        from: u64,
    ) -> (mpsc::UnboundedReceiver<Value>, Arc<Delivery>) {
        let (tx, rx) = mpsc::unbounded_channel();
        let selector = Selector::parse(selector_text);
        let mut w = Watch {
            last: from.max(self.oldest.saturating_sub(1)),
            target: t,
            selector,
            selector_text: selector_text.to_owned(),
            tx,
            delivery: Arc::default(),
        };
        if from != 0 && from.saturating_add(1) < self.oldest {
            let _ = w.send(json!({"type": "ERROR", "object": gone(from, self.oldest).status}));
            return (rx, w.delivery);
        }
        for e in self.log.iter().filter(|e| e.rv > from) {
            if e.kind == w.target.kind
                && w.target
                    .namespace
                    .as_ref()
                    .is_none_or(|ns| *ns == e.namespace)
                && let Some(t) = e.seen_as(&w.selector)
            {
                w.last = e.rv;
                let _ = w.send(json!({"type": t, "object": e.object}));
            }
        }
        // A bookmark tells the client how far it has seen, even with no event.
        let bookmark_kind = w.target.kind.as_str();
        let _ = w.send(json!({"type": "BOOKMARK", "object": {"kind": bookmark_kind, "apiVersion": "v1", "metadata": {"resourceVersion": self.rv.to_string()}}}));
        let delivery = w.delivery.clone();
        self.watches.push(w);
        (rx, delivery)
    }

    /// Whether a watch of `kind` with exactly this selector is open.
    pub fn is_watched(&self, kind: Kind, selector_text: &str) -> bool {
        self.watches
            .iter()
            .any(|w| w.target.kind == kind && w.selector_text == selector_text && !w.tx.is_closed())
    }

    /// Whether any open watch holds events its reader has not taken yet.
    pub fn has_undelivered(&self) -> bool {
        self.watches
            .iter()
            .any(|w| !w.tx.is_closed() && w.delivery.pending())
    }
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

fn api_version_of(kind: Kind) -> &'static str {
    match kind {
        Kind::ServiceImport | Kind::ServiceExport => "v1alpha1",
        _ => "v1",
    }
}

/// Finds what a request path names: `/api/v1/[namespaces/{ns}/]{resource}`
/// or `/apis/{group}/{version}/[namespaces/{ns}/]{resource}`.
pub fn route(path: &str) -> Option<Target> {
    let parts: Vec<&str> = path.trim_matches('/').split('/').collect();
    let (group, version, rest) = match parts.as_slice() {
        ["api", version, rest @ ..] => ("", *version, rest),
        ["apis", group, version, rest @ ..] => (*group, *version, rest),
        _ => return None,
    };
    let (namespace, resource) = match rest {
        [resource] => (None, *resource),
        ["namespaces", ns, resource] => (Some(ns.to_string()), *resource),
        _ => return None,
    };
    let (kind, group, _, resource) = RESOURCES
        .iter()
        .copied()
        .find(|(_, g, v, r)| *g == group && *v == version && *r == resource)?;
    Some(Target {
        kind,
        group,
        resource,
        namespace,
    })
}
