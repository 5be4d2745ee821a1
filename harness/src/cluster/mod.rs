//! Serves and watches each cluster's Kubernetes API (one store and REST semantics,
//! served in process to kube-rs or over HTTP/HTTPS to any client), and the
//! watchers through which the reference resolver learns its cluster, as a
//! deployed resolver does.

pub mod control_plane;
pub mod emulator;
pub mod follow;
pub mod http;
pub mod mock;
pub mod patch;
pub mod rest;
pub mod scope;
pub mod selector;
pub mod status;
pub mod store;
pub mod validation;
pub mod watch;
