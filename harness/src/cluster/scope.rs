//! Routes a request path to what it asks for: a resource type, maybe a
//! namespace, maybe one object.

pub use super::selector::Selector;
use crate::model::kinds::ApiResource;

/// What a request asks for: one resource type, maybe one namespace, maybe
/// one object.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Scope {
    /// The resource type served at the path.
    pub res: &'static ApiResource,
    /// The version asked for.
    pub version: &'static str,
    /// The namespace, for namespaced requests.
    pub namespace: Option<String>,
    /// The object's name, for requests on one object.
    pub name: Option<String>,
    /// Whether the request is for the object's `status` subresource.
    pub status: bool,
}

impl Scope {
    /// The whole collection of a resource type, all namespaces.
    pub fn all(res: &'static ApiResource) -> Scope {
        Scope {
            res,
            version: res.versions[0],
            namespace: None,
            name: None,
            status: false,
        }
    }

    /// Whether an object in `namespace` named `name` is in scope.
    pub(crate) fn covers(&self, namespace: &str, name: &str) -> bool {
        self.namespace.as_ref().is_none_or(|ns| ns == namespace)
            && self.name.as_ref().is_none_or(|n| n == name)
    }
}

/// Finds what a request path names:
/// `/api/v1/[namespaces/{ns}/]{resource}[/{name}[/status]]` or
/// `/apis/{group}/{version}/[namespaces/{ns}/]{resource}[/{name}[/status]]`.
pub fn route(path: &str) -> Option<Scope> {
    let parts: Vec<&str> = path.trim_matches('/').split('/').collect();
    let (group, version, rest) = match parts.as_slice() {
        ["api", version, rest @ ..] => ("", *version, rest),
        ["apis", group, version, rest @ ..] => (*group, *version, rest),
        _ => return None,
    };
    let one = |name: &str| Some(name.to_owned());
    let (namespace, resource, name, sub) = match rest {
        [resource] => (None, *resource, None, None),
        // `namespaces/{name}` is one Namespace, not a namespace's collection.
        ["namespaces", name] => (None, "namespaces", one(name), None),
        ["namespaces", name, "status"] => (None, "namespaces", one(name), Some("status")),
        [resource, name] => (None, *resource, one(name), None),
        ["namespaces", ns, resource] => (one(ns), *resource, None, None),
        [resource, name, sub] => (None, *resource, one(name), Some(*sub)),
        ["namespaces", ns, resource, name] => (one(ns), *resource, one(name), None),
        ["namespaces", ns, resource, name, sub] => (one(ns), *resource, one(name), Some(*sub)),
        _ => return None,
    };
    let status = match sub {
        None => false,
        Some("status") => true,
        Some(_) => return None,
    };
    let res = ApiResource::by_plural(group, resource)?;
    let version = res.versions.iter().copied().find(|v| *v == version)?;
    if namespace.is_some() && !res.namespaced || status && !res.has_status() {
        return None;
    }
    Some(Scope {
        res,
        version,
        namespace,
        name,
        status,
    })
}
