//! Routes a request path to what it asks for: a resource type, maybe a
//! namespace, maybe one object, and the label selector that narrows it.

use std::collections::BTreeMap;

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
}

impl Scope {
    /// The whole collection of a resource type, all namespaces.
    pub fn all(res: &'static ApiResource) -> Scope {
        Scope {
            res,
            version: res.versions[0],
            namespace: None,
            name: None,
        }
    }

    /// Whether an object in `namespace` named `name` is in scope.
    pub(crate) fn covers(&self, namespace: &str, name: &str) -> bool {
        self.namespace.as_ref().is_none_or(|ns| ns == namespace)
            && self.name.as_ref().is_none_or(|n| n == name)
    }
}

/// A label selector: `a=b`, `a!=b`, `a`, `!a`, comma separated.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Selector(Vec<(String, Op)>);

#[derive(Clone, Debug, PartialEq, Eq)]
enum Op {
    Eq(String),
    Ne(String),
    Exists,
    Absent,
}

impl Selector {
    /// Parses a `labelSelector` query value.
    pub fn parse(s: &str) -> Selector {
        let terms = s
            .split(',')
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .map(|t| {
                if let Some((k, v)) = t.split_once("!=") {
                    (k.trim().to_owned(), Op::Ne(v.trim().to_owned()))
                } else if let Some((k, v)) = t.split_once("==").or_else(|| t.split_once('=')) {
                    (k.trim().to_owned(), Op::Eq(v.trim().to_owned()))
                } else if let Some(k) = t.strip_prefix('!') {
                    (k.trim().to_owned(), Op::Absent)
                } else {
                    (t.to_owned(), Op::Exists)
                }
            })
            .collect();
        Selector(terms)
    }

    /// Whether an object's labels match.
    pub fn matches(&self, labels: Option<&BTreeMap<String, String>>) -> bool {
        self.0.iter().all(|(k, op)| {
            let v = labels.and_then(|l| l.get(k));
            match op {
                Op::Eq(want) => v == Some(want),
                Op::Ne(want) => v != Some(want),
                Op::Exists => v.is_some(),
                Op::Absent => v.is_none(),
            }
        })
    }
}

/// Finds what a request path names:
/// `/api/v1/[namespaces/{ns}/]{resource}[/{name}]` or
/// `/apis/{group}/{version}/[namespaces/{ns}/]{resource}[/{name}]`.
pub fn route(path: &str) -> Option<Scope> {
    let parts: Vec<&str> = path.trim_matches('/').split('/').collect();
    let (group, version, rest) = match parts.as_slice() {
        ["api", version, rest @ ..] => ("", *version, rest),
        ["apis", group, version, rest @ ..] => (*group, *version, rest),
        _ => return None,
    };
    let (namespace, resource, name) = match rest {
        [resource] => (None, *resource, None),
        // `namespaces/{name}` is one Namespace, not a namespace's collection.
        ["namespaces", name] => (None, "namespaces", Some(name.to_string())),
        [resource, name] => (None, *resource, Some(name.to_string())),
        ["namespaces", ns, resource] => (Some(ns.to_string()), *resource, None),
        ["namespaces", ns, resource, name] => {
            (Some(ns.to_string()), *resource, Some(name.to_string()))
        }
        _ => return None,
    };
    let res = ApiResource::by_plural(group, resource)?;
    let version = res.versions.iter().copied().find(|v| *v == version)?;
    if namespace.is_some() && !res.namespaced {
        return None;
    }
    Some(Scope {
        res,
        version,
        namespace,
        name,
    })
}
