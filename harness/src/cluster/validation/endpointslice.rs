//! Defaults and validates EndpointSlices as kube-apiserver v1.34 does
//! (`pkg/apis/discovery/validation`): the address type, the ports, and
//! each endpoint's addresses and hostname, which are what DNS answers with.

use k8s_openapi::api::discovery::v1::EndpointSlice;
use serde_json::{Value, json};

use super::field::{BadValue, FieldError, Path};
use super::{ip, names};

const ADDRESS_TYPES: [&str; 3] = ["FQDN", "IPv4", "IPv6"];
const PROTOCOLS: [&str; 3] = ["SCTP", "TCP", "UDP"];
const MAX_ENDPOINTS: usize = 1000;
const MAX_ADDRESSES: usize = 100;
const MAX_PORTS: usize = 20000;

/// Go's zero values where the JSON has none (no `addressType` is `""`, an
/// endpoint without addresses has none), then `SetDefaults_EndpointPort`:
/// a port's name is `""` and its protocol TCP.
pub fn default(body: &mut Value) {
    if body["addressType"].is_null() {
        body["addressType"] = json!("");
    }
    for e in body["endpoints"].as_array_mut().into_iter().flatten() {
        if e.is_object() && e["addresses"].is_null() {
            e["addresses"] = json!([]);
        }
        // `conditions` is a struct, not a pointer, in the API's types: it
        // is always written, empty when nothing is known.
        if e.is_object() && e["conditions"].is_null() {
            e["conditions"] = json!({});
        }
    }
    for p in body["ports"].as_array_mut().into_iter().flatten() {
        if !p.is_object() {
            continue;
        }
        if p["name"].is_null() {
            p["name"] = json!("");
        }
        if p["protocol"].is_null() {
            p["protocol"] = json!("TCP");
        }
    }
}

/// Every rule a defaulted EndpointSlice breaks, in the API server's order:
/// metadata, address type, ports, endpoints.
pub fn validate(slice: &EndpointSlice) -> Vec<FieldError> {
    let mut errs = super::metadata(&slice.metadata, names::dns1123_subdomain);
    let at = Path::new("addressType");
    match slice.address_type.as_str() {
        "" => errs.push(FieldError::required(&at, "")),
        t if !ADDRESS_TYPES.contains(&t) => {
            errs.push(FieldError::not_supported(&at, t, &ADDRESS_TYPES));
        }
        _ => {}
    }
    errs.extend(ports(slice));
    errs.extend(endpoints(slice));
    errs
}

/// The warnings of an accepted slice: FQDN is deprecated, and addresses
/// the sloppy IPv4 parser took should be written plainly.
pub fn warnings(slice: &EndpointSlice) -> Vec<String> {
    let mut out = Vec::new();
    if slice.address_type == "FQDN" {
        out.push("spec.addressType: FQDN endpoints are deprecated".to_owned());
    }
    let managed = slice
        .metadata
        .labels
        .as_ref()
        .and_then(|l| l.get("endpointslice.kubernetes.io/managed-by"))
        .map(String::as_str);
    // The API server trusts its own controllers' slices.
    if matches!(
        managed,
        Some("endpointslice-controller.k8s.io" | "endpointslicemirroring-controller.k8s.io")
    ) {
        return out;
    }
    for (i, e) in slice.endpoints.iter().flatten().enumerate() {
        for (j, a) in e.addresses.iter().enumerate() {
            let at = Path::new("endpoints").index(i).child("addresses").index(j);
            out.extend(ip::warnings(&at, a));
        }
    }
    out
}

fn ports(slice: &EndpointSlice) -> Vec<FieldError> {
    let at = Path::new("ports");
    let ports = slice.ports.as_deref().unwrap_or_default();
    if ports.len() > MAX_PORTS {
        return vec![FieldError::too_many(&at, ports.len(), MAX_PORTS as i64)];
    }
    let mut errs = Vec::new();
    let mut seen: Vec<&str> = Vec::new();
    for (i, p) in ports.iter().enumerate() {
        let at = at.index(i);
        let name = p.name.as_deref().unwrap_or_default();
        if !name.is_empty() {
            errs.extend(names::each(&at.child("name"), name, names::dns1123_label));
        }
        // Two unnamed ports share the name "".
        if seen.contains(&name) {
            errs.push(FieldError::duplicate(
                &at.child("name"),
                BadValue::Json(json!(name)),
            ));
        } else {
            seen.push(name);
        }
        match p.protocol.as_deref() {
            None => errs.push(FieldError::required(&at.child("protocol"), "")),
            Some(proto) if !PROTOCOLS.contains(&proto) => errs.push(FieldError::not_supported(
                &at.child("protocol"),
                proto,
                &PROTOCOLS,
            )),
            Some(_) => {}
        }
        if let Some(a) = &p.app_protocol {
            errs.extend(names::each(
                &at.child("appProtocol"),
                a,
                names::qualified_name,
            ));
        }
    }
    errs
}

fn endpoints(slice: &EndpointSlice) -> Vec<FieldError> {
    let at = Path::new("endpoints");
    let endpoints = slice.endpoints.as_deref().unwrap_or_default();
    if endpoints.len() > MAX_ENDPOINTS {
        return vec![FieldError::too_many(
            &at,
            endpoints.len(),
            MAX_ENDPOINTS as i64,
        )];
    }
    let mut errs = Vec::new();
    for (i, e) in endpoints.iter().enumerate() {
        let at = at.index(i);
        let addresses = at.child("addresses");
        if e.addresses.is_empty() {
            errs.push(FieldError::required(
                &addresses,
                "must contain at least 1 address",
            ));
        } else if e.addresses.len() > MAX_ADDRESSES {
            errs.push(FieldError::too_many(
                &addresses,
                e.addresses.len(),
                MAX_ADDRESSES as i64,
            ));
        }
        for (j, a) in e.addresses.iter().enumerate() {
            errs.extend(address(&slice.address_type, a, &addresses, j));
        }
        if let Some(h) = &e.hostname {
            errs.extend(names::each(&at.child("hostname"), h, names::dns1123_label));
        }
    }
    errs
}

/// One address of the slice's type. A wrong-family address is reported at
/// `addresses`, not at its index, as the API server reports it.
fn address(address_type: &str, a: &str, addresses: &Path, j: usize) -> Vec<FieldError> {
    let at = addresses.index(j);
    match address_type {
        "IPv4" => {
            let bad = ip::legacy(&at, a);
            if !bad.is_empty() {
                return bad;
            }
            let mut errs = Vec::new();
            if !ip::is_ipv4(a) {
                errs.push(FieldError::invalid(addresses, a, "must be an IPv4 address"));
            }
            errs.extend(ip::endpoint(&at, a));
            errs
        }
        "IPv6" => {
            let bad = ip::strict(&at, a);
            if !bad.is_empty() {
                return bad;
            }
            let mut errs = Vec::new();
            if !ip::is_ipv6(a) {
                errs.push(FieldError::invalid(addresses, a, "must be an IPv6 address"));
            }
            errs.extend(ip::endpoint(&at, a));
            errs
        }
        "FQDN" => fqdn(&at, a),
        _ => Vec::new(),
    }
}

/// `IsFullyQualifiedDomainName`: a subdomain of two labels or more, a
/// trailing dot allowed.
fn fqdn(at: &Path, name: &str) -> Vec<FieldError> {
    if name.is_empty() {
        return vec![FieldError::required(at, "")];
    }
    let name = name.strip_suffix('.').unwrap_or(name);
    let errs = names::dns1123_subdomain(name);
    if !errs.is_empty() {
        return vec![FieldError::invalid(at, name, errs.join(","))];
    }
    if name.split('.').count() < 2 {
        return vec![FieldError::invalid(
            at,
            name,
            "should be a domain with at least two segments separated by dots",
        )];
    }
    for label in name.split('.') {
        let errs = names::dns1123_label(label);
        if !errs.is_empty() {
            return vec![FieldError::invalid(at, label, errs.join(","))];
        }
    }
    Vec::new()
}
