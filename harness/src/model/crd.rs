//! Declares the Multi-Cluster Services API types (`multicluster.x-k8s.io`).
//!
//! mcs-api is not published as a crate for kube 5, so the two kinds are
//! declared here from the v1beta1 schema. v1alpha1 and v1beta1 carry the same
//! fields; both apiVersions load into these types.

use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The API group of ServiceExport and ServiceImport.
pub const GROUP: &str = "multicluster.x-k8s.io";
/// The versions of [`GROUP`] that load into these types.
pub const VERSIONS: [&str; 2] = ["v1alpha1", "v1beta1"];

/// Label on an EndpointSlice naming the multi-cluster service it backs.
pub const LABEL_SERVICE_NAME: &str = "multicluster.kubernetes.io/service-name";
/// Label on an EndpointSlice naming the cluster its endpoints live in.
pub const LABEL_SOURCE_CLUSTER: &str = "multicluster.kubernetes.io/source-cluster";

/// Desired state of a ServiceImport: what the MCS controller programmed for
/// an imported service in this cluster.
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[kube(
    group = "multicluster.x-k8s.io",
    version = "v1alpha1",
    kind = "ServiceImport",
    namespaced,
    status = "ServiceImportStatus",
    derive = "PartialEq"
)]
#[serde(rename_all = "camelCase")]
pub struct ServiceImportSpec {
    /// `ClusterSetIP` or `Headless`; CoreDNS treats anything but `Headless`
    /// as ClusterSetIP.
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub type_: Option<String>,
    /// The clusterset IPs (at most one per family, in `ipFamilies` order).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ips: Vec<String>,
    /// The ports the imported service advertises. Always written, even
    /// empty: the CRD requires the field, and `ports: []` is how an import
    /// with no ports is spelled (Lighthouse writes it for headless imports).
    #[serde(default)]
    pub ports: Vec<ServicePort>,
    /// `None` or `ClientIP`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_affinity: Option<String>,
    /// Kept as given; DNS does not use it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_affinity_config: Option<serde_json::Value>,
    /// `IPv4` and/or `IPv6`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ip_families: Vec<String>,
    /// Kept as given; DNS does not use it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub internal_traffic_policy: Option<String>,
    /// Kept as given; DNS does not use it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub traffic_distribution: Option<String>,
}

/// One port of a ServiceImport.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ServicePort {
    /// The port name; only named ports get `_port._proto` SRV records.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// `TCP` (default), `UDP` or `SCTP`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub protocol: Option<String>,
    /// Kept as given; DNS does not use it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub app_protocol: Option<String>,
    /// The advertised port number, as stored: the CRD types it `integer`
    /// with no bounds the API server enforces (70000 is stored), so it is
    /// held whole and [`ServicePort::number`] says whether DNS can use it.
    pub port: i64,
}

impl ServicePort {
    /// The port number when it fits an SRV record (1 to 65535).
    pub fn number(&self) -> Option<u16> {
        u16::try_from(self.port).ok().filter(|p| *p != 0)
    }

    /// The protocol, defaulted to TCP as the API server does.
    pub fn protocol(&self) -> &str {
        self.protocol.as_deref().unwrap_or("TCP")
    }
}

/// Observed state of a ServiceImport.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ServiceImportStatus {
    /// The clusters that export the service.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub clusters: Vec<ClusterStatus>,
    /// Conditions, kept as given.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<serde_json::Value>,
    /// `Present` or `Absent` (v0.5): whether imported EndpointSlices exist.
    /// Kept as given; DNS does not use it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint_slice_objects: Option<String>,
}

/// One exporting cluster in a ServiceImport's status.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ClusterStatus {
    /// The cluster id.
    pub cluster: String,
}

impl ServiceImport {
    /// Whether DNS answers this import from EndpointSlices rather than `ips`.
    pub fn is_headless(&self) -> bool {
        self.spec.type_.as_deref() == Some("Headless")
    }
}

/// Desired state of a ServiceExport: the service of the same name and
/// namespace is exported to the cluster set.
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[kube(
    group = "multicluster.x-k8s.io",
    version = "v1alpha1",
    kind = "ServiceExport",
    namespaced,
    status = "ServiceExportStatus",
    derive = "PartialEq"
)]
#[serde(rename_all = "camelCase")]
pub struct ServiceExportSpec {
    /// Labels to carry over to the ServiceImport.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exported_labels: Option<std::collections::BTreeMap<String, String>>,
    /// Annotations to carry over to the ServiceImport.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exported_annotations: Option<std::collections::BTreeMap<String, String>>,
}

/// Observed state of a ServiceExport.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ServiceExportStatus {
    /// Conditions (Valid, Ready, Conflict), kept as given.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<serde_json::Value>,
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn an_import_without_ports_is_written_with_an_empty_list() {
        let spec = ServiceImportSpec {
            type_: Some("Headless".into()),
            ..Default::default()
        };
        let text = serde_json::to_string(&spec).unwrap();
        assert!(text.contains(r#""ports":[]"#), "{text}");
        let back: ServiceImportSpec = serde_json::from_str(&text).unwrap();
        assert_eq!(back, spec);
    }

    #[test]
    fn a_port_the_crd_accepts_decodes_and_only_a_dns_port_has_a_number() {
        let ports: Vec<ServicePort> = serde_json::from_value(json!([
            {"port": 70000}, {"port": 0}, {"port": -1}, {"port": 1}, {"port": 65535}
        ]))
        .unwrap();
        let numbers: Vec<Option<u16>> = ports.iter().map(ServicePort::number).collect();
        assert_eq!(numbers, [None, None, None, Some(1), Some(65535)]);
        assert_eq!(
            serde_json::to_value(&ports[0]).unwrap(),
            json!({"port": 70000})
        );
    }
}
