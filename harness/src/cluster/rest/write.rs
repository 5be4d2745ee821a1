//! Writes objects: create, update, patch (merge, strategic, JSON, apply)
//! and delete, with dry runs, conflicts, warnings and a namespace's cascade.

use serde_json::{Value, json};

use super::admit::{admit, decode, validate, well_formed};
use super::query::WriteOptions;
use super::{ApiReply, ApiRequest};
use crate::cluster::patch;
use crate::cluster::scope::{Scope, Selector};
use crate::cluster::status::{ApiError, already_exists, conflict, not_found};
use crate::cluster::store::ApiStore;
use crate::model::kinds::{ApiResource, RESOURCES};

/// An object as written, and the warnings of the write.
pub(super) type Written = (Value, Vec<String>);

pub(super) fn create(
    store: &mut ApiStore,
    t: &Scope,
    mut body: Value,
    opts: WriteOptions,
) -> Result<Written, ApiError> {
    let warnings = admit(store, t, &mut body, opts.field_validation)?;
    let ns = body["metadata"]["namespace"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let name = body["metadata"]["name"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    if store.get(t.res, &ns, &name).is_some() {
        return Err(already_exists(t, &name));
    }
    if let Some(meta) = body["metadata"].as_object_mut() {
        meta.remove("resourceVersion");
    }
    finish(store, t, body, opts.dry_run).map(|v| (v, warnings))
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

pub(super) fn update(
    store: &mut ApiStore,
    t: &Scope,
    name: &str,
    mut body: Value,
    opts: WriteOptions,
) -> Result<Written, ApiError> {
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
    let warnings = admit(store, t, &mut body, opts.field_validation)?;
    finish(store, t, body, opts.dry_run).map(|v| (v, warnings))
}

/// Whether a resource is a custom resource (served by the apiextensions
/// apiserver, which takes no strategic merge patch).
fn is_custom(res: &ApiResource) -> bool {
    !matches!(
        res.group,
        "" | "apps" | "discovery.k8s.io" | "rbac.authorization.k8s.io"
    )
}

/// The patch types the apiextensions server accepts, in its order.
const CUSTOM_PATCH_TYPES: [&str; 3] = [
    "application/json-patch+json",
    "application/merge-patch+json",
    "application/apply-patch+yaml",
];

/// The patch types of built-in resources.
const BUILT_IN_PATCH_TYPES: [&str; 4] = [
    "application/json-patch+json",
    "application/merge-patch+json",
    "application/strategic-merge-patch+json",
    "application/apply-patch+yaml",
];

/// 415 for a patch type the resource does not take, as measured on
/// kube-apiserver v1.34.3: the apiextensions handler lists what it
/// accepts (and sends no details); for built-in resources the request
/// never reaches a handler, and go-restful answers in four words.
fn unsupported_patch(res: &ApiResource) -> ApiError {
    if is_custom(res) {
        let mut e = ApiError::new(
            415,
            "UnsupportedMediaType",
            format!(
                "the body of the request was in an unknown format - accepted media types include: {}",
                CUSTOM_PATCH_TYPES.join(", ")
            ),
            json!({}),
        );
        if let Some(s) = e.status.as_object_mut() {
            s.remove("details");
        }
        e
    } else {
        ApiError::new(
            415,
            "UnsupportedMediaType",
            "415: Unsupported Media Type".into(),
            json!({}),
        )
    }
}

pub(super) fn patch_object(
    store: &mut ApiStore,
    t: &Scope,
    name: &str,
    req: &ApiRequest<'_>,
    opts: WriteOptions,
) -> Result<ApiReply, ApiError> {
    // The media type is checked before the body is read or the object
    // looked up, as the API server's patch handler does.
    let media = req
        .content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim();
    let accepted: &[&str] = if is_custom(t.res) {
        &CUSTOM_PATCH_TYPES
    } else {
        &BUILT_IN_PATCH_TYPES
    };
    if !accepted.contains(&media) {
        return Err(unsupported_patch(t.res));
    }
    let ns = t.namespace.clone().unwrap_or_default();
    let body = decode(req)?;
    let current = store.get(t.res, &ns, name);
    let is_apply = media == "application/apply-patch+yaml";
    let Some(mut doc) = current else {
        // Server-side apply creates what does not exist.
        if is_apply {
            return create(store, t, body, opts).map(|(v, w)| ApiReply::Warned(201, v, w));
        }
        return Err(not_found(t, name));
    };
    let bad = |e: String| ApiError::new(422, "Invalid", e, json!({}));
    match media {
        "application/strategic-merge-patch+json" => patch::strategic_merge(&mut doc, &body),
        "application/json-patch+json" => {
            let ops: json_patch::Patch = serde_json::from_value(body)
                .map_err(|e| bad(format!("invalid JSON patch: {e}")))?;
            json_patch::patch(&mut doc, &ops)
                .map_err(|e| bad(format!("the JSON patch does not apply: {e}")))?;
        }
        // Merge patch and apply.
        _ => json_patch::merge(&mut doc, &body),
    }
    if doc["metadata"]["name"].as_str() != Some(name) {
        return Err(bad("a patch cannot change an object's name".into()));
    }
    // A patch applies to the latest version whatever version it names.
    if let Some(meta) = doc["metadata"].as_object_mut() {
        meta.remove("resourceVersion");
    }
    let warnings = admit(store, t, &mut doc, opts.field_validation)?;
    finish(store, t, doc, opts.dry_run).map(|v| ApiReply::Warned(200, v, warnings))
}

pub(super) fn delete(
    store: &mut ApiStore,
    t: &Scope,
    name: &str,
    dry_run: bool,
) -> Result<Value, ApiError> {
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
