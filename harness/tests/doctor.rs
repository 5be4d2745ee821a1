//! `mcsdns doctor` against live set-ups: the field report's five failures
//! staged on the API emulator and on real kube-apiservers, with real
//! CoreDNS as the cluster DNS, each found with the right fix; a healthy
//! set-up gives no finding. Without CoreDNS (`go install
//! github.com/coredns/coredns@v1.15.0`, or `MCSDNS_COREDNS`) or the control
//! plane (`just control-plane`) the tests that need them skip, saying so.

mod common;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use mcsdns::cluster::control_plane::{Binaries, ControlPlane};
use mcsdns::cluster::emulator::Emulator;
use mcsdns::live::doctor::{DoctorOptions, FailOn, Report, doctor};
use mcsdns::model::{Loaded, World};
use mcsdns::resolver::Profile;
use mcsdns::resolver::config::STOCK_ORDER;
use mcsdns::resolver::corefile::Corefile;
use mcsdns::target::peer::coredns::CoreDnsPeer;
use mcsdns::target::peer::{Peer, PeerSetup, Started, free_port};

const IDENTITY: &str = "system:serviceaccount:kube-system:coredns";

/// The healthy set-up.
fn healthy() -> World {
    World::load(&common::repo().join("fixtures/doctor")).expect("fixtures/doctor loads")
}

/// `world` with the objects of `yaml` put into `cluster` (replacing those
/// of the same kind, namespace and name).
fn with(mut world: World, cluster: &str, yaml: &str) -> World {
    let docs = mcsdns::model::parse_manifests(Path::new("<test>"), yaml, 1).expect("valid YAML");
    let state = world.clusters.get_mut(cluster).expect("cluster exists");
    for d in docs {
        match d {
            Loaded::Resource(r, origin) => state.apply(r, Some(origin)),
            Loaded::Other(o, origin) => {
                state.others.retain(|(x, _)| {
                    !(x.kind == o.kind && x.name == o.name && x.namespace == o.namespace)
                });
                state.others.push((o, origin));
            }
        }
    }
    world
}

/// The Corefile of member2's coredns ConfigMap.
fn corefile_of(world: &World) -> Corefile {
    let text = world.clusters["member2"]
        .others
        .iter()
        .find(|(o, _)| o.kind == "ConfigMap" && o.name == "coredns")
        .and_then(|(o, _)| o.body["data"]["Corefile"].as_str().map(str::to_owned))
        .expect("member2 has the coredns ConfigMap");
    Corefile::parse(Path::new("Corefile"), &text).expect("the Corefile parses")
}

const NO_RA: &str = r#"
apiVersion: v1
kind: ConfigMap
metadata:
  name: coredns
  namespace: kube-system
data:
  Corefile: |
    .:53 {
        errors
        kubernetes cluster.local in-addr.arpa ip6.arpa clusterset.local {
            pods insecure
            multicluster clusterset.local
            fallthrough in-addr.arpa ip6.arpa
        }
        forward . /etc/resolv.conf
        cache 30
    }
"#;

const NO_IMPORT_RULE: &str = r#"
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata:
  name: system:coredns
rules:
  - apiGroups: [""]
    resources: ["endpoints", "services", "pods", "namespaces"]
    verbs: ["list", "watch"]
  - apiGroups: ["discovery.k8s.io"]
    resources: ["endpointslices"]
    verbs: ["list", "watch"]
"#;

const NO_IPS: &str = r#"
apiVersion: multicluster.x-k8s.io/v1alpha1
kind: ServiceImport
metadata:
  name: serve
  namespace: default
spec:
  type: ClusterSetIP
  ports:
    - name: "http"
      port: 80
      protocol: TCP
"#;

const LOCAL_SERVE: &str = r#"
apiVersion: v1
kind: Service
metadata:
  name: serve
  namespace: default
spec:
  clusterIP: 10.13.0.50
  ports:
    - port: 80
"#;

const POD_IP: &str = r#"
apiVersion: multicluster.x-k8s.io/v1alpha1
kind: ServiceImport
metadata:
  name: serve
  namespace: default
spec:
  type: ClusterSetIP
  ports:
    - name: "http"
      port: 80
      protocol: TCP
  ips: ["10.10.0.5"]
"#;

/// A failure of the field report: how to stage it, the finding that must
/// name it and what its fix must say.
struct Case {
    name: &'static str,
    cluster: &'static str,
    yaml: &'static str,
    finding: &'static str,
    fix: &'static [&'static str],
}

const CASES: &[Case] = &[
    Case {
        name: "rbac",
        cluster: "member2",
        yaml: NO_IMPORT_RULE,
        finding: "rbac-serviceimports",
        fix: &[
            "kubectl patch clusterrole system:coredns --type=json",
            r#""apiGroups":["multicluster.x-k8s.io"],"resources":["serviceimports"],"verbs":["list","watch"]"#,
        ],
    },
    Case {
        name: "ra-flag",
        cluster: "member2",
        yaml: NO_RA,
        finding: "ra-flag-off",
        fix: &[
            "kubectl -n kube-system edit configmap coredns",
            "+    header {\n+        response set ra\n+    }\n",
        ],
    },
    Case {
        name: "missing-ips",
        cluster: "member2",
        yaml: NO_IPS,
        finding: "import-without-ips",
        fix: &[
            r#"kubectl --context member2 -n default patch serviceimport serve --type=merge -p '{"spec":{"ips":["10.13.166.120"]}}'"#,
        ],
    },
    Case {
        name: "local-shadowing",
        cluster: "member2",
        yaml: LOCAL_SERVE,
        finding: "local-shadowing",
        fix: &[
            "serve.default.svc.clusterset.local",
            "kubectl --context member2 -n default delete service serve",
        ],
    },
    Case {
        name: "port-mismatch",
        cluster: "member2",
        yaml: POD_IP,
        finding: "port-mismatch",
        fix: &[
            r#"kubectl --context member2 -n default patch serviceimport serve --type=json -p '[{"op":"replace","path":"/spec/ports/0/port","value":8080}]'"#,
        ],
    },
];

fn coredns() -> Option<CoreDnsPeer> {
    let path = std::env::var_os("MCSDNS_COREDNS").map(PathBuf::from);
    match CoreDnsPeer::find(path.as_deref()) {
        Ok(p) => Some(p),
        Err(e) => {
            eprintln!("skipped: {e}");
            None
        }
    }
}

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("mcsdns-doctor-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Real CoreDNS serving member2's Corefile, reading the API as its service account.
fn start_coredns(
    peer: &CoreDnsPeer,
    world: &World,
    kubeconfig: &Path,
    dir: &Path,
) -> Box<dyn Started> {
    let corefile = corefile_of(world);
    let setup = PeerSetup {
        listen: free_port().unwrap(),
        kubeconfig,
        context: "resolver@member2".into(),
        cluster: "member2",
        corefile: Some(&corefile),
        profile: Profile::Coredns,
        order: &STOCK_ORDER,
        dir,
    };
    peer.start(&setup, Duration::from_secs(30))
        .expect("CoreDNS starts")
}

fn options(kubeconfig: &Path, dns: Option<SocketAddr>) -> DoctorOptions {
    let mut o = DoctorOptions::new(kubeconfig.to_owned(), "member2".into());
    o.others = vec!["member1".into()];
    o.dns = dns;
    o
}

/// The world served by the emulator; doctor run against it (and against
/// real CoreDNS when given).
fn on_emulator(world: &World, name: &str, peer: Option<&CoreDnsPeer>) -> Report {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let dir = temp_dir(name);
    let mut emulator = Emulator::new(IDENTITY).unwrap();
    rt.block_on(async {
        for (n, state) in &world.clusters {
            emulator.add_cluster(n, state).await.unwrap();
        }
    });
    let kubeconfig = emulator.write(&dir.join("kube"), Some("member2")).unwrap();
    let server = peer.map(|p| start_coredns(p, world, &kubeconfig, &dir));
    // CoreDNS lists its objects before it answers from them.
    if server.is_some() {
        std::thread::sleep(Duration::from_secs(2));
    }
    let report = rt
        .block_on(doctor(&options(
            &kubeconfig,
            server.as_ref().map(|s| s.addr()),
        )))
        .expect("doctor runs");
    drop(server);
    drop(emulator);
    let _ = std::fs::remove_dir_all(&dir);
    report
}

fn assert_case(case: &Case, report: &Report, on: &str) {
    let shown = mcsdns::live::doctor::human(report);
    let f = report
        .findings
        .iter()
        .find(|f| f.id == case.finding)
        .unwrap_or_else(|| panic!("{on}/{}: no {} finding:\n{shown}", case.name, case.finding));
    for want in case.fix {
        assert!(
            f.fix.contains(want),
            "{on}/{}: the fix lacks {want:?}:\n{shown}",
            case.name
        );
    }
    assert_eq!(report.exit_code(FailOn::Warning), 1, "{shown}");
    assert!(
        !report.findings.iter().any(|f| f.id == "answer-differs"),
        "{on}/{}: an unexplained difference:\n{shown}",
        case.name
    );
}

fn assert_healthy(report: &Report, on: &str) {
    let shown = mcsdns::live::doctor::human(report);
    assert!(
        report.findings.is_empty(),
        "{on}: findings on a healthy set-up:\n{shown}"
    );
    assert!(report.unchecked.is_empty(), "{on}:\n{shown}");
    assert!(report.differences.is_empty(), "{on}:\n{shown}");
    assert_eq!(report.exit_code(FailOn::Warning), 0, "{on}:\n{shown}");
    assert_eq!(report.imports, 1);
    assert!(shown.contains("healthy: no finding"), "{shown}");
}

/// Without a live DNS server, doctor finds each failure from the objects
/// and the Corefile alone, each with its fix; the healthy set-up has none.
#[test]
fn doctor_finds_each_field_report_failure_on_the_emulator() {
    let report = on_emulator(&healthy(), "healthy", None);
    assert_healthy(&report, "emulator");
    assert_eq!(report.dns.identity(), IDENTITY);
    assert_eq!(report.dns.version, Some((1, 12, 2)));
    for case in CASES {
        let world = with(healthy(), case.cluster, case.yaml);
        let report = on_emulator(&world, case.name, None);
        assert_case(case, &report, "emulator");
    }
}

/// With real CoreDNS as the cluster DNS, every answer it gives that the
/// reference resolver would not is explained by a finding.
#[test]
fn doctor_explains_real_corednss_answers_on_the_emulator() {
    let Some(peer) = coredns() else { return };
    let report = on_emulator(&healthy(), "healthy-coredns", Some(&peer));
    assert_healthy(&report, "emulator+coredns");
    assert_eq!(report.asked, 2);
    for case in CASES {
        let world = with(healthy(), case.cluster, case.yaml);
        let report = on_emulator(&world, &format!("{}-coredns", case.name), Some(&peer));
        assert_case(case, &report, "emulator+coredns");
        // CoreDNS cannot read the imports: it answers other than the
        // objects say, and the RBAC finding explains it. (An import without
        // ips gives NODATA on both.)
        if case.finding == "rbac-serviceimports" {
            assert!(
                !report.differences.is_empty()
                    && report
                        .differences
                        .iter()
                        .all(|d| d.explained_by.contains(&case.finding.to_owned())),
                "{}: {:?}",
                case.name,
                report.differences
            );
        }
    }
}

/// The same on real kube-apiservers (etcd, kube-controller-manager) with
/// real CoreDNS reading them as its service account.
#[test]
fn doctor_finds_each_field_report_failure_on_a_real_control_plane() {
    let bin = match Binaries::find() {
        Ok(b) => b,
        Err(e) => {
            eprintln!("skipped: {e}");
            return;
        }
    };
    let Some(peer) = coredns() else { return };
    let dir = temp_dir("real");
    let names = vec!["member1".to_owned(), "member2".to_owned()];
    let mut cp = ControlPlane::start(&names, &dir.join("cp"), false, bin, &|_| {})
        .expect("control plane starts");
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(cp.set_resolver_identity(IDENTITY)).unwrap();
    let mut worlds = vec![("healthy", None, healthy())];
    for case in CASES {
        worlds.push((
            case.name,
            Some(case),
            with(healthy(), case.cluster, case.yaml),
        ));
    }
    for (name, case, world) in worlds {
        rt.block_on(put_world(&cp, &world));
        let server = start_coredns(&peer, &world, cp.kubeconfig(), &dir);
        std::thread::sleep(Duration::from_secs(2));
        let report = rt
            .block_on(doctor(&options(cp.kubeconfig(), Some(server.addr()))))
            .expect("doctor runs");
        drop(server);
        match case {
            None => assert_healthy(&report, "real"),
            Some(case) => assert_case(case, &report, &format!("real/{name}")),
        }
    }
    drop(cp);
    let _ = std::fs::remove_dir_all(&dir);
}

/// Makes each real cluster hold `world`: the model's objects through the
/// world writer, the rest (ConfigMap, Deployments, ServiceAccount) by
/// server-side apply.
async fn put_world(cp: &ControlPlane, world: &World) {
    use kube::api::{Patch, PatchParams};
    use kube::core::DynamicObject;
    use mcsdns::cluster::control_plane::world::{WorldWriter, kube_resource};
    use mcsdns::model::kinds::ApiResource;
    for (name, state) in &world.clusters {
        let client = cp.admin_client(name).await.unwrap();
        WorldWriter::new(client.clone(), name)
            .reset(state, IDENTITY)
            .await
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        for (o, _) in &state.others {
            let Some(res) = ApiResource::by_kind(&o.api_version, &o.kind) else {
                continue;
            };
            let ar = kube_resource(res);
            let ns = if o.namespace.is_empty() {
                "default"
            } else {
                &o.namespace
            };
            let api: kube::Api<DynamicObject> = kube::Api::namespaced_with(client.clone(), ns, &ar);
            let mut body = o.body.clone();
            body["metadata"]["namespace"] = ns.into();
            let obj: DynamicObject = serde_json::from_value(body).unwrap();
            api.patch(
                &o.name,
                &PatchParams::apply("mcsdns-test").force(),
                &Patch::Apply(&obj),
            )
            .await
            .unwrap_or_else(|e| panic!("{name}: {} {}: {e}", o.kind, o.name));
        }
    }
}

/// `--help` says doctor is read-only, and the binary exits 0 on a healthy
/// set-up and 1 with findings, printing JSON on request.
#[test]
fn the_doctor_command_is_read_only_and_exits_by_its_findings() {
    let exe = env!("CARGO_BIN_EXE_mcsdns");
    let help = std::process::Command::new(exe)
        .args(["doctor", "--help"])
        .output()
        .unwrap();
    let help = String::from_utf8_lossy(&help.stdout);
    assert!(
        help.contains("Read-only: doctor never writes to a cluster"),
        "{help}"
    );
    assert!(help.contains("SubjectAccessReview"), "{help}");
    for (world, code) in [(healthy(), 0), (with(healthy(), "member2", NO_IPS), 1)] {
        let rt = tokio::runtime::Runtime::new().unwrap();
        let dir = temp_dir(&format!("cli-{code}"));
        let mut emulator = Emulator::new(IDENTITY).unwrap();
        rt.block_on(async {
            for (n, state) in &world.clusters {
                emulator.add_cluster(n, state).await.unwrap();
            }
        });
        let kubeconfig = emulator.write(&dir.join("kube"), Some("member2")).unwrap();
        let out = std::process::Command::new(exe)
            .args([
                "doctor",
                "--format",
                "json",
                "--context",
                "member2",
                "--context",
                "member1",
                "--kubeconfig",
            ])
            .arg(&kubeconfig)
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert_eq!(
            out.status.code(),
            Some(code),
            "{stdout}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let v: serde_json::Value = serde_json::from_str(&stdout).expect("JSON");
        assert_eq!(
            v["findings"].as_array().unwrap().len(),
            code as usize,
            "{stdout}"
        );
        drop(emulator);
        let _ = std::fs::remove_dir_all(&dir);
    }
}

/// The build must serve the zone: the field report's standalone plugin in
/// a stock image is moved into the kubernetes block by the fix's diff, and
/// the in-tree option on an image older than v1.12.2 gets `set image`.
#[test]
fn doctor_checks_that_the_coredns_build_can_serve_the_zone() {
    const STANDALONE: &str = r#"
apiVersion: v1
kind: ConfigMap
metadata:
  name: coredns
  namespace: kube-system
data:
  Corefile: |
    .:53 {
        header {
            response set ra
        }
        multicluster clusterset.local
        kubernetes cluster.local in-addr.arpa ip6.arpa {
            pods insecure
            fallthrough in-addr.arpa ip6.arpa
        }
        cache 30
    }
"#;
    let report = on_emulator(&with(healthy(), "member2", STANDALONE), "standalone", None);
    let shown = mcsdns::live::doctor::human(&report);
    let f = report
        .findings
        .iter()
        .find(|f| f.id == "multicluster-not-in-build")
        .unwrap_or_else(|| panic!("{shown}"));
    for want in [
        "-    multicluster clusterset.local\n",
        "-    kubernetes cluster.local in-addr.arpa ip6.arpa {\n",
        "+    kubernetes cluster.local in-addr.arpa ip6.arpa clusterset.local {\n",
        "+        multicluster clusterset.local\n",
    ] {
        assert!(f.fix.contains(want), "{want:?} missing:\n{shown}");
    }
    // The healthy Corefile (in-tree option) on CoreDNS v1.11.1.
    let old = with(
        healthy(),
        "member2",
        &std::fs::read_to_string(common::repo().join("fixtures/doctor/member2/coredns.yaml"))
            .unwrap()
            .replace("v1.12.2", "v1.11.1"),
    );
    let report = on_emulator(&old, "old", None);
    let shown = mcsdns::live::doctor::human(&report);
    let f = report
        .findings
        .iter()
        .find(|f| f.id == "coredns-too-old")
        .unwrap_or_else(|| panic!("{shown}"));
    assert!(
        f.fix.contains("kubectl -n kube-system set image deployment/coredns coredns=registry.k8s.io/coredns/coredns:v1.12.2"),
        "{shown}"
    );
    assert_eq!(report.findings.len(), 1, "{shown}");
}

/// `capture` writes a world and a scenario that load, and the captured
/// world answers every imported name as the original does.
#[test]
fn capture_writes_a_world_that_answers_as_the_original() {
    use hickory_proto::rr::RecordType;
    use mcsdns::live::capture::{CaptureOptions, capture};
    use mcsdns::resolver::{ClusterView, Question, ResolverConfig, answer};
    let world = with(healthy(), "member2", POD_IP);
    let rt = tokio::runtime::Runtime::new().unwrap();
    let dir = temp_dir("capture");
    let mut emulator = Emulator::new(IDENTITY).unwrap();
    rt.block_on(async {
        for (n, state) in &world.clusters {
            emulator.add_cluster(n, state).await.unwrap();
        }
    });
    let kubeconfig = emulator.write(&dir.join("kube"), Some("member2")).unwrap();
    let out = dir.join("captured");
    let scenario = rt
        .block_on(capture(&CaptureOptions {
            kubeconfig,
            contexts: vec![
                ("member2".into(), "member2".into()),
                ("member1".into(), "member1".into()),
            ],
            narrow: Default::default(),
            out: out.clone(),
            anonymize: None,
        }))
        .expect("capture runs")
        .scenario;
    let (ok, errors) = mcsdns::run::suite::load_all(&[scenario], &out);
    assert!(errors.is_empty(), "{errors:?}");
    assert_eq!(ok.len(), 1);
    let captured = World::load(&out.join("world")).expect("the captured world loads");
    let config =
        ResolverConfig::from_corefile(&corefile_of(&world), Profile::Coredns, &STOCK_ORDER)
            .unwrap();
    for name in [
        "serve.default.svc.clusterset.local",
        "serve.default.svc.cluster.local",
        "kube-dns.kube-system.svc.cluster.local",
    ] {
        for qtype in [RecordType::A, RecordType::SRV] {
            let q = Question::parse(name, qtype).unwrap();
            let a = answer(
                &config,
                &ClusterView::from_state(&world.clusters["member2"]),
                &q,
            );
            let b = answer(
                &config,
                &ClusterView::from_state(&captured.clusters["member2"]),
                &q,
            );
            assert_eq!(
                a.reply().map(|r| (r.rcode, r.answers.len())),
                b.reply().map(|r| (r.rcode, r.answers.len())),
                "{name} {qtype}"
            );
            assert_eq!(a, b, "{name} {qtype}");
        }
    }
    drop(emulator);
    let _ = std::fs::remove_dir_all(&dir);
}

/// Captures member2 and member1 through `kubeconfig` into `out` (anonymized
/// with `seed`) and records today's answers, asking `dns` too.
fn capture_and_record(
    kubeconfig: &Path,
    out: &Path,
    seed: Option<u64>,
    dns: Option<SocketAddr>,
) -> (
    mcsdns::live::capture::Captured,
    mcsdns::live::capture::Recorded,
) {
    use mcsdns::live::capture::{CaptureOptions, capture, record};
    let rt = tokio::runtime::Runtime::new().unwrap();
    let captured = rt
        .block_on(capture(&CaptureOptions {
            kubeconfig: kubeconfig.to_owned(),
            contexts: vec![
                ("member2".into(), "member2".into()),
                ("member1".into(), "member1".into()),
            ],
            narrow: Default::default(),
            out: out.to_owned(),
            anonymize: seed,
        }))
        .expect("capture runs");
    drop(rt);
    let recorded =
        record(&captured, dns.map(|a| (a, Duration::from_secs(2)))).expect("capture records");
    (captured, recorded)
}

/// A step's kind, and its reply's rcode and record counts (answer, authority).
type Shape = (String, Option<(String, usize, usize)>);

/// Each step's rcode and record counts, in order.
fn shape(recorded: &mcsdns::live::capture::Recorded) -> Vec<Shape> {
    recorded
        .result
        .steps
        .iter()
        .map(|s| {
            let reply = s
                .observed
                .as_ref()
                .and_then(|o| o.outcome.as_ref())
                .and_then(|o| o.reply())
                .map(|r| (r.rcode.to_string(), r.answers.len(), r.authorities.len()));
            (s.kind.to_owned(), reply)
        })
        .collect()
}

/// `mcsdns ARGS`, its exit code and output.
fn mcsdns(args: &[&std::ffi::OsStr]) -> (Option<i32>, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_mcsdns"))
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code(),
        format!(
            "{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

/// The round trip on `kubeconfig`: the captured scenario carries today's
/// answers and `mcsdns run` of it passes; anonymized, every step keeps its
/// rcode and record counts and no original name is left in the files.
fn assert_round_trip(kubeconfig: &Path, dir: &Path, dns: Option<SocketAddr>) {
    let plain = dir.join("plain");
    let (captured, recorded) = capture_and_record(kubeconfig, &plain, None, dns);
    assert!(recorded.passed(), "{:?}", recorded.result);
    let text = std::fs::read_to_string(&captured.scenario).unwrap();
    assert!(text.contains("- expect:"), "{text}");
    assert!(
        text.contains("serve.default.svc.clusterset.local"),
        "{text}"
    );
    assert_eq!(captured.asked.len(), recorded.result.steps.len());
    assert!(plain.join("snapshots/captured.snap").is_file());
    if dns.is_some() {
        assert_eq!(recorded.asked_live, captured.asked.len());
        assert!(
            recorded.disagreements.is_empty(),
            "{:?}",
            recorded.disagreements
        );
    }
    let (code, out) = mcsdns(&[
        "run".as_ref(),
        "--no-reports".as_ref(),
        captured.scenario.as_os_str(),
    ]);
    assert_eq!(code, Some(0), "{out}");
    let anon = dir.join("anon");
    let (a_captured, a_recorded) = capture_and_record(kubeconfig, &anon, Some(7), dns);
    assert!(a_recorded.passed(), "{:?}", a_recorded.result);
    assert_eq!(shape(&recorded), shape(&a_recorded));
    assert!(
        shape(&recorded)
            .iter()
            .any(|(_, r)| r.as_ref().is_some_and(|r| r.1 > 0)),
        "some answer has records"
    );
    let a_text = std::fs::read_to_string(&a_captured.scenario).unwrap();
    assert!(a_text.contains(".svc.clusterset.local"), "{a_text}");
    for file in [
        a_captured.scenario.clone(),
        anon.join("world/member1/objects.yaml"),
        anon.join("world/member2/objects.yaml"),
    ] {
        let t = std::fs::read_to_string(&file).unwrap();
        // A name is a word of its own (`kube-apiserver` holds `serve`).
        let words: Vec<&str> = t
            .split(|c: char| !(c.is_ascii_alphanumeric() || c == '-' || c == '.'))
            .flat_map(|w| std::iter::once(w).chain(w.split('.')))
            .collect();
        for original in ["serve", "10.10.0.5"] {
            assert!(
                !words.contains(&original),
                "{original} in {}:\n{t}",
                file.display()
            );
        }
    }
    let (code, out) = mcsdns(&[
        "run".as_ref(),
        "--no-reports".as_ref(),
        a_captured.scenario.as_os_str(),
    ]);
    assert_eq!(code, Some(0), "{out}");
}

/// Capture on the API emulator: today's answers recorded, `run` passes,
/// anonymized the same shape; with real CoreDNS as the live DNS, no
/// disagreement on a healthy set-up.
#[test]
fn capture_records_answers_that_run_and_anonymize_keeps_their_shape_on_the_emulator() {
    let world = healthy();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let dir = temp_dir("capture-emulator");
    let mut emulator = Emulator::new(IDENTITY).unwrap();
    rt.block_on(async {
        for (n, state) in &world.clusters {
            emulator.add_cluster(n, state).await.unwrap();
        }
    });
    let kubeconfig = emulator.write(&dir.join("kube"), Some("member2")).unwrap();
    let peer = coredns();
    let server = peer
        .as_ref()
        .map(|p| start_coredns(p, &world, &kubeconfig, &dir));
    if server.is_some() {
        std::thread::sleep(Duration::from_secs(2));
    }
    assert_round_trip(&kubeconfig, &dir, server.as_ref().map(|s| s.addr()));
    drop(server);
    drop(emulator);
    drop(rt);
    let _ = std::fs::remove_dir_all(&dir);
}

/// The same round trip on real kube-apiservers.
#[test]
fn capture_round_trips_on_a_real_control_plane() {
    let bin = match Binaries::find() {
        Ok(b) => b,
        Err(e) => {
            eprintln!("skipped: {e}");
            return;
        }
    };
    let dir = temp_dir("capture-real");
    let names = vec!["member1".to_owned(), "member2".to_owned()];
    let mut cp = ControlPlane::start(&names, &dir.join("cp"), false, bin, &|_| {})
        .expect("control plane starts");
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(cp.set_resolver_identity(IDENTITY)).unwrap();
    rt.block_on(put_world(&cp, &healthy()));
    drop(rt);
    assert_round_trip(cp.kubeconfig(), &dir, None);
    drop(cp);
    let _ = std::fs::remove_dir_all(&dir);
}

/// `capture` then `bundle` then `replay`, through the binary: a bug report
/// in two commands that reproduces.
#[test]
fn capture_then_bundle_then_replay_passes() {
    let world = with(healthy(), "member2", NO_IPS);
    let rt = tokio::runtime::Runtime::new().unwrap();
    let dir = temp_dir("capture-bundle");
    let mut emulator = Emulator::new(IDENTITY).unwrap();
    rt.block_on(async {
        for (n, state) in &world.clusters {
            emulator.add_cluster(n, state).await.unwrap();
        }
    });
    let kubeconfig = emulator.write(&dir.join("kube"), Some("member2")).unwrap();
    let (_, help) = mcsdns(&["capture".as_ref(), "--help".as_ref()]);
    for promise in [
        "Read-only",
        "--anonymize renames namespaces (ns-N), services (svc-N)",
        "Kept:",
        "kube-system, default",
    ] {
        assert!(help.contains(promise), "{promise}: {help}");
    }
    let out = dir.join("report");
    let (code, text) = mcsdns(&[
        "capture".as_ref(),
        "--kubeconfig".as_ref(),
        kubeconfig.as_os_str(),
        "--context".as_ref(),
        "member2".as_ref(),
        "--context".as_ref(),
        "member1".as_ref(),
        "--anonymize".as_ref(),
        "-o".as_ref(),
        out.as_os_str(),
    ]);
    assert_eq!(code, Some(0), "{text}");
    assert!(text.contains("recorded missing expectations"), "{text}");
    let scenario = out.join("captured.yaml");
    let recorded = std::fs::read_to_string(&scenario).unwrap();
    // The field report's missing ips: the answer recorded is today's NODATA.
    assert!(recorded.contains("nodata: true"), "{recorded}");
    let bundle = dir.join("bundle.json");
    let (code, text) = mcsdns(&[
        "bundle".as_ref(),
        scenario.as_os_str(),
        "-o".as_ref(),
        bundle.as_os_str(),
    ]);
    assert_eq!(code, Some(0), "{text}");
    assert!(text.contains("passed"), "{text}");
    drop(emulator);
    let (code, text) = mcsdns(&["replay".as_ref(), bundle.as_os_str()]);
    assert_eq!(code, Some(0), "{text}");
    assert!(text.contains("every answer is as recorded"), "{text}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// With `--dns` at a server that does not answer, each question it leaves
/// unanswered is noted above its step (asking stops after three), and the
/// noted scenario still runs.
#[test]
fn capture_notes_where_the_live_dns_disagrees() {
    let world = healthy();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let dir = temp_dir("capture-notes");
    let mut emulator = Emulator::new(IDENTITY).unwrap();
    rt.block_on(async {
        for (n, state) in &world.clusters {
            emulator.add_cluster(n, state).await.unwrap();
        }
    });
    let kubeconfig = emulator.write(&dir.join("kube"), Some("member2")).unwrap();
    let silent = free_port().unwrap();
    let (captured, recorded) =
        capture_and_record(&kubeconfig, &dir.join("out"), None, Some(silent));
    assert!(recorded.passed());
    assert_eq!(
        recorded.disagreements.len(),
        captured.asked.len().min(3),
        "{:?}",
        recorded.disagreements
    );
    let text = std::fs::read_to_string(&captured.scenario).unwrap();
    let note = format!("# live DNS {silent} disagrees: no answer");
    assert_eq!(
        text.matches(&note).count(),
        recorded.disagreements.len(),
        "{text}"
    );
    let (code, out) = mcsdns(&[
        "run".as_ref(),
        "--no-reports".as_ref(),
        captured.scenario.as_os_str(),
    ]);
    assert_eq!(code, Some(0), "{out}");
    drop(emulator);
    let _ = std::fs::remove_dir_all(&dir);
}

/// A cluster of more objects than one manifest file may hold is written in
/// several files, and the recorded run of 1,200 questions passes.
#[test]
fn capture_splits_a_large_cluster_and_its_recorded_run_passes() {
    let mut yaml = String::new();
    for i in 0..600 {
        yaml.push_str(&format!(
            "---\napiVersion: multicluster.x-k8s.io/v1alpha1\nkind: ServiceImport\nmetadata: {{name: s{i}, namespace: default}}\nspec:\n  type: ClusterSetIP\n  ports: [{{name: http, port: 80, protocol: TCP}}]\n  ips: [\"10.96.{}.{}\"]\n",
            100 + i / 250,
            i % 250 + 1
        ));
    }
    let world = with(healthy(), "member2", &yaml);
    let rt = tokio::runtime::Runtime::new().unwrap();
    let dir = temp_dir("capture-large");
    let mut emulator = Emulator::new(IDENTITY).unwrap();
    rt.block_on(async {
        for (n, state) in &world.clusters {
            emulator.add_cluster(n, state).await.unwrap();
        }
    });
    let kubeconfig = emulator.write(&dir.join("kube"), Some("member2")).unwrap();
    let out = dir.join("out");
    let (captured, recorded) = capture_and_record(&kubeconfig, &out, Some(3), None);
    assert!(recorded.passed(), "{:?}", recorded.result.status);
    assert_eq!(captured.asked.len(), 2 * 601);
    assert!(out.join("world/member2/objects-2.yaml").is_file());
    assert!(!out.join("world/member2/objects.yaml").exists());
    drop(emulator);
    let _ = std::fs::remove_dir_all(&dir);
}
