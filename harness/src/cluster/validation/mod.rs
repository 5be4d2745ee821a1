//! Checks a written object as kube-apiserver v1.34 does before storing it:
//! defaulting, unknown fields (pruned with a warning, or refused under
//! `?fieldValidation=Strict`), then validation, refused with the API
//! server's 422 and its wording.
//!
//! Custom resources are checked against their CRD's `openAPIV3Schema`
//! when the CRDs are found ([`crds`]); without them they are stored as
//! sent, as before. Services and EndpointSlices are checked by the rules
//! of the fields DNS reads ([`service`], [`endpointslice`]). A real
//! server would also reject a ClusterIP outside its ServiceCIDRs; the
//! emulator takes any address, as a server whose ServiceCIDRs cover it
//! would.

pub mod crds;
pub mod endpointslice;
pub mod field;
mod ip;
mod names;
pub mod schema;
pub mod service;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde_json::{Value, json};

pub use self::crds::Crds;
use self::field::{FieldError, Invalid, Path};
use crate::cluster::status::ApiError;
use crate::model::kinds::ApiResource;
use crate::model::{Kind, Resource};

/// What `?fieldValidation=` asks of unknown fields.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum FieldValidation {
    /// Drop them silently.
    Ignore,
    /// Drop them, with a `Warning` header per field (the default).
    #[default]
    Warn,
    /// Refuse the request (kubectl's default).
    Strict,
}

impl FieldValidation {
    /// Reads the query parameter's value.
    pub fn parse(v: &str) -> Option<FieldValidation> {
        match v {
            "Ignore" => Some(FieldValidation::Ignore),
            "Warn" => Some(FieldValidation::Warn),
            "Strict" => Some(FieldValidation::Strict),
            _ => None,
        }
    }
}

/// Why a written object is refused.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum Rejected {
    /// It does not decode as its type, or has unknown fields under
    /// `Strict`: a 400, worded as the API server's decoder words it.
    #[error("{kind} in version {version:?} cannot be handled as a {kind}: {message}")]
    Decode {
        /// The kind.
        kind: String,
        /// The version of the request.
        version: String,
        /// What the decoder said.
        message: String,
    },
    /// It breaks validation rules: a 422.
    #[error("{0}")]
    Invalid(Invalid),
}

impl Rejected {
    /// The error the API server answers.
    pub fn to_api_error(&self) -> ApiError {
        match self {
            Rejected::Decode { .. } => {
                ApiError::new(400, "BadRequest", self.to_string(), json!({}))
            }
            Rejected::Invalid(i) => i.to_api_error(),
        }
    }
}

/// An object ready to store, and what to warn the client of.
#[derive(Debug, Clone, PartialEq)]
pub struct Admitted {
    /// The object, defaulted and pruned.
    pub object: Value,
    /// `Warning` header texts (unknown fields, deprecations).
    pub warnings: Vec<String>,
}

/// Defaults, prunes and validates a written object of `res` at `version`
/// (its name, namespace, apiVersion and kind already filled in).
pub fn admit(
    crds: Option<&Crds>,
    res: &ApiResource,
    version: &str,
    mut body: Value,
    mode: FieldValidation,
) -> Result<Admitted, Rejected> {
    let decode_error = |message: String| Rejected::Decode {
        kind: res.kind.to_owned(),
        version: version.to_owned(),
        message,
    };
    let name = body["metadata"]["name"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let invalid = |errors: Vec<FieldError>| {
        Rejected::Invalid(Invalid {
            group: res.group.to_owned(),
            kind: res.kind.to_owned(),
            name: name.clone(),
            errors,
        })
    };
    let mut warnings = Vec::new();
    let schema = crds.and_then(|c| c.schema(res.group, res.kind, version));
    let unknown = if let Some(schema) = schema {
        schema.prune(&mut body)
    } else {
        match res.model {
            Some(Kind::Service) => service::default(&mut body),
            Some(Kind::EndpointSlice) => endpointslice::default(&mut body),
            _ => {}
        }
        match res.model {
            // The typed model is not the CRD's schema: without it, custom
            // resources are taken as the model reads them.
            Some(Kind::ServiceImport | Kind::ServiceExport) | None => Vec::new(),
            Some(kind) => {
                let typed = Resource::from_json(kind, body.clone())
                    .map_err(|e| decode_error(e.to_string()))?;
                unknown_fields(&body, &typed.to_json())
            }
        }
    };
    if !unknown.is_empty() {
        match mode {
            FieldValidation::Strict => {
                let each: Vec<String> = unknown
                    .iter()
                    .map(|f| format!("unknown field {f:?}"))
                    .collect();
                return Err(decode_error(format!(
                    "strict decoding error: {}",
                    each.join(", ")
                )));
            }
            FieldValidation::Warn => {
                warnings.extend(unknown.iter().map(|f| format!("unknown field {f:?}")));
            }
            FieldValidation::Ignore => {}
        }
    }
    let errors = if let Some(schema) = schema {
        let meta: ObjectMeta = serde_json::from_value(body["metadata"].clone())
            .map_err(|e| decode_error(e.to_string()))?;
        let mut errors = metadata(&meta, names::dns1123_subdomain);
        // The status subresource's: a write to the object itself does not
        // set it on a real server, so it is not checked with it either.
        let mut checked = body.clone();
        if let Some(map) = checked.as_object_mut() {
            map.remove("status");
        }
        errors.extend(schema.validate(&checked));
        errors
    } else {
        match res
            .model
            .map(|kind| Resource::from_json(kind, body.clone()))
        {
            Some(Ok(Resource::Service(svc))) => service::validate(&svc),
            Some(Ok(Resource::EndpointSlice(slice))) => {
                let errors = endpointslice::validate(&slice);
                if errors.is_empty() {
                    warnings.extend(endpointslice::warnings(&slice));
                }
                errors
            }
            Some(Err(e)) => return Err(decode_error(e.to_string())),
            _ => {
                let meta: ObjectMeta = serde_json::from_value(body["metadata"].clone())
                    .map_err(|e| decode_error(e.to_string()))?;
                metadata(&meta, name_rule(res))
            }
        }
    };
    if !errors.is_empty() {
        return Err(invalid(errors));
    }
    Ok(Admitted {
        object: body,
        warnings,
    })
}

/// Checks an object as a manifest (what `kubectl apply` sends): defaulted,
/// with unknown fields refused as kubectl's strict field validation
/// refuses them. For fixtures and scenario files.
pub fn check_manifest(crds: Option<&Crds>, body: &Value) -> Result<(), Rejected> {
    let api_version = body["apiVersion"].as_str().unwrap_or_default();
    let kind = body["kind"].as_str().unwrap_or_default();
    let Some(res) = ApiResource::by_kind(api_version, kind) else {
        return Ok(());
    };
    let version = api_version.rsplit('/').next().unwrap_or(api_version);
    let mut body = body.clone();
    if res.namespaced && body["metadata"]["namespace"].is_null() {
        body["metadata"]["namespace"] = json!("default");
    }
    admit(crds, res, version, body, FieldValidation::Strict).map(|_| ())
}

/// The rule a kind's names follow (`ValidateObjectMeta`'s name function).
fn name_rule(res: &ApiResource) -> fn(&str) -> Vec<String> {
    match res.kind {
        "Namespace" => names::dns1123_label,
        "ClusterRole" | "ClusterRoleBinding" | "Role" | "RoleBinding" => names::path_segment,
        _ => names::dns1123_subdomain,
    }
}

/// `ValidateObjectMeta` for what DNS depends on: the name (by the kind's
/// rule) and the labels.
fn metadata(meta: &ObjectMeta, name_rule: fn(&str) -> Vec<String>) -> Vec<FieldError> {
    let at = Path::new("metadata");
    let mut errs = Vec::new();
    match meta.name.as_deref() {
        None | Some("") => errs.push(FieldError::required(
            &at.child("name"),
            "name or generateName is required",
        )),
        Some(name) => errs.extend(names::each(&at.child("name"), name, name_rule)),
    }
    if let Some(labels) = &meta.labels {
        errs.extend(names::labels(labels, &at.child("labels")));
    }
    errs
}

/// The fields of `raw` that its typed form `known` dropped: what the API
/// server's decoder calls unknown (`spec.ports[0].bogus`). Nulls are not
/// fields.
fn unknown_fields(raw: &Value, known: &Value) -> Vec<String> {
    fn walk(raw: &Value, known: &Value, at: &Path, out: &mut Vec<String>) {
        match (raw, known) {
            (Value::Object(r), Value::Object(k)) => {
                for (key, v) in r {
                    if v.is_null() {
                        continue;
                    }
                    match k.get(key) {
                        None => out.push(at.child(key).to_string()),
                        Some(kv) => walk(v, kv, &at.child(key), out),
                    }
                }
            }
            (Value::Array(r), Value::Array(k)) if r.len() == k.len() => {
                for (i, (rv, kv)) in r.iter().zip(k).enumerate() {
                    walk(rv, kv, &at.index(i), out);
                }
            }
            _ => {}
        }
    }
    let mut out = Vec::new();
    walk(raw, known, &Path::new(""), &mut out);
    out.sort();
    out
}
