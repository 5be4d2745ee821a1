//! The harness's parts on their own: the libc search-list models, the data
//! plane, RBAC, record mode, bundles, the schema and the command line.

use std::path::{Path, PathBuf};
use std::process::Command;

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::Name;
use mcsdns::client::connect::{AddressKind, connect};
use mcsdns::client::resolve::{candidates, walk};
use mcsdns::model::{World, rbac};
use mcsdns::resolver::{Outcome, Reply};
use mcsdns::run::{Status, run_scenario};
use mcsdns::scenario::load::{default_search, parse_scenario};
use mcsdns::scenario::{Client, Libc, load_scenario};
use mcsdns::target::ReferenceTarget;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn client(libc: Libc) -> Client {
    Client {
        cluster: "c".into(),
        namespace: "default".into(),
        search: default_search("default"),
        ndots: 5,
        libc,
    }
}

fn reply(rcode: ResponseCode, answers: usize) -> Outcome {
    let mut r = Reply::rcode(rcode);
    for _ in 0..answers {
        r.answers.push(mcsdns::resolver::zone::address(
            &Name::root(),
            5,
            "10.0.0.1".parse().unwrap(),
        ));
    }
    Outcome::Reply(r)
}

#[test]
fn candidates_follow_ndots_and_the_trailing_dot() {
    let c = client(Libc::Glibc);
    let names: Vec<String> = candidates("serve.default.svc", &c)
        .iter()
        .map(|n| n.to_string())
        .collect();
    assert_eq!(
        names,
        [
            "serve.default.svc.default.svc.cluster.local.",
            "serve.default.svc.svc.cluster.local.",
            "serve.default.svc.cluster.local.",
            "serve.default.svc."
        ]
    );
    assert_eq!(candidates("a.b.", &c).len(), 1);
    let few = Client { ndots: 2, ..c };
    assert_eq!(
        candidates("serve.default.svc", &few)[0].to_string(),
        "serve.default.svc."
    );
}

fn scripted(name: &Name) -> Outcome {
    match name.to_string().as_str() {
        "x.default.svc.cluster.local." => reply(ResponseCode::NXDomain, 0),
        "x.svc.cluster.local." => reply(ResponseCode::NoError, 0),
        "x.cluster.local." => reply(ResponseCode::ServFail, 0),
        _ => reply(ResponseCode::NoError, 1),
    }
}

#[test]
fn glibc_walks_past_nodata_and_servfail_where_musl_stops() {
    let glibc = walk("x", &client(Libc::Glibc), scripted);
    assert_eq!(glibc.attempts.len(), 4);
    assert_eq!(
        glibc.answered_name().map(|n| n.to_string()).as_deref(),
        Some("x.")
    );
    let musl = walk("x", &client(Libc::Musl), scripted);
    assert_eq!(
        musl.attempts.len(),
        2,
        "musl stops at the NODATA of the second candidate"
    );
    assert!(musl.answered.is_none());
    assert_eq!(musl.seen, Some(1));
}

#[test]
fn glibc_reports_nodata_over_a_later_nxdomain() {
    let all_fail = |name: &Name| match name.to_string().as_str() {
        "x.svc.cluster.local." => reply(ResponseCode::NoError, 0),
        _ => reply(ResponseCode::NXDomain, 0),
    };
    let r = walk("x", &client(Libc::Glibc), all_fail);
    assert_eq!(r.attempts.len(), 4);
    assert_eq!(r.seen, Some(1), "NO_DATA wins over the last NXDOMAIN");
}

#[test]
fn with_many_dots_glibc_searches_after_the_name_fails_but_musl_does_not() {
    let c = Client {
        ndots: 1,
        ..client(Libc::Glibc)
    };
    let refused_then_found = |name: &Name| match name.to_string().as_str() {
        "a.b." => reply(ResponseCode::Refused, 0),
        "a.b.svc.cluster.local." => reply(ResponseCode::NoError, 1),
        _ => reply(ResponseCode::NXDomain, 0),
    };
    let glibc = walk("a.b", &c, refused_then_found);
    assert_eq!(
        glibc.answered_name().map(|n| n.to_string()).as_deref(),
        Some("a.b.svc.cluster.local.")
    );
    let musl = walk(
        "a.b",
        &Client {
            libc: Libc::Musl,
            ..c
        },
        refused_then_found,
    );
    assert_eq!(musl.attempts.len(), 1, "musl asks only the name itself");
    assert!(musl.answered.is_none());
}

#[test]
fn glibc_stops_the_list_at_refused_or_silence_then_asks_the_name_itself() {
    let r = walk("x", &client(Libc::Glibc), |_| {
        reply(ResponseCode::Refused, 0)
    });
    let names: Vec<String> = r.attempts.iter().map(|a| a.name.to_string()).collect();
    assert_eq!(names, ["x.default.svc.cluster.local.", "x."]);
    let silent = walk("x", &client(Libc::Musl), |_| {
        Outcome::Silent("timeout".into())
    });
    assert_eq!(silent.attempts.len(), 1);
}

fn seed() -> World {
    World::load(&repo().join("fixtures/seed")).unwrap()
}

#[test]
fn a_pod_ip_is_reached_only_on_its_listening_port() {
    let w = seed();
    let c = connect(&w, "member2", "10.10.0.5".parse().unwrap(), 80);
    assert!(!c.reachable);
    assert!(matches!(c.kind, AddressKind::Pod { ref cluster, .. } if cluster == "member1"));
    assert_eq!(c.accepts, [8080]);
    assert!(connect(&w, "member2", "10.10.0.5".parse().unwrap(), 8080).reachable);
}

#[test]
fn a_cluster_ip_maps_port_to_target_port() {
    let w = seed();
    let c = connect(&w, "member2", "10.13.166.120".parse().unwrap(), 80);
    assert!(c.reachable, "{:?}", c.path);
    assert!(!connect(&w, "member2", "10.13.166.120".parse().unwrap(), 8080).reachable);
    let unknown = connect(&w, "member2", "192.0.2.1".parse().unwrap(), 80);
    assert_eq!(unknown.kind, AddressKind::Unknown);
    assert!(!unknown.reachable);
}

#[test]
fn rbac_denial_quotes_the_api_server() {
    let w = seed();
    let m2 = &w.clusters["member2"];
    assert!(
        rbac::check(
            m2,
            "system:serviceaccount:kube-system:coredns",
            rbac::LIST_SERVICEIMPORTS
        )
        .is_ok()
    );
    let denied = rbac::check(
        m2,
        "system:serviceaccount:default:other",
        rbac::LIST_SERVICEIMPORTS,
    )
    .unwrap_err();
    assert_eq!(
        denied.message(),
        "serviceimports.multicluster.x-k8s.io is forbidden: User \"system:serviceaccount:default:other\" cannot list resource \"serviceimports\" in API group \"multicluster.x-k8s.io\" at the cluster scope"
    );
    // member1 declares no RBAC at all: authorization is not modelled there.
    assert!(rbac::check(&w.clusters["member1"], "anyone", rbac::LIST_SERVICEIMPORTS).is_ok());
}

fn temp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("mcsdns-parts-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

#[test]
fn record_mode_fills_missing_expectations_in_the_files_style() {
    let root = repo().join("scenarios");
    let text = "world:\n  c1:\n    - path: fixtures/spec/c1\nresolver:\n  cluster: c1\nsteps:\n  - query: web.team.svc.clusterset.local A\n  - query: nope.team.svc.clusterset.local A\n  - expect:\n      rcode: NXDOMAIN\n  - resolve: web.team.svc.clusterset.local\n";
    let path = root.join("virtual.yaml");
    let s = parse_scenario(&path, &root, text).unwrap();
    let r = run_scenario(&s, &mut ReferenceTarget::new());
    let filled = mcsdns::run::record::fill_expectations(&s, &r)
        .unwrap()
        .expect("two steps lack expectations");
    assert_eq!(
        filled,
        "world:\n  c1:\n    - path: fixtures/spec/c1\nresolver:\n  cluster: c1\nsteps:\n  - query: web.team.svc.clusterset.local A\n  - expect:\n      answer: [10.42.0.1]\n  - query: nope.team.svc.clusterset.local A\n  - expect:\n      rcode: NXDOMAIN\n  - resolve: web.team.svc.clusterset.local\n  - expect:\n      answer: [10.42.0.1]\n      candidate: web.team.svc.clusterset.local.\n"
    );
    // The filled scenario loads and passes.
    let again = parse_scenario(&path, &root, &filled).unwrap();
    assert_eq!(
        run_scenario(&again, &mut ReferenceTarget::new()).status,
        Status::Passed
    );
}

#[test]
fn a_bundle_replays_anywhere_and_shows_changed_answers() {
    let root = repo().join("scenarios");
    let s = load_scenario(&root.join("seed/port-mismatch.yaml"), &root).unwrap();
    let r = run_scenario(&s, &mut ReferenceTarget::new());
    let mut bundle =
        mcsdns::run::bundle::make(&s, &r, mcsdns::run::bundle::Credentials::Refuse).unwrap();
    assert!(
        bundle
            .files
            .keys()
            .any(|k| k.starts_with("fixtures/seed/member1/")),
        "{:?}",
        bundle.files.keys()
    );
    let same = mcsdns::run::bundle::replay(&bundle, &mut ReferenceTarget::new()).unwrap();
    assert!(same.diff.is_none());
    bundle.transcript = bundle.transcript.replace("10.10.0.5", "10.10.0.99");
    let changed = mcsdns::run::bundle::replay(&bundle, &mut ReferenceTarget::new()).unwrap();
    let diff = changed.diff.expect("answers changed");
    assert!(
        diff.contains("-") && diff.contains("10.10.0.99") && diff.contains("+"),
        "{diff}"
    );
    bundle.files.insert("../escape.yaml".into(), String::new());
    assert!(mcsdns::run::bundle::replay(&bundle, &mut ReferenceTarget::new()).is_err());
}

#[test]
fn the_committed_schema_is_the_generated_one() {
    let committed = std::fs::read_to_string(repo().join("scenarios/scenario.schema.json")).unwrap();
    assert_eq!(
        committed.trim_end(),
        mcsdns::scenario::schema().trim_end(),
        "run `mcsdns schema > scenarios/scenario.schema.json`"
    );
}

#[test]
fn lint_warns_about_checks_that_cannot_fail() {
    let root = repo().join("scenarios");
    let text = "world:\n  c1:\n    - path: fixtures/spec/c1\nresolver:\n  cluster: c1\nsteps:\n  - query: a.clusterset.local A\n  - query: b.clusterset.local A\n  - expect:\n      ttl: {min: 0}\n";
    let s = parse_scenario(&root.join("virtual.yaml"), &root, text).unwrap();
    let warnings: Vec<String> = mcsdns::scenario::lint::lint(&s)
        .iter()
        .map(|w| w.to_string())
        .collect();
    assert!(
        warnings
            .iter()
            .any(|w| w.contains(":7: warning: query has no expectation")),
        "{warnings:?}"
    );
    assert!(
        warnings
            .iter()
            .any(|w| w.contains(":9: warning: ttl.min 0")),
        "{warnings:?}"
    );
    // The built-in suite is lint-clean.
    let files = mcsdns::run::suite::discover(&root).unwrap();
    let (ok, errors) = mcsdns::run::suite::load_all(&files, &root);
    assert!(errors.is_empty());
    let all: Vec<String> = ok
        .iter()
        .flat_map(mcsdns::scenario::lint::lint)
        .map(|w| w.to_string())
        .collect();
    assert!(all.is_empty(), "{all:#?}");
}

fn mcsdns(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_mcsdns"))
        .current_dir(repo())
        .args(args)
        .output()
        .unwrap()
}

#[test]
fn run_exits_0_on_pass_1_on_failure_2_on_bad_input_and_writes_reports() {
    let reports = temp("reports");
    let out = mcsdns(&[
        "run",
        "--reports",
        reports.to_str().unwrap(),
        "--tag",
        "seed",
    ]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("9 passed, 0 failed"), "{stdout}");
    for f in ["junit.xml", "report.json", "summary.md", "report.html"] {
        assert!(reports.join(f).is_file(), "{f}");
    }
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(reports.join("report.json")).unwrap())
            .unwrap();
    assert_eq!(json["scenarios"].as_array().unwrap().len(), 9);
    let junit = std::fs::read_to_string(reports.join("junit.xml")).unwrap();
    assert!(
        junit.contains("<testcase name=\"seed/rbac-denied\""),
        "{junit}"
    );
    let html = std::fs::read_to_string(reports.join("report.html")).unwrap();
    assert!(html.contains("seed/walkthrough") && html.contains("<pre>"));

    // A failing scenario: exit 1, and the failure explains itself.
    // Its world is copied beside it: a scenario reads only inside its
    // project root.
    let project = temp("failing");
    let dir = project.join("scenarios");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("scenario.schema.json"), "{}").unwrap();
    let member2 = project.join("fixtures/member2");
    std::fs::create_dir_all(&member2).unwrap();
    for f in std::fs::read_dir(repo().join("fixtures/seed/member2")).unwrap() {
        let f = f.unwrap().path();
        std::fs::copy(&f, member2.join(f.file_name().unwrap())).unwrap();
    }
    std::fs::write(
        dir.join("wrong.yaml"),
        "world:\n  member2:\n    - path: fixtures/member2\nresolver:\n  cluster: member2\nsteps:\n  - query: serve.default.svc.clusterset.local A\n  - expect:\n      flags: +ra\n",
    )
    .unwrap();
    let out = mcsdns(&["run", "--no-reports", dir.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("expected flag ra to be set") && stdout.contains("diagnosis ra-flag-off"),
        "{stdout}"
    );

    // Bad input: exit 2, nothing run.
    std::fs::write(dir.join("broken.yaml"), "steps: [\n").unwrap();
    let out = mcsdns(&["run", "--no-reports", dir.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("broken.yaml:1"));
    let out = mcsdns(&["run", "--target", "nowhere"]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn the_cache_keeps_answers_for_their_clamped_ttl_as_coredns_does() {
    use mcsdns::resolver::cache::Cache;
    use mcsdns::resolver::config::CachePolicy;
    use mcsdns::resolver::{Profile, Question, ResolverConfig, answer};
    use std::time::Duration;
    let world = seed();
    let view = mcsdns::resolver::ClusterView::from_state(&world.clusters["member2"]);
    let config = ResolverConfig::default_for(Profile::Kep1645);
    let policy = CachePolicy {
        zones: vec![Name::root()],
        success_max: 30,
        success_min: 20,
        denial_max: 30,
        denial_min: 5,
        success: true,
        denial: true,
        servfail: 5,
        line: 1,
    };
    let mut cache = Cache::default();
    let q = Question::parse(
        "derived-serve.default.svc.cluster.local",
        hickory_proto::rr::RecordType::A,
    )
    .unwrap();
    let mut fresh = answer(&config, &view, &q).reply().cloned().unwrap();
    assert_eq!(fresh.answers[0].ttl, 5);
    cache.put(&q, &mut fresh, &policy, Duration::ZERO);
    // TTL 5 is raised to the success minimum 20, on the first reply too.
    assert_eq!(fresh.answers[0].ttl, 20);
    let hit = cache.get(&q, Duration::from_secs(8)).expect("cached");
    assert_eq!(
        (
            hit.age,
            hit.remaining,
            hit.reply.answers[0].ttl,
            hit.reply.authoritative
        ),
        (8, 12, 12, true)
    );
    assert!(cache.get(&q, Duration::from_secs(20)).is_none(), "expired");
    // NXDOMAIN: min(SOA TTL, MINIMUM) = 5, clamped to [denial_min, denial_max].
    let nx = Question::parse(
        "nope.default.svc.cluster.local",
        hickory_proto::rr::RecordType::A,
    )
    .unwrap();
    let mut negative = answer(&config, &view, &nx).reply().cloned().unwrap();
    cache.put(&nx, &mut negative, &policy, Duration::ZERO);
    assert!(cache.get(&nx, Duration::from_secs(4)).is_some());
    assert!(cache.get(&nx, Duration::from_secs(5)).is_none());
    // `disable denial` keeps NXDOMAIN out; REFUSED is never cached.
    let mut fresh_nx = answer(&config, &view, &nx).reply().cloned().unwrap();
    let mut off = Cache::default();
    off.put(
        &nx,
        &mut fresh_nx,
        &CachePolicy {
            denial: false,
            ..policy.clone()
        },
        Duration::ZERO,
    );
    assert!(off.get(&nx, Duration::ZERO).is_none());
    let out = Question::parse("example.com", hickory_proto::rr::RecordType::A).unwrap();
    let mut refused = answer(&config, &view, &out).reply().cloned().unwrap();
    cache.put(&out, &mut refused, &policy, Duration::ZERO);
    assert!(cache.get(&out, Duration::ZERO).is_none());
}

#[test]
fn a_named_target_port_resolves_through_the_slice_without_a_deployment() {
    // The Service port is named `web`; its targetPort names the container's
    // `http` port. The slice carries the Service port's name and the number.
    let yaml = "apiVersion: v1\nkind: Service\nmetadata: {name: s, namespace: default}\nspec:\n  clusterIP: 10.96.7.7\n  ports: [{name: web, port: 80, targetPort: http}]\n---\napiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\nmetadata:\n  name: s-1\n  namespace: default\n  labels: {kubernetes.io/service-name: s}\naddressType: IPv4\nports: [{name: web, port: 8080, protocol: TCP}]\nendpoints:\n  - addresses: [\"10.1.1.1\"]\n";
    let mut world = World::default();
    world.clusters.insert(
        "c".into(),
        World::parse_cluster("c", Path::new("t.yaml"), yaml, 1).unwrap(),
    );
    let c = connect(&world, "c", "10.96.7.7".parse().unwrap(), 80);
    assert!(c.reachable, "{:?}", c.path);
    assert!(
        !connect(&world, "c", "10.96.7.7".parse().unwrap(), 8080).reachable,
        "8080 is not a Service port"
    );
}

#[test]
fn a_snapshot_mismatch_fails_the_scenario_not_its_first_step() {
    use mcsdns::run::record::{SnapshotMode, apply};
    use mcsdns::run::snapshot::{self, Snapshot};
    let root = temp("snapshot");
    std::fs::create_dir_all(root.join("c1")).unwrap();
    std::fs::copy(
        repo().join("fixtures/spec/c1/world.yaml"),
        root.join("c1/world.yaml"),
    )
    .unwrap();
    let text = "world:\n  c1:\n    - path: c1\nresolver:\n  cluster: c1\nsteps:\n  - query: web.team.svc.clusterset.local A\n  - expect:\n      answer: [10.42.0.1]\n";
    let path = root.join("s.yaml");
    std::fs::write(&path, text).unwrap();
    let s = load_scenario(&path, &root).unwrap();
    let result = run_scenario(&s, &mut ReferenceTarget::new());
    assert_eq!(result.status, Status::Passed);
    let snap = snapshot::path(&root, &result.id);
    std::fs::create_dir_all(snap.parent().unwrap()).unwrap();
    let old = result.transcript().replace("10.42.0.1", "10.42.0.9");
    std::fs::write(&snap, Snapshot::new(&root, &path, &old).render()).unwrap();

    let mut results = vec![result.clone()];
    let mut rerun =
        |s: &mcsdns::scenario::Scenario| Some(run_scenario(s, &mut ReferenceTarget::new()));
    apply(
        SnapshotMode::Check,
        &mut results,
        std::slice::from_ref(&s),
        std::slice::from_ref(&root),
        &mut rerun,
    )
    .unwrap();
    let checked = &results[0];
    assert_eq!(checked.status, Status::Failed);
    assert!(
        checked.steps.iter().all(|st| st.failures.is_empty()),
        "no step is blamed"
    );
    let mismatch = checked
        .snapshot_mismatch
        .as_ref()
        .expect("a scenario-level failure");
    assert!(
        mismatch.diff.contains("-") && mismatch.diff.contains("10.42.0.9"),
        "{}",
        mismatch.diff
    );
    let lines = checked.failures();
    assert_eq!(lines.len(), 1);
    assert!(
        lines[0].starts_with(&format!(
            "{}: answers differ from the snapshot",
            path.display()
        )),
        "{}",
        lines[0]
    );
    // The new answers wait beside the old snapshot for review.
    let pending = snapshot::pending_path(&snap);
    let waiting = std::fs::read_to_string(&pending).expect("a pending snapshot");
    assert!(waiting.contains("10.42.0.1") && waiting.contains("source: "));
    assert!(
        std::fs::read_to_string(&snap)
            .unwrap()
            .contains("10.42.0.9")
    );

    // Recording writes the snapshot the run saw; checking again passes.
    let mut results = vec![result];
    apply(
        SnapshotMode::Record { snapshots: true },
        &mut results,
        std::slice::from_ref(&s),
        std::slice::from_ref(&root),
        &mut rerun,
    )
    .unwrap();
    apply(SnapshotMode::Check, &mut results, &[s], &[root], &mut rerun).unwrap();
    assert_eq!(results[0].status, Status::Passed);
    assert!(results[0].snapshot_mismatch.is_none());
    assert!(!pending.exists(), "recording settles the pending snapshot");
}
