//! Explains a result in the user's terms: which object, which rule, which
//! Corefile line, and the fix, as the field report's troubleshooting did.

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::{Name, RecordType};
use serde::Serialize;

use crate::client::connect::{AddressKind, Connection};
use crate::client::resolve::Resolution;
use crate::model::rbac;
use crate::model::{ClusterState, Resource, World};
use crate::resolver::config::{Plugin, PluginKind};
use crate::resolver::zone::relative_labels;
use crate::resolver::{Outcome, Question};
use crate::scenario::{Client, DiagnosisId, ResolverSetup};

/// Explains a stale cached answer: the world is fixed, the cache is not.
pub fn stale_cache(cx: &Context<'_>, note: &super::CacheNote) -> Option<Diagnosis> {
    let fresh = note.fresh.as_ref()?;
    Some(Diagnosis {
        id: DiagnosisId::StaleCache,
        title: format!(
            "a cached answer is served for {} more second(s)",
            note.remaining
        ),
        detail: format!(
            "{}:{}: the cache plugin stored this answer {}s ago; the resolver itself now answers {fresh}",
            cx.corefile(),
            note.line,
            note.age
        ),
        fix: format!(
            "wait {}s for the entry to expire, or lower the TTLs (`cache` TTL, the zone's ttl); clients may cache it too",
            note.remaining
        ),
    })
}

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

/// What diagnoses look at.
pub struct Context<'a> {
    /// The world as it is now.
    pub world: &'a World,
    /// The resolver under test.
    pub resolver: &'a ResolverSetup,
    /// The client.
    pub client: &'a Client,
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
                Some(si)
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

/// Explains one query's outcome.
pub fn query(cx: &Context<'_>, q: &Question, outcome: &Outcome) -> Vec<Diagnosis> {
    let mut out = Vec::new();
    let reply = outcome.reply();
    let in_mcs = cx.mcs_labels(&q.name);
    // RBAC: a failing or silent resolver whose identity may not list ServiceImports.
    let failed = reply.is_none_or(|r| r.rcode == ResponseCode::ServFail);
    if failed
        && (in_mcs.is_some() || reply.is_none())
        && let Some(cluster) = cx.cluster()
        && let Err(denial) = rbac::check(cluster, &cx.resolver.identity, rbac::LIST_SERVICEIMPORTS)
            .and(rbac::check(
                cluster,
                &cx.resolver.identity,
                rbac::WATCH_SERVICEIMPORTS,
            ))
    {
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
        out.push(Diagnosis {
            id: DiagnosisId::RbacServiceImports,
            title: format!("{} may not list and watch ServiceImports in {}", cx.resolver.identity, cx.resolver.cluster),
            detail: format!(
                "{denial}. The identity is bound to {roles}, which has no rule for group multicluster.x-k8s.io, resource serviceimports, verbs list and watch; without it the resolver never syncs.",
                denial = denial.message()
            ),
            fix: format!(
                "add the rule to ClusterRole {role}:\n  - apiGroups: [\"multicluster.x-k8s.io\"]\n    resources: [\"serviceimports\"]\n    verbs: [\"list\", \"watch\"]\nkubectl patch clusterrole {role} --type=json -p '[{{\"op\":\"add\",\"path\":\"/rules/-\",\"value\":{{\"apiGroups\":[\"multicluster.x-k8s.io\"],\"resources\":[\"serviceimports\"],\"verbs\":[\"list\",\"watch\"]}}}}]'"
            ),
        });
    }
    let Some(reply) = reply else { return out };
    // RA: dig warns "recursion requested but not available".
    if !reply.recursion_available && reply.rcode != ResponseCode::Refused {
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
        out.push(Diagnosis {
            id: DiagnosisId::RaFlagOff,
            title:
                "the answer has no RA flag, so dig warns \"recursion requested but not available\""
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
        });
    }
    let Some((zone, labels)) = in_mcs else {
        return out;
    };
    let Some((svc, ns)) = service_of(&labels) else {
        return out;
    };
    let svc_name = format!("{svc}.{ns}.svc.{zone}");
    match cx.import(&ns, &svc) {
        Some(si)
            if !si.is_headless()
                && si.spec.ips.is_empty()
                && reply.answers.is_empty()
                && (labels.len() == 3 || (labels.len() == 5 && labels[0].starts_with('_') && labels[1].starts_with('_'))) =>
        {
            out.push(Diagnosis {
            id: DiagnosisId::ImportWithoutIps,
            title: format!("ServiceImport {ns}/{svc} in {} has no spec.ips, so {svc_name} has no address", cx.resolver.cluster),
            detail: "the MCS controller did not fill spec.ips (Karmada does not; Submariner only with clusterset IPs enabled). A ClusterSetIP import answers A/AAAA only from spec.ips.".into(),
            fix: format!("have the MCS controller allocate a clusterset IP, or set spec.ips on ServiceImport {ns}/{svc} by hand"),
        })
        }
        Some(si) if si.is_headless() && reply.rcode == ResponseCode::NXDomain && labels.len() == 3 && cx.mcs_ready(&ns, &svc) == 0 => out.push(Diagnosis {
            id: DiagnosisId::HeadlessNoReadyEndpoints,
            title: format!("headless ServiceImport {ns}/{svc} has no ready endpoints"),
            detail: format!("no ready endpoint in EndpointSlices labelled multicluster.kubernetes.io/service-name={svc} in namespace {ns} of {}", cx.resolver.cluster),
            fix: "check that the exporting clusters' Pods are ready and that the MCS controller copies their EndpointSlices".into(),
        }),
        None if reply.rcode == ResponseCode::NXDomain || reply.rcode == ResponseCode::Refused => {
            let exporters: Vec<&str> = cx
                .world
                .clusters
                .values()
                .filter(|c| {
                    c.resources().any(|r| {
                        matches!(r, Resource::ServiceExport(e) if e.metadata.name.as_deref().is_some_and(|n| n.eq_ignore_ascii_case(&svc))
                            && e.metadata.namespace.as_deref().unwrap_or("default").eq_ignore_ascii_case(&ns))
                    })
                })
                .map(|c| c.name.as_str())
                .collect();
            out.push(Diagnosis {
                id: DiagnosisId::ImportMissing,
                title: format!("no ServiceImport {ns}/{svc} in {}", cx.resolver.cluster),
                detail: if exporters.is_empty() {
                    format!("no cluster exports {ns}/{svc} (no ServiceExport), so nothing is imported")
                } else {
                    format!("{ns}/{svc} is exported from {} but not imported into {}", exporters.join(", "), cx.resolver.cluster)
                },
                fix: "create a ServiceExport in the exporting cluster and check that the MCS controller creates the ServiceImport".into(),
            });
        }
        _ => {}
    }
    // A kubernetes plugin ahead of multicluster on the same zone, without fallthrough.
    if reply.rcode == ResponseCode::NXDomain
        && let Some(server) = cx.resolver.config.server_for(&q.name)
    {
        let zone_plugins: Vec<_> = server
            .chain
            .iter()
            .filter_map(|p| match p {
                Plugin::Zone(z) => Some(z),
                _ => None,
            })
            .collect();
        let k8s = zone_plugins.iter().position(|z| {
            z.kind == PluginKind::Kubernetes
                && z.mcs_zones.is_empty()
                && z.zone_for(&q.name).is_some()
        });
        let mc = zone_plugins
            .iter()
            .position(|z| z.kind == PluginKind::Multicluster && z.zone_for(&q.name).is_some());
        if let (Some(k), Some(m)) = (k8s, mc)
            && k < m
            && !zone_plugins[k].fallthrough.covers(&q.name)
        {
            out.push(Diagnosis {
                id: DiagnosisId::McsZoneShadowed,
                title: format!("the kubernetes plugin answers {zone} before multicluster can"),
                detail: format!(
                    "{cf}:{kl}: kubernetes serves {zone} and runs first (plugin.cfg order), without fallthrough; {cf}:{ml}: multicluster {zone} never sees the query",
                    cf = cx.corefile(),
                    kl = zone_plugins[k].line,
                    ml = zone_plugins[m].line
                ),
                fix: "serve the imports from clusterset.local (`multicluster clusterset.local`), or add `fallthrough` to kubernetes, or build CoreDNS with multicluster before kubernetes in plugin.cfg".into(),
            });
        }
    }
    out
}

/// Explains a search-list lookup.
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
    // A search candidate in a local zone answered while an import of the same name exists.
    if let Some(answered) = resolution.answered_name()
        && resolution.answered_by_search(name)
        && !name.ends_with('.')
        && cx.mcs_labels(answered).is_none()
    {
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
    }
    // The name would resolve through a clusterset zone the search list lacks.
    if (resolution.answered.is_none() || out.iter().any(|d| d.id == DiagnosisId::LocalShadowing))
        && !name.ends_with('.')
    {
        for zone in &mcs_zones {
            if cx.client.search.contains(zone) {
                continue;
            }
            let Ok(base) = Name::from_ascii(name) else {
                continue;
            };
            // `svc.ns.svc` + zone, or the short `svc.ns` + `svc.` + zone.
            let forms = [
                base.clone().append_domain(zone).ok(),
                base.append_domain(&crate::resolver::zone::child(zone, &["svc"]))
                    .ok(),
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
    }
    out
}

/// Explains a simulated connection.
pub fn connect(
    cx: &Context<'_>,
    name: &str,
    resolution: &Resolution,
    connection: Option<&Connection>,
) -> Vec<Diagnosis> {
    let mut out = resolve(cx, name, RecordType::A, resolution);
    let Some(c) = connection else { return out };
    if c.reachable {
        return out;
    }
    let listening = if c.listening.is_empty() {
        &c.accepts
    } else {
        &c.listening
    };
    let port_problem = match &c.kind {
        AddressKind::Pod { .. } => !c.accepts.is_empty(),
        AddressKind::ClusterIp { .. } | AddressKind::ClusterSetIp { .. } => {
            !c.accepts.contains(&c.port) || !c.listening.is_empty()
        }
        AddressKind::Unknown => false,
    };
    if !port_problem {
        return out;
    }
    let advertised = cx.cluster().and_then(|cl| {
        cl.resources().find_map(|r| match r {
            Resource::ServiceImport(si)
                if si
                    .spec
                    .ips
                    .iter()
                    .any(|ip| ip.parse().ok() == Some(c.address)) =>
            {
                Some(si)
            }
            _ => None,
        })
    });
    let mut detail = format!("{}:{} — {}", c.address, c.port, c.path.join("; "));
    if let (AddressKind::Pod { cluster, .. }, Some(si)) = (&c.kind, advertised) {
        let ports: Vec<String> = si.spec.ports.iter().map(|p| p.port.to_string()).collect();
        detail.push_str(&format!(
            ". ServiceImport {}/{} advertises port {} but its spec.ips holds a Pod IP of {cluster}, not a clusterset IP: no Service maps the advertised port to the target port",
            si.metadata.namespace.as_deref().unwrap_or("default"),
            si.metadata.name.as_deref().unwrap_or_default(),
            ports.join(", ")
        ));
    }
    out.push(Diagnosis {
        id: DiagnosisId::PortMismatch,
        title: format!("nothing listens on port {} behind {}", c.port, c.address),
        detail,
        fix: if matches!(c.kind, AddressKind::Pod { .. }) || !c.accepts.contains(&c.port) {
            format!(
                "connect to a port the backends listen on ({}), or give the import a clusterset IP whose Service maps the advertised port to the backends' targetPort",
                listening.iter().map(u16::to_string).collect::<Vec<_>>().join(", ")
            )
        } else {
            format!(
                "set the Service's targetPort to where the containers listen ({}); port {} is accepted but sent where nothing listens",
                listening.iter().map(u16::to_string).collect::<Vec<_>>().join(", "),
                c.port
            )
        },
    });
    out
}
