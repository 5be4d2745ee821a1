//! Explains a result in the user's terms: which object, which rule, which
//! Corefile line, and the fix, as the field report's troubleshooting did.

mod cache;
mod corefile;
mod imports;
mod lighthouse;
mod port;
mod rbac;
mod search;

use hickory_proto::rr::{Name, RecordType};
use serde::Serialize;

use crate::client::connect::Connection;
use crate::client::resolve::Resolution;
use crate::model::{ClusterState, Resource, World};
use crate::resolver::zone::relative_labels;
use crate::resolver::{Outcome, Question};
use crate::scenario::{Check, Client, DiagnosisId, ResolverSetup};

/// One explanation attached to a result.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Diagnosis {
    /// Which known failure pattern this is.
    pub id: DiagnosisId,
    /// What is wrong, in a line.
    pub title: String,
    /// The objects, rules and lines involved.
    pub detail: String,
    /// What to change.
    pub fix: String,
}

impl Diagnosis {
    /// The diagnosis as dig-like comment lines, for under an answer.
    pub fn comment(&self) -> String {
        let mut s = format!(
            ";; diagnosis {}: {}\n;;   {}\n",
            self.id, self.title, self.detail
        );
        for (i, line) in self.fix.lines().enumerate() {
            let lead = if i == 0 { "fix: " } else { "     " };
            s.push_str(&format!(";;   {lead}{line}\n"));
        }
        s
    }
}

/// What diagnoses look at.
pub struct Context<'a> {
    /// The world as it is now.
    pub world: &'a World,
    /// The resolver under test.
    pub resolver: &'a ResolverSetup,
    /// The client.
    pub client: &'a Client,
    /// The controllers that act on the world.
    pub controllers: &'a [crate::controller::ControllerKind],
    /// The hand-set `spec.ips` the mcs-api controller replaced.
    pub overwritten: &'a [crate::controller::mcsapi::Overwrite],
}

impl Context<'_> {
    fn cluster(&self) -> Option<&ClusterState> {
        self.world.clusters.get(&self.resolver.cluster)
    }

    fn corefile(&self) -> String {
        self.resolver
            .config
            .corefile
            .as_ref()
            .map_or("the default Corefile".into(), |p| p.display().to_string())
    }

    /// The MCS zone holding `name`, and the labels below it.
    fn mcs_labels(&self, name: &Name) -> Option<(Name, Vec<String>)> {
        self.resolver
            .config
            .zone_plugins()
            .flat_map(|z| z.mcs_zones.iter())
            .filter(|z| z.zone_of(name))
            .max_by_key(|z| z.num_labels())
            .map(|z| (z.clone(), relative_labels(name, z)))
    }

    /// Ready endpoints of the multi-cluster service `ns/svc` in the resolver's cluster.
    fn mcs_ready(&self, ns: &str, svc: &str) -> usize {
        let Some(cluster) = self.cluster() else {
            return 0;
        };
        cluster
            .resources()
            .filter_map(|r| match r {
                Resource::EndpointSlice(slice)
                    if slice
                        .metadata
                        .namespace
                        .as_deref()
                        .unwrap_or("default")
                        .eq_ignore_ascii_case(ns)
                        && slice
                            .metadata
                            .labels
                            .as_ref()
                            .and_then(|l| l.get(crate::model::crd::LABEL_SERVICE_NAME))
                            .is_some_and(|n| n.eq_ignore_ascii_case(svc)) =>
                {
                    Some(crate::resolver::view::endpoints_of(slice, true).len())
                }
                _ => None,
            })
            .sum()
    }

    fn import(&self, ns: &str, svc: &str) -> Option<&crate::model::ServiceImport> {
        self.cluster()?.resources().find_map(|r| match r {
            Resource::ServiceImport(si)
                if si
                    .metadata
                    .name
                    .as_deref()
                    .is_some_and(|n| n.eq_ignore_ascii_case(svc))
                    && si
                        .metadata
                        .namespace
                        .as_deref()
                        .unwrap_or("default")
                        .eq_ignore_ascii_case(ns) =>
            {
                Some(&**si)
            }
            _ => None,
        })
    }
}

/// `<svc>.<ns>` of a `[..., svc, ns, "svc"]` label list.
fn service_of(labels: &[String]) -> Option<(String, String)> {
    match labels {
        [.., svc, ns, kind] if kind == "svc" => Some((svc.clone(), ns.clone())),
        _ => None,
    }
}

/// Explains one query's outcome. The families run in a fixed order, which
/// is the order the diagnoses appear in reports and snapshots.
pub fn query(cx: &Context<'_>, q: &Question, outcome: &Outcome) -> Vec<Diagnosis> {
    let mut out = Vec::new();
    let reply = outcome.reply();
    let in_mcs = cx.mcs_labels(&q.name);
    out.extend(rbac::denied(cx, &q.name, reply, in_mcs.is_some()));
    let Some(reply) = reply else { return out };
    out.extend(corefile::ra_flag_off(cx, q, reply));
    // The rest is about a service of an MCS zone.
    let Some((zone, labels)) = in_mcs else {
        return out;
    };
    let Some((svc, ns)) = service_of(&labels) else {
        return out;
    };
    if cx.resolver.config.profile == crate::resolver::Profile::Lighthouse {
        let found = lighthouse::explain(cx, q.qtype, &labels, (&svc, &ns), reply);
        // Lighthouse answers from slices without an import, and an import
        // without ips is not a fault to it: only a missing one is.
        if found.is_empty() && cx.import(&ns, &svc).is_none() {
            out.extend(imports::import_state(
                cx,
                &zone,
                &labels,
                (&svc, &ns),
                reply,
            ));
        }
        out.extend(found);
    } else {
        out.extend(imports::import_state(
            cx,
            &zone,
            &labels,
            (&svc, &ns),
            reply,
        ));
    }
    out.extend(imports::overwritten(cx, (&svc, &ns)));
    out.extend(corefile::mcs_zone_shadowed(cx, q, &zone, reply));
    out
}

/// Explains a search-list lookup: the query that decided it, then the walk.
pub fn resolve(
    cx: &Context<'_>,
    name: &str,
    qtype: RecordType,
    resolution: &Resolution,
) -> Vec<Diagnosis> {
    let mut out = match resolution.seen {
        Some(i) => query(
            cx,
            &Question::new(resolution.attempts[i].name.clone(), qtype),
            &resolution.attempts[i].outcome,
        ),
        None => Vec::new(),
    };
    // RA matters to dig, not to a libc stub walking its search list.
    out.retain(|d| d.id != DiagnosisId::RaFlagOff);
    let mcs_zones: Vec<Name> = cx
        .resolver
        .config
        .zone_plugins()
        .flat_map(|z| z.mcs_zones.iter().cloned())
        .collect();
    out.extend(search::local_shadowing(cx, name, resolution, &mcs_zones));
    // A missing clusterset zone explains no answer, or a local one that shadows the import.
    if resolution.answered.is_none() || out.iter().any(|d| d.id == DiagnosisId::LocalShadowing) {
        out.extend(search::missing_clusterset(cx, name, &mcs_zones));
    }
    out
}

/// Explains a simulated connection: the lookup, then the port.
pub fn connect(
    cx: &Context<'_>,
    name: &str,
    resolution: &Resolution,
    connection: Option<&Connection>,
) -> Vec<Diagnosis> {
    let mut out = resolve(cx, name, RecordType::A, resolution);
    if let Some(c) = connection {
        out.extend(port::mismatch(cx, c));
    }
    out
}

/// Whether a diagnosis `id` explains why `check` failed. A missing RA flag
/// explains only a check of the flag: shown under every failure, it would
/// bury the diagnosis that matters. What keeps a resolver from its data
/// (RBAC, a missing import, a shadowing plugin or Service, a stale cache)
/// explains any check of the answer, the candidate or the connection.
pub fn explains(id: DiagnosisId, check: &Check) -> bool {
    use crate::scenario::HeaderFlag;
    match (id, check) {
        (_, Check::NoDiagnosis) => true,
        (id, Check::Diagnosis(want)) => id == *want,
        (DiagnosisId::RaFlagOff, c) => matches!(c, Check::Flag(HeaderFlag::Ra, _)),
        (_, Check::Flag(..) | Check::TtlMin(_) | Check::TtlMax(_)) => false,
        (DiagnosisId::PortMismatch, c) => matches!(c, Check::Reachable(_)),
        _ => true,
    }
}

/// Explains a stale cached answer: the world is fixed, the cache is not.
pub fn stale_cache(cx: &Context<'_>, note: &super::CacheNote) -> Option<Diagnosis> {
    cache::stale(cx, note)
}
