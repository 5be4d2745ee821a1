//! Explains a search-list walk that stops at a local name or never tries the clusterset zone.

use hickory_proto::rr::Name;

use super::{Context, Diagnosis, service_of};
use crate::client::resolve::Resolution;
use crate::resolver::config::PluginKind;
use crate::resolver::zone::{child, relative_labels};
use crate::scenario::DiagnosisId;

/// local-shadowing: a search candidate in a local zone answered while an
/// import of the same service exists, so the walk never reaches the import.
pub(super) fn local_shadowing(
    cx: &Context<'_>,
    name: &str,
    resolution: &Resolution,
    mcs_zones: &[Name],
) -> Vec<Diagnosis> {
    let mut out = Vec::new();
    let Some(answered) = resolution.answered_name() else {
        return out;
    };
    if !resolution.answered_by_search(name)
        || name.ends_with('.')
        || cx.mcs_labels(answered).is_some()
    {
        return out;
    }
    for z in cx
        .resolver
        .config
        .zone_plugins()
        .filter(|z| z.kind == PluginKind::Kubernetes)
    {
        let Some(zone) = z.zone_for(answered) else {
            continue;
        };
        if z.mcs_zones.contains(zone) {
            continue;
        }
        if let Some((svc, ns)) = service_of(&relative_labels(answered, zone))
            && cx.import(&ns, &svc).is_some()
        {
            out.push(Diagnosis {
                id: DiagnosisId::LocalShadowing,
                title: format!("{name} resolved to the local Service {ns}/{svc}, not the import"),
                detail: format!(
                    "the search list tries {answered} before any clusterset name; Service {ns}/{svc} exists in {}, so the ServiceImport {ns}/{svc} is never reached, healthy or not",
                    cx.client.cluster
                ),
                fix: format!("use the full name {svc}.{ns}.svc.{}, or remove or rename the local Service", mcs_zones.first().map_or("clusterset.local.".into(), Name::to_string)),
            });
        }
    }
    out
}

/// search-list-missing-clusterset: the relative `name` would reach an import
/// through a clusterset zone, had the client's search list named that zone.
pub(super) fn missing_clusterset(
    cx: &Context<'_>,
    name: &str,
    mcs_zones: &[Name],
) -> Vec<Diagnosis> {
    let mut out = Vec::new();
    if name.ends_with('.') {
        return out;
    }
    for zone in mcs_zones {
        if cx.client.search.contains(zone) {
            continue;
        }
        let Ok(base) = Name::from_ascii(name) else {
            continue;
        };
        // `svc.ns.svc` + zone, or the short `svc.ns` + `svc.` + zone.
        let forms = [
            base.clone().append_domain(zone).ok(),
            base.append_domain(&child(zone, &["svc"])).ok(),
        ];
        let hit = forms.into_iter().flatten().find_map(|full| {
            let (svc, ns) = service_of(&relative_labels(&full, zone))?;
            cx.import(&ns, &svc).map(|_| (full, svc, ns))
        });
        if let Some((full, svc, ns)) = hit {
            out.push(Diagnosis {
                id: DiagnosisId::SearchListMissingClusterset,
                title: format!("the client's search list has no {zone}"),
                detail: format!(
                    "search {} ({} in {}): {name} never becomes {full}, where ServiceImport {ns}/{svc} answers",
                    cx.client.search.iter().map(Name::to_string).collect::<Vec<_>>().join(" "),
                    cx.client.namespace,
                    cx.client.cluster
                ),
                fix: format!("add {zone} to the Pod's dnsConfig.searches (or resolv.conf `search`), or use the full name {full}"),
            });
        }
    }
    out
}
