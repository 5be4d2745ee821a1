//! Checks that CoreDNS's service account may list and watch everything its
//! Corefile reads, by SubjectAccessReview (the API's own answer), and names
//! the ClusterRole to change.

use super::{Finding, Inputs, Severity};
use crate::live::read::Reader;
use crate::model::rbac::{self, Access};
use crate::resolver::config::{PluginKind, PodsMode};

/// A resource the Corefile makes CoreDNS list and watch.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Needed {
    group: &'static str,
    resource: &'static str,
    kind: &'static str,
    /// Why the Corefile needs it.
    why: &'static str,
}

const IMPORTS: Needed = Needed {
    group: "multicluster.x-k8s.io",
    resource: "serviceimports",
    kind: "ServiceImports",
    why: "multicluster answers from ServiceImports",
};
const SLICES: Needed = Needed {
    group: "discovery.k8s.io",
    resource: "endpointslices",
    kind: "EndpointSlices",
    why: "endpoints (headless and cluster.local) come from EndpointSlices",
};
const SERVICES: Needed = Needed {
    group: "",
    resource: "services",
    kind: "Services",
    why: "kubernetes answers cluster.local from Services",
};
const NAMESPACES: Needed = Needed {
    group: "",
    resource: "namespaces",
    kind: "Namespaces",
    why: "a name's namespace must exist locally",
};
const PODS: Needed = Needed {
    group: "",
    resource: "pods",
    kind: "Pods",
    why: "`pods verified` checks pod names against Pods",
};

/// What the Corefile needs, each once, with the Corefile line that needs it.
fn needed(inputs: &Inputs<'_>) -> Vec<(Needed, usize)> {
    let Some(config) = inputs.config else {
        return Vec::new();
    };
    let mut out: Vec<(Needed, usize)> = Vec::new();
    let mut add = |n: Needed, line: usize| {
        if !out.iter().any(|(o, _)| *o == n) {
            out.push((n, line));
        }
    };
    for z in config.zone_plugins() {
        if !z.mcs_zones.is_empty() {
            add(IMPORTS, z.line);
            add(SLICES, z.line);
            add(NAMESPACES, z.line);
        }
        if z.kind == PluginKind::Kubernetes {
            add(SERVICES, z.line);
            add(SLICES, z.line);
            add(NAMESPACES, z.line);
            if z.pods == PodsMode::Verified {
                add(PODS, z.line);
            }
        }
    }
    out
}

/// One finding per resource the service account may not list or watch.
pub(super) async fn check(
    reader: &Reader,
    inputs: &Inputs<'_>,
    unchecked: &mut Vec<String>,
) -> Vec<Finding> {
    let identity = inputs.dns.identity();
    let state = &inputs.consumer.state;
    let roles = own_roles(rbac::bound_roles(state, &identity));
    let mut out = Vec::new();
    let mut review_refused = None;
    for (n, line) in needed(inputs) {
        let mut denied = Vec::new();
        for verb in ["list", "watch"] {
            let allowed = if review_refused.is_none() {
                match reader.may(&identity, verb, n.group, n.resource).await {
                    Ok(a) => Some(a),
                    Err(e) => {
                        review_refused = Some(e.message);
                        None
                    }
                }
            } else {
                None
            };
            // Without the API's answer, the ClusterRoles read decide.
            let allowed = match allowed {
                Some(a) => a,
                None if rbac::is_modelled(state) => rbac::check(
                    state,
                    &identity,
                    Access {
                        verb,
                        group: n.group,
                        resource: n.resource,
                    },
                )
                .is_ok(),
                None => {
                    unchecked.push(format!(
                        "RBAC of {identity}: SubjectAccessReview refused ({}) and no ClusterRole could be read",
                        review_refused.clone().unwrap_or_default()
                    ));
                    return out;
                }
            };
            if !allowed {
                denied.push(verb);
            }
        }
        if denied.is_empty() {
            continue;
        }
        out.push(finding(inputs, &identity, &roles, n, line, &denied));
    }
    out
}

/// The roles every authenticated user or service account gets from a
/// real API server's default bindings: not the ones to change.
const DEFAULT_ROLES: [&str; 4] = [
    "system:basic-user",
    "system:discovery",
    "system:public-info-viewer",
    "system:service-account-issuer-discovery",
];

/// The roles bound to the account itself, CoreDNS's own first.
fn own_roles(mut roles: Vec<String>) -> Vec<String> {
    roles.retain(|r| !DEFAULT_ROLES.contains(&r.as_str()));
    roles.sort_by_key(|r| !r.contains("coredns"));
    roles
}

fn finding(
    inputs: &Inputs<'_>,
    identity: &str,
    roles: &[String],
    n: Needed,
    line: usize,
    denied: &[&str],
) -> Finding {
    let role = roles
        .first()
        .cloned()
        .unwrap_or_else(|| "system:coredns".into());
    let qualified = if n.group.is_empty() {
        n.resource.to_owned()
    } else {
        format!("{}.{}", n.resource, n.group)
    };
    let rule = format!(
        "{{\"apiGroups\":[\"{}\"],\"resources\":[\"{}\"],\"verbs\":[\"list\",\"watch\"]}}",
        n.group, n.resource
    );
    let sa = identity
        .strip_prefix("system:serviceaccount:")
        .unwrap_or(identity);
    let fix = if roles.is_empty() {
        format!(
            "kubectl create clusterrole {role} --verb=list,watch --resource={qualified}\nkubectl create clusterrolebinding {role} --clusterrole={role} --serviceaccount={sa}"
        )
    } else {
        format!(
            "kubectl patch clusterrole {role} --type=json -p '[{{\"op\":\"add\",\"path\":\"/rules/-\",\"value\":{rule}}}]'"
        )
    };
    let bound = if roles.is_empty() {
        "no ClusterRole is bound to it".to_owned()
    } else {
        format!("bound to ClusterRole {}", roles.join(", "))
    };
    let corefile = inputs
        .corefile
        .map_or("the Corefile".into(), |c| c.path.display().to_string());
    Finding {
        id: format!("rbac-{}", n.resource),
        severity: Severity::Error,
        context: inputs.options.consumer.clone(),
        object: format!("ClusterRole {role}"),
        title: format!("{identity} may not {} {}", denied.join(" and "), n.kind),
        rule: format!(
            "SubjectAccessReview: {qualified} {} denied at the cluster scope; {identity} is {bound}, with no rule for group \"{}\" resource {} verbs list and watch. {corefile}:{line} needs it: {}; without it CoreDNS never syncs (`kubectl auth can-i list {qualified} --as={identity}`)",
            denied.join(", "),
            n.group,
            n.resource,
            n.why
        ),
        fix,
    }
}
