//! Reads one live cluster with get and list only (and access reviews),
//! counting every API call; never Secrets.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use k8s_openapi::api::authorization::v1::{
    ResourceAttributes, SubjectAccessReview, SubjectAccessReviewSpec,
};
use kube::api::{ListParams, PostParams};
use kube::core::DynamicObject;
use serde_json::Value;

use crate::cluster::control_plane::world::{kube_resource, reason};
use crate::model::kinds::ApiResource;
use crate::model::{ClusterState, Kind, OtherObject, Resource};

/// Why a live cluster could not be read.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum LiveError {
    /// The kubeconfig or context is unusable.
    #[error("context {context}: {why}")]
    #[diagnostic(help("check --kubeconfig and --context (`kubectl config get-contexts`)"))]
    Connect {
        /// The context.
        context: String,
        /// Why.
        why: String,
    },
    /// A request failed.
    #[error("context {context}: cannot {what}: {why}")]
    Request {
        /// The context.
        context: String,
        /// What was asked.
        what: String,
        /// The API's words.
        why: String,
    },
    /// The captured scenario could not be recorded.
    #[error("cannot record the captured scenario: {why}")]
    #[diagnostic(help(
        "the files are written; `mcsdns run --record` on the scenario shows the error in full"
    ))]
    Record {
        /// Why.
        why: String,
    },
    /// A file could not be written.
    #[error("cannot write {}: {why}", path.display())]
    Write {
        /// The file.
        path: PathBuf,
        /// Why.
        why: String,
    },
}

/// Labels and namespace that narrow what is read (`--namespace`, `--selector`).
#[derive(Clone, Debug, Default)]
pub struct Narrow {
    /// Only these namespaces (empty: all).
    pub namespaces: Vec<String>,
    /// A label selector for Services, EndpointSlices, ServiceImports and ServiceExports.
    pub selector: Option<String>,
}

impl Narrow {
    /// Whether `ns` is read.
    pub fn keeps(&self, ns: &str) -> bool {
        self.namespaces.is_empty() || self.namespaces.iter().any(|n| n == ns)
    }
}

/// One cluster's API, read through a kubeconfig context.
#[derive(Clone)]
pub struct Reader {
    client: kube::Client,
    /// The context it reads through.
    pub context: String,
    calls: Arc<AtomicUsize>,
}

/// What a list returned: the objects, or the API's refusal.
pub type Listed = Result<Vec<Value>, ReadError>;

/// A refused or failed read, kept to say what could not be checked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReadError {
    /// HTTP status (0: no answer).
    pub code: u16,
    /// The API's words.
    pub message: String,
}

impl std::fmt::Display for ReadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

fn read_error(e: &kube::Error) -> ReadError {
    ReadError {
        code: match e {
            kube::Error::Api(s) => s.code,
            _ => 0,
        },
        message: reason(e),
    }
}

impl Reader {
    /// Connects through `context` of `kubeconfig`; `calls` counts every request.
    pub async fn connect(
        kubeconfig: &Path,
        context: &str,
        calls: Arc<AtomicUsize>,
    ) -> Result<Reader, LiveError> {
        let client = crate::cluster::follow::client(kubeconfig, Some(context), None)
            .await
            .map_err(|e| LiveError::Connect {
                context: context.to_owned(),
                why: e.to_string(),
            })?;
        Ok(Reader {
            client,
            context: context.to_owned(),
            calls,
        })
    }

    /// The API calls made so far (by every reader sharing the counter).
    pub fn calls(&self) -> usize {
        self.calls.load(Ordering::Relaxed)
    }

    fn api(&self, res: &ApiResource, namespace: Option<&str>) -> kube::Api<DynamicObject> {
        let ar = kube_resource(res);
        match namespace {
            Some(ns) if res.namespaced => kube::Api::namespaced_with(self.client.clone(), ns, &ar),
            _ => kube::Api::all_with(self.client.clone(), &ar),
        }
    }

    /// Lists every object of `res` (all namespaces unless `namespace`), page by page.
    pub async fn list(
        &self,
        res: &ApiResource,
        namespace: Option<&str>,
        selector: Option<&str>,
    ) -> Listed {
        debug_assert_ne!(res.kind, "Secret", "mcsdns never reads Secrets");
        let api = self.api(res, namespace);
        let mut out = Vec::new();
        let mut params = ListParams::default().limit(500);
        if let Some(s) = selector {
            params = params.labels(s);
        }
        loop {
            self.calls.fetch_add(1, Ordering::Relaxed);
            let page = api.list(&params).await.map_err(|e| read_error(&e))?;
            for o in page.items {
                let mut v = serde_json::to_value(&o).unwrap_or(Value::Null);
                if v["apiVersion"].is_null() {
                    v["apiVersion"] = res.api_version(res.versions[0]).into();
                }
                if v["kind"].is_null() {
                    v["kind"] = res.kind.into();
                }
                out.push(v);
            }
            match page.metadata.continue_.filter(|c| !c.is_empty()) {
                Some(c) => params = params.continue_token(&c),
                None => return Ok(out),
            }
        }
    }

    /// Gets one object; `Ok(None)` when it does not exist.
    pub async fn get(
        &self,
        res: &ApiResource,
        namespace: &str,
        name: &str,
    ) -> Result<Option<Value>, ReadError> {
        self.calls.fetch_add(1, Ordering::Relaxed);
        match self.api(res, Some(namespace)).get_opt(name).await {
            Ok(o) => Ok(o.map(|o| {
                let mut v = serde_json::to_value(&o).unwrap_or(Value::Null);
                if v["kind"].is_null() {
                    v["kind"] = res.kind.into();
                }
                v
            })),
            Err(e) => Err(read_error(&e)),
        }
    }

    /// Asks the API (a SubjectAccessReview) whether `user` may `verb` the
    /// `resource` of `group` at the cluster scope.
    pub async fn may(
        &self,
        user: &str,
        verb: &str,
        group: &str,
        resource: &str,
    ) -> Result<bool, ReadError> {
        let groups = match user.strip_prefix("system:serviceaccount:") {
            Some(rest) => {
                let ns = rest.split(':').next().unwrap_or_default();
                vec![
                    "system:serviceaccounts".to_owned(),
                    format!("system:serviceaccounts:{ns}"),
                    "system:authenticated".to_owned(),
                ]
            }
            None => vec!["system:authenticated".to_owned()],
        };
        let review = SubjectAccessReview {
            spec: SubjectAccessReviewSpec {
                user: Some(user.to_owned()),
                groups: Some(groups),
                resource_attributes: Some(ResourceAttributes {
                    verb: Some(verb.to_owned()),
                    group: Some(group.to_owned()),
                    resource: Some(resource.to_owned()),
                    ..Default::default()
                }),
                ..Default::default()
            },
            ..Default::default()
        };
        self.calls.fetch_add(1, Ordering::Relaxed);
        let api: kube::Api<SubjectAccessReview> = kube::Api::all(self.client.clone());
        let done = api
            .create(&PostParams::default(), &review)
            .await
            .map_err(|e| read_error(&e))?;
        Ok(done.status.is_some_and(|s| s.allowed))
    }
}

/// The kinds of the model a live cluster is read for, in the order they are read.
pub const READ_KINDS: [Kind; 7] = Kind::ALL;

/// Server-managed fields, dropped from what is written or compared.
pub fn strip_managed(v: &mut Value) {
    if let Some(meta) = v.get_mut("metadata").and_then(Value::as_object_mut) {
        for f in [
            "managedFields",
            "resourceVersion",
            "uid",
            "creationTimestamp",
            "generation",
            "selfLink",
            "deletionTimestamp",
            "deletionGracePeriodSeconds",
            "ownerReferences",
        ] {
            meta.remove(f);
        }
        if let Some(a) = meta.get_mut("annotations").and_then(Value::as_object_mut) {
            a.remove("kubectl.kubernetes.io/last-applied-configuration");
            a.remove("endpoints.kubernetes.io/last-change-trigger-time");
            if a.is_empty() {
                meta.remove("annotations");
            }
        }
    }
}

/// What was read of one cluster: the model's objects, the others DNS
/// checks look at, and what could not be read.
#[derive(Clone, Debug)]
pub struct Snapshot {
    /// The model's objects (and others: Pods, Deployments, the Corefile's ConfigMap).
    pub state: ClusterState,
    /// Kinds or objects that could not be read, with the API's words.
    pub unread: BTreeMap<String, ReadError>,
}

/// Reads a cluster's objects of the model's kinds (narrowed), plus Pods
/// and Deployments of the narrowed namespaces when `workloads`.
pub async fn read_cluster(
    reader: &Reader,
    name: &str,
    narrow: &Narrow,
    workloads: bool,
) -> Snapshot {
    let mut state = ClusterState::new(name);
    let mut unread = BTreeMap::new();
    for kind in READ_KINDS {
        let res = ApiResource::of(kind);
        let selector = match kind {
            Kind::Service | Kind::EndpointSlice | Kind::ServiceImport | Kind::ServiceExport => {
                narrow.selector.as_deref()
            }
            _ => None,
        };
        let listed = if kind.is_namespaced() && narrow.namespaces.len() == 1 {
            reader
                .list(res, Some(&narrow.namespaces[0]), selector)
                .await
        } else {
            reader.list(res, None, selector).await
        };
        match listed {
            Ok(items) => {
                for mut v in items {
                    let ns = v["metadata"]["namespace"].as_str().unwrap_or("").to_owned();
                    if kind.is_namespaced() && !narrow.keeps(&ns) {
                        continue;
                    }
                    if kind == Kind::Namespace
                        && !narrow.keeps(v["metadata"]["name"].as_str().unwrap_or(""))
                    {
                        continue;
                    }
                    strip_managed(&mut v);
                    if let Ok(r) = Resource::from_json(kind, v) {
                        state.apply(r, None);
                    }
                }
            }
            Err(e) => {
                unread.insert(format!("{}s", kind.as_str()), e);
            }
        }
    }
    if workloads {
        for kind in ["Pod", "Deployment"] {
            let Some(res) = crate::model::kinds::RESOURCES
                .iter()
                .find(|r| r.kind == kind)
            else {
                continue;
            };
            match reader.list(res, None, None).await {
                Ok(items) => {
                    for mut v in items {
                        let ns = v["metadata"]["namespace"].as_str().unwrap_or("").to_owned();
                        if !narrow.keeps(&ns) {
                            continue;
                        }
                        strip_managed(&mut v);
                        push_other(&mut state, res, v);
                    }
                }
                Err(e) => {
                    unread.insert(format!("{kind}s"), e);
                }
            }
        }
    }
    Snapshot { state, unread }
}

/// Keeps an object of a kind the model does not use.
pub fn push_other(state: &mut ClusterState, res: &ApiResource, body: Value) {
    let name = body["metadata"]["name"].as_str().unwrap_or("").to_owned();
    let namespace = body["metadata"]["namespace"]
        .as_str()
        .unwrap_or("")
        .to_owned();
    state.others.push((
        OtherObject {
            api_version: res.api_version(res.versions[0]),
            kind: res.kind.to_owned(),
            name,
            namespace,
            body,
        },
        crate::model::load::Origin {
            file: Path::new(&format!("<{}>", state.name)).into(),
            line: 0,
        },
    ));
}
