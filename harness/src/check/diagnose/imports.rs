//! Explains an MCS name whose ServiceImport is missing, has no IPs, or has no ready endpoints.

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::Name;

use super::{Context, Diagnosis};
use crate::model::Resource;
use crate::resolver::Reply;
use crate::scenario::DiagnosisId;

/// At most one of import-without-ips, headless-no-ready-endpoints and
/// import-missing for the service `svc.ns` that `labels` (below `zone`) name:
/// each describes a different state of the same ServiceImport.
pub(super) fn import_state(
    cx: &Context<'_>,
    zone: &Name,
    labels: &[String],
    (svc, ns): (&str, &str),
    reply: &Reply,
) -> Option<Diagnosis> {
    match cx.import(ns, svc) {
        Some(si)
            if !si.is_headless()
                && si.spec.ips.is_empty()
                && reply.answers.is_empty()
                && asks_service_address(labels) =>
        {
            Some(without_ips(cx, zone, svc, ns))
        }
        Some(si)
            if si.is_headless()
                && reply.rcode == ResponseCode::NXDomain
                && labels.len() == 3
                && cx.mcs_ready(ns, svc) == 0 =>
        {
            Some(headless_no_ready_endpoints(cx, svc, ns))
        }
        None if reply.rcode == ResponseCode::NXDomain || reply.rcode == ResponseCode::Refused => {
            Some(missing(cx, svc, ns))
        }
        _ => None,
    }
}

/// Whether the labels ask for the service's own address (`svc.ns.svc`) or
/// its SRV (`_port._proto.svc.ns.svc`), the names spec.ips answers.
fn asks_service_address(labels: &[String]) -> bool {
    labels.len() == 3
        || (labels.len() == 5 && labels[0].starts_with('_') && labels[1].starts_with('_'))
}

/// import-without-ips: a ClusterSetIP import answers A/AAAA only from
/// spec.ips; what to do depends on the controller that should fill it.
fn without_ips(cx: &Context<'_>, zone: &Name, svc: &str, ns: &str) -> Diagnosis {
    use crate::controller::ControllerKind;
    let svc_name = format!("{svc}.{ns}.svc.{zone}");
    let why = if cx.controllers.contains(&ControllerKind::Karmada16) {
        " (Karmada 1.6 never fills them)"
    } else {
        ""
    };
    let title = format!(
        "ServiceImport {ns}/{svc} in {} has no spec.ips{why}, so {svc_name} has no address",
        cx.resolver.cluster
    );
    let (detail, fix) = if cx.controllers.contains(&ControllerKind::Karmada16) {
        (
            format!(
                "Karmada 1.6 never fills ServiceImport.spec.ips (karmada issue #3197): it gives the import a Service derived-{svc} with a ClusterIP of its own in {} instead. A ClusterSetIP import answers A/AAAA only from spec.ips.",
                cx.resolver.cluster
            ),
            format!(
                "query derived-{svc}.{ns}.svc.cluster.local (Karmada's derived Service), or set spec.ips on ServiceImport {ns}/{svc} by hand, or use a controller that fills ips (the mcs-api controller copies its derived Service's ClusterIP into them)"
            ),
        )
    } else if cx.controllers.contains(&ControllerKind::McsApi) {
        let derived = crate::controller::mcsapi::derived_name(ns, svc);
        (
            format!(
                "the mcs-api controller copies the ClusterIP of its Service {derived} into spec.ips; there is none, so that Service was not created (the API refuses it for an unnamed second port, empty ports or a port above 65535: see the controller's lines in the transcript) or the import is not ClusterSetIP"
            ),
            format!(
                "fix the ports of ServiceImport {ns}/{svc} so that Service {derived} can be created (every port named when there are several, at least one port, numbers 1-65535)"
            ),
        )
    } else if cx.controllers.contains(&ControllerKind::Submariner) {
        (
            "Submariner's lighthouse-agent fills spec.ips only with clusterset IPs enabled (allocated from a pool); without them Lighthouse answers from its EndpointSlices, which a ServiceImport-based resolver does not read for ClusterSetIP.".into(),
            format!("enable clusterset IPs in Submariner, or use Lighthouse's own DNS for {svc_name}, or set spec.ips on ServiceImport {ns}/{svc} by hand"),
        )
    } else {
        (
            "the MCS controller did not fill spec.ips (Karmada does not; Submariner only with clusterset IPs enabled). A ClusterSetIP import answers A/AAAA only from spec.ips.".into(),
            format!("have the MCS controller allocate a clusterset IP, or set spec.ips on ServiceImport {ns}/{svc} by hand"),
        )
    };
    Diagnosis {
        id: DiagnosisId::ImportWithoutIps,
        title,
        detail,
        fix,
    }
}

/// import-ips-overwritten: the mcs-api controller replaced a hand-set
/// spec.ips with its derived Service's ClusterIPs.
pub(super) fn overwritten(cx: &Context<'_>, (svc, ns): (&str, &str)) -> Option<Diagnosis> {
    let si = cx.import(ns, svc)?;
    let o = cx.overwritten.iter().rev().find(|o| {
        o.cluster == cx.resolver.cluster
            && o.namespace.eq_ignore_ascii_case(ns)
            && o.name.eq_ignore_ascii_case(svc)
    })?;
    if si.spec.ips != o.after {
        return None;
    }
    Some(Diagnosis {
        id: DiagnosisId::ImportIpsOverwritten,
        title: format!(
            "the mcs-api controller replaced the hand-set spec.ips of ServiceImport {ns}/{svc} in {}",
            cx.resolver.cluster
        ),
        detail: format!(
            "spec.ips was {:?}; the controller copies the ClusterIPs of its Service {} into spec.ips whenever they differ (service.go:50-84), so {:?} is answered",
            o.before, o.derived, o.after
        ),
        fix: format!(
            "do not set spec.ips by hand under the mcs-api controller: the ClusterIP of Service {ns}/{} is the clusterset IP, and its endpoints are the slices labelled multicluster.kubernetes.io/service-name={svc}",
            o.derived
        ),
    })
}

/// headless-no-ready-endpoints: a headless import answers from the ready
/// endpoints of its slices, so with none the name does not exist.
fn headless_no_ready_endpoints(cx: &Context<'_>, svc: &str, ns: &str) -> Diagnosis {
    Diagnosis {
        id: DiagnosisId::HeadlessNoReadyEndpoints,
        title: format!("headless ServiceImport {ns}/{svc} has no ready endpoints"),
        detail: format!("no ready endpoint in EndpointSlices labelled multicluster.kubernetes.io/service-name={svc} in namespace {ns} of {}", cx.resolver.cluster),
        fix: "check that the exporting clusters' Pods are ready and that the MCS controller copies their EndpointSlices".into(),
    }
}

/// import-missing: says whether anything exports the service, since that
/// tells a missing export from a controller that does not import.
fn missing(cx: &Context<'_>, svc: &str, ns: &str) -> Diagnosis {
    let exporters: Vec<&str> = cx
        .world
        .clusters
        .values()
        .filter(|c| c.resources().any(|r| exports(r, svc, ns)))
        .map(|c| c.name.as_str())
        .collect();
    Diagnosis {
        id: DiagnosisId::ImportMissing,
        title: format!("no ServiceImport {ns}/{svc} in {}", cx.resolver.cluster),
        detail: if exporters.is_empty() {
            format!("no cluster exports {ns}/{svc} (no ServiceExport), so nothing is imported")
        } else {
            format!("{ns}/{svc} is exported from {} but not imported into {}", exporters.join(", "), cx.resolver.cluster)
        },
        fix: "create a ServiceExport in the exporting cluster and check that the MCS controller creates the ServiceImport".into(),
    }
}

/// Whether `r` is a ServiceExport of `ns/svc`, names compared as DNS compares them.
fn exports(r: &Resource, svc: &str, ns: &str) -> bool {
    matches!(r, Resource::ServiceExport(e) if e.metadata.name.as_deref().is_some_and(|n| n.eq_ignore_ascii_case(svc))
        && e.metadata.namespace.as_deref().unwrap_or("default").eq_ignore_ascii_case(ns))
}
