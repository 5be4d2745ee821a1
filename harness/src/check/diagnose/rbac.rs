//! Explains a resolver that fails because its identity may not list and
//! watch what it reads: ServiceImports and EndpointSlices for the MCS zone;
//! Services, EndpointSlices and Namespaces for `cluster.local`, and Pods
//! where the Corefile says `pods verified`.

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::Name;

use super::{Context, Diagnosis};
use crate::model::rbac::{self, Access};
use crate::resolver::Reply;
use crate::resolver::config::{Plugin, PodsMode};
use crate::scenario::DiagnosisId;

/// A list-and-watch the resolver keeps open, and the diagnosis of its denial.
struct Watched {
    id: DiagnosisId,
    group: &'static str,
    resource: &'static str,
    /// How people call them (`ServiceImports`).
    kind: &'static str,
}

const IMPORTS: Watched = Watched {
    id: DiagnosisId::RbacServiceImports,
    group: "multicluster.x-k8s.io",
    resource: "serviceimports",
    kind: "ServiceImports",
};
const SLICES: Watched = Watched {
    id: DiagnosisId::RbacEndpointSlices,
    group: "discovery.k8s.io",
    resource: "endpointslices",
    kind: "EndpointSlices",
};
const SERVICES: Watched = Watched {
    id: DiagnosisId::RbacServices,
    group: "",
    resource: "services",
    kind: "Services",
};
const NAMESPACES: Watched = Watched {
    id: DiagnosisId::RbacNamespaces,
    group: "",
    resource: "namespaces",
    kind: "Namespaces",
};
const PODS: Watched = Watched {
    id: DiagnosisId::RbacPods,
    group: "",
    resource: "pods",
    kind: "Pods",
};

/// Every denied list-and-watch that explains this answer: a failing or
/// silent resolver, or (for Pods under `pods verified`) a pod name it
/// could not verify. Only what the answering zone reads is looked at: a
/// ServFail in `cluster.local` does not point at ServiceImports.
pub(super) fn denied(
    cx: &Context<'_>,
    qname: &Name,
    reply: Option<&Reply>,
    in_mcs: bool,
) -> Vec<Diagnosis> {
    let failed = reply.is_none_or(|r| r.rcode == ResponseCode::ServFail);
    let positive = reply.is_some_and(|r| r.rcode == ResponseCode::NoError && !r.answers.is_empty());
    let local = local_zone(cx, qname);
    let mut needed: Vec<&Watched> = Vec::new();
    if failed && (in_mcs || reply.is_none()) {
        needed.extend([&IMPORTS, &SLICES]);
    }
    if failed && (local.is_some() || reply.is_none()) {
        needed.extend([&SERVICES, &SLICES, &NAMESPACES]);
    }
    let pod_name = qname.iter().any(|l| l.eq_ignore_ascii_case(b"pod"));
    if !positive && pod_name && local == Some(PodsMode::Verified) {
        needed.push(&PODS);
    }
    let mut out: Vec<Diagnosis> = Vec::new();
    for w in needed {
        if out.iter().any(|d| d.id == w.id) {
            continue;
        }
        out.extend(diagnose(cx, w));
    }
    out
}

/// The pods mode of the `kubernetes` plugin serving `qname` as its own
/// cluster's zone, if one does.
fn local_zone(cx: &Context<'_>, qname: &Name) -> Option<PodsMode> {
    cx.resolver
        .config
        .server_for(qname)?
        .chain
        .iter()
        .find_map(|p| match p {
            Plugin::Zone(z)
                if z.kind == crate::resolver::config::PluginKind::Kubernetes
                    && z.zones.iter().any(|zone| zone.zone_of(qname))
                    && !z.mcs_zones.iter().any(|m| m.zone_of(qname)) =>
            {
                Some(z.pods)
            }
            _ => None,
        })
}

fn diagnose(cx: &Context<'_>, w: &Watched) -> Option<Diagnosis> {
    let cluster = cx.cluster()?;
    let identity = &cx.resolver.identity;
    let access = |verb| Access {
        verb,
        group: w.group,
        resource: w.resource,
    };
    let denial = rbac::check(cluster, identity, access("list"))
        .and(rbac::check(cluster, identity, access("watch")))
        .err()?;
    let roles = if denial.roles.is_empty() {
        "no ClusterRole".to_owned()
    } else {
        format!("ClusterRole {}", denial.roles.join(", "))
    };
    let role = denial
        .roles
        .first()
        .cloned()
        .unwrap_or_else(|| "system:coredns".into());
    let group = if w.group.is_empty() {
        "the core group (\"\")".to_owned()
    } else {
        format!("group {}", w.group)
    };
    let qualified = if w.group.is_empty() {
        w.resource.to_owned()
    } else {
        format!("{}.{}", w.resource, w.group)
    };
    let bind = if denial.roles.is_empty() {
        format!(
            "\nthen bind it: kubectl create clusterrolebinding {role} --clusterrole={role} {}",
            subject(identity)
        )
    } else {
        String::new()
    };
    Some(Diagnosis {
        id: w.id,
        title: format!(
            "{identity} may not list and watch {} in {}",
            w.kind, cx.resolver.cluster
        ),
        detail: format!(
            "{denial}. The identity is bound to {roles}, which has no rule for {group}, resource {resource}, verbs list and watch; without it the resolver never syncs its {kind}. Check with `kubectl auth can-i list {qualified} --as={identity}`.",
            denial = denial.message(),
            resource = w.resource,
            kind = w.kind,
        ),
        fix: format!(
            "add the rule to ClusterRole {role}:\n  - apiGroups: [\"{g}\"]\n    resources: [\"{r}\"]\n    verbs: [\"list\", \"watch\"]\nkubectl patch clusterrole {role} --type=json -p '[{{\"op\":\"add\",\"path\":\"/rules/-\",\"value\":{{\"apiGroups\":[\"{g}\"],\"resources\":[\"{r}\"],\"verbs\":[\"list\",\"watch\"]}}}}]'{bind}",
            g = w.group,
            r = w.resource,
        ),
    })
}

/// The `kubectl create clusterrolebinding` subject option for an identity.
fn subject(identity: &str) -> String {
    match identity.strip_prefix("system:serviceaccount:") {
        Some(sa) => format!("--serviceaccount={sa}"),
        None => format!("--user={identity}"),
    }
}
