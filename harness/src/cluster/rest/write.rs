//! Writes objects: create, update, patch (merge, strategic, JSON, apply)
//! and delete, with dry runs, conflicts, warnings and a namespace's cascade.

use serde_json::{Value, json};

use super::admit::{admit, decode, validate, well_formed};
use super::apply::Managed;
use super::query::WriteOptions;
use super::{ApiReply, ApiRequest};
use crate::cluster::patch;
use crate::cluster::scope::Scope;
use crate::cluster::selector::Filter;
use crate::cluster::status::{ApiError, already_exists, conflict, not_found};
use crate::cluster::store::ApiStore;
use crate::cluster::validation::field::{BadValue, FieldError, Invalid, Path};
use crate::model::kinds::{ApiResource, RESOURCES};

/// An object as written, and the warnings of the write.
pub(super) type Written = (Value, Vec<String>);

/// Who owns which fields once a write is stored.
enum Owners {
    /// The writer's manager takes what it changed.
    ByUpdate,
    /// As a server-side apply worked it out.
    Applied(Managed),
}

pub(super) fn create(
    store: &mut ApiStore,
    t: &Scope,
    body: Value,
    opts: &WriteOptions,
) -> Result<Written, ApiError> {
    create_owned(store, t, body, opts, Owners::ByUpdate)
}

fn create_owned(
    store: &mut ApiStore,
    t: &Scope,
    mut body: Value,
    opts: &WriteOptions,
    owners: Owners,
) -> Result<Written, ApiError> {
    if t.res.has_status()
        && let Some(fields) = body.as_object_mut()
    {
        // A create cannot set status where a status subresource exists.
        fields.remove("status");
    }
    let warnings = admit(store, t, &mut body, opts.field_validation)?;
    prepare_for_create(t, &mut body);
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
    finish(store, t, body, opts, None, owners).map(|v| (v, warnings))
}

/// What the API server's strategies set on a new object: a Namespace is
/// active and finalized by its controller, a Service starts with an empty
/// load-balancer status.
fn prepare_for_create(t: &Scope, body: &mut Value) {
    match t.res.kind {
        "Namespace" => {
            body["status"] = json!({"phase": "Active"});
            if body["spec"]["finalizers"].is_null() {
                body["spec"]["finalizers"] = json!(["kubernetes"]);
            }
        }
        "Service" => body["status"] = json!({"loadBalancer": {}}),
        _ => {}
    }
}

/// Stores a checked object (unless a dry run) and who owns its fields.
fn finish(
    store: &mut ApiStore,
    t: &Scope,
    body: Value,
    opts: &WriteOptions,
    old: Option<&Value>,
    owners: Owners,
) -> Result<Value, ApiError> {
    if opts.dry_run {
        validate(t, &body)?;
        return Ok(body);
    }
    let mut v = store.put(t.res, body)?;
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
    let managed = match owners {
        Owners::Applied(m) => m,
        Owners::ByUpdate => {
            let mut m = store.managed(t.res, &ns, &name);
            m.update(&opts.field_manager, old, &v);
            m
        }
    };
    store.set_managed(t.res, &ns, &name, managed);
    v["apiVersion"] = json!(t.res.api_version(t.version));
    Ok(v)
}

/// 422 for an update of a custom resource that names no resourceVersion
/// (custom resources allow no unconditional update). The API server names
/// the resource here where it names the kind elsewhere.
fn version_required(t: &Scope, name: &str) -> ApiError {
    Invalid {
        group: t.res.group.to_owned(),
        kind: t.res.plural.to_owned(),
        name: name.to_owned(),
        errors: vec![FieldError::invalid(
            &Path::new("metadata").child("resourceVersion"),
            BadValue::Int(0),
            "must be specified for an update",
        )],
    }
    .to_api_error()
}

/// 422 for a server-side apply that names no field manager.
fn manager_required() -> ApiError {
    Invalid {
        group: "meta.k8s.io".into(),
        kind: "PatchOptions".into(),
        name: String::new(),
        errors: vec![FieldError::required(
            &Path::new("fieldManager"),
            "is required for apply patch",
        )],
    }
    .to_api_error()
}

pub(super) fn update(
    store: &mut ApiStore,
    t: &Scope,
    name: &str,
    mut body: Value,
    opts: &WriteOptions,
) -> Result<Written, ApiError> {
    let ns = t.namespace.clone().unwrap_or_default();
    let current = store
        .get(t.res, &ns, name)
        .ok_or_else(|| not_found(t, name))?;
    well_formed(&body)?;
    if let Some(other) = body["metadata"]["name"].as_str().filter(|n| *n != name) {
        return Err(ApiError::new(
            400,
            "BadRequest",
            format!("the name of the object ({other}) does not match the name on the URL ({name})"),
            json!({}),
        ));
    }
    if t.res.is_custom()
        && body["metadata"]["resourceVersion"]
            .as_str()
            .is_none_or(str::is_empty)
    {
        return Err(version_required(t, name));
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
    split_status(t, &current, &mut body);
    if t.status {
        check_status(t, name, &body)?;
    }
    let warnings = admit(store, t, &mut body, opts.field_validation)?;
    finish(store, t, body, opts, Some(&current), Owners::ByUpdate).map(|v| (v, warnings))
}

/// The status rules kube-apiserver checks on a status write, update or
/// patch: a Service's load-balancer ingress only on a LoadBalancer
/// Service (`ValidateLoadBalancerStatus`, measured on v1.34.3 with the
/// mcs-api controller's write and held by the fidelity case `lb-status`).
fn check_status(t: &Scope, name: &str, body: &Value) -> Result<(), ApiError> {
    if t.res.kind != "Service" {
        return Ok(());
    }
    let ingress = &body["status"]["loadBalancer"]["ingress"];
    let is_lb = body["spec"]["type"].as_str() == Some("LoadBalancer");
    if is_lb || ingress.as_array().is_none_or(Vec::is_empty) {
        return Ok(());
    }
    Err(Invalid {
        group: String::new(),
        kind: "Service".into(),
        name: name.to_owned(),
        errors: vec![FieldError::forbidden(
            &Path::new("status").child("loadBalancer").child("ingress"),
            "may only be used when `spec.type` is 'LoadBalancer'",
        )],
    }
    .to_api_error())
}

/// Where a type has a status subresource, a write of the object keeps its
/// old status and a write of `status` changes nothing else, as the API
/// server's update strategies do.
fn split_status(t: &Scope, current: &Value, new: &mut Value) {
    if !t.res.has_status() {
        return;
    }
    let keep = if t.status {
        let status = new.get("status").cloned();
        let version = new["metadata"]["resourceVersion"].clone();
        *new = current.clone();
        new["metadata"]["resourceVersion"] = version;
        status
    } else {
        current.get("status").cloned()
    };
    let Some(fields) = new.as_object_mut() else {
        return;
    };
    match keep {
        Some(status) => {
            fields.insert("status".into(), status);
        }
        None => {
            fields.remove("status");
        }
    }
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
    if res.is_custom() {
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
        .with_empty_details()
    }
}

pub(super) fn patch_object(
    store: &mut ApiStore,
    t: &Scope,
    name: &str,
    req: &ApiRequest<'_>,
    opts: &WriteOptions,
) -> Result<ApiReply, ApiError> {
    // The media type is checked before the body is read or the object
    // looked up, as the API server's patch handler does.
    let media = req
        .content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim();
    let accepted: &[&str] = if t.res.is_custom() {
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
    if media == "application/apply-patch+yaml" {
        return apply(store, t, name, body, current, opts);
    }
    let Some(mut doc) = current.clone() else {
        return Err(not_found(t, name));
    };
    let bad = |e: String| ApiError::new(422, "Invalid", e, json!({}));
    match media {
        "application/strategic-merge-patch+json" => patch::strategic_merge(&mut doc, &body),
        "application/json-patch+json" => {
            let ops: json_patch::Patch = serde_json::from_value(body)
                .map_err(|e| bad(format!("invalid JSON patch: {e}")))?;
            // The API server words any failed operation this way.
            json_patch::patch(&mut doc, &ops).map_err(|e| {
                tracing::debug!("JSON patch of {name} does not apply: {e}");
                bad("the server rejected our request due to an error in our request".into())
                    .with_empty_details()
            })?;
        }
        _ => json_patch::merge(&mut doc, &body),
    }
    store_patched(
        store,
        t,
        name,
        doc,
        current.as_ref(),
        opts,
        Owners::ByUpdate,
    )
}

/// Server-side apply: creates what does not exist; otherwise merges the
/// applied fields in, with field ownership and its conflicts.
fn apply(
    store: &mut ApiStore,
    t: &Scope,
    name: &str,
    body: Value,
    current: Option<Value>,
    opts: &WriteOptions,
) -> Result<ApiReply, ApiError> {
    if !opts.manager_given {
        return Err(manager_required());
    }
    let ns = t.namespace.clone().unwrap_or_default();
    let mut managed = store.managed(t.res, &ns, name);
    let live = current.clone().unwrap_or_else(|| {
        json!({"apiVersion": body["apiVersion"], "kind": body["kind"],
            "metadata": {"name": body["metadata"]["name"], "namespace": body["metadata"]["namespace"]}})
    });
    let merged = managed.apply(&opts.field_manager, &live, &body, opts.force)?;
    match current {
        None => create_owned(store, t, merged, opts, Owners::Applied(managed))
            .map(|(v, w)| ApiReply::Warned(201, v, w)),
        Some(old) => store_patched(
            store,
            t,
            name,
            merged,
            Some(&old),
            opts,
            Owners::Applied(managed),
        ),
    }
}

/// Checks and stores a patched object: its name unchanged, its status
/// where the subresource says, whatever version it named.
fn store_patched(
    store: &mut ApiStore,
    t: &Scope,
    name: &str,
    mut doc: Value,
    old: Option<&Value>,
    opts: &WriteOptions,
    owners: Owners,
) -> Result<ApiReply, ApiError> {
    if doc["metadata"]["name"].as_str() != Some(name) {
        return Err(ApiError::new(
            422,
            "Invalid",
            "a patch cannot change an object's name".into(),
            json!({}),
        ));
    }
    if let Some(old) = old {
        split_status(t, old, &mut doc);
    }
    if t.status {
        check_status(t, name, &doc)?;
    }
    // A patch applies to the latest version whatever version it names.
    if let Some(meta) = doc["metadata"].as_object_mut() {
        meta.remove("resourceVersion");
    }
    let warnings = admit(store, t, &mut doc, opts.field_validation)?;
    finish(store, t, doc, opts, old, owners).map(|v| ApiReply::Warned(200, v, warnings))
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
        return Ok(deleted(t, current));
    }
    if t.res.plural == "namespaces" {
        // The namespace controller empties a deleted namespace; here at once.
        for res in RESOURCES.iter().filter(|r| r.namespaced) {
            let inside: Vec<String> = store.list(
                &Scope {
                    namespace: Some(name.to_owned()),
                    ..Scope::all(res)
                },
                &Filter::default(),
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
    Ok(deleted(t, old))
}

/// What a delete answers: the object, for the types whose storage returns
/// it (a Namespace as the API server leaves it to its controller:
/// terminating), else a `Status` of success naming it.
fn deleted(t: &Scope, mut old: Value) -> Value {
    match t.res.kind {
        "Namespace" => {
            old["metadata"]["deletionTimestamp"] = json!(
                k8s_openapi::jiff::Timestamp::now()
                    .strftime("%Y-%m-%dT%H:%M:%SZ")
                    .to_string()
            );
            old["status"]["phase"] = json!("Terminating");
            old
        }
        "Service" | "Pod" | "ServiceAccount" => old,
        _ => {
            let meta = &old["metadata"];
            let mut details =
                json!({"name": meta["name"], "kind": t.res.plural, "uid": meta["uid"]});
            if !t.res.group.is_empty() {
                details["group"] = json!(t.res.group);
            }
            json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success",
                "details": details})
        }
    }
}
