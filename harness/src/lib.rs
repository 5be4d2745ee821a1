//! mcsdns: a conformance and simulation harness for Kubernetes multi-cluster
//! DNS (KEP-1645 Multi-Cluster Services, zone `clusterset.local`).
//!
//! The reference resolver answers a cluster's view of a cluster set exactly as
//! the MCS DNS specification says (profile `kep1645`) or as CoreDNS's
//! multicluster plugin really does (profile `coredns`):
//!
//! ```
//! use hickory_proto::rr::RecordType;
//! use mcsdns::model::World;
//! use mcsdns::resolver::{answer, ClusterView, Profile, Question, ResolverConfig};
//!
//! let world = World::load(std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../fixtures/seed"))).unwrap();
//! let view = ClusterView::from_state(&world.clusters["member2"]);
//! let config = ResolverConfig::default_for(Profile::Kep1645);
//! let q = Question::parse("serve.default.svc.clusterset.local", RecordType::A).unwrap();
//! let reply = answer(&config, &view, &q);
//! let reply = reply.reply().unwrap();
//! assert_eq!(reply.answers[0].data.to_string(), "10.10.0.5");
//! ```
#![warn(missing_docs)]

// The modules are layers: files, yaml, error, model, resolver, cluster, controller,
// scenario, client, check, target, run, report, live, each importing only from those before
// it (tests/layers.rs holds the order; docs/architecture.md explains it).
pub mod check;
pub mod client;
pub mod cluster;
pub mod controller;
pub mod error;
pub mod files;
pub mod live;
pub mod model;
pub mod report;
pub mod resolver;
pub mod run;
pub mod scenario;
pub mod target;
pub mod yaml;
