//! The same scenarios on targets outside the process: `mcsdns serve` started
//! per scenario against the API emulator, a server at a fixed address
//! started once with `--exec`, and real-cluster mode (`kube`) pointed at the
//! emulator through the same kube-rs code path a real cluster uses.

mod common;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use common::{repo, suite_scenarios};
use mcsdns::check::compare::summary;
use mcsdns::cluster::emulator::Emulator;
use mcsdns::model::{ClusterState, Kind};
use mcsdns::run::{Status, run_scenario};
use mcsdns::scenario::Scenario;
use mcsdns::target::kube::{KubeOptions, KubeTarget, RUN_LABEL};
use mcsdns::target::outside::{OutsideOptions, OutsideTarget, Server};
use mcsdns::target::peer::ServePeer;
use mcsdns::target::{ReferenceTarget, Target};

/// Each scenario's status and failures, and what each asking step saw (a
/// reply in a few words, by step line), so that two targets are compared
/// by their answers and not only by how their checks ended.
type Runs = BTreeMap<String, (Status, Vec<String>, Vec<(usize, String)>)>;

fn statuses(target: &mut dyn Target, scenarios: &[Scenario]) -> Runs {
    scenarios
        .iter()
        .map(|s| {
            let r = run_scenario(s, target);
            let failures = r.steps.iter().flat_map(|s| s.failures.clone()).collect();
            let answers = r
                .steps
                .iter()
                .filter_map(|st| {
                    let seen = st.observed.as_ref()?.outcome.as_ref()?;
                    let said = match seen.reply() {
                        Some(reply) => without_serials(&summary(reply)),
                        None => "no response".into(),
                    };
                    Some((st.line, said))
                })
                .collect();
            (r.id, (r.status, failures, answers))
        })
        .collect()
}

/// A reply's summary with each SOA serial as `SERIAL`: a serial is the API's
/// resourceVersion, which differs from one API server to another.
fn without_serials(summary: &str) -> String {
    let mut words: Vec<&str> = summary.split(' ').collect();
    let number = |w: &str| !w.is_empty() && w.chars().all(|c| c.is_ascii_digit());
    for i in 0..words.len().saturating_sub(6) {
        if words[i].ends_with('.')
            && words[i + 1].ends_with('.')
            && words[i + 2..i + 7].iter().all(|w| number(w))
        {
            words[i + 2] = "SERIAL";
        }
    }
    words.join(" ")
}

fn only_status(m: &Runs) -> BTreeMap<String, Status> {
    m.iter().map(|(k, (s, _, _))| (k.clone(), *s)).collect()
}

/// The target answered every step as the reference did, and the reference
/// passed every scenario (so equal answers are right answers).
fn same_answers(got: &Runs, reference: &Runs) {
    for (id, (status, failures, _)) in reference {
        assert_ne!(
            *status,
            Status::Failed,
            "the reference fails {id}: {failures:#?}"
        );
    }
    let answers = |m: &Runs| -> BTreeMap<String, Vec<(usize, String)>> {
        m.iter()
            .map(|(k, (_, _, a))| (k.clone(), a.clone()))
            .collect()
    };
    assert_eq!(answers(got), answers(reference));
}

fn serve_peer() -> ServePeer {
    ServePeer {
        exe: PathBuf::from(env!("CARGO_BIN_EXE_mcsdns")),
    }
}

/// The whole built-in suite, through the emulator and `mcsdns serve` over
/// the wire, ends as it does in process.
#[test]
fn the_suite_on_serve_ends_as_in_process() {
    let scenarios = suite_scenarios("");
    assert!(scenarios.len() >= 40);
    let reference = statuses(&mut ReferenceTarget::new(), &scenarios);
    let mut serve = OutsideTarget::new(
        Server::Managed(Box::new(serve_peer())),
        OutsideOptions::default(),
    )
    .unwrap();
    let outside = statuses(&mut serve, &scenarios);
    let failed: Vec<_> = outside
        .iter()
        .filter(|(_, (s, _, _))| *s == Status::Failed)
        .collect();
    assert_eq!(
        only_status(&outside),
        only_status(&reference),
        "failures: {failed:#?}"
    );
}

#[test]
fn a_fixed_server_started_once_follows_each_scenarios_world() {
    let scenarios = suite_scenarios("spec/r");
    let addr = mcsdns::target::peer::free_port().unwrap();
    let exe = env!("CARGO_BIN_EXE_mcsdns");
    let options = OutsideOptions {
        exec: Some(format!(
            "exec '{exe}' serve --kubeconfig \"$KUBECONFIG\" --context \"$MCSDNS_CONTEXT\" --listen \"$MCSDNS_LISTEN\""
        )),
        ..Default::default()
    };
    let mut target = OutsideTarget::new(Server::Fixed(addr), options).unwrap();
    assert_eq!(target.name(), format!("dns={addr}"));
    assert!(!target.capabilities().reconfigure);
    let got = statuses(&mut target, &scenarios);
    let reference = statuses(&mut ReferenceTarget::new(), &scenarios);
    assert_eq!(only_status(&got), only_status(&reference), "{got:#?}");
    same_answers(&got, &reference);
}

/// An emulator with two empty clusters, and `mcsdns serve` on member2.
struct Clusters {
    /// Runs the emulator's servers.
    _runtime: tokio::runtime::Runtime,
    emulator: Emulator,
    kubeconfig: PathBuf,
    serve: std::process::Child,
    dns: std::net::SocketAddr,
}

impl Drop for Clusters {
    fn drop(&mut self) {
        let _ = self.serve.kill();
        let _ = self.serve.wait();
    }
}

fn clusters(name: &str) -> Clusters {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let mut emulator = Emulator::new("system:serviceaccount:kube-system:coredns").unwrap();
    for c in ["member1", "member2"] {
        runtime
            .block_on(emulator.add_cluster(c, &ClusterState::new(c)))
            .unwrap();
    }
    let dir = std::env::temp_dir().join(format!("mcsdns-kube-{name}-{}", std::process::id()));
    let kubeconfig = emulator.write(&dir, None).unwrap();
    let dns = mcsdns::target::peer::free_port().unwrap();
    let serve = Command::new(env!("CARGO_BIN_EXE_mcsdns"))
        .args(["serve", "--kubeconfig"])
        .arg(&kubeconfig)
        .args([
            "--context",
            "resolver@member2",
            "--listen",
            &dns.to_string(),
        ])
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    for _ in 0..200 {
        if std::net::TcpStream::connect(dns).is_ok() {
            break;
        }
        std::thread::sleep(Duration::from_millis(25));
    }
    Clusters {
        _runtime: runtime,
        emulator,
        kubeconfig,
        serve,
        dns,
    }
}

fn labelled_objects(c: &Clusters, cluster: &str) -> usize {
    let api = c.emulator.api(cluster).unwrap();
    let store = api.lock().unwrap();
    store
        .state()
        .objects
        .values()
        .filter(|s| {
            s.resource
                .metadata()
                .labels
                .as_ref()
                .is_some_and(|l| l.contains_key(RUN_LABEL))
        })
        .count()
}

#[test]
fn real_cluster_mode_runs_the_spec_scenarios_in_run_namespaces_and_cleans_up() {
    let c = clusters("spec");
    // Scenarios on one cluster, c1, mapped to the context member2.
    let scenarios: Vec<Scenario> = suite_scenarios("spec/")
        .into_iter()
        .filter(|s| s.world.clusters.len() == 1 && s.resolver.cluster == "c1")
        .collect();
    assert!(scenarios.len() >= 10, "{}", scenarios.len());
    let options = KubeOptions {
        contexts: vec![("c1".into(), "member2".into())],
        kubeconfig: Some(c.kubeconfig.clone()),
        dns: Some(c.dns),
        settle: Duration::from_secs(5),
        query_timeout: Duration::from_secs(1),
    };
    let reference = statuses(&mut ReferenceTarget::new(), &scenarios);
    {
        let mut kube = KubeTarget::new(options).unwrap();
        let got = statuses(&mut kube, &scenarios);
        assert_eq!(only_status(&got), only_status(&reference), "{got:#?}");
        same_answers(&got, &reference);
        // While a scenario runs, its objects carry the run's label.
        assert!(labelled_objects(&c, "member2") > 0);
    }
    // Dropping the target deleted everything it created, and only that.
    assert_eq!(labelled_objects(&c, "member2"), 0);
    let api = c.emulator.api("member2").unwrap();
    let names: Vec<String> = api
        .lock()
        .unwrap()
        .state()
        .objects
        .keys()
        .filter(|k| k.kind == Kind::Namespace)
        .map(|k| k.name.clone())
        .collect();
    assert_eq!(
        names,
        ["default", "kube-node-lease", "kube-public", "kube-system"]
    );
}

#[test]
fn real_cluster_mode_never_touches_an_object_it_did_not_create() {
    let c = clusters("untouched");
    let scenario = suite_scenarios("spec/r2-clustersetip-a").remove(0);
    let options = KubeOptions {
        contexts: vec![("c1".into(), "member2".into())],
        kubeconfig: Some(c.kubeconfig.clone()),
        dns: Some(c.dns),
        settle: Duration::from_secs(1),
        query_timeout: Duration::from_secs(1),
    };
    let mut kube = KubeTarget::new(options).unwrap();
    // Someone else's namespace already has the name the run would use.
    let taken = format!("team-{}-1", kube.run_id());
    let ns: mcsdns::model::Resource = mcsdns::model::Resource::Namespace(std::sync::Arc::new(
        k8s_openapi::api::core::v1::Namespace {
            metadata: kube::api::ObjectMeta {
                name: Some(taken.clone()),
                ..Default::default()
            },
            ..Default::default()
        },
    ));
    c.emulator.api("member2").unwrap().lock().unwrap().apply(ns);
    let err = kube.start(&scenario).unwrap_err();
    assert!(
        err.to_string().contains("was not created by this run"),
        "{err}"
    );
    drop(kube);
    // It is still there, unlabelled.
    let api = c.emulator.api("member2").unwrap();
    let store = api.lock().unwrap();
    let key = mcsdns::model::ObjectKey::new(Kind::Namespace, "", &taken);
    let kept = store.state().objects.get(&key).expect("not deleted");
    assert!(kept.resource.metadata().labels.is_none());
}

#[test]
fn dry_run_prints_the_plan_and_changes_nothing() {
    let out = Command::new(env!("CARGO_BIN_EXE_mcsdns"))
        .current_dir(repo())
        .args([
            "run",
            "--target",
            "kube=c1:member2",
            "--dry-run",
            "--kubeconfig",
            "/nonexistent",
            "scenarios/spec/r2-clustersetip-a.yaml",
        ])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        text.contains(
            "member2: apply ServiceImport team-r000000-1/web (label mcsdns.io/run=r000000)"
        ),
        "{text}"
    );
    assert!(text.contains("dry run: nothing was changed"), "{text}");
}

/// With no DNS address, real-cluster mode port-forwards (over the API, as
/// kubectl does) to a kube-dns Pod of the resolver's cluster.
#[test]
fn real_cluster_mode_reaches_the_cluster_dns_through_a_port_forward() {
    let c = clusters("forward");
    let pods = mcsdns::model::kinds::RESOURCES
        .iter()
        .find(|r| r.plural == "pods")
        .unwrap();
    let pod = serde_json::json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "coredns-7d8f9", "namespace": "kube-system",
            "labels": {"k8s-app": "kube-dns"},
            "annotations": {(mcsdns::cluster::rest::PORT_FORWARD_ANNOTATION): format!("53={}", c.dns)}},
        "spec": {"containers": [{"name": "coredns", "image": "coredns", "ports": [{"containerPort": 53, "protocol": "TCP"}]}]}
    });
    c.emulator
        .api("member2")
        .unwrap()
        .lock()
        .unwrap()
        .put(pods, pod)
        .unwrap();
    let scenarios: Vec<Scenario> = suite_scenarios("spec/r")
        .into_iter()
        .filter(|s| s.world.clusters.len() == 1)
        .collect();
    let options = KubeOptions {
        contexts: vec![("c1".into(), "member2".into())],
        kubeconfig: Some(c.kubeconfig.clone()),
        dns: None,
        settle: Duration::from_secs(5),
        query_timeout: Duration::from_secs(2),
    };
    let mut kube = KubeTarget::new(options).unwrap();
    let got = statuses(&mut kube, &scenarios);
    let reference = statuses(&mut ReferenceTarget::new(), &scenarios);
    assert_eq!(only_status(&got), only_status(&reference), "{got:#?}");
    same_answers(&got, &reference);
}

#[test]
fn only_soa_serials_are_masked_when_answers_are_compared() {
    let soa = "NOERROR ns.dns.clusterset.local. hostmaster.clusterset.local. 67 7200 1800 86400 5";
    assert_eq!(
        without_serials(soa),
        "NOERROR ns.dns.clusterset.local. hostmaster.clusterset.local. SERIAL 7200 1800 86400 5"
    );
    let srv = "NOERROR 0 100 80 web.team.svc.clusterset.local.";
    assert_eq!(without_serials(srv), srv);
}
