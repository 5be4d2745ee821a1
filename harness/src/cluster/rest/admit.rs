//! Admits a written object as the API server does: checks its shape and
//! identity against the path, fills in namespace and ClusterIP, has
//! `cluster::validation` default and validate it, and checks that it
//! decodes as its type.

use serde_json::{Value, json};

use super::ApiRequest;
use crate::cluster::scope::Scope;
use crate::cluster::status::ApiError;
use crate::cluster::store::ApiStore;
use crate::cluster::validation::field::{BadValue, FieldError, Invalid, Path};
use crate::cluster::validation::{self, FieldValidation, service};
use crate::model::{Kind, ObjectKey};

/// Reads a request body: JSON, or YAML for server-side apply.
pub(super) fn decode(req: &ApiRequest<'_>) -> Result<Value, ApiError> {
    let bad = |e: String| ApiError::new(400, "BadRequest", e, json!({}));
    if req.content_type.contains("yaml") {
        let text = std::str::from_utf8(req.body).map_err(|e| bad(e.to_string()))?;
        return crate::yaml::from_str(text).map_err(|e| bad(format!("invalid YAML: {e}")));
    }
    serde_json::from_slice(req.body).map_err(|e| bad(format!("invalid JSON: {e}")))
}

/// An object whose `metadata` and `spec`, where present, are objects: what
/// the server writes into (name, namespace, ClusterIP) must have a place.
pub(super) fn well_formed(body: &Value) -> Result<(), ApiError> {
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

/// Checks an object's identity against the path, fills in what the
/// server fills in, and validates it (`cluster::validation`); returns the
/// warnings to send back.
pub(super) fn admit(
    store: &ApiStore,
    t: &Scope,
    body: &mut Value,
    mode: FieldValidation,
) -> Result<Vec<String>, ApiError> {
    well_formed(body)?;
    if let Some(kind) = body["kind"].as_str()
        && kind != t.res.kind
    {
        // The API server decodes the body as the kind it names, then fails
        // to convert it into the path's type.
        let version = body["apiVersion"].as_str().unwrap_or_default();
        let (group, short) = version.rsplit_once('/').unwrap_or(("core", version));
        let internal = group.split('.').next().unwrap_or(group);
        return Err(ApiError::new(
            400,
            "BadRequest",
            format!(
                "{kind} in version {short:?} cannot be handled as a {}: converting ({short}.{kind}) to ({internal}.{}): unknown conversion",
                t.res.kind, t.res.kind
            ),
            json!({}),
        ));
    }
    if body["metadata"]["name"].as_str().is_none_or(str::is_empty) {
        if let Some(prefix) = body["metadata"]["generateName"].as_str() {
            let name = format!("{prefix}{:05x}", store.resource_version() + 1);
            body["metadata"]["name"] = json!(name);
        } else {
            return Err(Invalid {
                group: t.res.group.to_owned(),
                kind: t.res.kind.to_owned(),
                name: String::new(),
                errors: vec![FieldError::required(
                    &Path::new("metadata").child("name"),
                    "name or generateName is required",
                )],
            }
            .to_api_error());
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
    tidy_metadata(t, body);
    let admitted = validation::admit(store.crds(), t.res, t.version, body.take(), mode)
        .map_err(|e| e.to_api_error())?;
    *body = admitted.object;
    if t.res.kind == "Service" {
        allocate_cluster_ip(store, body)?;
        service::default_families(body);
    }
    Ok(admitted.warnings)
}

/// Metadata as the API server keeps it: empty label and annotation maps
/// are not written (Go's `omitempty`), and a Namespace always carries the
/// label with its own name.
fn tidy_metadata(t: &Scope, body: &mut Value) {
    if t.res.kind == "Namespace" {
        let name = body["metadata"]["name"].clone();
        body["metadata"]["labels"]["kubernetes.io/metadata.name"] = name;
    }
    if let Some(meta) = body["metadata"].as_object_mut() {
        for map in ["labels", "annotations"] {
            if meta
                .get(map)
                .is_some_and(|m| m.is_null() || m.as_object().is_some_and(|m| m.is_empty()))
            {
                meta.remove(map);
            }
        }
    }
}

/// Gives a Service without one a ClusterIP from 10.96.0.0/12, as the API
/// server's allocator does (headless and ExternalName Services get none),
/// and refuses one another Service holds. Any address may be asked for: a
/// real server takes those its ServiceCIDRs cover, and the emulator
/// behaves as if they covered every address.
fn allocate_cluster_ip(store: &ApiStore, body: &mut Value) -> Result<(), ApiError> {
    let spec = &body["spec"];
    if spec["type"].as_str() == Some("ExternalName") {
        return Ok(());
    }
    let me = (
        body["metadata"]["namespace"].as_str().unwrap_or_default(),
        body["metadata"]["name"].as_str().unwrap_or_default(),
    );
    let used: std::collections::BTreeSet<String> = store
        .state()
        .objects
        .values()
        .filter_map(|s| match &s.resource {
            crate::model::Resource::Service(svc)
                if (
                    svc.metadata.namespace.as_deref().unwrap_or_default(),
                    svc.metadata.name.as_deref().unwrap_or_default(),
                ) != me =>
            {
                let spec = svc.spec.as_ref()?;
                Some(
                    spec.cluster_ip
                        .iter()
                        .chain(spec.cluster_ips.iter().flatten())
                        .filter(|ip| !ip.is_empty() && *ip != "None")
                        .cloned()
                        .collect::<Vec<_>>(),
                )
            }
            _ => None,
        })
        .flatten()
        .collect();
    if let Some(asked) = spec["clusterIP"].as_str().filter(|ip| !ip.is_empty()) {
        if asked == "None" {
            return Ok(());
        }
        let ips: Vec<String> = spec["clusterIPs"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|v| v.as_str().map(str::to_owned))
            .collect();
        if let Some(taken) = ips.iter().find(|ip| used.contains(*ip)) {
            return Err(Invalid {
                group: String::new(),
                kind: "Service".into(),
                name: me.1.to_owned(),
                errors: vec![FieldError::invalid(
                    &Path::new("spec").child("clusterIPs"),
                    BadValue::Json(json!(ips)),
                    format!("failed to allocate IP {taken}: provided IP is already allocated"),
                )],
            }
            .to_api_error());
        }
        return Ok(());
    }
    let ip = (10u32..65_000)
        .map(|n| std::net::Ipv4Addr::from((10u32 << 24) | (96 << 16) | n).to_string())
        .find(|a| !used.contains(a));
    if let Some(ip) = ip {
        body["spec"]["clusterIP"] = json!(ip);
        body["spec"]["clusterIPs"] = json!([ip]);
    }
    Ok(())
}

/// Whether a body would decode as the model type (for dry runs).
pub(super) fn validate(t: &Scope, body: &Value) -> Result<(), ApiError> {
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
