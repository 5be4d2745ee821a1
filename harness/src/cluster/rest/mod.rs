//! Answers Kubernetes REST requests over an [`ApiStore`], apart from any transport.
//!
//! This file routes a request (discovery, port-forward, get, list, watch)
//! and checks RBAC; `admit` and `write` create, update, patch and delete,
//! `discovery` describes the API, `portforward` reaches a Pod's port,
//! `review` answers `kubectl auth can-i`.
//!
//! Two transports serve it: the in-process tower service behind
//! `kube::Client` (`cluster::mock`) and the HTTP/HTTPS emulator
//! (`cluster::http`) that kubectl, CoreDNS or any client-go program reach.
//! Both call [`handle`], so "what the API does" is written once.

mod admit;
mod apply;
mod discovery;
mod portforward;
mod query;
mod review;
mod write;

use std::time::Duration;

use serde_json::{Value, json};
use tokio::sync::mpsc;

use self::admit::decode;
pub use self::apply::Managed;
use self::discovery::discovery;
pub use self::portforward::PORT_FORWARD_ANNOTATION;
use self::portforward::{port_forward, portforward_path};
use self::query::Query;
use self::write::{create, delete, patch_object, update};
use super::scope::{Scope, route};
use super::selector::Filter;
use super::status::{ApiError, gone, not_found, not_found_path, too_large_version, unavailable};
use super::store::{ApiStore, Delivery, SharedApi, WatchOptions};

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
    /// The `User-Agent`: its first part names the field manager of a
    /// write that gives none.
    pub user_agent: &'a str,
}

/// What the API answers.
pub enum ApiReply {
    /// A JSON document with an HTTP status.
    Json(u16, Value),
    /// A written object with `Warning` header texts (unknown fields
    /// dropped, deprecations), each sent as `299 - "text"`.
    Warned(u16, Value, Vec<String>),
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
        events: mpsc::Receiver<Value>,
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

/// Answers one request as `identity`.
pub fn handle(api: &SharedApi, identity: &str, req: &ApiRequest<'_>) -> ApiReply {
    match handle_inner(api, identity, req) {
        Ok(r) => r,
        Err(e) => e.into(),
    }
}

/// Routes a request: the OpenAPI and discovery documents, a Pod's
/// port-forward, or a resource path with its query.
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
            return Err(unavailable());
        }
        return Ok(ApiReply::Json(200, doc));
    }
    if let Some((ns, pod)) = portforward_path(req.path) {
        return port_forward(&store, identity, &ns, &pod, req.query);
    }
    if let Some(reply) = review::answer(&store, identity, req) {
        return reply;
    }
    let mut target = route(req.path).ok_or_else(not_found_path)?;
    let query = Query::parse(req.query)?;
    // The path decides between an object and a collection; field selectors
    // only narrow a list or a watch. A name they pin is the request's name
    // for RBAC, as kube-apiserver's request info takes it.
    let named = target.name.clone();
    for term in query.fields.terms().iter().filter(|t| t.equals) {
        match term.field.as_str() {
            "metadata.name" if target.name.is_none() => target.name = Some(term.value.clone()),
            "metadata.namespace" if target.namespace.is_none() && target.res.namespaced => {
                target.namespace = Some(term.value.clone())
            }
            _ => {}
        }
    }
    by_verb(&mut store, identity, req, target, named.as_deref(), &query)
}

/// Does what the method asks of the scope, once RBAC allows the verb:
/// `named` is the object the path names (a collection when `None`).
fn by_verb(
    store: &mut ApiStore,
    identity: &str,
    req: &ApiRequest<'_>,
    target: Scope,
    named: Option<&str>,
    query: &Query,
) -> Result<ApiReply, ApiError> {
    match (req.method, named) {
        ("GET", None) | ("GET", Some(_)) if query.watch => {
            store.authorize(identity, "watch", &target)?;
            let filter = selection(&target, query)?;
            // A streaming list starts with the current objects whatever
            // version it names (`NotOlderThan`: ours are the newest), and
            // ends them with the annotated bookmark.
            let initial_events = query.send_initial_events == Some(true);
            let from = if initial_events {
                0
            } else {
                query.start_version()?
            };
            let opts = WatchOptions {
                label_selector: query.label_selector.clone(),
                filter,
                from,
                bookmarks: query.allow_bookmarks,
                initial_events,
            };
            let (events, delivery) = store.watch(target, &opts);
            Ok(ApiReply::Watch {
                events,
                delivery,
                timeout: query.timeout,
            })
        }
        ("GET", None) => {
            store.authorize(identity, "list", &target)?;
            let filter = selection(&target, query)?;
            check_list_version(store, query)?;
            Ok(ApiReply::Json(200, store.list(&target, &filter)))
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
            create(store, &target, body, &query.write("CreateOptions", req)?)
                .map(|(v, warnings)| ApiReply::Warned(201, v, warnings))
        }
        ("PUT", Some(name)) => {
            store.authorize(identity, "update", &target)?;
            let body = decode(req)?;
            update(
                store,
                &target,
                name,
                body,
                &query.write("UpdateOptions", req)?,
            )
            .map(|(v, warnings)| ApiReply::Warned(200, v, warnings))
        }
        ("PATCH", Some(name)) => {
            store.authorize(identity, "patch", &target)?;
            patch_object(
                store,
                &target,
                name,
                req,
                &query.write("PatchOptions", req)?,
            )
        }
        ("DELETE", Some(name)) => {
            store.authorize(identity, "delete", &target)?;
            delete(store, &target, name, query.dry_run).map(|v| ApiReply::Json(200, v))
        }
        (method, _) => Err(ApiError::new(
            405,
            "MethodNotAllowed",
            format!("{method} is not supported on {}", req.path),
            json!({}),
        )),
    }
}

/// A list's or a watch's options checked, and its selectors: a field
/// selector may name only the fields every type serves, in the words of
/// the server that serves the type.
fn selection(target: &Scope, query: &Query) -> Result<Filter, ApiError> {
    query.check_list()?;
    let labels = query.labels()?;
    if let Some(term) = query.fields.unsupported() {
        let message = if target.res.is_custom() {
            format!("field label not supported: {}", term.field)
        } else {
            format!(
                "{:?} is not a known field selector: only \"metadata.name\", \"metadata.namespace\"",
                term.field
            )
        };
        return Err(ApiError::new(400, "BadRequest", message, json!({})));
    }
    Ok(Filter {
        labels,
        fields: query.fields.clone(),
    })
}

/// A list at a resourceVersion: one ahead of the store's is 504, an exact
/// one older than its window of history is 410. Lists are served at the
/// current version otherwise (no client mcsdns serves reads the past).
fn check_list_version(store: &ApiStore, query: &Query) -> Result<(), ApiError> {
    let Some(text) = query.resource_version.as_deref() else {
        return Ok(());
    };
    let rv = query::parse_version(text)?;
    if rv > store.resource_version() {
        return Err(too_large_version(rv, store.resource_version()));
    }
    let exact = query.resource_version_match.as_deref() == Some("Exact");
    if exact && rv.saturating_add(1) < store.oldest_version() {
        return Err(gone(rv, store.oldest_version()));
    }
    Ok(())
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
            user_agent: "test",
        };
        match handle(api, ADMIN, &req) {
            ApiReply::Json(code, v) | ApiReply::Warned(code, v, _) => (code, v),
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
    fn status_is_written_through_its_subresource_only() {
        let api = api();
        let services = "/api/v1/namespaces/default/services";
        let body = r#"{"metadata": {"name": "web"}, "spec": {"type": "LoadBalancer", "clusterIP": "10.96.0.20", "ports": [{"port": 80}]},
            "status": {"loadBalancer": {"ingress": [{"ip": "1.2.3.4"}]}}}"#;
        let (code, created) = call(&api, "POST", services, "", body);
        assert_eq!(code, 201, "{created}");
        assert_eq!(
            created["status"],
            json!({"loadBalancer": {}}),
            "a create sets no status"
        );
        let put = r#"{"metadata": {"name": "web"}, "spec": {"type": "LoadBalancer", "clusterIP": "10.96.0.20", "ports": [{"port": 81}]},
            "status": {"loadBalancer": {"ingress": [{"ip": "5.6.7.8"}]}}}"#;
        let (code, status) = call(&api, "PUT", &format!("{services}/web/status"), "", put);
        assert_eq!(code, 200, "{status}");
        assert_eq!(
            status["status"]["loadBalancer"]["ingress"][0]["ip"],
            "5.6.7.8"
        );
        assert_eq!(status["spec"]["ports"][0]["port"], 80, "the spec stays");
        let (code, main) = call(&api, "PUT", &format!("{services}/web"), "", body);
        assert_eq!(code, 200, "{main}");
        assert_eq!(
            main["status"]["loadBalancer"]["ingress"][0]["ip"], "5.6.7.8",
            "an update of the object keeps its status"
        );
    }

    #[test]
    fn load_balancer_ingress_is_refused_on_a_cluster_ip_service() {
        let api = api();
        let services = "/api/v1/namespaces/default/services";
        let body = r#"{"metadata": {"name": "derived"}, "spec": {"clusterIP": "10.96.0.21", "ports": [{"port": 80}]}}"#;
        let (code, created) = call(&api, "POST", services, "", body);
        assert_eq!(code, 201, "{created}");
        let ingress = r#"{"metadata": {"name": "derived"}, "spec": {"clusterIP": "10.96.0.21", "ports": [{"port": 80}]},
            "status": {"loadBalancer": {"ingress": [{"ip": "10.42.0.10"}]}}}"#;
        let status = format!("{services}/derived/status");
        let (code, reply) = call(&api, "PUT", &status, "", ingress);
        assert_eq!(code, 422, "{reply}");
        assert_eq!(
            reply["details"]["causes"][0]["field"],
            "status.loadBalancer.ingress"
        );
        let patch = r#"{"status": {"loadBalancer": {"ingress": [{"ip": "10.42.0.10"}]}}}"#;
        let req = ApiRequest {
            method: "PATCH",
            path: &status,
            query: "",
            content_type: "application/merge-patch+json",
            body: patch.as_bytes(),
            user_agent: "test",
        };
        match handle(&api, ADMIN, &req) {
            ApiReply::Json(code, v) | ApiReply::Warned(code, v, _) => {
                assert_eq!(code, 422, "a status patch too: {v}");
            }
            _ => panic!("not a JSON reply"),
        }
    }

    #[test]
    fn a_custom_resource_takes_no_update_without_a_version() {
        let api = api();
        let imports = "/apis/multicluster.x-k8s.io/v1beta1/namespaces/default/serviceimports";
        let si = r#"{"metadata": {"name": "web"}, "spec": {"type": "Headless", "ports": []}}"#;
        assert_eq!(call(&api, "POST", imports, "", si).0, 201);
        let (code, status) = call(&api, "PUT", &format!("{imports}/web"), "", si);
        assert_eq!(code, 422);
        assert_eq!(
            status["message"],
            r#"serviceimports.multicluster.x-k8s.io "web" is invalid: metadata.resourceVersion: Invalid value: 0: must be specified for an update"#
        );
    }

    #[test]
    fn names_a_path_could_not_hold_are_refused() {
        let api = api();
        let config_maps = "/api/v1/namespaces/default/configmaps";
        for name in ["..", ".", "../../etc/x", "a/b", "UPPER"] {
            let body = json!({"metadata": {"name": name}}).to_string();
            let (code, status) = call(&api, "POST", config_maps, "", &body);
            assert_eq!(code, 422, "{name}: {status}");
        }
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
