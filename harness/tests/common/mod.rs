//! Test fixtures: a small cluster set covering every MCS shape, and helpers
//! to ask the engine and read its replies.
#![allow(dead_code)]

use std::path::Path;

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::RecordType;
use mcsdns::model::World;
use mcsdns::resolver::text::rdata_text;
use mcsdns::resolver::{ClusterView, Outcome, Profile, Question, Reply, ResolverConfig, answer};

/// The resolver's cluster `c1`: imports of every shape in namespace `team`.
pub const WORLD: &str = r#"
apiVersion: v1
kind: Namespace
metadata: {name: team}
---
apiVersion: v1
kind: Namespace
metadata: {name: empty-ns}
---
apiVersion: multicluster.x-k8s.io/v1alpha1
kind: ServiceImport
metadata: {name: web, namespace: team}
spec:
  type: ClusterSetIP
  ips: ["10.42.0.1", "fd00::1"]
  ipFamilies: [IPv4, IPv6]
  ports:
    - {name: http, port: 80, protocol: TCP}
    - {name: dns, port: 53, protocol: UDP}
    - {port: 8080, protocol: TCP}
---
apiVersion: multicluster.x-k8s.io/v1beta1
kind: ServiceImport
metadata: {name: v4only, namespace: team}
spec:
  type: ClusterSetIP
  ips: ["10.42.0.2"]
  ports: [{name: http, port: 80}]
---
apiVersion: multicluster.x-k8s.io/v1alpha1
kind: ServiceImport
metadata: {name: noips, namespace: team}
spec:
  type: ClusterSetIP
  ports: [{name: http, port: 80, protocol: TCP}]
---
apiVersion: multicluster.x-k8s.io/v1alpha1
kind: ServiceImport
metadata: {name: noports, namespace: team}
spec:
  type: ClusterSetIP
  ips: ["10.42.0.3"]
---
apiVersion: multicluster.x-k8s.io/v1alpha1
kind: ServiceImport
metadata: {name: db, namespace: team}
spec:
  type: Headless
  ports: [{name: pg, port: 5432}]
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: db-a
  namespace: team
  labels:
    multicluster.kubernetes.io/service-name: db
    multicluster.kubernetes.io/source-cluster: cluster-a
addressType: IPv4
ports:
  - {name: pg, port: 5432, protocol: TCP}
  - {port: 9000, protocol: TCP}
endpoints:
  - {addresses: ["10.1.0.10"], hostname: db-0, conditions: {ready: true}}
  - {addresses: ["10.1.0.11"], conditions: {ready: true}}
  - {addresses: ["10.1.0.12"], hostname: db-9, conditions: {ready: false}}
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: db-b
  namespace: team
  labels:
    multicluster.kubernetes.io/service-name: db
    multicluster.kubernetes.io/source-cluster: east.prod
addressType: IPv4
ports: [{name: pg, port: 5432, protocol: TCP}]
endpoints:
  - {addresses: ["10.2.0.10"], hostname: db-0}
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: db-a-v6
  namespace: team
  labels:
    multicluster.kubernetes.io/service-name: db
    multicluster.kubernetes.io/source-cluster: cluster-a
addressType: IPv6
ports: [{name: pg, port: 5432, protocol: TCP}]
endpoints:
  - {addresses: ["fd00::10"], hostname: db-1}
---
apiVersion: multicluster.x-k8s.io/v1alpha1
kind: ServiceImport
metadata: {name: gone, namespace: team}
spec:
  type: Headless
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: gone-a
  namespace: team
  labels:
    multicluster.kubernetes.io/service-name: gone
    multicluster.kubernetes.io/source-cluster: cluster-a
addressType: IPv4
endpoints:
  - {addresses: ["10.1.0.99"], conditions: {ready: false}}
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: web-a
  namespace: team
  labels:
    multicluster.kubernetes.io/service-name: web
    multicluster.kubernetes.io/source-cluster: cluster-a
addressType: IPv4
ports: [{name: http, port: 8080, protocol: TCP}]
endpoints:
  - {addresses: ["10.1.0.50"], hostname: web-0}
---
apiVersion: multicluster.x-k8s.io/v1alpha1
kind: ServiceImport
metadata: {name: orphan, namespace: other}
spec:
  ips: ["10.42.0.9"]
  ports: [{name: http, port: 80}]
---
apiVersion: v1
kind: Service
metadata: {name: web, namespace: team}
spec:
  clusterIP: 10.96.0.5
  ports: [{name: http, port: 80, targetPort: 8080}]
---
apiVersion: v1
kind: Service
metadata: {name: hl, namespace: team}
spec:
  clusterIP: None
  ports: [{name: http, port: 8080}]
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: hl-1
  namespace: team
  labels: {kubernetes.io/service-name: hl}
addressType: IPv4
ports: [{name: http, port: 8080, protocol: TCP}]
endpoints:
  - {addresses: ["10.244.0.7"], hostname: hl-0}
---
apiVersion: v1
kind: Service
metadata: {name: ext, namespace: team}
spec:
  type: ExternalName
  externalName: db.example.com
---
apiVersion: v1
kind: Service
metadata: {name: kube-dns, namespace: kube-system}
spec:
  clusterIP: 10.96.0.10
  ports: [{name: dns, port: 53, protocol: UDP}]
"#;

/// The view of [`WORLD`].
pub fn view() -> ClusterView {
    let cluster = World::parse_cluster("c1", Path::new("tests/common/world.yaml"), WORLD, 1)
        .expect("fixture world loads");
    ClusterView::from_state(&cluster)
}

/// The default configuration of a profile.
pub fn config(profile: Profile) -> ResolverConfig {
    ResolverConfig::default_for(profile)
}

/// Asks the engine; panics if it sends nothing.
pub fn ask_with(
    config: &ResolverConfig,
    view: &ClusterView,
    name: &str,
    qtype: RecordType,
) -> Reply {
    let q = Question::parse(name, qtype).expect("valid name");
    match answer(config, view, &q) {
        Outcome::Reply(r) => r,
        Outcome::Silent(why) => panic!("no reply for {name} {qtype}: {why}"),
    }
}

/// Asks the fixture world under the default configuration of `profile`.
pub fn ask(profile: Profile, name: &str, qtype: RecordType) -> Reply {
    ask_with(&config(profile), &view(), name, qtype)
}

/// The answer section's rdata, sorted.
pub fn rdata(reply: &Reply) -> Vec<String> {
    let mut v: Vec<String> = reply.answers.iter().map(rdata_text).collect();
    v.sort();
    v
}

/// The additional section's owner and rdata, sorted.
pub fn additional(reply: &Reply) -> Vec<String> {
    let mut v: Vec<String> = reply
        .additionals
        .iter()
        .map(|r| format!("{} {}", r.name, rdata_text(r)))
        .collect();
    v.sort();
    v
}

/// Asserts NXDOMAIN with the zone's SOA in authority.
#[track_caller]
pub fn assert_nxdomain(reply: &Reply) {
    assert_eq!(reply.rcode, ResponseCode::NXDomain, "{reply:#?}");
    assert!(reply.answers.is_empty());
    assert_soa(reply);
}

/// Asserts NODATA (NOERROR, empty answer) with the SOA in authority.
#[track_caller]
pub fn assert_nodata(reply: &Reply) {
    assert_eq!(reply.rcode, ResponseCode::NoError, "{reply:#?}");
    assert!(reply.answers.is_empty(), "{reply:#?}");
    assert_soa(reply);
}

/// Asserts the authority section holds exactly one SOA.
#[track_caller]
pub fn assert_soa(reply: &Reply) {
    assert_eq!(reply.authorities.len(), 1, "{reply:#?}");
    assert_eq!(reply.authorities[0].record_type(), RecordType::SOA);
}
