//! Models a cluster set: MCS and Kubernetes objects, loaded from manifests.

pub mod crd;
pub mod kinds;
pub mod load;
pub mod rbac;
pub mod resource;
pub mod world;

pub use crd::{ServiceExport, ServiceImport, ServicePort};
pub use load::{Loaded, ManifestError, Origin, parse_manifests};
pub use resource::{Kind, ObjectKey, OtherObject, Resource};
pub use world::{ClusterState, Stored, World, WorldError};
