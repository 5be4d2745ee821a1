//! After any sequence of changes and API faults, the watcher-fed view of
//! the reference target answers as a view built from the world's final state.

use std::path::Path;
use std::time::Duration;

use hickory_proto::rr::RecordType;
use mcsdns::model::{Kind, Loaded, ObjectKey, Resource, parse_manifests};
use mcsdns::resolver::{ClusterView, Profile, Question, ResolverConfig, answer};
use mcsdns::scenario::load_scenario;
use mcsdns::scenario::{Change, Fault};
use mcsdns::target::Operation;
use mcsdns::target::{ReferenceTarget, Target};
use proptest::prelude::*;

use crate::worlds::cases;

#[derive(Clone, Debug)]
enum Op {
    Upsert(u8, u8),
    Delete(u8),
    DropWatches,
    Expire,
    Outage(u8),
    /// Replace CoreDNS's ClusterRole: with (true) or without the serviceimports rule.
    Rbac(bool),
}

/// CoreDNS's ClusterRole and its binding; `allow` adds the serviceimports rule.
fn rbac(allow: bool) -> Vec<Resource> {
    let groups = if allow {
        "[\"\", \"discovery.k8s.io\", \"multicluster.x-k8s.io\"]"
    } else {
        "[\"\", \"discovery.k8s.io\"]"
    };
    let yaml = format!(
        "apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata: {{name: system:coredns}}\nrules:\n  - apiGroups: {groups}\n    resources: [services, namespaces, endpointslices, serviceimports]\n    verbs: [list, watch]\n---\napiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRoleBinding\nmetadata: {{name: system:coredns}}\nroleRef: {{apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: system:coredns}}\nsubjects: [{{kind: ServiceAccount, name: coredns, namespace: kube-system}}]\n"
    );
    parse_manifests(Path::new("rbac.yaml"), &yaml, 1)
        .expect("valid")
        .into_iter()
        .filter_map(|d| match d {
            Loaded::Resource(r, _) => Some(r),
            Loaded::Other(..) => None,
        })
        .collect()
}

fn arb_op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (0u8..5, any::<u8>()).prop_map(|(i, ip)| Op::Upsert(i, ip)),
        2 => (0u8..5).prop_map(Op::Delete),
        1 => Just(Op::DropWatches),
        1 => Just(Op::Expire),
        1 => (1u8..40).prop_map(Op::Outage),
        1 => any::<bool>().prop_map(Op::Rbac),
    ]
}

fn import(i: u8, ip: u8) -> Resource {
    let yaml = format!(
        "apiVersion: multicluster.x-k8s.io/v1alpha1\nkind: ServiceImport\nmetadata: {{name: s{i}, namespace: team}}\nspec:\n  type: ClusterSetIP\n  ips: [\"10.77.0.{ip}\"]\n  ports: [{{name: http, port: 80}}]\n"
    );
    match parse_manifests(Path::new("ops.yaml"), &yaml, 1)
        .expect("valid")
        .remove(0)
    {
        Loaded::Resource(r, _) => r,
        Loaded::Other(..) => unreachable!("a ServiceImport"),
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(), ..ProptestConfig::default() })]

    /// RBAC that allows from the start or is fixed later ends with the view
    /// equal to the world; RBAC that never allowed leaves the zone SERVFAIL.
    #[test]
    fn after_any_event_sequence_the_watched_view_equals_the_world(initial in prop::option::of(any::<bool>()), ops in prop::collection::vec(arb_op(), 1..20)) {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios");
        let mut scenario = load_scenario(&root.join("spec/r2-clustersetip-a.yaml"), &root).unwrap();
        if let Some(allow) = initial {
            let c1 = scenario.world.clusters.get_mut("c1").unwrap();
            for r in rbac(allow) {
                c1.apply(r, None);
            }
        }
        let mut target = ReferenceTarget::new();
        target.start(&scenario).unwrap();
        let mut world = scenario.world.clusters["c1"].clone();
        let mut allowed = initial.unwrap_or(true);
        let mut ever_allowed = allowed;
        for op in &ops {
            match op {
                Op::Upsert(i, ip) => {
                    let r = import(*i, *ip);
                    world.apply(r.clone(), None);
                    target.perform(Operation::Apply { cluster: "c1", change: &Change::Upsert(r) }).unwrap();
                }
                Op::Delete(i) => {
                    let key = ObjectKey::new(Kind::ServiceImport, "team", &format!("s{i}"));
                    world.delete(&key);
                    target.perform(Operation::Apply { cluster: "c1", change: &Change::Delete(key) }).unwrap();
                }
                Op::DropWatches => {
                    target.perform(Operation::Fault { cluster: "c1", fault: &Fault::DropWatches }).unwrap();
                }
                Op::Expire => {
                    target.perform(Operation::Fault { cluster: "c1", fault: &Fault::ExpireHistory }).unwrap();
                }
                Op::Outage(s) => {
                    target.perform(Operation::Fault { cluster: "c1", fault: &Fault::Unavailable(Duration::from_secs(u64::from(*s))) }).unwrap();
                    target.perform(Operation::Advance(Duration::from_secs(u64::from(*s)))).unwrap();
                }
                Op::Rbac(allow) => {
                    for r in rbac(*allow) {
                        world.apply(r.clone(), None);
                        target.perform(Operation::Apply { cluster: "c1", change: &Change::Upsert(r) }).unwrap();
                    }
                    allowed = *allow;
                    ever_allowed |= *allow;
                }
            }
        }
        if !ever_allowed {
            // Never listed: the zone answers SERVFAIL, whatever the world holds.
            let q = Question::parse("s0.team.svc.clusterset.local", RecordType::A).unwrap();
            let r = answer(&ResolverConfig::default_for(Profile::Kep1645), &target.view().unwrap(), &q).reply().cloned().unwrap();
            prop_assert_eq!(r.rcode, hickory_proto::op::ResponseCode::ServFail);
            return Ok(());
        }
        if !allowed {
            // Denied after listing: stale but serving; nothing to compare.
            return Ok(());
        }
        let config = ResolverConfig::default_for(Profile::Kep1645);
        let expected = ClusterView::from_state(&world);
        let seen = target.view().unwrap();
        for i in 0..5 {
            for t in [RecordType::A, RecordType::SRV] {
                let q = Question::parse(&format!("s{i}.team.svc.clusterset.local"), t).unwrap();
                let want = answer(&config, &expected, &q).reply().map(|r| (r.rcode, r.answers.clone()));
                let got = answer(&config, &seen, &q).reply().map(|r| (r.rcode, r.answers.clone()));
                prop_assert_eq!(got, want, "s{} {} after {:?}", i, t, ops);
            }
        }
    }
}
