//! Defaults and validates Services as kube-apiserver v1.34 does, for the
//! fields DNS reads: type, ports, cluster IPs and IP families.
//!
//! Defaulting is `SetDefaults_Service` and the IP-family part of the
//! registry's allocator; validation follows `validateService` and
//! `ValidateServiceClusterIPsRelatedFields` (pkg/apis/core/validation), in
//! their order. Left out: load-balancer, traffic-policy and
//! session-affinity-config details, which no DNS answer depends on.

use k8s_openapi::api::core::v1::{Service, ServicePort};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use serde_json::{Value, json};

use super::field::{BadValue, FieldError, Path};
use super::{ip, names};

const PROTOCOLS: [&str; 3] = ["SCTP", "TCP", "UDP"];
const TYPES: [&str; 4] = ["ClusterIP", "ExternalName", "LoadBalancer", "NodePort"];
const AFFINITIES: [&str; 2] = ["ClientIP", "None"];
const FAMILIES: [&str; 2] = ["IPv4", "IPv6"];
const POLICIES: [&str; 3] = ["PreferDualStack", "RequireDualStack", "SingleStack"];

/// Fills in what the API server fills in before validating: Go's zero
/// values where the JSON has none (a port without a number is port 0),
/// then `SetDefaults_Service`, then the ClusterIP/ClusterIPs sync and IP
/// family policy of the registry.
pub fn default(body: &mut Value) {
    if !body["spec"].is_object() {
        body["spec"] = json!({});
    }
    let spec = &mut body["spec"];
    if spec["sessionAffinity"].as_str().is_none_or(str::is_empty) {
        spec["sessionAffinity"] = json!("None");
    }
    if spec["sessionAffinity"] == "None"
        && let Some(s) = spec.as_object_mut()
    {
        s.remove("sessionAffinityConfig");
    }
    if spec["type"].as_str().is_none_or(str::is_empty) {
        spec["type"] = json!("ClusterIP");
    }
    let kind = spec["type"].as_str().unwrap_or_default().to_owned();
    for p in spec["ports"].as_array_mut().into_iter().flatten() {
        if !p.is_object() {
            continue;
        }
        if p["port"].is_null() {
            p["port"] = json!(0);
        }
        if p["protocol"].as_str().is_none_or(str::is_empty) {
            p["protocol"] = json!("TCP");
        }
        if p["targetPort"].is_null() || p["targetPort"] == 0 || p["targetPort"] == "" {
            p["targetPort"] = p["port"].clone();
        }
    }
    if matches!(kind.as_str(), "NodePort" | "LoadBalancer")
        && spec["externalTrafficPolicy"].is_null()
    {
        spec["externalTrafficPolicy"] = json!("Cluster");
    }
    if matches!(kind.as_str(), "ClusterIP" | "NodePort" | "LoadBalancer")
        && spec["internalTrafficPolicy"].is_null()
    {
        spec["internalTrafficPolicy"] = json!("Cluster");
    }
    if kind == "LoadBalancer" && spec["allocateLoadBalancerNodePorts"].is_null() {
        spec["allocateLoadBalancerNodePorts"] = json!(true);
    }
    // The strategy's NormalizeClusterIPs: clusterIPs follows clusterIP.
    if let Some(ip) = spec["clusterIP"].as_str().filter(|s| !s.is_empty())
        && spec["clusterIPs"].as_array().is_none_or(Vec::is_empty)
    {
        spec["clusterIPs"] = json!([ip]);
    }
}

/// The registry's IP-family defaults, once the ClusterIP is known: a
/// headless Service without a selector requires dual stack (and lists both
/// families), any other SingleStack; families follow the cluster IPs, else
/// IPv4. The emulator allocates IPv4 only, as a single-stack cluster whose
/// ServiceCIDRs cover any address would.
pub fn default_families(body: &mut Value) {
    let spec = &mut body["spec"];
    if spec["type"] == "ExternalName" {
        return;
    }
    let headless = spec["clusterIP"] == "None";
    let selectorless = spec["selector"].as_object().is_none_or(|m| m.is_empty());
    if spec["ipFamilyPolicy"].is_null() {
        spec["ipFamilyPolicy"] = json!(if headless && selectorless {
            "RequireDualStack"
        } else {
            "SingleStack"
        });
    }
    if spec["ipFamilies"].as_array().is_none_or(Vec::is_empty) {
        let mut families: Vec<&str> = spec["clusterIPs"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .filter(|ip| *ip != "None")
            .map(|a| if ip::is_ipv6(a) { "IPv6" } else { "IPv4" })
            .collect();
        if families.is_empty() {
            families.push("IPv4");
        }
        if headless && selectorless && spec["ipFamilyPolicy"] != "SingleStack" && families.len() < 2
        {
            families.push(if families[0] == "IPv4" {
                "IPv6"
            } else {
                "IPv4"
            });
        }
        spec["ipFamilies"] = json!(families);
    }
}

/// Every rule a defaulted Service breaks, in the API server's order
/// (metadata first).
pub fn validate(svc: &Service) -> Vec<FieldError> {
    let mut errs = super::metadata(&svc.metadata, names::dns1035_label);
    let Some(spec) = &svc.spec else {
        return errs;
    };
    let at = Path::new("spec");
    let kind = spec.type_.as_deref().unwrap_or_default();
    let ports: &[ServicePort] = spec.ports.as_deref().unwrap_or_default();
    let cluster_ips: &[String] = spec.cluster_ips.as_deref().unwrap_or_default();
    let headless = spec.cluster_ip.as_deref() == Some("None");
    if ports.is_empty() && !headless && kind != "ExternalName" {
        errs.push(FieldError::required(&at.child("ports"), ""));
    }
    match kind {
        "LoadBalancer" | "NodePort" if headless => errs.push(FieldError::invalid(
            &at.child("clusterIPs").index(0),
            cluster_ips.first().cloned().unwrap_or_default(),
            format!("may not be set to 'None' for {kind} services"),
        )),
        "ExternalName" => errs.extend(external_name(spec, &at)),
        _ => {}
    }
    let mut names_seen: Vec<&str> = Vec::new();
    for (i, p) in ports.iter().enumerate() {
        errs.extend(port(
            p,
            ports.len() > 1,
            &mut names_seen,
            &at.child("ports").index(i),
        ));
    }
    if let Some(selector) = &spec.selector {
        errs.extend(names::labels(selector, &at.child("selector")));
    }
    match spec.session_affinity.as_deref() {
        None | Some("") => errs.push(FieldError::required(&at.child("sessionAffinity"), "")),
        Some(a) if !AFFINITIES.contains(&a) => errs.push(FieldError::not_supported(
            &at.child("sessionAffinity"),
            a,
            &AFFINITIES,
        )),
        Some(_) => {}
    }
    errs.extend(cluster_ips_and_families(svc));
    for (i, a) in spec.external_ips.iter().flatten().enumerate() {
        let f = at.child("externalIPs").index(i);
        let bad = ip::legacy(&f, a);
        if bad.is_empty() {
            errs.extend(ip::endpoint(&f, a));
        } else {
            errs.extend(bad);
        }
    }
    match kind {
        "" => errs.push(FieldError::required(&at.child("type"), "")),
        k if !TYPES.contains(&k) => {
            errs.push(FieldError::not_supported(&at.child("type"), k, &TYPES));
        }
        _ => {}
    }
    if kind == "ClusterIP" {
        for (i, p) in ports.iter().enumerate() {
            if p.node_port.is_some_and(|n| n != 0) {
                errs.push(FieldError::forbidden(
                    &at.child("ports").index(i).child("nodePort"),
                    "may not be used when `type` is 'ClusterIP'",
                ));
            }
        }
    }
    // Two ports with the same number and protocol; the value shown is Go's
    // JSON of the internal ServicePort key (its fields, untagged).
    for (i, p) in ports.iter().enumerate() {
        let proto = p.protocol.as_deref().unwrap_or_default();
        let same = |q: &ServicePort| {
            q.port == p.port && q.protocol.as_deref().unwrap_or_default() == proto
        };
        if ports[..i].iter().any(same) {
            errs.push(FieldError::duplicate(
                &at.child("ports").index(i),
                BadValue::Shown(format!(
                    r#"{{"Name":"","Protocol":{},"AppProtocol":null,"Port":{},"TargetPort":0,"NodePort":0}}"#,
                    serde_json::Value::String(proto.to_owned()),
                    p.port
                )),
            ));
        }
    }
    errs
}

/// `validateServicePort`.
fn port<'a>(
    p: &'a ServicePort,
    require_name: bool,
    seen: &mut Vec<&'a str>,
    at: &Path,
) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let name = p.name.as_deref().unwrap_or_default();
    if require_name && name.is_empty() {
        errs.push(FieldError::required(&at.child("name"), ""));
    } else if !name.is_empty() {
        errs.extend(names::each(&at.child("name"), name, names::dns1123_label));
        if seen.contains(&name) {
            errs.push(FieldError::duplicate(&at.child("name"), name));
        } else {
            seen.push(name);
        }
    }
    if !(1..=65535).contains(&p.port) {
        errs.push(FieldError::invalid(
            &at.child("port"),
            i64::from(p.port),
            "must be between 1 and 65535, inclusive",
        ));
    }
    match p.protocol.as_deref() {
        None | Some("") => errs.push(FieldError::required(&at.child("protocol"), "")),
        Some(proto) if !PROTOCOLS.contains(&proto) => errs.push(FieldError::not_supported(
            &at.child("protocol"),
            proto,
            &PROTOCOLS,
        )),
        Some(_) => {}
    }
    match &p.target_port {
        Some(IntOrString::Int(n)) if !(1..=65535).contains(n) => errs.push(FieldError::invalid(
            &at.child("targetPort"),
            i64::from(*n),
            "must be between 1 and 65535, inclusive",
        )),
        Some(IntOrString::String(s)) => {
            errs.extend(names::each(&at.child("targetPort"), s, names::port_name));
        }
        _ => {}
    }
    if let Some(a) = &p.app_protocol {
        errs.extend(names::each(
            &at.child("appProtocol"),
            a,
            names::qualified_name,
        ));
    }
    errs
}

/// The ExternalName branch: no cluster IPs or families, a DNS name.
fn external_name(spec: &k8s_openapi::api::core::v1::ServiceSpec, at: &Path) -> Vec<FieldError> {
    let mut errs = Vec::new();
    if spec.cluster_ips.as_ref().is_some_and(|c| !c.is_empty()) {
        errs.push(FieldError::forbidden(
            &at.child("clusterIPs"),
            "may not be set for ExternalName services",
        ));
    }
    if spec.ip_families.as_ref().is_some_and(|f| !f.is_empty()) {
        errs.push(FieldError::forbidden(
            &at.child("ipFamilies"),
            "may not be set for ExternalName services",
        ));
    }
    if spec.ip_family_policy.is_some() {
        errs.push(FieldError::forbidden(
            &at.child("ipFamilyPolicy"),
            "may not be set for ExternalName services",
        ));
    }
    let cname = spec.external_name.as_deref().unwrap_or_default();
    let cname = cname.strip_suffix('.').unwrap_or(cname);
    if cname.is_empty() {
        errs.push(FieldError::required(&at.child("externalName"), ""));
    } else {
        errs.extend(names::each(
            &at.child("externalName"),
            cname,
            names::dns1123_subdomain,
        ));
    }
    errs
}

/// `ValidateServiceClusterIPsRelatedFields`.
fn cluster_ips_and_families(svc: &Service) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let Some(spec) = &svc.spec else {
        return errs;
    };
    if spec.type_.as_deref() == Some("ExternalName") {
        return errs;
    }
    let at = Path::new("spec");
    let ips_field = at.child("clusterIPs");
    let ips: &[String] = spec.cluster_ips.as_deref().unwrap_or_default();
    let ips_value = || BadValue::Json(json!(ips));
    let cluster_ip = spec.cluster_ip.as_deref().unwrap_or_default();
    if !cluster_ip.is_empty() {
        if ips.is_empty() {
            errs.push(FieldError::required(&ips_field, ""));
        } else if ips[0] != cluster_ip {
            errs.push(FieldError::invalid(
                &ips_field,
                ips_value(),
                "first value must match `clusterIP`",
            ));
        }
    } else if !ips.is_empty() {
        errs.push(FieldError::invalid(
            &ips_field,
            ips_value(),
            "must be empty when `clusterIP` is not specified",
        ));
    }
    let families: &[String] = spec.ip_families.as_deref().unwrap_or_default();
    for (i, f) in families.iter().enumerate() {
        let path = at.child("ipFamilies").index(i);
        if !FAMILIES.contains(&f.as_str()) {
            errs.push(FieldError::not_supported(&path, f.as_str(), &FAMILIES));
        }
        if families[..i].contains(f) {
            errs.push(FieldError::duplicate(&path, f.as_str()));
        }
    }
    if let Some(p) = &spec.ip_family_policy
        && !POLICIES.contains(&p.as_str())
    {
        errs.push(FieldError::not_supported(
            &at.child("ipFamilyPolicy"),
            BadValue::Json(json!(p)),
            &POLICIES,
        ));
    }
    let mut bad_ips = false;
    for (i, a) in ips.iter().enumerate() {
        if i == 0 && a == "None" {
            if ips.len() > 1 {
                bad_ips = true;
                errs.push(FieldError::invalid(
                    &ips_field,
                    ips_value(),
                    "'None' must be the first and only value",
                ));
            }
            continue;
        }
        let e = ip::legacy(&ips_field.index(i), a);
        bad_ips |= !e.is_empty();
        errs.extend(e);
    }
    if ips.len() > 2 {
        errs.push(FieldError::invalid(
            &ips_field,
            ips_value(),
            "may only hold up to 2 values",
        ));
    }
    if bad_ips {
        return errs;
    }
    if ips.len() > 1 && ip::is_ipv6(&ips[0]) == ip::is_ipv6(&ips[1]) {
        errs.push(FieldError::invalid(
            &ips_field,
            ips_value(),
            "may specify no more than one IP for each IP family",
        ));
    }
    if cluster_ip != "None" {
        for (i, (a, f)) in ips.iter().zip(families).enumerate() {
            if f == "IPv4" && ip::is_ipv6(a) {
                errs.push(FieldError::invalid(
                    &ips_field.index(i),
                    a.as_str(),
                    format!("expected an IPv4 value as indicated by `ipFamilies[{i}]`"),
                ));
            }
            if f == "IPv6" && !ip::is_ipv6(a) {
                errs.push(FieldError::invalid(
                    &ips_field.index(i),
                    a.as_str(),
                    format!("expected an IPv6 value as indicated by `ipFamilies[{i}]`"),
                ));
            }
        }
    }
    errs
}
