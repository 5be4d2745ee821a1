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
    /// A `Status` failure as the API server words it. Empty `details`
    /// fields are left out, and `details` when nothing is left (Go's
    /// `omitempty`); so is an empty `reason`.
    pub fn new(code: u16, reason: &str, message: String, mut details: Value) -> ApiError {
        if let Some(d) = details.as_object_mut() {
            d.retain(|_, v| v.as_str() != Some(""));
        }
        let mut status = json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
            "message": message, "reason": reason, "code": code});
        if details.as_object().is_some_and(|d| !d.is_empty()) {
            status["details"] = details;
        }
        if reason.is_empty()
            && let Some(s) = status.as_object_mut()
        {
            s.remove("reason");
        }
        ApiError { code, status }
    }

    /// The same error with an empty `details` object, as some of the API
    /// server's handlers write it.
    pub fn with_empty_details(mut self) -> ApiError {
        self.status["details"] = json!({});
        self
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

/// 504: a read asked for a resourceVersion the store has not reached.
pub(crate) fn too_large_version(asked: u64, current: u64) -> ApiError {
    ApiError::new(
        504,
        "Timeout",
        format!("Timeout: Too large resource version: {asked}, current: {current}"),
        json!({"causes": [{"reason": "ResourceVersionTooLarge", "message": "Too large resource version"}],
            "retryAfterSeconds": 1}),
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
