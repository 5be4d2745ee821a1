//! Holds the controller models to their references on the built-in
//! scenarios' worlds, and prints what each wrote and how long a reaction
//! took (`cargo test --test controllers -- --nocapture`).

use std::path::Path;

use mcsdns::controller::{ControllerKind, Controllers, Verb};
use mcsdns::model::Resource;
use mcsdns::scenario::load_scenario;

fn world_of(id: &str) -> mcsdns::scenario::Scenario {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios");
    load_scenario(&root.join(format!("{id}.yaml")), &root).unwrap()
}

#[test]
fn each_model_writes_what_its_reference_says_on_its_world() {
    for (id, kind) in [
        ("seed/walkthrough", ControllerKind::Karmada16),
        ("controllers/mcs-api", ControllerKind::McsApi),
        ("controllers/submariner", ControllerKind::Submariner),
    ] {
        let s = world_of(id);
        let mut c = Controllers::new(&s.world, &[kind]);
        let r = c.react();
        assert!(r.settled, "{id}: did not settle");
        let written = r.writes.iter().filter(|w| w.verb != Verb::Refused).count();
        println!(
            "{kind}: {written} object write(s) in {} pass(es), {:.3} ms ({id})",
            r.passes,
            r.took.as_secs_f64() * 1000.0
        );
        // A second reaction on a settled world writes nothing.
        assert!(c.react().writes.is_empty(), "{id}: writes again");
        let imports: Vec<_> = r
            .writes
            .iter()
            .filter(|w| w.res.kind == "ServiceImport" && w.object.is_some())
            .collect();
        match kind {
            // Karmada never fills ips.
            ControllerKind::Karmada16 => assert!(
                imports
                    .iter()
                    .all(|w| w.object.as_ref().unwrap()["spec"]["ips"].is_null())
            ),
            // mcs-api: ips are the derived Service's ClusterIP.
            ControllerKind::McsApi => {
                let api = c.api("c1").unwrap().lock().unwrap();
                let state = api.state();
                for r in state.resources() {
                    if let Resource::ServiceImport(si) = r {
                        let ns = si.metadata.namespace.as_deref().unwrap();
                        let name = mcsdns::controller::mcsapi::derived_name(
                            ns,
                            si.metadata.name.as_deref().unwrap(),
                        );
                        let svc = state.resources().find_map(|r| match r {
                            Resource::Service(s) if s.metadata.name.as_deref() == Some(&name) => {
                                Some(s)
                            }
                            _ => None,
                        });
                        let want: Vec<String> = svc
                            .and_then(|s| s.spec.as_ref()?.cluster_ips.clone())
                            .unwrap_or_default();
                        assert_eq!(si.spec.ips, want, "{name}");
                    }
                }
            }
            ControllerKind::Submariner => assert!(imports.iter().any(|w| w.name == "web")),
        }
    }
}
