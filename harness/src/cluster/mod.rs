//! The Kubernetes side: each cluster's API in process, and the watchers
//! through which the reference resolver learns its cluster, as a deployed
//! resolver does.

pub mod mock;
pub mod store;
pub mod watch;
