//! Reads and writes the clusters' objects through the Kubernetes API (the
//! same REST code the mock and the emulator serve), and keeps a journal of
//! every object a controller wrote, for the runner's transcript.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use serde_json::{Value, json};

use crate::cluster::rest::{ApiReply, ApiRequest, handle};
use crate::cluster::store::{ADMIN, ApiStore, SharedApi};
use crate::model::kinds::ApiResource;
use crate::model::{ClusterState, World};

/// What a controller did to one object.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verb {
    /// Created it.
    Created,
    /// Replaced it (spec, metadata).
    Updated,
    /// Wrote its `status` subresource.
    StatusUpdated,
    /// Deleted it.
    Deleted,
    /// Tried to write it and the API refused.
    Refused,
}

impl Verb {
    /// The verb as the transcript prints it.
    pub fn as_str(self) -> &'static str {
        match self {
            Verb::Created => "created",
            Verb::Updated => "updated",
            Verb::StatusUpdated => "updated status of",
            Verb::Deleted => "deleted",
            Verb::Refused => "could not write",
        }
    }
}

/// One object a controller wrote (or failed to write).
#[derive(Clone, Debug, PartialEq)]
pub struct Write {
    /// The controller (`karmada`, `mcs-api`, `submariner`).
    pub by: &'static str,
    /// What it did.
    pub verb: Verb,
    /// The cluster.
    pub cluster: String,
    /// The object's type.
    pub res: &'static ApiResource,
    /// Its namespace (empty for cluster-scoped objects).
    pub namespace: String,
    /// Its name.
    pub name: String,
    /// The object as the API stored it (`None` after a delete or a refusal).
    pub object: Option<Value>,
    /// What changed or why the API refused, in a few words.
    pub note: Option<String>,
}

impl std::fmt::Display for Write {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let at = if self.namespace.is_empty() {
            format!("{}/{}", self.cluster, self.name)
        } else {
            format!("{}/{}/{}", self.cluster, self.namespace, self.name)
        };
        write!(
            f,
            "{}: {} {} {at}",
            self.by,
            self.verb.as_str(),
            self.res.kind
        )?;
        if let Some(note) = &self.note {
            write!(f, " ({note})")?;
        }
        Ok(())
    }
}

/// Every cluster's API, as the controllers reach it.
pub struct Apis {
    apis: BTreeMap<String, SharedApi>,
    /// Who is writing now (the journal's `by`).
    pub(super) by: &'static str,
    journal: Vec<Write>,
    /// Refusals already journalled: a controller retries them forever, the
    /// transcript shows each once.
    refused: std::collections::BTreeSet<String>,
}

/// A request path for `res` (preferred version), in `namespace`, maybe one
/// object, maybe its status.
fn path(res: &ApiResource, namespace: &str, name: Option<&str>, status: bool) -> String {
    let mut p = if res.group.is_empty() {
        format!("/api/{}", res.versions[0])
    } else {
        format!("/apis/{}/{}", res.group, res.versions[0])
    };
    if res.namespaced && !namespace.is_empty() {
        p.push_str(&format!("/namespaces/{namespace}"));
    }
    p.push('/');
    p.push_str(res.plural);
    if let Some(n) = name {
        p.push('/');
        p.push_str(n);
    }
    if status {
        p.push_str("/status");
    }
    p
}

/// The namespace and name of an object.
pub fn id_of(v: &Value) -> (String, String) {
    (
        v["metadata"]["namespace"]
            .as_str()
            .unwrap_or_default()
            .to_owned(),
        v["metadata"]["name"]
            .as_str()
            .unwrap_or_default()
            .to_owned(),
    )
}

impl Apis {
    /// An API per cluster of `world`, holding its objects.
    pub fn of(world: &World) -> Apis {
        let apis = world
            .clusters
            .iter()
            .map(|(name, state)| (name.clone(), new_api(state)))
            .collect();
        Apis {
            apis,
            by: "",
            journal: Vec::new(),
            refused: Default::default(),
        }
    }

    /// The API of one cluster, to change it from outside (a scenario step).
    pub fn api(&self, cluster: &str) -> Option<&SharedApi> {
        self.apis.get(cluster)
    }

    /// The clusters, by name.
    pub fn clusters(&self) -> impl Iterator<Item = &str> {
        self.apis.keys().map(String::as_str)
    }

    /// Whether the world has this cluster.
    pub fn has(&self, cluster: &str) -> bool {
        self.apis.contains_key(cluster)
    }

    /// Takes the journal of writes since the last call.
    pub fn take_journal(&mut self) -> Vec<Write> {
        std::mem::take(&mut self.journal)
    }

    fn call(
        &self,
        cluster: &str,
        method: &str,
        path: &str,
        query: &str,
        body: Option<&Value>,
    ) -> Result<Value, (u16, String)> {
        let api = self
            .apis
            .get(cluster)
            .ok_or_else(|| (404, format!("no cluster {cluster}")))?;
        let bytes = body.map(Value::to_string).unwrap_or_default();
        let req = ApiRequest {
            method,
            path,
            query,
            content_type: "application/json",
            body: bytes.as_bytes(),
            user_agent: self.by,
        };
        match handle(api, ADMIN, &req) {
            ApiReply::Json(code, v) | ApiReply::Warned(code, v, _) if code < 300 => Ok(v),
            ApiReply::Json(code, v) | ApiReply::Warned(code, v, _) => {
                Err((code, v["message"].as_str().unwrap_or("refused").to_owned()))
            }
            _ => Err((500, "unexpected reply".into())),
        }
    }

    /// Every object of a type in a cluster (all namespaces when `namespace`
    /// is empty), optionally narrowed by a label selector.
    pub fn list(
        &self,
        cluster: &str,
        res: &ApiResource,
        namespace: &str,
        labels: &str,
    ) -> Vec<Value> {
        let query = if labels.is_empty() {
            String::new()
        } else {
            form_urlencoded::Serializer::new(String::new())
                .append_pair("labelSelector", labels)
                .finish()
        };
        self.call(
            cluster,
            "GET",
            &path(res, namespace, None, false),
            &query,
            None,
        )
        .map(|v| v["items"].as_array().cloned().unwrap_or_default())
        .unwrap_or_default()
    }

    /// One object, if it exists.
    pub fn get(
        &self,
        cluster: &str,
        res: &ApiResource,
        namespace: &str,
        name: &str,
    ) -> Option<Value> {
        self.call(
            cluster,
            "GET",
            &path(res, namespace, Some(name), false),
            "",
            None,
        )
        .ok()
    }

    fn record(
        &mut self,
        verb: Verb,
        cluster: &str,
        res: &'static ApiResource,
        (namespace, name): (String, String),
        object: Option<Value>,
        note: Option<String>,
    ) {
        self.journal.push(Write {
            by: self.by,
            verb,
            cluster: cluster.to_owned(),
            res,
            namespace: if res.namespaced {
                namespace
            } else {
                String::new()
            },
            name,
            object,
            note,
        });
    }

    fn written(
        &mut self,
        verb: Verb,
        cluster: &str,
        res: &'static ApiResource,
        id: (String, String),
        result: Result<Value, (u16, String)>,
        note: Option<String>,
    ) -> Result<Value, String> {
        match result {
            Ok(v) => {
                self.record(verb, cluster, res, id, Some(v.clone()), note);
                Ok(v)
            }
            Err((code, why)) => {
                let why = format!("{code}: {why}");
                let key = format!(
                    "{}/{cluster}/{}/{}/{}/{why}",
                    self.by, res.plural, id.0, id.1
                );
                if self.refused.insert(key) {
                    self.record(Verb::Refused, cluster, res, id, None, Some(why.clone()));
                }
                Err(why)
            }
        }
    }

    /// Creates an object (its namespace is created first if missing, as
    /// the controllers' own set-up does).
    pub fn create(
        &mut self,
        cluster: &str,
        res: &'static ApiResource,
        mut body: Value,
    ) -> Result<Value, String> {
        body["apiVersion"] = json!(res.api_version(res.versions[0]));
        body["kind"] = json!(res.kind);
        let id = id_of(&body);
        if res.namespaced && !id.0.is_empty() {
            self.ensure_namespace(cluster, &id.0);
        }
        let result = self.call(
            cluster,
            "POST",
            &path(res, &id.0, None, false),
            "",
            Some(&body),
        );
        self.written(Verb::Created, cluster, res, id, result, None)
    }

    /// Replaces an object (PUT), saying what changed.
    pub fn update(
        &mut self,
        cluster: &str,
        res: &'static ApiResource,
        body: Value,
        note: Option<String>,
    ) -> Result<Value, String> {
        self.put(cluster, res, body, note, false)
    }

    /// Writes an object's `status` subresource (PUT .../status).
    pub fn update_status(
        &mut self,
        cluster: &str,
        res: &'static ApiResource,
        body: Value,
        note: Option<String>,
    ) -> Result<Value, String> {
        self.put(cluster, res, body, note, true)
    }

    /// A PUT of the object or of its `status`, journalled.
    fn put(
        &mut self,
        cluster: &str,
        res: &'static ApiResource,
        mut body: Value,
        note: Option<String>,
        status: bool,
    ) -> Result<Value, String> {
        body["apiVersion"] = json!(res.api_version(res.versions[0]));
        body["kind"] = json!(res.kind);
        let id = id_of(&body);
        let result = self.call(
            cluster,
            "PUT",
            &path(res, &id.0, Some(&id.1), status),
            "",
            Some(&body),
        );
        let verb = if status {
            Verb::StatusUpdated
        } else {
            Verb::Updated
        };
        self.written(verb, cluster, res, id, result, note)
    }

    /// Deletes an object.
    pub fn delete(
        &mut self,
        cluster: &str,
        res: &'static ApiResource,
        namespace: &str,
        name: &str,
    ) -> Result<(), String> {
        let result = self.call(
            cluster,
            "DELETE",
            &path(res, namespace, Some(name), false),
            "",
            None,
        );
        let id = (namespace.to_owned(), name.to_owned());
        self.written(
            Verb::Deleted,
            cluster,
            res,
            id,
            result.map(|_| Value::Null),
            None,
        )
        .map(|_| ())
        .map(|()| {
            if let Some(w) = self.journal.last_mut() {
                w.object = None;
            }
        })
    }

    fn ensure_namespace(&mut self, cluster: &str, namespace: &str) {
        let res = ApiResource::of(crate::model::Kind::Namespace);
        if self.get(cluster, res, "", namespace).is_none() {
            let body =
                json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}});
            let result = self.call(
                cluster,
                "POST",
                &path(res, "", None, false),
                "",
                Some(&body),
            );
            let _ = self.written(
                Verb::Created,
                cluster,
                res,
                (String::new(), namespace.to_owned()),
                result,
                None,
            );
        }
    }
}

fn new_api(state: &ClusterState) -> SharedApi {
    Arc::new(Mutex::new(ApiStore::new(state)))
}

/// An object's labels.
pub fn labels(v: &Value) -> BTreeMap<String, String> {
    serde_json::from_value(v["metadata"]["labels"].clone()).unwrap_or_default()
}

/// The Service ports a derived Service gets from a ServiceImport's ports:
/// port, and name, protocol and appProtocol where the import has them (as
/// both Karmada and the mcs-api controller copy them).
pub fn service_ports(import: &Value) -> Vec<Value> {
    import["spec"]["ports"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|p| {
            let mut port = json!({"port": p["port"]});
            for field in ["name", "protocol", "appProtocol"] {
                if !p[field].is_null() {
                    port[field] = p[field].clone();
                }
            }
            port
        })
        .collect()
}

/// Whether `value` differs from what is stored at `pointer` of `current`.
pub fn differs(current: &Value, pointer: &str, value: &Value) -> bool {
    current.pointer(pointer).unwrap_or(&Value::Null) != value
}
