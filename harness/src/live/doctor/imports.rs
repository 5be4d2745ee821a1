//! Checks every ServiceImport of the consumer: its shape, its exports and
//! endpoints in the exporting clusters, same-named local Services that
//! shadow it, and whether its advertised ports reach the backends.

use std::collections::BTreeSet;

use hickory_proto::rr::RecordType;
use k8s_openapi::api::core::v1::Service;
use k8s_openapi::api::discovery::v1::EndpointSlice;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use serde_json::Value;

use super::setup::container_ports;
use super::{Finding, Inputs, LIBCS, Severity, cluster_first};
use crate::client::resolve::walk;
use crate::model::crd::{LABEL_SERVICE_NAME, LABEL_SOURCE_CLUSTER};
use crate::model::{ClusterState, Resource, ServiceImport};
use crate::resolver::view::endpoints_of;
use crate::resolver::{ClusterView, Question, ResolverConfig, answer};
use crate::scenario::{Client, Libc};

fn ns_of(meta: &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta) -> &str {
    meta.namespace.as_deref().unwrap_or("default")
}

fn named(
    meta: &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta,
    ns: &str,
    name: &str,
) -> bool {
    ns_of(meta) == ns && meta.name.as_deref() == Some(name)
}

fn service<'a>(state: &'a ClusterState, ns: &str, name: &str) -> Option<&'a Service> {
    state.resources().find_map(|r| match r {
        Resource::Service(s) if named(&s.metadata, ns, name) => Some(&**s),
        _ => None,
    })
}

/// EndpointSlices labelled `label=name` in `ns`.
fn slices<'a>(
    state: &'a ClusterState,
    ns: &str,
    label: &str,
    name: &str,
) -> Vec<&'a EndpointSlice> {
    state
        .resources()
        .filter_map(|r| match r {
            Resource::EndpointSlice(s)
                if ns_of(&s.metadata) == ns
                    && s.metadata
                        .labels
                        .as_ref()
                        .and_then(|l| l.get(label))
                        .map(String::as_str)
                        == Some(name) =>
            {
                Some(&**s)
            }
            _ => None,
        })
        .collect()
}

fn has_export(state: &ClusterState, ns: &str, name: &str) -> bool {
    state
        .resources()
        .any(|r| matches!(r, Resource::ServiceExport(e) if named(&e.metadata, ns, name)))
}

/// Runs every per-import check.
pub(super) fn check(inputs: &Inputs<'_>) -> Vec<Finding> {
    let state = &inputs.consumer.state;
    let mut out = Vec::new();
    let imports: Vec<&ServiceImport> = state
        .resources()
        .filter_map(|r| match r {
            Resource::ServiceImport(si) => Some(&**si),
            _ => None,
        })
        .collect();
    let config = inputs
        .config
        .cloned()
        .unwrap_or_else(|| ResolverConfig::default_for(crate::resolver::Profile::Coredns));
    let view = ClusterView::from_state(state);
    for si in &imports {
        let ns = ns_of(&si.metadata).to_owned();
        let name = si.metadata.name.clone().unwrap_or_default();
        out.extend(shape(inputs, si, &ns, &name));
        out.extend(exports(inputs, &ns, &name));
        out.extend(shadowing(inputs, &config, &view, &ns, &name));
        out.extend(ports(inputs, si, &ns, &name));
    }
    // Exported from a cluster given, never imported here.
    for (context, snap) in inputs.others {
        for r in snap.state.resources() {
            let Resource::ServiceExport(e) = r else {
                continue;
            };
            let ns = ns_of(&e.metadata);
            let name = e.metadata.name.as_deref().unwrap_or_default();
            if !imports.iter().any(|si| named(&si.metadata, ns, name))
                && inputs.options.narrow.keeps(ns)
            {
                out.push(Finding {
                    id: "import-missing".into(),
                    severity: Severity::Warning,
                    context: inputs.options.consumer.clone(),
                    object: format!("ServiceExport {ns}/{name} (in {context})"),
                    title: format!("{ns}/{name} is exported from {context} but {} has no ServiceImport {ns}/{name}", inputs.options.consumer),
                    rule: format!("{name}.{ns}.svc.{} answers only from a ServiceImport in the consumer's cluster (KEP-1645)", bare_zone(inputs)),
                    fix: format!("check the MCS controller: kubectl --context {context} -n {ns} get serviceexport {name} -o jsonpath='{{.status.conditions}}'"),
                });
            }
        }
    }
    out
}

fn bare_zone(inputs: &Inputs<'_>) -> String {
    inputs
        .options
        .zone
        .to_string()
        .trim_end_matches('.')
        .to_owned()
}

/// Type, ips, ports, namespace, endpoints and cluster ids of one import.
fn shape(inputs: &Inputs<'_>, si: &ServiceImport, ns: &str, name: &str) -> Vec<Finding> {
    let state = &inputs.consumer.state;
    let consumer = &inputs.options.consumer;
    let object = format!("ServiceImport {ns}/{name}");
    let fqdn = format!("{name}.{ns}.svc.{}", bare_zone(inputs));
    let mut out = Vec::new();
    let mk = |id: &str, severity, title: String, rule: String, fix: String| Finding {
        id: id.into(),
        severity,
        context: consumer.clone(),
        object: object.clone(),
        title,
        rule,
        fix,
    };
    let type_ = si.spec.type_.as_deref().unwrap_or("");
    if !matches!(type_, "ClusterSetIP" | "Headless") {
        out.push(mk(
            "import-type",
            Severity::Warning,
            format!("ServiceImport {ns}/{name} has type {type_:?}"),
            "spec.type is ClusterSetIP or Headless; CoreDNS treats anything but Headless as ClusterSetIP".into(),
            format!("kubectl --context {consumer} -n {ns} patch serviceimport {name} --type=merge -p '{{\"spec\":{{\"type\":\"ClusterSetIP\"}}}}'"),
        ));
    }
    if !state
        .resources()
        .any(|r| matches!(r, Resource::Namespace(n) if n.metadata.name.as_deref() == Some(ns)))
    {
        out.push(mk(
            "import-namespace-missing",
            Severity::Error,
            format!("namespace {ns} does not exist in {consumer}, so {fqdn} is NXDOMAIN"),
            "CoreDNS answers an MCS name only when its namespace exists in the local cluster"
                .into(),
            format!("kubectl --context {consumer} create namespace {ns}"),
        ));
    }
    if !si.is_headless() && si.spec.ips.is_empty() {
        let derived = service(state, ns, &format!("derived-{name}"))
            .and_then(|s| s.spec.as_ref()?.cluster_ip.clone())
            .filter(|ip| ip != "None");
        let ip = derived.clone().unwrap_or_else(|| "CLUSTERSET-IP".into());
        out.push(mk(
            "import-without-ips",
            Severity::Error,
            format!("ServiceImport {ns}/{name} has no spec.ips, so {fqdn} has no address (NOERROR, no records)"),
            "a ClusterSetIP import answers A/AAAA only from spec.ips; the MCS controller did not fill it (Karmada does not; Submariner only with clusterset IPs enabled)".into(),
            format!(
                "have the MCS controller allocate a clusterset IP, or set one by hand{}:\nkubectl --context {consumer} -n {ns} patch serviceimport {name} --type=merge -p '{{\"spec\":{{\"ips\":[\"{ip}\"]}}}}'",
                if derived.is_some() { format!(" (Karmada's derived-{name} Service has {ip})") } else { String::new() }
            ),
        ));
    }
    if si.spec.ports.is_empty() && !si.is_headless() {
        out.push(mk(
            "import-without-ports",
            Severity::Error,
            format!("ServiceImport {ns}/{name} has no ports, so CoreDNS answers NXDOMAIN for {fqdn}, even for A"),
            "CoreDNS builds a ClusterSetIP answer per (ip, port); with no port it finds no item".into(),
            format!("kubectl --context {consumer} -n {ns} patch serviceimport {name} --type=merge -p '{{\"spec\":{{\"ports\":[{{\"name\":\"http\",\"port\":80,\"protocol\":\"TCP\"}}]}}}}'  # the exported Service's ports"),
        ));
    }
    let mcs = slices(state, ns, LABEL_SERVICE_NAME, name);
    if si.is_headless() {
        let ready: usize = mcs.iter().map(|s| endpoints_of(s, true).len()).sum();
        if ready == 0 {
            out.push(mk(
                "headless-no-ready-endpoints",
                Severity::Error,
                format!("headless ServiceImport {ns}/{name} has no ready endpoints, so {fqdn} is NXDOMAIN"),
                format!("{} EndpointSlice(s) labelled {LABEL_SERVICE_NAME}={name} in {ns}, none with a ready endpoint", mcs.len()),
                format!("kubectl --context {consumer} -n {ns} get endpointslices -l {LABEL_SERVICE_NAME}={name} -o wide  # then check the exporting Pods' readiness and the MCS controller"),
            ));
        }
    }
    for s in mcs {
        let has_id = s
            .metadata
            .labels
            .as_ref()
            .is_some_and(|l| l.get(LABEL_SOURCE_CLUSTER).is_some_and(|v| !v.is_empty()));
        if !has_id {
            let slice = s.metadata.name.clone().unwrap_or_default();
            out.push(Finding {
                id: "slice-without-cluster-id".into(),
                severity: Severity::Warning,
                context: consumer.clone(),
                object: format!("EndpointSlice {ns}/{slice}"),
                title: format!("EndpointSlice {ns}/{slice} of {ns}/{name} has no {LABEL_SOURCE_CLUSTER} label"),
                rule: format!("per-endpoint names <host>.<clusterid>.{fqdn} need the cluster id; without it CoreDNS writes an empty label"),
                fix: format!("kubectl --context {consumer} -n {ns} label endpointslice {slice} {LABEL_SOURCE_CLUSTER}=CLUSTER-ID"),
            });
        }
    }
    out
}

/// The import's ServiceExports (and Services) in the exporting clusters given.
fn exports(inputs: &Inputs<'_>, ns: &str, name: &str) -> Vec<Finding> {
    if inputs.others.is_empty() {
        return Vec::new();
    }
    let mut out = Vec::new();
    let exporters: Vec<&String> = inputs
        .others
        .iter()
        .filter(|(_, s)| has_export(&s.state, ns, name))
        .map(|(c, _)| c)
        .collect();
    if exporters.is_empty() {
        let contexts: Vec<&str> = inputs.others.keys().map(String::as_str).collect();
        out.push(Finding {
            id: "export-missing".into(),
            severity: Severity::Warning,
            context: inputs.options.consumer.clone(),
            object: format!("ServiceImport {ns}/{name}"),
            title: format!("no ServiceExport {ns}/{name} in {}", contexts.join(", ")),
            rule: "an import without an export is stale or made by hand: the MCS controller keeps it only while a cluster exports the Service".into(),
            fix: format!(
                "kubectl --context {} -n {ns} apply -f - <<'EOF'\napiVersion: multicluster.x-k8s.io/v1alpha1\nkind: ServiceExport\nmetadata:\n  name: {name}\nEOF",
                contexts.first().copied().unwrap_or("EXPORTER")
            ),
        });
    }
    for context in exporters {
        if service(&inputs.others[context].state, ns, name).is_none() {
            out.push(Finding {
                id: "export-without-service".into(),
                severity: Severity::Error,
                context: context.clone(),
                object: format!("ServiceExport {ns}/{name}"),
                title: format!("{context} exports {ns}/{name} but has no Service {ns}/{name}"),
                rule: "a ServiceExport exports the Service of the same name and namespace".into(),
                fix: format!("kubectl --context {context} -n {ns} create service clusterip {name} --tcp=PORT:TARGETPORT  # or delete the ServiceExport"),
            });
        }
    }
    out
}

/// A same-named local Service, and what the search list makes of `name.ns.svc`.
fn shadowing(
    inputs: &Inputs<'_>,
    config: &ResolverConfig,
    view: &ClusterView,
    ns: &str,
    name: &str,
) -> Vec<Finding> {
    let consumer = &inputs.options.consumer;
    let state = &inputs.consumer.state;
    let Some(local) = service(state, ns, name) else {
        return Vec::new();
    };
    let search = inputs
        .options
        .search
        .clone()
        .unwrap_or_else(|| cluster_first(ns, &[]));
    let written = format!("{name}.{ns}.svc");
    let mut walks = Vec::new();
    for libc in LIBCS {
        let client = Client {
            cluster: consumer.clone(),
            namespace: ns.to_owned(),
            search: search.clone(),
            ndots: 5,
            libc,
        };
        let r = walk(&written, &client, |n| {
            answer(config, view, &Question::new(n.clone(), RecordType::A))
        });
        let to = r
            .answered_name()
            .map_or("no answer".into(), |n| n.to_string());
        walks.push(format!(
            "{}: {written} -> {to}",
            if libc == Libc::Glibc { "glibc" } else { "musl" }
        ));
    }
    let ip = local
        .spec
        .as_ref()
        .and_then(|s| s.cluster_ip.clone())
        .unwrap_or_default();
    vec![Finding {
        id: "local-shadowing".into(),
        severity: Severity::Warning,
        context: consumer.clone(),
        object: format!("Service {ns}/{name}"),
        title: format!(
            "the local Service {ns}/{name} ({ip}) shadows ServiceImport {ns}/{name} for {written} and shorter names"
        ),
        rule: format!(
            "search {} (ndots 5): {}; the local Service wins, healthy or not, and the import is reached only by {name}.{ns}.svc.{}",
            search
                .iter()
                .map(|n| n.to_string())
                .collect::<Vec<_>>()
                .join(" "),
            walks.join("; "),
            bare_zone(inputs)
        ),
        fix: format!(
            "call the import by its full name {name}.{ns}.svc.{}, or remove or rename the local Service: kubectl --context {consumer} -n {ns} delete service {name}",
            bare_zone(inputs)
        ),
    }]
}

/// The ports a set of backends listens on: slices' ports and containerPorts.
fn pod_ports(
    snap: &ClusterState,
    ns: &str,
    selector: Option<&std::collections::BTreeMap<String, String>>,
) -> Vec<(Option<String>, i64)> {
    let Some(selector) = selector.filter(|s| !s.is_empty()) else {
        return Vec::new();
    };
    let matches = |labels: &Value| selector.iter().all(|(k, v)| labels[k].as_str() == Some(v));
    let mut out = Vec::new();
    for (o, _) in &snap.others {
        if o.namespace != ns && !(o.namespace.is_empty() && ns == "default") {
            continue;
        }
        let spec = match o.kind.as_str() {
            "Pod" if matches(&o.body["metadata"]["labels"]) => &o.body["spec"],
            "Deployment" if matches(&o.body["spec"]["template"]["metadata"]["labels"]) => {
                &o.body["spec"]["template"]["spec"]
            }
            _ => continue,
        };
        for p in container_ports(spec) {
            if !out.contains(&p) {
                out.push(p);
            }
        }
    }
    out
}

/// Advertised ports against the exporting Services and the backends.
fn ports(inputs: &Inputs<'_>, si: &ServiceImport, ns: &str, name: &str) -> Vec<Finding> {
    let consumer = &inputs.options.consumer;
    let mut out = Vec::new();
    if si.is_headless() {
        return out;
    }
    let ips: BTreeSet<&str> = si.spec.ips.iter().map(String::as_str).collect();
    // The import's address is a backend's own (a Pod IP): the advertised
    // port must be one the backend listens on.
    let mut backends: Vec<(String, Vec<u16>)> = Vec::new();
    let consumer_slices = slices(&inputs.consumer.state, ns, LABEL_SERVICE_NAME, name);
    backends.push((consumer.clone(), listening_at(&consumer_slices, &ips)));
    for (context, snap) in inputs.others {
        let local = slices(&snap.state, ns, "kubernetes.io/service-name", name);
        backends.push((context.clone(), listening_at(&local, &ips)));
    }
    for (i, p) in si.spec.ports.iter().enumerate() {
        let Some(port) = p.number() else { continue };
        let proto = p.protocol().to_owned();
        if let Some((cluster, listen)) = backends
            .iter()
            .find(|(_, l)| !l.is_empty() && !l.contains(&port))
        {
            let to = listen[0];
            out.push(Finding {
                id: "port-mismatch".into(),
                severity: Severity::Error,
                context: consumer.clone(),
                object: format!("ServiceImport {ns}/{name}"),
                title: format!("ServiceImport {ns}/{name} advertises port {port}/{proto}, but its address is a backend of {cluster} that listens on {}", join(listen)),
                rule: format!("spec.ips {} holds a Pod IP, not a clusterset IP: no Service maps port {port} to the target port, so connections to {name}.{ns}.svc.{}:{port} fail", si.spec.ips.join(", "), bare_zone(inputs)),
                fix: format!(
                    "give the import a clusterset IP whose Service maps {port} to {to}, or advertise where the backends listen:\nkubectl --context {consumer} -n {ns} patch serviceimport {name} --type=json -p '[{{\"op\":\"replace\",\"path\":\"/spec/ports/{i}/port\",\"value\":{to}}}]'"
                ),
            });
        }
        for (context, snap) in inputs.others {
            if !has_export(&snap.state, ns, name) {
                continue;
            }
            let Some(svc) = service(&snap.state, ns, name) else {
                continue;
            };
            let Some(spec) = svc.spec.as_ref() else {
                continue;
            };
            let svc_ports = spec.ports.clone().unwrap_or_default();
            let Some((j, sp)) = svc_ports.iter().enumerate().find(|(_, sp)| {
                i64::from(sp.port) == i64::from(port)
                    && sp.protocol.as_deref().unwrap_or("TCP") == proto
            }) else {
                let offered: Vec<String> = svc_ports
                    .iter()
                    .map(|sp| format!("{}/{}", sp.port, sp.protocol.as_deref().unwrap_or("TCP")))
                    .collect();
                let to = svc_ports.first().map_or(port.into(), |sp| sp.port);
                out.push(Finding {
                    id: "port-not-exported".into(),
                    severity: Severity::Error,
                    context: consumer.clone(),
                    object: format!("ServiceImport {ns}/{name}"),
                    title: format!("ServiceImport {ns}/{name} advertises {port}/{proto}, which Service {ns}/{name} in {context} does not offer ({})", offered.join(", ")),
                    rule: "an import's ports are the exported Service's ports".into(),
                    fix: format!("kubectl --context {consumer} -n {ns} patch serviceimport {name} --type=json -p '[{{\"op\":\"replace\",\"path\":\"/spec/ports/{i}/port\",\"value\":{to}}}]'"),
                });
                continue;
            };
            let target = sp.target_port.clone().unwrap_or(IntOrString::Int(sp.port));
            let declared = pod_ports(&snap.state, ns, spec.selector.as_ref());
            if declared.is_empty() {
                continue;
            }
            let found = match &target {
                IntOrString::Int(t) => declared.iter().any(|(_, n)| *n == i64::from(*t)),
                IntOrString::String(s) => declared
                    .iter()
                    .any(|(n, _)| n.as_deref() == Some(s.as_str())),
            };
            if !found {
                let numbers: Vec<i64> = declared.iter().map(|(_, n)| *n).collect();
                let to = numbers[0];
                let shown = match &target {
                    IntOrString::Int(t) => t.to_string(),
                    IntOrString::String(s) => s.clone(),
                };
                out.push(Finding {
                    id: "target-port-mismatch".into(),
                    severity: Severity::Error,
                    context: context.clone(),
                    object: format!("Service {ns}/{name}"),
                    title: format!("Service {ns}/{name} in {context} sends port {port} to targetPort {shown}, where its backends do not listen ({})", numbers.iter().map(i64::to_string).collect::<Vec<_>>().join(", ")),
                    rule: "targetPort must be a containerPort of the Pods the Service selects".into(),
                    fix: format!("kubectl --context {context} -n {ns} patch service {name} --type=json -p '[{{\"op\":\"replace\",\"path\":\"/spec/ports/{j}/targetPort\",\"value\":{to}}}]'"),
                });
            }
        }
    }
    out
}

fn join(ports: &[u16]) -> String {
    ports
        .iter()
        .map(u16::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

/// The ports backends listen on when one of `ips` is their own address.
fn listening_at(slices: &[&EndpointSlice], ips: &BTreeSet<&str>) -> Vec<u16> {
    let mut out = Vec::new();
    for s in slices {
        let hit = s
            .endpoints
            .iter()
            .flatten()
            .any(|ep| ep.addresses.iter().any(|a| ips.contains(a.as_str())));
        if hit {
            for p in s.ports.iter().flatten() {
                if let Some(n) = p.port.and_then(|n| u16::try_from(n).ok())
                    && !out.contains(&n)
                {
                    out.push(n);
                }
            }
        }
    }
    out
}
