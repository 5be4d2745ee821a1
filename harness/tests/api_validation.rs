//! The emulator refuses what kube-apiserver v1.34.3 refuses, with its
//! status, reason and words (measured on a real server with the mcs-api
//! v0.5.2 CRDs, and read in its source); and no fixture or scenario holds
//! an object a real server would refuse.

mod common;

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use mcsdns::cluster::mock;
use mcsdns::cluster::rest::{ApiReply, ApiRequest, handle};
use mcsdns::cluster::store::{ADMIN, ApiStore, SharedApi};
use mcsdns::cluster::validation::{Crds, check_manifest};
use mcsdns::model::ClusterState;
use serde_json::{Value, json};

const IMPORTS: &str = "/apis/multicluster.x-k8s.io/v1beta1/namespaces/default/serviceimports";
const SLICES: &str = "/apis/discovery.k8s.io/v1/namespaces/default/endpointslices";
const SERVICES: &str = "/api/v1/namespaces/default/services";

fn api(crds: Option<Arc<Crds>>) -> SharedApi {
    let mut store = ApiStore::new(&ClusterState::new("c1"));
    store.set_crds(crds);
    Arc::new(Mutex::new(store))
}

/// Status, body and warnings of one request.
struct Reply {
    code: u16,
    body: Value,
    warnings: Vec<String>,
}

impl Reply {
    fn message(&self) -> &str {
        self.body["message"].as_str().unwrap_or_default()
    }

    /// `(reason, field)` of each cause.
    fn causes(&self) -> Vec<(String, String)> {
        self.body["details"]["causes"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|c| {
                (
                    c["reason"].as_str().unwrap_or_default().to_owned(),
                    c["field"].as_str().unwrap_or_default().to_owned(),
                )
            })
            .collect()
    }
}

fn send(api: &SharedApi, method: &str, path: &str, query: &str, ct: &str, body: &Value) -> Reply {
    let body = body.to_string();
    let req = ApiRequest {
        method,
        path,
        query,
        content_type: ct,
        body: body.as_bytes(),
        user_agent: "test",
    };
    match handle(api, ADMIN, &req) {
        ApiReply::Json(code, body) => Reply {
            code,
            body,
            warnings: Vec::new(),
        },
        ApiReply::Warned(code, body, warnings) => Reply {
            code,
            body,
            warnings,
        },
        _ => panic!("{method} {path}: not a JSON reply"),
    }
}

fn post(api: &SharedApi, path: &str, body: Value) -> Reply {
    send(api, "POST", path, "", "application/json", &body)
}

fn import(name: &str, spec: Value) -> Value {
    json!({"apiVersion": "multicluster.x-k8s.io/v1beta1", "kind": "ServiceImport",
        "metadata": {"name": name, "namespace": "default"}, "spec": spec})
}

/// A body, the 422's message, and its causes' `(reason, field)`.
type Case = (Value, &'static str, Vec<(&'static str, &'static str)>);

/// A 422 `Invalid` with this message, and these causes.
fn assert_invalid(r: &Reply, message: &str, causes: &[(&str, &str)]) {
    assert_eq!(r.code, 422, "{}", r.body);
    assert_eq!(r.body["reason"], "Invalid");
    assert_eq!(r.body["status"], "Failure");
    assert_eq!(r.message(), message);
    let want: Vec<(String, String)> = causes
        .iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect();
    assert_eq!(r.causes(), want, "{}", r.body);
}

#[test]
fn service_imports_are_refused_as_the_crd_refuses_them() {
    let Some(crds) = common::crds() else { return };
    let api = api(Some(crds));
    let ports = json!([{"name": "http", "port": 80}]);
    assert_invalid(
        &post(&api, IMPORTS, import("orphan", json!({"ports": ports}))),
        r#"ServiceImport.multicluster.x-k8s.io "orphan" is invalid: spec.type: Required value"#,
        &[("FieldValueRequired", "spec.type")],
    );
    let r = post(&api, IMPORTS, import("orphan", json!({})));
    assert_invalid(
        &r,
        r#"ServiceImport.multicluster.x-k8s.io "orphan" is invalid: [spec.ports: Required value, spec.type: Required value]"#,
        &[
            ("FieldValueRequired", "spec.ports"),
            ("FieldValueRequired", "spec.type"),
        ],
    );
    assert_eq!(r.body["details"]["group"], "multicluster.x-k8s.io");
    assert_eq!(r.body["details"]["kind"], "ServiceImport");
    assert_eq!(r.body["details"]["name"], "orphan");
    assert_eq!(
        r.body["details"]["causes"][0]["message"], "Required value",
        "a cause's message has no field"
    );
    assert_invalid(
        &post(
            &api,
            IMPORTS,
            import("lb", json!({"type": "LoadBalancer", "ports": ports})),
        ),
        r#"ServiceImport.multicluster.x-k8s.io "lb" is invalid: spec.type: Unsupported value: "LoadBalancer": supported values: "ClusterSetIP", "Headless""#,
        &[("FieldValueNotSupported", "spec.type")],
    );
    assert_invalid(
        &post(
            &api,
            IMPORTS,
            import(
                "three",
                json!({"type": "ClusterSetIP", "ips": ["10.0.0.1", "10.0.0.2", "10.0.0.3"], "ports": ports}),
            ),
        ),
        r#"ServiceImport.multicluster.x-k8s.io "three" is invalid: spec.ips: Too many: 3: must have at most 2 items"#,
        &[("FieldValueTooMany", "spec.ips")],
    );
    assert_invalid(
        &post(
            &api,
            IMPORTS,
            import(
                "nonum",
                json!({"type": "Headless", "ports": [{"name": "http"}]}),
            ),
        ),
        r#"ServiceImport.multicluster.x-k8s.io "nonum" is invalid: spec.ports[0].port: Required value"#,
        &[("FieldValueRequired", "spec.ports[0].port")],
    );
    assert_invalid(
        &post(
            &api,
            IMPORTS,
            import(
                "str",
                json!({"type": "Headless", "ports": [{"port": "80"}]}),
            ),
        ),
        r#"ServiceImport.multicluster.x-k8s.io "str" is invalid: spec.ports[0].port: Invalid value: "string": spec.ports[0].port in body must be of type integer: "string""#,
        &[("FieldValueTypeInvalid", "spec.ports[0].port")],
    );
    assert_invalid(
        &post(
            &api,
            IMPORTS,
            import("Bad_Name", json!({"type": "Headless", "ports": []})),
        ),
        r#"ServiceImport.multicluster.x-k8s.io "Bad_Name" is invalid: metadata.name: Invalid value: "Bad_Name": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"#,
        &[("FieldValueInvalid", "metadata.name")],
    );
}

#[test]
fn service_imports_the_crd_accepts_are_stored_as_sent() {
    let Some(crds) = common::crds() else { return };
    let api = api(Some(crds));
    for (name, spec) in [
        ("noports", json!({"type": "Headless", "ports": []})),
        (
            "notanip",
            json!({"type": "ClusterSetIP", "ips": ["not-an-ip"], "ports": []}),
        ),
        (
            "wide",
            json!({"type": "ClusterSetIP", "ports": [{"port": 70000}]}),
        ),
        (
            "noproto",
            json!({"type": "ClusterSetIP", "ports": [{"name": "dns", "port": 53}]}),
        ),
    ] {
        let r = post(&api, IMPORTS, import(name, spec.clone()));
        assert_eq!(r.code, 201, "{name}: {}", r.body);
        assert!(r.warnings.is_empty(), "{name}: {:?}", r.warnings);
        let got = send(
            &api,
            "GET",
            &format!("{IMPORTS}/{name}"),
            "",
            "",
            &Value::Null,
        );
        assert_eq!(
            got.body["spec"]["ports"], spec["ports"],
            "{name}: stored as sent"
        );
    }
}

#[test]
fn unknown_fields_are_pruned_with_a_warning_or_refused_when_strict() {
    let Some(crds) = common::crds() else { return };
    let api = api(Some(crds));
    let bogus = import(
        "bogus",
        json!({"type": "Headless", "ports": [], "bogus": 1}),
    );
    let r = send(
        &api,
        "POST",
        IMPORTS,
        "fieldValidation=Strict",
        "application/json",
        &bogus,
    );
    assert_eq!(r.code, 400, "{}", r.body);
    assert_eq!(r.body["reason"], "BadRequest");
    assert_eq!(
        r.message(),
        r#"ServiceImport in version "v1beta1" cannot be handled as a ServiceImport: strict decoding error: unknown field "spec.bogus""#
    );
    // The default (Warn): stored without the field, with a Warning header.
    let req = http::Request::builder()
        .method("POST")
        .uri(IMPORTS)
        .header("content-type", "application/json")
        .body(Bytes::from(bogus.to_string()))
        .unwrap();
    let response = mock::handle(&api, ADMIN, &req);
    assert_eq!(response.status(), 201);
    let warnings: Vec<&str> = response
        .headers()
        .get_all("warning")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .collect();
    assert_eq!(warnings, [r#"299 - "unknown field \"spec.bogus\"""#]);
    let got = send(
        &api,
        "GET",
        &format!("{IMPORTS}/bogus"),
        "",
        "",
        &Value::Null,
    );
    assert!(got.body["spec"].get("bogus").is_none(), "{}", got.body);
    // Built-in types too: the field their type does not have.
    let svc =
        json!({"metadata": {"name": "web"}, "spec": {"ports": [{"port": 80, "nodeport": 1}]}});
    let r = send(
        &api,
        "POST",
        SERVICES,
        "fieldValidation=Strict",
        "application/json",
        &svc,
    );
    assert_eq!(
        r.message(),
        r#"Service in version "v1" cannot be handled as a Service: strict decoding error: unknown field "spec.ports[0].nodeport""#
    );
    let r = post(&api, SERVICES, svc);
    assert_eq!(r.code, 201);
    assert_eq!(r.warnings, [r#"unknown field "spec.ports[0].nodeport""#]);
    let r = send(
        &api,
        "POST",
        SERVICES,
        "fieldValidation=Loose",
        "application/json",
        &json!({}),
    );
    assert_invalid(
        &r,
        r#"CreateOptions.meta.k8s.io "" is invalid: fieldValidation: Unsupported value: "Loose": supported values: "", "Ignore", "Strict", "Warn""#,
        &[("FieldValueNotSupported", "fieldValidation")],
    );
}

#[test]
fn without_the_crds_custom_resources_are_stored_unchecked() {
    let api = api(None);
    let r = post(&api, IMPORTS, import("orphan", json!({"ports": []})));
    assert_eq!(r.code, 201, "{}", r.body);
}

#[test]
fn a_strategic_merge_patch_of_a_custom_resource_is_an_unsupported_media_type() {
    let api = api(common::crds());
    let r = post(
        &api,
        IMPORTS,
        import("web", json!({"type": "ClusterSetIP", "ports": []})),
    );
    assert_eq!(r.code, 201);
    let patch = json!({"spec": {"ips": ["10.0.0.1"]}});
    let smp = "application/strategic-merge-patch+json";
    let r = send(&api, "PATCH", &format!("{IMPORTS}/web"), "", smp, &patch);
    assert_eq!(r.code, 415);
    assert_eq!(r.body["reason"], "UnsupportedMediaType");
    assert_eq!(
        r.message(),
        "the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml"
    );
    assert!(r.body.get("details").is_none(), "{}", r.body);
    let r = send(
        &api,
        "PATCH",
        &format!("{IMPORTS}/web"),
        "",
        "application/merge-patch+json",
        &patch,
    );
    assert_eq!(r.code, 200, "{}", r.body);
    // Built-in types take it.
    let svc = json!({"metadata": {"name": "web"}, "spec": {"ports": [{"port": 80}]}});
    assert_eq!(post(&api, SERVICES, svc).code, 201);
    let r = send(
        &api,
        "PATCH",
        &format!("{SERVICES}/web"),
        "",
        smp,
        &json!({"metadata": {"labels": {"a": "b"}}}),
    );
    assert_eq!(r.code, 200, "{}", r.body);
    let r = send(
        &api,
        "PATCH",
        &format!("{SERVICES}/web"),
        "",
        "text/plain",
        &json!({}),
    );
    assert_eq!((r.code, r.message()), (415, "415: Unsupported Media Type"));
}

fn slice(name: &str, address_type: &str, endpoints: Value, ports: Value) -> Value {
    json!({"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
        "metadata": {"name": name}, "addressType": address_type, "endpoints": endpoints, "ports": ports})
}

#[test]
fn endpoint_slices_are_refused_as_the_api_server_refuses_them() {
    let api = api(None);
    let ep = |a: &str| json!([{"addresses": [a]}]);
    let cases: Vec<Case> = vec![
        (
            slice("lo", "IPv4", ep("127.0.0.1"), json!([])),
            r#"EndpointSlice.discovery.k8s.io "lo" is invalid: endpoints[0].addresses[0]: Invalid value: "127.0.0.1": may not be in the loopback range (127.0.0.0/8, ::1/128)"#,
            vec![("FieldValueInvalid", "endpoints[0].addresses[0]")],
        ),
        (
            slice("ll", "IPv4", ep("169.254.0.7"), json!([])),
            r#"EndpointSlice.discovery.k8s.io "ll" is invalid: endpoints[0].addresses[0]: Invalid value: "169.254.0.7": may not be in the link-local range (169.254.0.0/16, fe80::/10)"#,
            vec![("FieldValueInvalid", "endpoints[0].addresses[0]")],
        ),
        (
            slice("v6", "IPv6", ep("FD00:0::10"), json!([])),
            r#"EndpointSlice.discovery.k8s.io "v6" is invalid: endpoints[0].addresses[0]: Invalid value: "FD00:0::10": must be in canonical form ("fd00::10")"#,
            vec![("FieldValueInvalid", "endpoints[0].addresses[0]")],
        ),
        (
            slice("fam", "IPv4", ep("fd00::10"), json!([])),
            r#"EndpointSlice.discovery.k8s.io "fam" is invalid: endpoints[0].addresses: Invalid value: "fd00::10": must be an IPv4 address"#,
            vec![("FieldValueInvalid", "endpoints[0].addresses")],
        ),
        (
            slice("bad", "IPv4", ep("10.0.0.300"), json!([])),
            r#"EndpointSlice.discovery.k8s.io "bad" is invalid: endpoints[0].addresses[0]: Invalid value: "10.0.0.300": must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)"#,
            vec![("FieldValueInvalid", "endpoints[0].addresses[0]")],
        ),
        (
            slice("none", "IPv4", json!([{"addresses": []}]), json!([])),
            r#"EndpointSlice.discovery.k8s.io "none" is invalid: endpoints[0].addresses: Required value: must contain at least 1 address"#,
            vec![("FieldValueRequired", "endpoints[0].addresses")],
        ),
        (
            slice(
                "host",
                "IPv4",
                json!([{"addresses": ["10.0.0.1"], "hostname": "Web_1"}]),
                json!([]),
            ),
            r#"EndpointSlice.discovery.k8s.io "host" is invalid: endpoints[0].hostname: Invalid value: "Web_1": a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')"#,
            vec![("FieldValueInvalid", "endpoints[0].hostname")],
        ),
        (
            slice(
                "twoports",
                "IPv4",
                ep("10.0.0.1"),
                json!([{"port": 80}, {"port": 81}]),
            ),
            r#"EndpointSlice.discovery.k8s.io "twoports" is invalid: ports[1].name: Duplicate value: """#,
            vec![("FieldValueDuplicate", "ports[1].name")],
        ),
        (
            slice(
                "proto",
                "IPv4",
                ep("10.0.0.1"),
                json!([{"port": 80, "protocol": "HTTP"}]),
            ),
            r#"EndpointSlice.discovery.k8s.io "proto" is invalid: ports[0].protocol: Unsupported value: "HTTP": supported values: "SCTP", "TCP", "UDP""#,
            vec![("FieldValueNotSupported", "ports[0].protocol")],
        ),
        (
            slice("kind", "IP", ep("10.0.0.1"), json!([])),
            r#"EndpointSlice.discovery.k8s.io "kind" is invalid: addressType: Unsupported value: "IP": supported values: "FQDN", "IPv4", "IPv6""#,
            vec![("FieldValueNotSupported", "addressType")],
        ),
        (
            json!({"metadata": {"name": "notype"}, "endpoints": []}),
            r#"EndpointSlice.discovery.k8s.io "notype" is invalid: addressType: Required value"#,
            vec![("FieldValueRequired", "addressType")],
        ),
    ];
    for (body, message, causes) in cases {
        assert_invalid(&post(&api, SLICES, body), message, &causes);
    }
}

#[test]
fn endpoint_slices_are_defaulted_and_warned_about_as_the_api_server_does() {
    let api = api(None);
    let r = post(
        &api,
        SLICES,
        slice(
            "ok",
            "IPv4",
            json!([{"addresses": ["010.0.0.1"]}]),
            json!([{"port": 80}]),
        ),
    );
    assert_eq!(r.code, 201, "{}", r.body);
    assert_eq!(
        r.body["ports"],
        json!([{"name": "", "port": 80, "protocol": "TCP"}])
    );
    assert_eq!(
        r.warnings,
        [
            r#"endpoints[0].addresses[0]: non-standard IP address "010.0.0.1" will be considered invalid in a future Kubernetes release: use "10.0.0.1""#
        ]
    );
    let r = post(
        &api,
        SLICES,
        slice(
            "names",
            "FQDN",
            json!([{"addresses": ["web.example.com"]}]),
            json!([]),
        ),
    );
    assert_eq!(r.code, 201, "{}", r.body);
    assert_eq!(
        r.warnings,
        ["spec.addressType: FQDN endpoints are deprecated"]
    );
}

fn service(name: &str, spec: Value) -> Value {
    json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": name}, "spec": spec})
}

#[test]
fn services_are_refused_as_the_api_server_refuses_them() {
    let api = api(None);
    let cases: Vec<Case> = vec![
        (
            service("noport", json!({"ports": [{"name": "http"}]})),
            r#"Service "noport" is invalid: [spec.ports[0].port: Invalid value: 0: must be between 1 and 65535, inclusive, spec.ports[0].targetPort: Invalid value: 0: must be between 1 and 65535, inclusive]"#,
            vec![
                ("FieldValueInvalid", "spec.ports[0].port"),
                ("FieldValueInvalid", "spec.ports[0].targetPort"),
            ],
        ),
        (
            service("wide", json!({"ports": [{"port": 70000}]})),
            r#"Service "wide" is invalid: [spec.ports[0].port: Invalid value: 70000: must be between 1 and 65535, inclusive, spec.ports[0].targetPort: Invalid value: 70000: must be between 1 and 65535, inclusive]"#,
            vec![
                ("FieldValueInvalid", "spec.ports[0].port"),
                ("FieldValueInvalid", "spec.ports[0].targetPort"),
            ],
        ),
        (
            service(
                "proto",
                json!({"ports": [{"port": 80, "protocol": "HTTP"}]}),
            ),
            r#"Service "proto" is invalid: spec.ports[0].protocol: Unsupported value: "HTTP": supported values: "SCTP", "TCP", "UDP""#,
            vec![("FieldValueNotSupported", "spec.ports[0].protocol")],
        ),
        (
            service(
                "names",
                json!({"ports": [{"port": 80, "name": "http"}, {"port": 81}]}),
            ),
            r#"Service "names" is invalid: spec.ports[1].name: Required value"#,
            vec![("FieldValueRequired", "spec.ports[1].name")],
        ),
        (
            service(
                "dup",
                json!({"ports": [{"port": 80, "name": "a"}, {"port": 81, "name": "a"}]}),
            ),
            r#"Service "dup" is invalid: spec.ports[1].name: Duplicate value: "a""#,
            vec![("FieldValueDuplicate", "spec.ports[1].name")],
        ),
        (
            service("kind", json!({"type": "Internal", "ports": [{"port": 80}]})),
            r#"Service "kind" is invalid: spec.type: Unsupported value: "Internal": supported values: "ClusterIP", "ExternalName", "LoadBalancer", "NodePort""#,
            vec![("FieldValueNotSupported", "spec.type")],
        ),
        (
            service(
                "ip",
                json!({"clusterIP": "10.96.0.300", "ports": [{"port": 80}]}),
            ),
            r#"Service "ip" is invalid: spec.clusterIPs[0]: Invalid value: "10.96.0.300": must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)"#,
            vec![("FieldValueInvalid", "spec.clusterIPs[0]")],
        ),
        (
            service("Web", json!({"ports": [{"port": 80}]})),
            r#"Service "Web" is invalid: metadata.name: Invalid value: "Web": a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')"#,
            vec![("FieldValueInvalid", "metadata.name")],
        ),
        (
            service("empty", json!({})),
            r#"Service "empty" is invalid: spec.ports: Required value"#,
            vec![("FieldValueRequired", "spec.ports")],
        ),
    ];
    for (body, message, causes) in cases {
        assert_invalid(&post(&api, SERVICES, body), message, &causes);
    }
}

#[test]
fn a_cluster_ip_another_service_holds_is_refused() {
    let api = api(None);
    let r = post(
        &api,
        SERVICES,
        service(
            "dns",
            json!({"clusterIP": "10.96.0.10", "ports": [{"port": 53}]}),
        ),
    );
    assert_eq!(r.code, 201, "{}", r.body);
    assert_invalid(
        &post(
            &api,
            SERVICES,
            service(
                "dns2",
                json!({"clusterIP": "10.96.0.10", "ports": [{"port": 53}]}),
            ),
        ),
        r#"Service "dns2" is invalid: spec.clusterIPs: Invalid value: ["10.96.0.10"]: failed to allocate IP 10.96.0.10: provided IP is already allocated"#,
        &[("FieldValueInvalid", "spec.clusterIPs")],
    );
    // Its own address is its own: an update keeps it.
    let mut again = r.body.clone();
    again["metadata"]["labels"] = json!({"a": "b"});
    let r = send(
        &api,
        "PUT",
        &format!("{SERVICES}/dns"),
        "",
        "application/json",
        &again,
    );
    assert_eq!(r.code, 200, "{}", r.body);
}

#[test]
fn services_are_defaulted_as_the_api_server_defaults_them() {
    let api = api(None);
    let r = post(
        &api,
        SERVICES,
        service(
            "web",
            json!({"selector": {"app": "web"}, "ports": [{"port": 80}]}),
        ),
    );
    assert_eq!(r.code, 201, "{}", r.body);
    let spec = &r.body["spec"];
    assert_eq!(spec["type"], "ClusterIP");
    assert_eq!(spec["sessionAffinity"], "None");
    assert_eq!(spec["internalTrafficPolicy"], "Cluster");
    assert_eq!(spec["ipFamilyPolicy"], "SingleStack");
    assert_eq!(spec["ipFamilies"], json!(["IPv4"]));
    assert_eq!(
        spec["ports"],
        json!([{"port": 80, "protocol": "TCP", "targetPort": 80}])
    );
    assert_eq!(spec["clusterIPs"], json!([spec["clusterIP"]]));
    // A headless Service without a selector asks for both families.
    let r = post(
        &api,
        SERVICES,
        service(
            "db",
            json!({"clusterIP": "None", "ports": [{"port": 5432}]}),
        ),
    );
    assert_eq!(r.code, 201, "{}", r.body);
    assert_eq!(r.body["spec"]["ipFamilyPolicy"], "RequireDualStack");
    assert_eq!(r.body["spec"]["ipFamilies"], json!(["IPv4", "IPv6"]));
    assert_eq!(r.body["spec"]["clusterIPs"], json!(["None"]));
}

/// Every YAML document of a manifest file or inline block.
fn documents(text: &str) -> Vec<Value> {
    serde_saphyr::from_multiple::<Value>(text)
        .unwrap_or_default()
        .into_iter()
        .filter(|d| !d.is_null())
        .collect()
}

/// Every manifest the repository's worlds and scenario `apply` steps hold,
/// with where it comes from: files under `fixtures/` (but the Corefiles
/// and known-failure lists), and each scenario's inline world and apply
/// blocks (a `path` they name is under `fixtures/`).
fn manifests() -> Vec<(String, Value)> {
    let root = common::repo();
    let mut out = Vec::new();
    let mut stack = vec![root.join("fixtures")];
    while let Some(dir) = stack.pop() {
        let mut entries: Vec<PathBuf> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        entries.sort();
        for p in entries {
            if p.is_dir() {
                if !p.ends_with("known") {
                    stack.push(p);
                }
            } else if p.extension().is_some_and(|e| e == "yaml") {
                let text = std::fs::read_to_string(&p).unwrap();
                let at = p.strip_prefix(&root).unwrap().display().to_string();
                out.extend(documents(&text).into_iter().map(|d| (at.clone(), d)));
            }
        }
    }
    for file in mcsdns::run::suite::discover(&root.join("scenarios")).unwrap() {
        let text = std::fs::read_to_string(&file).unwrap();
        let scenario: Value = serde_saphyr::from_str(&text).unwrap();
        let at = file.strip_prefix(&root).unwrap().display().to_string();
        let world = scenario["world"].as_object().into_iter().flatten();
        let inline = world.flat_map(|(_, sources)| sources.as_array().into_iter().flatten());
        let inline = inline.filter_map(|s| s["inline"].as_str());
        let applied = scenario["steps"].as_array().into_iter().flatten();
        let applied = applied.filter_map(|s| s["apply"]["manifest"].as_str());
        for text in inline.chain(applied) {
            out.extend(documents(text).into_iter().map(|d| (at.clone(), d)));
        }
    }
    out
}

#[test]
fn every_fixture_and_scenario_object_is_one_a_real_api_server_accepts() {
    let crds = common::crds();
    let all = manifests();
    assert!(all.len() > 40, "found only {} manifests", all.len());
    let from_scenarios = all
        .iter()
        .filter(|(f, _)| f.starts_with("scenarios"))
        .count();
    assert!(
        from_scenarios > 5,
        "found {from_scenarios} in scenario files"
    );
    let refused: Vec<String> = all
        .iter()
        .filter_map(|(file, doc)| {
            let e = check_manifest(crds.as_deref(), doc).err()?;
            let kind = doc["kind"].as_str().unwrap_or_default();
            let ns = doc["metadata"]["namespace"].as_str().unwrap_or("default");
            let name = doc["metadata"]["name"].as_str().unwrap_or_default();
            Some(format!("{file}: {kind} {ns}/{name}: {e}"))
        })
        .collect();
    assert!(refused.is_empty(), "refused:\n{}", refused.join("\n"));
}

#[test]
fn the_manifest_check_finds_what_a_real_server_refuses() {
    let crds = common::crds();
    let bad_slice = slice(
        "lo",
        "IPv4",
        json!([{"addresses": ["127.0.0.1"]}]),
        json!([]),
    );
    assert!(check_manifest(crds.as_deref(), &bad_slice).is_err());
    let unknown = service(
        "web",
        json!({"ports": [{"port": 80}], "clusterIp": "10.0.0.1"}),
    );
    assert!(
        check_manifest(crds.as_deref(), &unknown)
            .is_err_and(|e| e.to_string().contains(r#"unknown field "spec.clusterIp""#))
    );
    if crds.is_some() {
        let orphan = import("orphan", json!({"ports": []}));
        assert!(check_manifest(crds.as_deref(), &orphan).is_err());
    }
    // Kinds the API serves but no rule here checks pass.
    let cm = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x"}});
    assert!(check_manifest(crds.as_deref(), &cm).is_ok());
}
