//! Explains answers that the Corefile shapes: a header without RA, a kubernetes plugin ahead of multicluster.

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::Name;

use super::{Context, Diagnosis};
use crate::resolver::config::{Plugin, PluginKind};
use crate::resolver::{Question, Reply};
use crate::scenario::DiagnosisId;

/// ra-flag-off: dig warns "recursion requested but not available" when the
/// RA flag is clear, though the answer itself is right; a refusal is left
/// alone because it says nothing about recursion.
pub(super) fn ra_flag_off(cx: &Context<'_>, q: &Question, reply: &Reply) -> Option<Diagnosis> {
    if reply.recursion_available || reply.rcode == ResponseCode::Refused {
        return None;
    }
    let header_line = cx
        .resolver
        .config
        .server_for(&q.name)
        .into_iter()
        .flat_map(|s| s.chain.iter())
        .find_map(|p| match p {
            Plugin::Header { line, .. } => Some(*line),
            _ => None,
        });
    Some(Diagnosis {
        id: DiagnosisId::RaFlagOff,
        title: "the answer has no RA flag, so dig warns \"recursion requested but not available\""
            .into(),
        detail: match header_line {
            Some(l) => format!(
                "{}:{l}: the header plugin does not set ra on responses",
                cx.corefile()
            ),
            None => format!(
                "{} has no header plugin; CoreDNS's authoritative plugins never set RA",
                cx.corefile()
            ),
        },
        fix: "add to the server block:\n  header {\n      response set ra\n  }".into(),
    })
}

/// mcs-zone-shadowed: a kubernetes plugin ahead of multicluster on the same
/// zone, without fallthrough, answers NXDOMAIN before the imports are asked.
pub(super) fn mcs_zone_shadowed(
    cx: &Context<'_>,
    q: &Question,
    zone: &Name,
    reply: &Reply,
) -> Option<Diagnosis> {
    if reply.rcode != ResponseCode::NXDomain {
        return None;
    }
    let server = cx.resolver.config.server_for(&q.name)?;
    let zone_plugins: Vec<_> = server
        .chain
        .iter()
        .filter_map(|p| match p {
            Plugin::Zone(z) => Some(z),
            _ => None,
        })
        .collect();
    let k8s = zone_plugins.iter().position(|z| {
        z.kind == PluginKind::Kubernetes && z.mcs_zones.is_empty() && z.zone_for(&q.name).is_some()
    });
    let mc = zone_plugins
        .iter()
        .position(|z| z.kind == PluginKind::Multicluster && z.zone_for(&q.name).is_some());
    let (Some(k), Some(m)) = (k8s, mc) else {
        return None;
    };
    if k >= m || zone_plugins[k].fallthrough.covers(&q.name) {
        return None;
    }
    Some(Diagnosis {
        id: DiagnosisId::McsZoneShadowed,
        title: format!("the kubernetes plugin answers {zone} before multicluster can"),
        detail: format!(
            "{cf}:{kl}: kubernetes serves {zone} and runs first (plugin.cfg order), without fallthrough; {cf}:{ml}: multicluster {zone} never sees the query",
            cf = cx.corefile(),
            kl = zone_plugins[k].line,
            ml = zone_plugins[m].line
        ),
        fix: "serve the imports from clusterset.local (`multicluster clusterset.local`), or add `fallthrough` to kubernetes, or build CoreDNS with multicluster before kubernetes in plugin.cfg".into(),
    })
}
