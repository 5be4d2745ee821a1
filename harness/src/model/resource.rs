//! Names the Kubernetes objects a cluster holds, and keys them.

use std::fmt;
use std::sync::Arc;

use k8s_openapi::api::core::v1::{Namespace, Service};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde::{Deserialize, Serialize};

use super::crd::{ServiceExport, ServiceImport};

/// The kinds the model understands. Anything else is kept as [`Resource::Other`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Kind {
    /// `v1 Namespace`
    Namespace,
    /// `v1 Service`
    Service,
    /// `discovery.k8s.io/v1 EndpointSlice`
    EndpointSlice,
    /// `multicluster.x-k8s.io ServiceExport`
    ServiceExport,
    /// `multicluster.x-k8s.io ServiceImport`
    ServiceImport,
    /// `rbac.authorization.k8s.io/v1 ClusterRole`
    ClusterRole,
    /// `rbac.authorization.k8s.io/v1 ClusterRoleBinding`
    ClusterRoleBinding,
}

impl Kind {
    /// Every kind the model understands.
    pub const ALL: [Kind; 7] = [
        Kind::Namespace,
        Kind::Service,
        Kind::EndpointSlice,
        Kind::ServiceExport,
        Kind::ServiceImport,
        Kind::ClusterRole,
        Kind::ClusterRoleBinding,
    ];

    /// The kind's name as manifests spell it.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Namespace => "Namespace",
            Kind::Service => "Service",
            Kind::EndpointSlice => "EndpointSlice",
            Kind::ServiceExport => "ServiceExport",
            Kind::ServiceImport => "ServiceImport",
            Kind::ClusterRole => "ClusterRole",
            Kind::ClusterRoleBinding => "ClusterRoleBinding",
        }
    }

    /// Looks a kind up by its manifest name.
    pub fn from_name(kind: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.as_str() == kind)
    }

    /// The apiVersions a manifest of this kind may carry.
    pub fn api_versions(self) -> &'static [&'static str] {
        match self {
            Kind::Namespace | Kind::Service => &["v1"],
            Kind::EndpointSlice => &["discovery.k8s.io/v1"],
            Kind::ServiceExport | Kind::ServiceImport => &[
                "multicluster.x-k8s.io/v1alpha1",
                "multicluster.x-k8s.io/v1beta1",
            ],
            Kind::ClusterRole | Kind::ClusterRoleBinding => &["rbac.authorization.k8s.io/v1"],
        }
    }

    /// Whether objects of this kind live in a namespace.
    pub fn is_namespaced(self) -> bool {
        !matches!(
            self,
            Kind::Namespace | Kind::ClusterRole | Kind::ClusterRoleBinding
        )
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Identifies one object in one cluster.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct ObjectKey {
    /// What the object is.
    pub kind: Kind,
    /// Its namespace; empty for cluster-scoped kinds.
    pub namespace: String,
    /// Its name.
    pub name: String,
}

impl ObjectKey {
    /// Builds a key; `namespace` is ignored for cluster-scoped kinds.
    pub fn new(kind: Kind, namespace: &str, name: &str) -> Self {
        let namespace = if kind.is_namespaced() {
            namespace.to_owned()
        } else {
            String::new()
        };
        ObjectKey {
            kind,
            namespace,
            name: name.to_owned(),
        }
    }
}

impl ObjectKey {
    /// The smallest key of `kind`: keys order by kind first, so a map's
    /// objects of one kind are the range from here while the kind holds.
    pub fn first_of(kind: Kind) -> Self {
        ObjectKey {
            kind,
            namespace: String::new(),
            name: String::new(),
        }
    }
}

impl fmt::Display for ObjectKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.namespace.is_empty() {
            write!(f, "{} {}", self.kind, self.name)
        } else {
            write!(f, "{} {}/{}", self.kind, self.namespace, self.name)
        }
    }
}

/// An object the model does not use (Deployment, PropagationPolicy, ...):
/// kept and listed, never rejected.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct OtherObject {
    /// Its apiVersion.
    pub api_version: String,
    /// Its kind.
    pub kind: String,
    /// Its name, if it has one.
    pub name: String,
    /// Its namespace, if it gave one.
    pub namespace: String,
    /// The whole document, for callers that need more (Deployments for the data plane).
    pub body: serde_json::Value,
}

/// One Kubernetes object of a kind the model understands.
///
/// Each object is behind an `Arc`: a world's store holds an enum the size
/// of a pointer instead of the size of a Service (a 100,000-import world
/// spent a third of its memory on that padding), and the resolver's index
/// shares the store's copy instead of cloning it. Changing an object
/// copies it only while another holder shares it (`Arc::make_mut`).
#[derive(Clone, Debug, PartialEq)]
pub enum Resource {
    /// A Namespace.
    Namespace(Arc<Namespace>),
    /// A Service.
    Service(Arc<Service>),
    /// An EndpointSlice.
    EndpointSlice(Arc<EndpointSlice>),
    /// A ServiceExport.
    ServiceExport(Arc<ServiceExport>),
    /// A ServiceImport.
    ServiceImport(Arc<ServiceImport>),
    /// A ClusterRole.
    ClusterRole(Arc<ClusterRole>),
    /// A ClusterRoleBinding.
    ClusterRoleBinding(Arc<ClusterRoleBinding>),
}

impl Resource {
    /// The object's kind.
    pub fn kind(&self) -> Kind {
        match self {
            Resource::Namespace(_) => Kind::Namespace,
            Resource::Service(_) => Kind::Service,
            Resource::EndpointSlice(_) => Kind::EndpointSlice,
            Resource::ServiceExport(_) => Kind::ServiceExport,
            Resource::ServiceImport(_) => Kind::ServiceImport,
            Resource::ClusterRole(_) => Kind::ClusterRole,
            Resource::ClusterRoleBinding(_) => Kind::ClusterRoleBinding,
        }
    }

    /// The object's metadata.
    pub fn metadata(&self) -> &ObjectMeta {
        match self {
            Resource::Namespace(o) => &o.metadata,
            Resource::Service(o) => &o.metadata,
            Resource::EndpointSlice(o) => &o.metadata,
            Resource::ServiceExport(o) => &o.metadata,
            Resource::ServiceImport(o) => &o.metadata,
            Resource::ClusterRole(o) => &o.metadata,
            Resource::ClusterRoleBinding(o) => &o.metadata,
        }
    }

    /// The object's metadata, to change.
    pub fn metadata_mut(&mut self) -> &mut ObjectMeta {
        match self {
            Resource::Namespace(o) => &mut Arc::make_mut(o).metadata,
            Resource::Service(o) => &mut Arc::make_mut(o).metadata,
            Resource::EndpointSlice(o) => &mut Arc::make_mut(o).metadata,
            Resource::ServiceExport(o) => &mut Arc::make_mut(o).metadata,
            Resource::ServiceImport(o) => &mut Arc::make_mut(o).metadata,
            Resource::ClusterRole(o) => &mut Arc::make_mut(o).metadata,
            Resource::ClusterRoleBinding(o) => &mut Arc::make_mut(o).metadata,
        }
    }

    /// The key that identifies the object in its cluster.
    pub fn key(&self) -> ObjectKey {
        let meta = self.metadata();
        ObjectKey::new(
            self.kind(),
            meta.namespace.as_deref().unwrap_or("default"),
            meta.name.as_deref().unwrap_or_default(),
        )
    }

    /// The object as JSON, in the shape the Kubernetes API serves it.
    pub fn to_json(&self) -> serde_json::Value {
        let mut value = match self {
            Resource::Namespace(o) => serde_json::to_value(&**o),
            Resource::Service(o) => serde_json::to_value(&**o),
            Resource::EndpointSlice(o) => serde_json::to_value(&**o),
            Resource::ServiceExport(o) => serde_json::to_value(&**o),
            Resource::ServiceImport(o) => serde_json::to_value(&**o),
            Resource::ClusterRole(o) => serde_json::to_value(&**o),
            Resource::ClusterRoleBinding(o) => serde_json::to_value(&**o),
        }
        .unwrap_or(serde_json::Value::Null);
        if let Some(map) = value.as_object_mut() {
            map.entry("kind")
                .or_insert_with(|| self.kind().as_str().into());
        }
        value
    }
}

impl Resource {
    /// Decodes an object of `kind` from its JSON form (after a merge patch).
    pub fn from_json(kind: Kind, value: serde_json::Value) -> Result<Resource, serde_json::Error> {
        Ok(match kind {
            Kind::Namespace => Resource::Namespace(Arc::new(serde_json::from_value(value)?)),
            Kind::Service => Resource::Service(Arc::new(serde_json::from_value(value)?)),
            Kind::EndpointSlice => {
                Resource::EndpointSlice(Arc::new(serde_json::from_value(value)?))
            }
            Kind::ClusterRole => Resource::ClusterRole(Arc::new(serde_json::from_value(value)?)),
            Kind::ClusterRoleBinding => {
                Resource::ClusterRoleBinding(Arc::new(serde_json::from_value(value)?))
            }
            Kind::ServiceImport => {
                let mut value = value;
                if let Some(map) = value.as_object_mut() {
                    map.entry("spec").or_insert_with(|| serde_json::json!({}));
                }
                Resource::ServiceImport(Arc::new(serde_json::from_value(value)?))
            }
            Kind::ServiceExport => {
                let mut value = value;
                if let Some(map) = value.as_object_mut() {
                    map.entry("spec").or_insert_with(|| serde_json::json!({}));
                }
                Resource::ServiceExport(Arc::new(serde_json::from_value(value)?))
            }
        })
    }
}
