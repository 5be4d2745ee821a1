//! Explains a resolver that fails because its identity may not list and watch ServiceImports.

use hickory_proto::op::ResponseCode;

use super::{Context, Diagnosis};
use crate::model::rbac;
use crate::resolver::Reply;
use crate::scenario::DiagnosisId;

/// rbac-serviceimports: a failing or silent resolver whose identity may not
/// list ServiceImports. Only a failure in an MCS zone, or no reply at all,
/// points at the import watch; a ServFail elsewhere has other causes.
pub(super) fn serviceimports(
    cx: &Context<'_>,
    reply: Option<&Reply>,
    in_mcs: bool,
) -> Option<Diagnosis> {
    let failed = reply.is_none_or(|r| r.rcode == ResponseCode::ServFail);
    if !(failed && (in_mcs || reply.is_none())) {
        return None;
    }
    let cluster = cx.cluster()?;
    let denial = rbac::check(cluster, &cx.resolver.identity, rbac::LIST_SERVICEIMPORTS)
        .and(rbac::check(
            cluster,
            &cx.resolver.identity,
            rbac::WATCH_SERVICEIMPORTS,
        ))
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
    Some(Diagnosis {
        id: DiagnosisId::RbacServiceImports,
        title: format!(
            "{} may not list and watch ServiceImports in {}",
            cx.resolver.identity, cx.resolver.cluster
        ),
        detail: format!(
            "{denial}. The identity is bound to {roles}, which has no rule for group multicluster.x-k8s.io, resource serviceimports, verbs list and watch; without it the resolver never syncs.",
            denial = denial.message()
        ),
        fix: format!(
            "add the rule to ClusterRole {role}:\n  - apiGroups: [\"multicluster.x-k8s.io\"]\n    resources: [\"serviceimports\"]\n    verbs: [\"list\", \"watch\"]\nkubectl patch clusterrole {role} --type=json -p '[{{\"op\":\"add\",\"path\":\"/rules/-\",\"value\":{{\"apiGroups\":[\"multicluster.x-k8s.io\"],\"resources\":[\"serviceimports\"],\"verbs\":[\"list\",\"watch\"]}}}}]'"
        ),
    })
}
