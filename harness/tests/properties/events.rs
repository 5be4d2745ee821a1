//! After any sequence of changes and API faults, the watcher-fed view of
//! the reference target answers as a view built from the world's final state.

use std::path::Path;
use std::time::Duration;

use hickory_proto::rr::RecordType;
use mcsdns::model::{Kind, Loaded, ObjectKey, Resource, parse_manifests};
use mcsdns::resolver::{ClusterView, Profile, Question, ResolverConfig, answer};
use mcsdns::run::target::{Change, Fault};
use mcsdns::run::{ReferenceTarget, Target};
use mcsdns::scenario::load_scenario;
use proptest::prelude::*;

use crate::worlds::cases;

#[derive(Clone, Debug)]
enum Op {
    Upsert(u8, u8),
    Delete(u8),
    DropWatches,
    Expire,
    Outage(u8),
}

fn arb_op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (0u8..5, any::<u8>()).prop_map(|(i, ip)| Op::Upsert(i, ip)),
        2 => (0u8..5).prop_map(Op::Delete),
        1 => Just(Op::DropWatches),
        1 => Just(Op::Expire),
        1 => (1u8..40).prop_map(Op::Outage),
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

    #[test]
    fn after_any_event_sequence_the_watched_view_equals_the_world(ops in prop::collection::vec(arb_op(), 1..20)) {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios");
        let scenario = load_scenario(&root.join("spec/r2-clustersetip-a.yaml"), &root).unwrap();
        let mut target = ReferenceTarget::new();
        target.start(&scenario).unwrap();
        let mut world = scenario.world.clusters["c1"].clone();
        for op in &ops {
            match op {
                Op::Upsert(i, ip) => {
                    let r = import(*i, *ip);
                    world.apply(r.clone(), None);
                    target.apply("c1", &Change::Upsert(r)).unwrap();
                }
                Op::Delete(i) => {
                    let key = ObjectKey::new(Kind::ServiceImport, "team", &format!("s{i}"));
                    world.delete(&key);
                    target.apply("c1", &Change::Delete(key)).unwrap();
                }
                Op::DropWatches => target.fault("c1", &Fault::DropWatches).unwrap(),
                Op::Expire => target.fault("c1", &Fault::ExpireHistory).unwrap(),
                Op::Outage(s) => {
                    target.fault("c1", &Fault::Unavailable(Duration::from_secs(u64::from(*s)))).unwrap();
                    target.advance(Duration::from_secs(u64::from(*s))).unwrap();
                }
            }
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
