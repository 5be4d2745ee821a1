//! Decides what an identity may do in a cluster, from its ClusterRoles and
//! ClusterRoleBindings, with the API server's own words for a denial.

use k8s_openapi::api::rbac::v1::PolicyRule;

use super::{ClusterState, Kind, Resource};

/// A request a resolver makes of the API.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Access<'a> {
    /// `list`, `watch`, `get`, ...
    pub verb: &'a str,
    /// The API group (`""` for core).
    pub group: &'a str,
    /// The resource (`serviceimports`).
    pub resource: &'a str,
}

/// What a watching resolver needs for ServiceImports.
pub const LIST_SERVICEIMPORTS: Access<'static> = Access {
    verb: "list",
    group: "multicluster.x-k8s.io",
    resource: "serviceimports",
};
/// ... and to keep watching them.
pub const WATCH_SERVICEIMPORTS: Access<'static> = Access {
    verb: "watch",
    group: "multicluster.x-k8s.io",
    resource: "serviceimports",
};
/// What a resolver needs for multi-cluster EndpointSlices.
pub const LIST_ENDPOINTSLICES: Access<'static> = Access {
    verb: "list",
    group: "discovery.k8s.io",
    resource: "endpointslices",
};

/// A denied request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Denial {
    /// Who asked.
    pub identity: String,
    /// The verb (`list`).
    pub verb: String,
    /// The API group (empty for the core group).
    pub group: String,
    /// The resource (`serviceimports`).
    pub resource: String,
    /// The namespace asked in (`None`: the cluster scope).
    pub namespace: Option<String>,
    /// The object asked for by name, if any.
    pub name: Option<String>,
    /// The ClusterRoles bound to the identity.
    pub roles: Vec<String>,
}

impl Denial {
    /// The message Kubernetes gives (HTTP 403), word for word.
    pub fn message(&self) -> String {
        let qualified = if self.group.is_empty() {
            self.resource.clone()
        } else {
            format!("{}.{}", self.resource, self.group)
        };
        let named = match &self.name {
            Some(n) => format!("{qualified} \"{n}\""),
            None => qualified,
        };
        let scope = match &self.namespace {
            Some(ns) => format!("in the namespace \"{ns}\""),
            None => "at the cluster scope".into(),
        };
        format!(
            "{named} is forbidden: User \"{}\" cannot {} resource \"{}\" in API group \"{}\" {scope}",
            self.identity, self.verb, self.resource, self.group
        )
    }
}

/// Whether the cluster models RBAC at all: a world without any ClusterRole or
/// ClusterRoleBinding leaves authorization out of the picture.
pub fn is_modelled(state: &ClusterState) -> bool {
    state.of_kind(Kind::ClusterRole).next().is_some()
        || state.of_kind(Kind::ClusterRoleBinding).next().is_some()
}

/// The ClusterRoles bound to `identity` (`system:serviceaccount:<ns>:<name>` or a user name).
pub fn bound_roles(state: &ClusterState, identity: &str) -> Vec<String> {
    let groups = groups_of(identity);
    let mut roles = Vec::new();
    for r in state.of_kind(Kind::ClusterRoleBinding) {
        let Resource::ClusterRoleBinding(b) = r else {
            continue;
        };
        if b.role_ref.kind != "ClusterRole" {
            continue;
        }
        let matches = b.subjects.iter().flatten().any(|s| match s.kind.as_str() {
            "ServiceAccount" => {
                identity
                    == format!(
                        "system:serviceaccount:{}:{}",
                        s.namespace.as_deref().unwrap_or("default"),
                        s.name
                    )
            }
            "User" => s.name == identity,
            "Group" => groups.contains(&s.name),
            _ => false,
        });
        if matches {
            roles.push(b.role_ref.name.clone());
        }
    }
    roles.sort();
    roles.dedup();
    roles
}

fn groups_of(identity: &str) -> Vec<String> {
    let mut g = vec!["system:authenticated".to_owned()];
    if let Some(rest) = identity.strip_prefix("system:serviceaccount:") {
        g.push("system:serviceaccounts".into());
        if let Some((ns, _)) = rest.split_once(':') {
            g.push(format!("system:serviceaccounts:{ns}"));
        }
    }
    g
}

fn allows(rule: &PolicyRule, a: Access<'_>) -> bool {
    let has =
        |list: &Option<Vec<String>>, v: &str| list.iter().flatten().any(|x| x == "*" || x == v);
    has(&rule.api_groups, a.group)
        && has(&rule.resources, a.resource)
        && rule.verbs.iter().any(|v| v == "*" || v == a.verb)
}

/// Checks one cluster-scoped request; `Ok` when allowed or when RBAC is not modelled.
pub fn check(state: &ClusterState, identity: &str, a: Access<'_>) -> Result<(), Box<Denial>> {
    if !is_modelled(state) {
        return Ok(());
    }
    let roles = bound_roles(state, identity);
    let allowed = state.of_kind(Kind::ClusterRole).any(|r| match r {
        Resource::ClusterRole(cr) => {
            roles.iter().any(|n| Some(n) == cr.metadata.name.as_ref())
                && cr.rules.iter().flatten().any(|rule| allows(rule, a))
        }
        _ => false,
    });
    if allowed {
        return Ok(());
    }
    Err(Box::new(Denial {
        identity: identity.to_owned(),
        verb: a.verb.to_owned(),
        group: a.group.to_owned(),
        resource: a.resource.to_owned(),
        namespace: None,
        name: None,
        roles,
    }))
}
