//! Implements the Kubernetes REST API over an [`ApiStore`], apart from any transport:
//! discovery, get, list, watch, create, update, patch and delete, with the
//! API server's `Status` errors, resourceVersions and RBAC.
//!
//! Two transports serve it: the in-process tower service behind
//! `kube::Client` (`cluster::mock`) and the HTTP/HTTPS emulator
//! (`cluster::http`) that kubectl, CoreDNS or any client-go program reach.
//! Both call [`handle`], so "what the API does" is written once.

use std::time::Duration;

use serde_json::{Value, json};
use tokio::sync::mpsc;

use super::patch;
use super::store::{
    ApiError, ApiResource, ApiStore, Delivery, RESOURCES, Scope, Selector, SharedApi, route,
};
use crate::model::{Kind, ObjectKey};

/// The Kubernetes version the emulator reports.
pub const SERVED_VERSION: (&str, &str) = ("1", "33");

/// One request, as any transport hands it over.
#[derive(Clone, Copy, Debug)]
pub struct ApiRequest<'a> {
    /// GET, POST, PUT, PATCH or DELETE.
    pub method: &'a str,
    /// The path, without the query.
    pub path: &'a str,
    /// The raw query string (may be empty).
    pub query: &'a str,
    /// The body's Content-Type (patches depend on it).
    pub content_type: &'a str,
    /// The body.
    pub body: &'a [u8],
}

/// What the API answers.
pub enum ApiReply {
    /// A JSON document with an HTTP status.
    Json(u16, Value),
    /// Bytes of another type, with status 200.
    Bytes(&'static str, Vec<u8>),
    /// Upgrade to a port-forward stream to this loopback address (a Pod's
    /// port, which the Pod maps with the `mcsdns.io/port-forward`
    /// annotation); transports that cannot upgrade answer 400.
    PortForward {
        /// The Pod port asked for.
        port: u16,
        /// Where its bytes go.
        to: std::net::SocketAddr,
    },
    /// A watch: one JSON event per line until the channel closes or the
    /// client's `timeoutSeconds` runs out.
    Watch {
        /// The events.
        events: mpsc::UnboundedReceiver<Value>,
        /// Counts what the reader has taken.
        delivery: std::sync::Arc<Delivery>,
        /// When the server ends the watch.
        timeout: Option<Duration>,
    },
}

impl From<ApiError> for ApiReply {
    fn from(e: ApiError) -> Self {
        ApiReply::Json(e.code, e.status)
    }
}

fn not_found_path() -> ApiError {
    ApiError::new(
        404,
        "NotFound",
        "the server could not find the requested resource".into(),
        json!({}),
    )
}

fn not_found(t: &Scope, name: &str) -> ApiError {
    ApiError::new(
        404,
        "NotFound",
        format!("{} \"{name}\" not found", qualified(t.res)),
        json!({"name": name, "group": t.res.group, "kind": t.res.plural}),
    )
}

fn qualified(res: &ApiResource) -> String {
    if res.group.is_empty() {
        res.plural.to_owned()
    } else {
        format!("{}.{}", res.plural, res.group)
    }
}

/// The query parameters the API reads.
#[derive(Default)]
struct Query {
    watch: bool,
    resource_version: Option<String>,
    label_selector: String,
    field_name: Option<String>,
    field_namespace: Option<String>,
    timeout: Option<Duration>,
    dry_run: bool,
    send_initial_events: bool,
}

impl Query {
    fn parse(q: &str) -> Result<Query, ApiError> {
        let mut out = Query::default();
        for (k, v) in form_urlencoded::parse(q.as_bytes()) {
            match k.as_ref() {
                "watch" => out.watch = v == "true" || v == "1",
                "resourceVersion" if !v.is_empty() => out.resource_version = Some(v.into_owned()),
                "labelSelector" => out.label_selector = v.into_owned(),
                "fieldSelector" => {
                    for term in v.split(',').filter(|t| !t.is_empty()) {
                        match term.split_once('=') {
                            Some(("metadata.name", n)) => {
                                out.field_name = Some(n.trim_start_matches('=').to_owned())
                            }
                            Some(("metadata.namespace", n)) => {
                                out.field_namespace = Some(n.trim_start_matches('=').to_owned())
                            }
                            _ => {
                                return Err(ApiError::new(
                                    400,
                                    "BadRequest",
                                    format!("field label not supported: {term}"),
                                    json!({}),
                                ));
                            }
                        }
                    }
                }
                "timeoutSeconds" => out.timeout = v.parse().ok().map(Duration::from_secs),
                "dryRun" => out.dry_run = v == "All",
                "sendInitialEvents" => out.send_initial_events = v == "true",
                _ => {}
            }
        }
        Ok(out)
    }

    fn start_version(&self) -> Result<u64, ApiError> {
        match &self.resource_version {
            None => Ok(0),
            Some(v) => v.parse().map_err(|_| {
                ApiError::new(
                    400,
                    "BadRequest",
                    format!("invalid resource version: {v}"),
                    json!({}),
                )
            }),
        }
    }
}

/// Answers one request as `identity`.
pub fn handle(api: &SharedApi, identity: &str, req: &ApiRequest<'_>) -> ApiReply {
    match handle_inner(api, identity, req) {
        Ok(r) => r,
        Err(e) => e.into(),
    }
}

fn handle_inner(
    api: &SharedApi,
    identity: &str,
    req: &ApiRequest<'_>,
) -> Result<ApiReply, ApiError> {
    let mut store = api
        .lock()
        .map_err(|_| ApiError::new(500, "InternalError", "store poisoned".into(), json!({})))?;
    if req.method == "GET" && req.path == "/openapi/v2" {
        // An empty OpenAPI v2 document (protobuf, which is what clients
        // ask for): kubectl finds no schema for any kind and leaves
        // validation and merge keys to the server and its built-in types.
        return Ok(ApiReply::Bytes(
            "application/com.github.proto-openapi.spec.v2.v1.0+protobuf",
            Vec::new(),
        ));
    }
    if req.method == "GET"
        && let Some(doc) = discovery(&store, req.path)
    {
        if store.faults.unavailable {
            return Err(ApiError::new(
                503,
                "ServiceUnavailable",
                "the server is currently unable to handle the request".into(),
                json!({}),
            ));
        }
        return Ok(ApiReply::Json(200, doc));
    }
    if let Some((ns, pod)) = portforward_path(req.path) {
        return port_forward(&store, identity, &ns, &pod, req.query);
    }
    let mut target = route(req.path).ok_or_else(not_found_path)?;
    let query = Query::parse(req.query)?;
    // The path decides between an object and a collection; field selectors
    // only narrow a list or a watch.
    let named = target.name.clone();
    if target.name.is_none() && query.field_name.is_some() {
        target.name = query.field_name.clone();
    }
    if target.namespace.is_none() && target.res.namespaced {
        target.namespace = query.field_namespace.clone();
    }
    match (req.method, &named) {
        ("GET", None) | ("GET", Some(_)) if query.watch => {
            store.authorize(identity, "watch", &target)?;
            // A streaming list starts with the current objects whatever
            // version it names (`NotOlderThan`: ours are the newest), and
            // ends them with the annotated bookmark.
            let from = if query.send_initial_events {
                0
            } else {
                query.start_version()?
            };
            let (events, delivery) = store.watch(target, &query.label_selector, from);
            Ok(ApiReply::Watch {
                events,
                delivery,
                timeout: query.timeout,
            })
        }
        ("GET", None) => {
            store.authorize(identity, "list", &target)?;
            Ok(ApiReply::Json(
                200,
                store.list(&target, &Selector::parse(&query.label_selector)),
            ))
        }
        ("GET", Some(name)) => {
            store.authorize(identity, "get", &target)?;
            let ns = target.namespace.clone().unwrap_or_default();
            let mut v = store
                .get(target.res, &ns, name)
                .ok_or_else(|| not_found(&target, name))?;
            v["apiVersion"] = json!(target.res.api_version(target.version));
            Ok(ApiReply::Json(200, v))
        }
        ("POST", None) => {
            store.authorize(identity, "create", &target)?;
            let body = decode(req)?;
            create(&mut store, &target, body, query.dry_run).map(|v| ApiReply::Json(201, v))
        }
        ("PUT", Some(name)) => {
            store.authorize(identity, "update", &target)?;
            let body = decode(req)?;
            update(&mut store, &target, name, body, query.dry_run).map(|v| ApiReply::Json(200, v))
        }
        ("PATCH", Some(name)) => {
            store.authorize(identity, "patch", &target)?;
            patch_object(&mut store, &target, name, req, query.dry_run)
        }
        ("DELETE", Some(name)) => {
            store.authorize(identity, "delete", &target)?;
            delete(&mut store, &target, name, query.dry_run).map(|v| ApiReply::Json(200, v))
        }
        (method, _) => Err(ApiError::new(
            405,
            "MethodNotAllowed",
            format!("{method} is not supported on {}", req.path),
            json!({}),
        )),
    }
}

/// The annotation that says where a Pod's ports are on loopback:
/// `"53=127.0.0.1:5353,9153=127.0.0.1:9153"`.
pub const PORT_FORWARD_ANNOTATION: &str = "mcsdns.io/port-forward";

fn portforward_path(path: &str) -> Option<(String, String)> {
    let parts: Vec<&str> = path.trim_matches('/').split('/').collect();
    match parts.as_slice() {
        ["api", "v1", "namespaces", ns, "pods", name, "portforward"] => {
            Some((ns.to_string(), name.to_string()))
        }
        _ => None,
    }
}

fn port_forward(
    store: &ApiStore,
    identity: &str,
    ns: &str,
    pod: &str,
    query: &str,
) -> Result<ApiReply, ApiError> {
    let pods = ApiResource::by_plural("", "pods").ok_or_else(not_found_path)?;
    let t = Scope {
        namespace: Some(ns.to_owned()),
        name: Some(pod.to_owned()),
        ..Scope::all(pods)
    };
    store.authorize_sub(identity, "create", &t, Some("portforward"))?;
    let object = store.get(pods, ns, pod).ok_or_else(|| not_found(&t, pod))?;
    let ports: Vec<u16> = form_urlencoded::parse(query.as_bytes())
        .filter(|(k, _)| k == "ports")
        .flat_map(|(_, v)| {
            v.split(',')
                .filter_map(|p| p.trim().parse().ok())
                .collect::<Vec<u16>>()
        })
        .collect();
    let [port] = ports.as_slice() else {
        return Err(ApiError::new(
            400,
            "BadRequest",
            "exactly one port can be forwarded per connection here".into(),
            json!({}),
        ));
    };
    let map = object["metadata"]["annotations"][PORT_FORWARD_ANNOTATION]
        .as_str()
        .unwrap_or_default();
    let to = map
        .split(',')
        .filter_map(|e| e.split_once('='))
        .find(|(p, _)| p.trim().parse() == Ok(*port))
        .and_then(|(_, a)| a.trim().parse::<std::net::SocketAddr>().ok())
        .filter(|a| a.ip().is_loopback())
        .ok_or_else(|| {
            ApiError::new(
                400,
                "BadRequest",
                format!("pod {pod} has no port {port} reachable here (annotation {PORT_FORWARD_ANNOTATION})"),
                json!({}),
            )
        })?;
    Ok(ApiReply::PortForward { port: *port, to })
}

/// Reads a request body: JSON, or YAML for server-side apply.
fn decode(req: &ApiRequest<'_>) -> Result<Value, ApiError> {
    let bad = |e: String| ApiError::new(400, "BadRequest", e, json!({}));
    if req.content_type.contains("yaml") {
        let text = std::str::from_utf8(req.body).map_err(|e| bad(e.to_string()))?;
        return serde_saphyr::from_str(text).map_err(|e| bad(format!("invalid YAML: {e}")));
    }
    serde_json::from_slice(req.body).map_err(|e| bad(format!("invalid JSON: {e}")))
}

/// An object whose `metadata` and `spec`, where present, are objects: what
/// the server writes into (name, namespace, ClusterIP) must have a place.
fn well_formed(body: &Value) -> Result<(), ApiError> {
    let Some(fields) = body.as_object() else {
        return Err(ApiError::new(
            400,
            "BadRequest",
            "the body is not an object".into(),
            json!({}),
        ));
    };
    for field in ["metadata", "spec"] {
        if fields
            .get(field)
            .is_some_and(|v| !v.is_object() && !v.is_null())
        {
            return Err(ApiError::new(
                400,
                "BadRequest",
                format!("{field} is not an object"),
                json!({}),
            ));
        }
    }
    Ok(())
}

/// Checks an object's identity against the path and fills in what the
/// server fills in.
fn admit(store: &ApiStore, t: &Scope, body: &mut Value) -> Result<(), ApiError> {
    well_formed(body)?;
    if let Some(kind) = body["kind"].as_str()
        && kind != t.res.kind
    {
        return Err(ApiError::new(
            400,
            "BadRequest",
            format!(
                "the kind {kind:?} does not match the resource {:?}",
                t.res.plural
            ),
            json!({}),
        ));
    }
    if body["metadata"]["name"].as_str().is_none_or(str::is_empty) {
        if let Some(prefix) = body["metadata"]["generateName"].as_str() {
            let name = format!("{prefix}{:05x}", store.resource_version() + 1);
            body["metadata"]["name"] = json!(name);
        } else {
            return Err(ApiError::new(
                422,
                "Invalid",
                format!(
                    "{} \"\" is invalid: metadata.name: Required value: name or generateName is required",
                    t.res.kind
                ),
                json!({"kind": t.res.kind}),
            ));
        }
    }
    if t.res.namespaced {
        let path_ns = t.namespace.clone().unwrap_or_else(|| "default".into());
        match body["metadata"]["namespace"].as_str() {
            Some(ns) if ns != path_ns => {
                return Err(ApiError::new(
                    400,
                    "BadRequest",
                    "the namespace of the provided object does not match the namespace sent on the request".into(),
                    json!({}),
                ));
            }
            _ => body["metadata"]["namespace"] = json!(path_ns),
        }
        if !store
            .state()
            .objects
            .contains_key(&ObjectKey::new(Kind::Namespace, "", &path_ns))
        {
            return Err(ApiError::new(
                404,
                "NotFound",
                format!("namespaces \"{path_ns}\" not found"),
                json!({"name": path_ns, "kind": "namespaces"}),
            ));
        }
    } else if let Some(meta) = body["metadata"].as_object_mut() {
        meta.remove("namespace");
    }
    body["apiVersion"] = json!(t.res.api_version(t.version));
    body["kind"] = json!(t.res.kind);
    if t.res.kind == "Service" {
        allocate_cluster_ip(store, body);
    }
    Ok(())
}

/// Gives a Service without one a ClusterIP from 10.96.0.0/12, as the API
/// server's allocator does (headless and ExternalName Services get none).
fn allocate_cluster_ip(store: &ApiStore, body: &mut Value) {
    let spec = &body["spec"];
    if spec["type"].as_str() == Some("ExternalName")
        || spec["clusterIP"].as_str().is_some_and(|ip| !ip.is_empty())
    {
        return;
    }
    let used: std::collections::BTreeSet<String> = store
        .state()
        .objects
        .values()
        .filter_map(|s| match &s.resource {
            crate::model::Resource::Service(svc) => svc.spec.as_ref()?.cluster_ip.clone(),
            _ => None,
        })
        .collect();
    let ip = (10u32..65_000)
        .map(|n| {
            let a = std::net::Ipv4Addr::from((10u32 << 24) | (96 << 16) | n);
            a.to_string()
        })
        .find(|a| !used.contains(a));
    if let Some(ip) = ip {
        body["spec"]["clusterIP"] = json!(ip);
        body["spec"]["clusterIPs"] = json!([ip]);
    }
}

/// Whether a body would decode as the model type (for dry runs).
fn validate(t: &Scope, body: &Value) -> Result<(), ApiError> {
    if let Some(kind) = t.res.model {
        crate::model::Resource::from_json(kind, body.clone()).map_err(|e| {
            ApiError::new(
                400,
                "BadRequest",
                format!(
                    "{} in version {:?} cannot be handled as a {}: {e}",
                    t.res.kind, t.version, t.res.kind
                ),
                json!({}),
            )
        })?;
    }
    Ok(())
}

fn create(
    store: &mut ApiStore,
    t: &Scope,
    mut body: Value,
    dry_run: bool,
) -> Result<Value, ApiError> {
    admit(store, t, &mut body)?;
    let ns = body["metadata"]["namespace"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let name = body["metadata"]["name"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    if store.get(t.res, &ns, &name).is_some() {
        return Err(ApiError::new(
            409,
            "AlreadyExists",
            format!("{} \"{name}\" already exists", qualified(t.res)),
            json!({"name": name, "group": t.res.group, "kind": t.res.plural}),
        ));
    }
    if let Some(meta) = body["metadata"].as_object_mut() {
        meta.remove("resourceVersion");
    }
    finish(store, t, body, dry_run)
}

fn finish(store: &mut ApiStore, t: &Scope, body: Value, dry_run: bool) -> Result<Value, ApiError> {
    if dry_run {
        validate(t, &body)?;
        return Ok(body);
    }
    let mut v = store.put(t.res, body)?;
    v["apiVersion"] = json!(t.res.api_version(t.version));
    Ok(v)
}

fn update(
    store: &mut ApiStore,
    t: &Scope,
    name: &str,
    mut body: Value,
    dry_run: bool,
) -> Result<Value, ApiError> {
    let ns = t.namespace.clone().unwrap_or_default();
    let current = store
        .get(t.res, &ns, name)
        .ok_or_else(|| not_found(t, name))?;
    well_formed(&body)?;
    if body["metadata"]["name"].as_str().is_some_and(|n| n != name) {
        return Err(ApiError::new(
            400,
            "BadRequest",
            "the name of the object does not match the name on the URL".into(),
            json!({}),
        ));
    }
    if let Some(rv) = body["metadata"]["resourceVersion"].as_str()
        && rv
            != current["metadata"]["resourceVersion"]
                .as_str()
                .unwrap_or_default()
    {
        return Err(conflict(t, name));
    }
    body["metadata"]["name"] = json!(name);
    body["metadata"]["uid"] = current["metadata"]["uid"].clone();
    body["metadata"]["creationTimestamp"] = current["metadata"]["creationTimestamp"].clone();
    admit(store, t, &mut body)?;
    finish(store, t, body, dry_run)
}

fn conflict(t: &Scope, name: &str) -> ApiError {
    ApiError::new(
        409,
        "Conflict",
        format!(
            "Operation cannot be fulfilled on {} \"{name}\": the object has been modified; please apply your changes to the latest version and try again",
            qualified(t.res)
        ),
        json!({"name": name, "group": t.res.group, "kind": t.res.plural}),
    )
}

fn patch_object(
    store: &mut ApiStore,
    t: &Scope,
    name: &str,
    req: &ApiRequest<'_>,
    dry_run: bool,
) -> Result<ApiReply, ApiError> {
    let ns = t.namespace.clone().unwrap_or_default();
    let body = decode(req)?;
    let current = store.get(t.res, &ns, name);
    let is_apply = req.content_type.starts_with("application/apply-patch");
    let Some(mut doc) = current else {
        // Server-side apply creates what does not exist.
        if is_apply {
            return create(store, t, body, dry_run).map(|v| ApiReply::Json(201, v));
        }
        return Err(not_found(t, name));
    };
    let bad = |e: String| ApiError::new(422, "Invalid", e, json!({}));
    match req
        .content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
    {
        "application/merge-patch+json" | "application/apply-patch+yaml" => {
            json_patch::merge(&mut doc, &body)
        }
        "application/strategic-merge-patch+json" => patch::strategic_merge(&mut doc, &body),
        "application/json-patch+json" => {
            let ops: json_patch::Patch = serde_json::from_value(body)
                .map_err(|e| bad(format!("invalid JSON patch: {e}")))?;
            json_patch::patch(&mut doc, &ops)
                .map_err(|e| bad(format!("the JSON patch does not apply: {e}")))?;
        }
        other => {
            return Err(ApiError::new(
                415,
                "UnsupportedMediaType",
                format!(
                    "the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml, application/strategic-merge-patch+json (got {other:?})"
                ),
                json!({}),
            ));
        }
    }
    if doc["metadata"]["name"].as_str() != Some(name) {
        return Err(bad("a patch cannot change an object's name".into()));
    }
    // A patch applies to the latest version whatever version it names.
    if let Some(meta) = doc["metadata"].as_object_mut() {
        meta.remove("resourceVersion");
    }
    admit(store, t, &mut doc)?;
    finish(store, t, doc, dry_run).map(|v| ApiReply::Json(200, v))
}

fn delete(store: &mut ApiStore, t: &Scope, name: &str, dry_run: bool) -> Result<Value, ApiError> {
    let ns = t.namespace.clone().unwrap_or_default();
    let current = store
        .get(t.res, &ns, name)
        .ok_or_else(|| not_found(t, name))?;
    if dry_run {
        return Ok(current);
    }
    if t.res.plural == "namespaces" {
        // The namespace controller empties a deleted namespace; here at once.
        for res in RESOURCES.iter().filter(|r| r.namespaced) {
            let inside: Vec<String> = store.list(
                &Scope {
                    namespace: Some(name.to_owned()),
                    ..Scope::all(res)
                },
                &Selector::default(),
            )["items"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|o| o["metadata"]["name"].as_str().map(str::to_owned))
                .collect();
            for n in inside {
                store.remove(res, name, &n);
            }
        }
    }
    let mut old = store
        .remove(t.res, &ns, name)
        .ok_or_else(|| not_found(t, name))?;
    old["apiVersion"] = json!(t.res.api_version(t.version));
    Ok(old)
}

/// The discovery documents: `/version`, `/api`, `/apis`, and each group and
/// group/version. `None` for paths that are not discovery.
fn discovery(store: &ApiStore, path: &str) -> Option<Value> {
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

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use super::*;
    use crate::cluster::store::{ADMIN, ApiStore};
    use crate::model::ClusterState;

    fn api() -> SharedApi {
        Arc::new(Mutex::new(ApiStore::new(&ClusterState::new("c1"))))
    }

    fn call(api: &SharedApi, method: &str, path: &str, query: &str, body: &str) -> (u16, Value) {
        let req = ApiRequest {
            method,
            path,
            query,
            content_type: "application/json",
            body: body.as_bytes(),
        };
        match handle(api, ADMIN, &req) {
            ApiReply::Json(code, v) => (code, v),
            _ => panic!("{method} {path}: not a JSON reply"),
        }
    }

    #[test]
    fn a_body_without_room_for_server_fields_is_a_bad_request_and_the_store_lives_on() {
        let api = api();
        let svc = "/api/v1/namespaces/default/services";
        for (method, path, body) in [
            ("POST", svc, "[]"),
            ("POST", svc, r#"{"metadata": "x"}"#),
            ("POST", svc, r#"{"metadata": {"name": "a"}, "spec": "x"}"#),
            ("PUT", "/api/v1/namespaces/default", "[]"),
            ("PUT", "/api/v1/namespaces/default", r#"{"metadata": 1}"#),
        ] {
            let (code, status) = call(&api, method, path, "", body);
            assert_eq!(code, 400, "{method} {body}: {status}");
            assert_eq!(status["reason"], "BadRequest");
        }
        let (code, _) = call(&api, "GET", "/api/v1/namespaces/default", "", "");
        assert_eq!(code, 200, "the store still answers");
    }

    #[test]
    fn a_name_field_selector_narrows_a_list_and_stays_a_list() {
        let api = api();
        let path = "/api/v1/namespaces";
        let (code, list) = call(
            &api,
            "GET",
            path,
            "fieldSelector=metadata.name%3Ddefault",
            "",
        );
        assert_eq!(code, 200);
        assert_eq!(list["kind"], "NamespaceList");
        let items = list["items"].as_array().unwrap();
        assert_eq!(items.len(), 1);
        assert_eq!(items[0]["metadata"]["name"], "default");
        let (code, list) = call(&api, "GET", path, "fieldSelector=metadata.name%3Dnone", "");
        assert_eq!(code, 200, "{list}");
        assert_eq!(list["items"].as_array().map(Vec::len), Some(0));
    }
}
