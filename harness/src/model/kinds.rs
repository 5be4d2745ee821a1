//! Names the Kubernetes types the API serves: kind, group, versions, plural.
//!
//! One table, so the store, routing, discovery and the targets that write to
//! real clusters agree on how each type is spelled.

use super::Kind;

/// A resource type the API serves.
#[derive(Debug, PartialEq, Eq)]
pub struct ApiResource {
    /// Its kind, as manifests spell it.
    pub kind: &'static str,
    /// The model's kind, for the types DNS reads; `None` for types the API
    /// only stores (Deployments, ConfigMaps, Karmada policies).
    pub model: Option<Kind>,
    /// The API group (`""` for core).
    pub group: &'static str,
    /// The versions served, preferred first.
    pub versions: &'static [&'static str],
    /// The plural resource name (the path segment).
    pub plural: &'static str,
    /// The singular name (`kubectl get service`).
    pub singular: &'static str,
    /// Whether objects live in a namespace.
    pub namespaced: bool,
    /// Short names (`svc`, `ep`).
    pub short_names: &'static [&'static str],
}

impl ApiResource {
    /// Whether the type is a custom resource (served by kube-apiserver's
    /// apiextensions server, which differs in patches, field selectors and
    /// messages) rather than built in.
    pub fn is_custom(&self) -> bool {
        !matches!(
            self.group,
            "" | "apps" | "discovery.k8s.io" | "rbac.authorization.k8s.io" | "networking.k8s.io"
        )
    }

    /// Whether objects have a `status` subresource: then only it writes
    /// their status, and creates and updates of the object keep the old one.
    pub fn has_status(&self) -> bool {
        matches!(
            self.kind,
            "ServiceImport" | "ServiceExport" | "Service" | "Namespace" | "Pod" | "Deployment"
        )
    }

    /// The resource a model kind is served as.
    pub fn of(kind: Kind) -> &'static ApiResource {
        RESOURCES
            .iter()
            .find(|r| r.model == Some(kind))
            .unwrap_or(&RESOURCES[0])
    }

    /// The resource of a path's group and plural (`""`, `pods`).
    pub fn by_plural(group: &str, plural: &str) -> Option<&'static ApiResource> {
        RESOURCES
            .iter()
            .find(|r| r.group == group && r.plural == plural)
    }

    /// The resource of a manifest's `apiVersion` and `kind`.
    pub fn by_kind(api_version: &str, kind: &str) -> Option<&'static ApiResource> {
        let (group, version) = api_version.rsplit_once('/').unwrap_or(("", api_version));
        RESOURCES
            .iter()
            .find(|r| r.kind == kind && r.group == group && r.versions.contains(&version))
    }

    /// `group/version` for the preferred version (`v1` for core).
    pub fn api_version(&self, version: &str) -> String {
        if self.group.is_empty() {
            version.to_owned()
        } else {
            format!("{}/{version}", self.group)
        }
    }
}

/// The resources the API serves.
pub const RESOURCES: &[ApiResource] = &[
    ApiResource {
        kind: "Namespace",
        model: Some(Kind::Namespace),
        group: "",
        versions: &["v1"],
        plural: "namespaces",
        singular: "namespace",
        namespaced: false,
        short_names: &["ns"],
    },
    ApiResource {
        kind: "Service",
        model: Some(Kind::Service),
        group: "",
        versions: &["v1"],
        plural: "services",
        singular: "service",
        namespaced: true,
        short_names: &["svc"],
    },
    ApiResource {
        kind: "EndpointSlice",
        model: Some(Kind::EndpointSlice),
        group: "discovery.k8s.io",
        versions: &["v1"],
        plural: "endpointslices",
        singular: "endpointslice",
        namespaced: true,
        short_names: &[],
    },
    ApiResource {
        kind: "ServiceImport",
        model: Some(Kind::ServiceImport),
        group: "multicluster.x-k8s.io",
        versions: &["v1alpha1", "v1beta1"],
        plural: "serviceimports",
        singular: "serviceimport",
        namespaced: true,
        short_names: &["svcim"],
    },
    ApiResource {
        kind: "ServiceExport",
        model: Some(Kind::ServiceExport),
        group: "multicluster.x-k8s.io",
        versions: &["v1alpha1", "v1beta1"],
        plural: "serviceexports",
        singular: "serviceexport",
        namespaced: true,
        short_names: &["svcex"],
    },
    ApiResource {
        kind: "ClusterRole",
        model: Some(Kind::ClusterRole),
        group: "rbac.authorization.k8s.io",
        versions: &["v1"],
        plural: "clusterroles",
        singular: "clusterrole",
        namespaced: false,
        short_names: &[],
    },
    ApiResource {
        kind: "ClusterRoleBinding",
        model: Some(Kind::ClusterRoleBinding),
        group: "rbac.authorization.k8s.io",
        versions: &["v1"],
        plural: "clusterrolebindings",
        singular: "clusterrolebinding",
        namespaced: false,
        short_names: &[],
    },
    ApiResource {
        kind: "ConfigMap",
        model: None,
        group: "",
        versions: &["v1"],
        plural: "configmaps",
        singular: "configmap",
        namespaced: true,
        short_names: &["cm"],
    },
    ApiResource {
        kind: "ServiceAccount",
        model: None,
        group: "",
        versions: &["v1"],
        plural: "serviceaccounts",
        singular: "serviceaccount",
        namespaced: true,
        short_names: &["sa"],
    },
    ApiResource {
        kind: "Pod",
        model: None,
        group: "",
        versions: &["v1"],
        plural: "pods",
        singular: "pod",
        namespaced: true,
        short_names: &["po"],
    },
    ApiResource {
        kind: "Deployment",
        model: None,
        group: "apps",
        versions: &["v1"],
        plural: "deployments",
        singular: "deployment",
        namespaced: true,
        short_names: &["deploy"],
    },
    ApiResource {
        kind: "PropagationPolicy",
        model: None,
        group: "policy.karmada.io",
        versions: &["v1alpha1"],
        plural: "propagationpolicies",
        singular: "propagationpolicy",
        namespaced: true,
        short_names: &["pp"],
    },
    ApiResource {
        kind: "ClusterPropagationPolicy",
        model: None,
        group: "policy.karmada.io",
        versions: &["v1alpha1"],
        plural: "clusterpropagationpolicies",
        singular: "clusterpropagationpolicy",
        namespaced: false,
        short_names: &["cpp"],
    },
    ApiResource {
        kind: "Work",
        model: None,
        group: "work.karmada.io",
        versions: &["v1alpha1"],
        plural: "works",
        singular: "work",
        namespaced: true,
        short_names: &[],
    },
];
