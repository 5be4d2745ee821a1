//! Words the API server's errors: an HTTP code and its `Status` body.
//!
//! Clients tell errors apart by `reason` and `code` (kube-rs retries a 410,
//! kubectl prints `message`), so each is worded once, as the API server does.

use serde_json::{Value, json};

use super::scope::Scope;
use crate::model::kinds::ApiResource;

/// An error as the API server returns it: HTTP code and `Status` body.
#[derive(Clone, Debug, PartialEq)]
pub struct ApiError {
    /// HTTP status code.
    pub code: u16,
    /// The `Status` object.
    pub status: Value,
}

impl ApiError {
    /// A `Status` failure as the API server words it.
    pub fn new(code: u16, reason: &str, message: String, details: Value) -> ApiError {
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

/// 503: the API server is down (a scenario's fault).
pub(crate) fn unavailable() -> ApiError {
    ApiError::new(
        503,
        "ServiceUnavailable",
        "the server is currently unable to handle the request".into(),
        json!({}),
    )
}

/// 410 Gone: `from` is older than `oldest`, the oldest version still served.
pub(crate) fn gone(from: u64, oldest: u64) -> ApiError {
    ApiError::new(
        410,
        "Expired",
        format!("too old resource version: {from} ({oldest})"),
        json!({}),
    )
}

/// 404 for a path that names no served resource (or a type whose CRD is
/// missing).
pub(crate) fn not_found_path() -> ApiError {
    ApiError::new(
        404,
        "NotFound",
        "the server could not find the requested resource".into(),
        json!({}),
    )
}

/// 404 for one object that is not there.
pub(crate) fn not_found(t: &Scope, name: &str) -> ApiError {
    ApiError::new(
        404,
        "NotFound",
        format!("{} \"{name}\" not found", qualified(t.res)),
        json!({"name": name, "group": t.res.group, "kind": t.res.plural}),
    )
}

/// `plural.group` as the API server names a resource in messages
/// (`services`, `serviceimports.multicluster.x-k8s.io`).
fn qualified(res: &ApiResource) -> String {
    if res.group.is_empty() {
        res.plural.to_owned()
    } else {
        format!("{}.{}", res.plural, res.group)
    }
}

/// 409: the object to create is there already.
pub(crate) fn already_exists(t: &Scope, name: &str) -> ApiError {
    ApiError::new(
        409,
        "AlreadyExists",
        format!("{} \"{name}\" already exists", qualified(t.res)),
        json!({"name": name, "group": t.res.group, "kind": t.res.plural}),
    )
}

/// 409: an update named a resourceVersion that is no longer the latest.
pub(crate) fn conflict(t: &Scope, name: &str) -> ApiError {
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
