//! Explains a Lighthouse answer in Lighthouse's terms: the EndpointSlice it
//! skips and the label it lacks, the ServiceImport it ignores, the ports
//! the exporting clusters do not share.

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::RecordType;

use super::{Context, Diagnosis};
use crate::model::Resource;
use crate::model::crd::{LABEL_SERVICE_NAME, LABEL_SOURCE_CLUSTER};
use crate::resolver::Reply;
use crate::resolver::zone::lighthouse_slice_problem;
use crate::scenario::DiagnosisId;

/// The Lighthouse diagnoses of a negative answer for a name of `ns/svc`.
pub(super) fn explain(
    cx: &Context<'_>,
    qtype: RecordType,
    labels: &[String],
    (svc, ns): (&str, &str),
    reply: &Reply,
) -> Vec<Diagnosis> {
    let negative = reply.rcode == ResponseCode::NXDomain || reply.is_nodata();
    if !negative {
        return Vec::new();
    }
    let mut out = Vec::new();
    if let Some(si) = cx.import(ns, svc) {
        let copy = |m: &Option<std::collections::BTreeMap<String, String>>| {
            m.as_ref()
                .is_some_and(|m| m.contains_key(LABEL_SERVICE_NAME))
        };
        if copy(&si.metadata.labels) || copy(&si.metadata.annotations) {
            let how = if copy(&si.metadata.labels) {
                "labelled"
            } else {
                "annotated"
            };
            out.push(Diagnosis {
                id: DiagnosisId::LighthouseImportIgnored,
                title: format!(
                    "Lighthouse ignores ServiceImport {ns}/{svc}: it is {how} {LABEL_SERVICE_NAME}"
                ),
                detail:
                    "Lighthouse takes a labelled import for its agent's per-cluster copy and an \
                         annotated one for the broker's, and skips both (service_import.go:109-113)"
                        .into(),
                fix: format!(
                    "remove the {LABEL_SERVICE_NAME} label and annotation from ServiceImport \
                     {ns}/{svc}, or let the Lighthouse agent create the import"
                ),
            });
        }
    }
    let slices = slices_of(cx, ns, svc);
    let problems: Vec<String> = slices
        .iter()
        .filter_map(|s| lighthouse_slice_problem(s, ns))
        .collect();
    if !problems.is_empty() {
        out.push(Diagnosis {
            id: DiagnosisId::LighthouseSliceSkipped,
            title: format!(
                "Lighthouse skips {} EndpointSlice(s) of {ns}/{svc}",
                problems.len()
            ),
            detail: problems.join("; "),
            fix: format!(
                "label each slice as the Lighthouse agent does: \
                 endpointslice.kubernetes.io/managed-by=lighthouse-agent.submariner.io, \
                 {LABEL_SERVICE_NAME}={svc}, lighthouse.submariner.io/sourceNamespace={ns} and \
                 {LABEL_SOURCE_CLUSTER}=<cluster id>"
            ),
        });
    }
    let port_form = labels.len() == 5 && qtype == RecordType::SRV;
    let has_ips = cx.import(ns, svc).is_some_and(|si| !si.spec.ips.is_empty());
    if port_form && reply.is_nodata() && !has_ips {
        let mut by_cluster: Vec<(String, Vec<String>)> = Vec::new();
        for s in slices
            .iter()
            .filter(|s| lighthouse_slice_problem(s, ns).is_none())
        {
            let cid = s
                .metadata
                .labels
                .as_ref()
                .and_then(|l| l.get(LABEL_SOURCE_CLUSTER))
                .cloned()
                .unwrap_or_default();
            let mut ports: Vec<String> = s
                .ports
                .iter()
                .flatten()
                .map(|p| {
                    format!(
                        "{}/{}/{}",
                        p.name.as_deref().unwrap_or(""),
                        p.protocol.as_deref().unwrap_or("TCP"),
                        p.port.unwrap_or_default()
                    )
                })
                .collect();
            ports.sort();
            by_cluster.push((cid, ports));
        }
        let differ = by_cluster.windows(2).any(|w| w[0].1 != w[1].1);
        if differ {
            out.push(Diagnosis {
                id: DiagnosisId::LighthousePortMismatch,
                title: format!(
                    "the clusters exporting {ns}/{svc} do not export the same ports, so \
                     Lighthouse's SRV for the service holds only the ports they share"
                ),
                detail: by_cluster
                    .iter()
                    .map(|(c, p)| format!("{c}: {}", p.join(", ")))
                    .collect::<Vec<_>>()
                    .join("; "),
                fix: "export the same ports (name, protocol, number) from every cluster, or ask \
                      `_port._proto.<clusterid>.<svc>` for one cluster's"
                    .into(),
            });
        }
    }
    out
}

/// The EndpointSlices of the resolver's cluster labelled with the service's name.
fn slices_of<'a>(
    cx: &'a Context<'_>,
    ns: &str,
    svc: &str,
) -> Vec<&'a k8s_openapi::api::discovery::v1::EndpointSlice> {
    let Some(cluster) = cx.cluster() else {
        return Vec::new();
    };
    cluster
        .resources()
        .filter_map(|r| match r {
            Resource::EndpointSlice(s)
                if s.metadata
                    .namespace
                    .as_deref()
                    .unwrap_or("default")
                    .eq_ignore_ascii_case(ns)
                    && s.metadata
                        .labels
                        .as_ref()
                        .and_then(|l| l.get(LABEL_SERVICE_NAME))
                        .is_some_and(|n| n.eq_ignore_ascii_case(svc)) =>
            {
                Some(&**s)
            }
            _ => None,
        })
        .collect()
}
