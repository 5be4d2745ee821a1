//! Forwards a Pod's port, as `kubectl port-forward` asks: the Pod says where
//! the port is on loopback, so a client can reach a server the harness runs.

use serde_json::json;

use super::ApiReply;
use crate::cluster::scope::Scope;
use crate::cluster::status::{ApiError, not_found, not_found_path};
use crate::cluster::store::ApiStore;
use crate::model::kinds::ApiResource;

/// The annotation that says where a Pod's ports are on loopback:
/// `"53=127.0.0.1:5353,9153=127.0.0.1:9153"`.
pub const PORT_FORWARD_ANNOTATION: &str = "mcsdns.io/port-forward";

pub(super) fn portforward_path(path: &str) -> Option<(String, String)> {
    let parts: Vec<&str> = path.trim_matches('/').split('/').collect();
    match parts.as_slice() {
        ["api", "v1", "namespaces", ns, "pods", name, "portforward"] => {
            Some((ns.to_string(), name.to_string()))
        }
        _ => None,
    }
}

pub(super) fn port_forward(
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
