//! The real Kubernetes control plane under the harness: kube-apiserver,
//! etcd and kube-controller-manager v1.34.3, built from Go modules by
//! `just control-plane` (which `.ci/run` runs). Without the build these
//! tests skip and say how to get it; under CI a missing build fails.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::suite_scenarios;
use mcsdns::cluster::control_plane::world::WorldWriter;
use mcsdns::cluster::control_plane::{Binaries, ControlPlane, state};
use mcsdns::model::{Loaded, World};
use mcsdns::scenario::step::Action;

/// The binaries, or `None` (and why) when they are not built.
fn binaries() -> Option<Binaries> {
    match Binaries::find() {
        Ok(b) => Some(b),
        Err(e) if std::env::var_os("CI").is_some() => panic!("{e}"),
        Err(e) => {
            eprintln!("skipped: {e}");
            None
        }
    }
}

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("mcsdns-cp-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

fn quiet(_: &str) {}

/// Every world the repository ships (fixture folders, and each built-in
/// scenario's world with the objects its `apply` steps add) is accepted by
/// a real API server, object by object.
#[test]
fn every_fixture_and_scenario_world_is_valid_on_a_real_api_server() {
    let Some(bin) = binaries() else { return };
    let repo = common::repo();
    let mut worlds: Vec<(String, World, String)> = Vec::new();
    for folder in ["fixtures/spec", "fixtures/seed"] {
        let w = World::load(&repo.join(folder)).expect("fixture loads");
        worlds.push((
            folder.into(),
            w,
            mcsdns::scenario::load::DEFAULT_IDENTITY.into(),
        ));
    }
    let scenarios = suite_scenarios("");
    for s in &scenarios {
        let mut w = s.world.clone();
        for step in &s.steps {
            if let Action::Apply { cluster, docs } = &step.action
                && let Some(state) = w.clusters.get_mut(cluster)
            {
                for d in docs {
                    if let Loaded::Resource(r, origin) = d {
                        state.apply(r.clone(), Some(origin.clone()));
                    }
                }
            }
        }
        worlds.push((s.id.clone(), w, s.resolver.identity.clone()));
    }
    let names: BTreeSet<String> = worlds
        .iter()
        .flat_map(|(_, w, _)| w.clusters.keys().cloned())
        .collect();
    let names: Vec<String> = names.into_iter().collect();
    let dir = temp_dir("worlds");
    let cp = ControlPlane::start(&names, &dir, false, bin, &quiet).expect("control plane starts");
    let rt = tokio::runtime::Runtime::new().unwrap();
    let mut failures = Vec::new();
    rt.block_on(async {
        let mut writers = BTreeMap::new();
        for n in &names {
            writers.insert(
                n.clone(),
                WorldWriter::new(cp.admin_client(n).await.unwrap(), n),
            );
        }
        for (id, w, identity) in &worlds {
            for (name, state) in &w.clusters {
                if let Err(e) = writers.get_mut(name).unwrap().reset(state, identity).await {
                    failures.push(format!("{id}: {e}"));
                }
            }
        }
    });
    assert!(
        failures.is_empty(),
        "rejected by kube-apiserver:\n{}",
        failures.join("\n")
    );
    assert!(worlds.len() > scenarios.len());
}

/// `mcsdns control-plane up` serves a world until Ctrl-C, then leaves
/// nothing running and nothing on disk; `down` cleans up after an `up`
/// that was killed.
#[test]
fn control_plane_up_serves_until_interrupted_and_down_cleans_up_after_a_kill() {
    if binaries().is_none() {
        return;
    }
    let exe = env!("CARGO_BIN_EXE_mcsdns");
    let repo = common::repo();
    for kill in [false, true] {
        let dir = temp_dir(if kill { "killed" } else { "up" });
        // Its messages, to say why when it stops early (not in `dir`,
        // which `down` must leave empty).
        let errors = temp_dir(if kill { "killed-stderr" } else { "up-stderr" });
        let mut child = Command::new(exe)
            .args(["control-plane", "up", "--manifests"])
            .arg(repo.join("fixtures/seed"))
            .arg("--dir")
            .arg(&dir)
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&errors).unwrap())
            .spawn()
            .unwrap();
        let out = BufReader::new(child.stdout.take().unwrap());
        let started = Instant::now();
        let mut lines = Vec::new();
        for line in out.lines() {
            let line = line.unwrap();
            let done = line.starts_with("kubeconfig:");
            lines.push(line);
            if done {
                break;
            }
            assert!(started.elapsed() < Duration::from_secs(120), "{lines:?}");
        }
        assert!(
            lines
                .iter()
                .any(|l| l.starts_with("cluster member2: https://127.0.0.1:")),
            "{lines:?}\nstderr:\n{}",
            std::fs::read_to_string(&errors).unwrap_or_default()
        );
        // The resolver's context reads the world's imports as CoreDNS's service account.
        let kubectl = Command::new("kubectl")
            .arg("--kubeconfig")
            .arg(dir.join("kubeconfig"))
            .args([
                "--context",
                "resolver@member2",
                "get",
                "serviceimports",
                "-A",
                "-o",
                "name",
            ])
            .output();
        if let Ok(o) = kubectl {
            assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
            assert!(
                String::from_utf8_lossy(&o.stdout)
                    .contains("serviceimport.multicluster.x-k8s.io/serve")
            );
        }
        let status = Command::new(exe)
            .args(["control-plane", "status", "--dir"])
            .arg(&dir)
            .output()
            .unwrap();
        assert!(
            status.status.success(),
            "{}",
            String::from_utf8_lossy(&status.stdout)
        );
        let programs: Vec<(String, u32)> = state::State::read(&dir)
            .unwrap()
            .clusters
            .values()
            .flat_map(|c| c.programs.clone())
            .collect();
        assert_eq!(programs.len(), 6, "{programs:?}");
        if kill {
            child.kill().unwrap();
            child.wait().unwrap();
            assert!(programs.iter().all(|(p, pid)| state::is_running(*pid, p)));
            let down = Command::new(exe)
                .args(["control-plane", "down", "--dir"])
                .arg(&dir)
                .output()
                .unwrap();
            assert!(down.status.success());
            assert_eq!(
                String::from_utf8_lossy(&down.stdout)
                    .matches("stopped ")
                    .count(),
                6
            );
        } else {
            Command::new("kill")
                .args(["-INT", &child.id().to_string()])
                .status()
                .unwrap();
            assert!(child.wait().unwrap().success());
        }
        let deadline = Instant::now() + Duration::from_secs(10);
        while programs.iter().any(|(p, pid)| state::is_running(*pid, p))
            && Instant::now() < deadline
        {
            std::thread::sleep(Duration::from_millis(100));
        }
        assert!(
            !programs.iter().any(|(p, pid)| state::is_running(*pid, p)),
            "{programs:?}"
        );
        assert!(!dir.exists(), "{} is left", dir.display());
    }
}

/// Runs each scenario and keeps how it ended.
fn statuses(
    target: &mut dyn mcsdns::target::Target,
    scenarios: &[mcsdns::scenario::Scenario],
) -> BTreeMap<String, mcsdns::run::Status> {
    scenarios
        .iter()
        .map(|s| {
            let r = mcsdns::run::run_scenario(s, target);
            if r.status == mcsdns::run::Status::Failed {
                for st in &r.steps {
                    for f in &st.failures {
                        eprintln!("{} on {}: line {}: {f:?}", r.id, target.name(), st.line);
                    }
                }
            }
            (r.id, r.status)
        })
        .collect()
}

/// Scenarios the `kube` target ends otherwise than a per-scenario CoreDNS,
/// whether they always do, and why: it only adds to a cluster, and the
/// cluster's DNS runs for the whole run.
const KUBE_DIFFERS: [(&str, bool, &str); 3] = [
    (
        "seed/rbac-denied",
        true,
        "the cluster DNS keeps its read role; the run's renamed ClusterRole cannot take permissions away",
    ),
    (
        "seed/local-shadowing",
        false,
        "the shared cluster DNS's cache: whether an answer is still cached at the step that expects stale-cache depends on timing",
    ),
    (
        "seed/walkthrough",
        false,
        "the cluster DNS's cache: a per-scenario CoreDNS still holds line 39's NODATA (30 s under `ttl 30`) at line 72; whether the shared one does depends on what it cached before and on timing",
    ),
];

/// The `kube` target against two real control planes, with real CoreDNS as
/// each resolver cluster's DNS (a process fed by the real API, reached
/// with `--dns`): spec/ and seed/ end as they do on CoreDNS fed by the
/// emulator, and afterwards nothing the run created is left.
#[test]
fn the_kube_target_runs_spec_and_seed_on_real_control_planes_with_coredns() {
    use mcsdns::target::kube::{KubeOptions, KubeTarget, RUN_LABEL};
    use mcsdns::target::outside::{OutsideOptions, OutsideTarget, Server};
    use mcsdns::target::peer::coredns::CoreDnsPeer;
    use mcsdns::target::peer::{Peer, PeerSetup, free_port};
    let Some(bin) = binaries() else { return };
    let coredns_path = std::env::var_os("MCSDNS_COREDNS").map(PathBuf::from);
    let peer = match CoreDnsPeer::find(coredns_path.as_deref()) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("skipped: {e}");
            return;
        }
    };
    let spec = suite_scenarios("spec/");
    let seed = suite_scenarios("seed/");
    let groups = [("c1", &spec), ("member2", &seed)];
    let names: Vec<String> = ["c1", "member1", "member2"].map(String::from).to_vec();
    let dir = temp_dir("kube");
    let mut cp =
        ControlPlane::start(&names, &dir, false, bin, &quiet).expect("control plane starts");
    let identity = mcsdns::scenario::load::DEFAULT_IDENTITY;
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        cp.set_resolver_identity(identity).await.unwrap();
        // As a cluster's own CoreDNS has: a role that reads what it
        // serves; and service ranges (ServiceCIDRs) for the worlds'
        // clusterIPs, which putting a world in once adds and keeps.
        let repo = common::repo();
        let mut worlds = World::load(&repo.join("fixtures/spec")).unwrap();
        worlds
            .clusters
            .extend(World::load(&repo.join("fixtures/seed")).unwrap().clusters);
        for n in &names {
            let mut writer = WorldWriter::new(cp.admin_client(n).await.unwrap(), n);
            if let Some(state) = worlds.clusters.get(n) {
                writer.reset(state, identity).await.unwrap();
            }
            writer
                .reset(&mcsdns::model::ClusterState::new(n), identity)
                .await
                .unwrap();
        }
    });
    let mut emulated = OutsideTarget::new(
        Server::Managed(Box::new(CoreDnsPeer {
            exe: peer.exe.clone(),
        })),
        OutsideOptions::default(),
    )
    .unwrap();
    // One cluster DNS per resolver cluster and Corefile, as a cluster has.
    let mut runs: BTreeMap<(String, String), Vec<mcsdns::scenario::Scenario>> = BTreeMap::new();
    for (resolver, scenarios) in groups {
        // A cluster's DNS is not reconfigured by the run: scenarios that
        // change the Corefile are for targets that start the server.
        let reconfigures = |s: &&mcsdns::scenario::Scenario| {
            s.steps
                .iter()
                .any(|st| matches!(st.action, Action::Reconfigure { .. }))
        };
        for s in scenarios
            .iter()
            .filter(|s| s.resolver.cluster == resolver && !reconfigures(s))
        {
            let corefile = s
                .resolver
                .corefile
                .as_ref()
                .map(|c| c.text.clone())
                .unwrap_or_default();
            runs.entry((resolver.to_owned(), corefile))
                .or_default()
                .push(s.clone());
        }
    }
    assert!(runs.len() >= 2, "{}", runs.len());
    for ((resolver, _), scenarios) in runs {
        let listen = free_port().unwrap();
        let files = dir.join(format!("coredns-{resolver}-{}", listen.port()));
        std::fs::create_dir_all(&files).unwrap();
        let setup = PeerSetup {
            listen,
            kubeconfig: cp.kubeconfig(),
            context: format!("resolver@{resolver}"),
            cluster: &resolver,
            corefile: scenarios[0].resolver.corefile.as_ref(),
            profile: scenarios[0].resolver.config.profile,
            order: &scenarios[0].resolver.order,
            dir: &files,
        };
        let _dns = peer
            .start(&setup, Duration::from_secs(30))
            .expect("CoreDNS starts");
        let contexts = scenarios[0]
            .world
            .clusters
            .keys()
            .map(|c| (c.clone(), c.clone()))
            .collect();
        let mut kube = KubeTarget::new(KubeOptions {
            contexts,
            kubeconfig: Some(cp.kubeconfig().to_owned()),
            dns: Some(listen),
            settle: Duration::from_secs(5),
            query_timeout: Duration::from_secs(1),
        })
        .unwrap();
        let got = statuses(&mut kube, &scenarios);
        let expected = statuses(&mut emulated, &scenarios);
        let mut differ = Vec::new();
        for (id, status) in &got {
            let same = expected[id] == *status;
            let listed = KUBE_DIFFERS.iter().find(|(k, _, _)| k == id);
            let fine = match listed {
                Some((_, always, _)) => !same || !always,
                None => same,
            };
            if !fine {
                differ.push(format!(
                    "{id}: kube {status:?}, coredns on the emulator {:?}{}",
                    expected[id],
                    if listed.is_some() {
                        " (listed as differing)"
                    } else {
                        ""
                    }
                ));
            }
        }
        assert!(differ.is_empty(), "{}", differ.join("\n"));
        drop(kube);
        // Nothing labelled as the run's is left, namespaces included
        // (kube-controller-manager finalizes them).
        rt.block_on(async {
            for n in &names {
                let client = cp.admin_client(n).await.unwrap();
                let deadline = Instant::now() + Duration::from_secs(60);
                loop {
                    let mut left = Vec::new();
                    for kind in mcsdns::model::Kind::ALL {
                        let res = mcsdns::model::kinds::ApiResource::of(kind);
                        let ar = kube::core::ApiResource {
                            group: res.group.into(),
                            version: res.versions[0].into(),
                            api_version: res.api_version(res.versions[0]),
                            kind: res.kind.into(),
                            plural: res.plural.into(),
                        };
                        let api: kube::Api<kube::core::DynamicObject> =
                            kube::Api::all_with(client.clone(), &ar);
                        let list = api
                            .list(&kube::api::ListParams::default().labels(RUN_LABEL))
                            .await
                            .unwrap();
                        left.extend(
                            list.items
                                .into_iter()
                                .map(|o| format!("{kind} {}", o.metadata.name.unwrap_or_default())),
                        );
                    }
                    if left.is_empty() {
                        break;
                    }
                    assert!(Instant::now() < deadline, "left in {n}: {left:?}");
                    tokio::time::sleep(Duration::from_millis(500)).await;
                }
            }
        });
    }
}

/// Real CoreDNS fed by real kube-apiservers answers the fault, seed and
/// CoreDNS scenarios as it does fed by the emulator, but for the
/// differences written down in fixtures/known/coredns-real-api.yaml.
#[test]
fn coredns_answers_alike_on_the_emulator_and_on_a_real_api() {
    use mcsdns::run::diff::{Variants, diff, read_known};
    use mcsdns::target::Target;
    use mcsdns::target::spec::{TargetOptions, TargetSpec};
    if binaries().is_none() {
        return;
    }
    let coredns_path = std::env::var_os("MCSDNS_COREDNS").map(PathBuf::from);
    if let Err(e) = mcsdns::target::peer::coredns::CoreDnsPeer::find(coredns_path.as_deref()) {
        eprintln!("skipped: {e}");
        return;
    }
    let mut scenarios = suite_scenarios("faults/");
    scenarios.extend(suite_scenarios("seed/"));
    scenarios.extend(suite_scenarios("coredns/"));
    let known = read_known(&common::repo().join("fixtures/known/coredns-real-api.yaml")).unwrap();
    let options = TargetOptions::default();
    let spec = TargetSpec::Coredns(coredns_path);
    let mut targets: Vec<Box<dyn Target>> = vec![
        spec.make(&options),
        TargetSpec::RealApi(Box::new(spec.clone())).make(&options),
    ];
    assert_eq!(targets[1].name(), "coredns@real");
    let variants = Variants {
        plain: &scenarios,
        profiled: None,
        uses_profile: vec![false, false],
    };
    let report = diff(&variants, &mut targets, &known, false, &|_| {});
    let unexplained: Vec<_> = report.unexplained().collect();
    assert!(report.compared > 40, "{}", report.compared);
    assert!(
        unexplained.is_empty(),
        "{}",
        mcsdns::report::diff::markdown(&report)
    );
    let stale: Vec<_> = report.stale().collect();
    assert!(
        stale.is_empty(),
        "known differences no longer seen: {stale:#?}"
    );
}
