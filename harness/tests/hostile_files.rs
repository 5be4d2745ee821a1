//! Holds mcsdns to what it may read and write when files come from someone
//! else: a scenario reads only inside its project root, inputs are capped
//! and regular, bundles carry no credentials and unpack privately,
//! kubeconfigs and keys are 0600 in folders no one else can change, and
//! rewritten files are replaced whole.

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use mcsdns::error::SourceError;
use mcsdns::run::bundle::{self, BundleError, Credentials};
use mcsdns::scenario::load::parse_scenario;
use mcsdns::scenario::load_scenario;
use mcsdns::target::ReferenceTarget;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// A project: a folder holding `fixtures/` and `scenarios/`, inside a
/// folder that holds files the project must not reach.
struct Project {
    outside: tempfile::TempDir,
}

impl Project {
    fn new() -> Project {
        let outside = tempfile::tempdir().unwrap();
        let p = outside.path().join("proj");
        std::fs::create_dir_all(p.join("fixtures/c1")).unwrap();
        std::fs::create_dir_all(p.join("scenarios")).unwrap();
        std::fs::write(p.join("fixtures/c1/ns.yaml"), NAMESPACE).unwrap();
        std::fs::write(outside.path().join("secret.yaml"), "password: hunter2\n").unwrap();
        Project { outside }
    }

    fn root(&self) -> PathBuf {
        self.outside.path().join("proj")
    }

    fn scenario(&self, world_path: &str) -> PathBuf {
        let path = self.root().join("scenarios/s.yaml");
        std::fs::write(&path, scenario_text(world_path)).unwrap();
        path
    }
}

const NAMESPACE: &str = "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: team\n";

fn scenario_text(world_path: &str) -> String {
    format!(
        "world:\n  c1:\n    - path: {world_path}\nresolver:\n  cluster: c1\nsteps:\n  - query: a.team.svc.clusterset.local A\n  - expect:\n      rcode: NXDOMAIN\n"
    )
}

/// What mcsdns printed on standard error, with miette's line wrapping
/// undone (it wraps at 80 columns when not on a terminal).
fn unwrapped(stderr: &[u8]) -> String {
    let text = String::from_utf8_lossy(stderr);
    let mut out = String::new();
    for line in text.lines() {
        let body = line.trim_start().trim_start_matches('│').trim_start();
        match line.trim_start().starts_with('│') {
            true => {
                out.push(' ');
                out.push_str(body);
            }
            false => {
                out.push('\n');
                out.push_str(line);
            }
        }
    }
    out
}

/// The error with its snippet, as a user sees it.
fn rendered(e: &SourceError) -> String {
    let mut out = String::new();
    miette::GraphicalReportHandler::new_themed(miette::GraphicalTheme::unicode_nocolor())
        .render_report(&mut out, e)
        .unwrap();
    out
}

fn load(path: &Path) -> Result<mcsdns::scenario::Scenario, SourceError> {
    load_scenario(path, path.parent().unwrap())
}

/// The error of loading `path`, which must be at the world path's line.
fn refused(path: &Path) -> (SourceError, String) {
    let e = load(path).expect_err("the scenario must not load");
    assert_eq!(e.file, path, "{e}");
    assert_eq!((e.line, e.column), (3, 13), "{e}");
    let shown = rendered(&e);
    (e, shown)
}

#[test]
fn a_scenario_cannot_read_outside_its_root_nor_show_what_is_there() {
    let p = Project::new();
    for path in [
        "/etc/passwd",
        "/etc/shadow",
        "/proc/self/environ",
        "../../secret.yaml",
        "../../../../../../../../etc/passwd",
    ] {
        let (e, shown) = refused(&p.scenario(path));
        assert!(
            e.message.contains("leaves the scenario's root"),
            "{path}: {e}"
        );
        for leaked in ["root:x:0", "hunter2", "PATH="] {
            assert!(
                !shown.contains(leaked),
                "{path}: the error shows {leaked}:\n{shown}"
            );
        }
    }
    // A link inside the project that leads out is refused too, and says where.
    std::os::unix::fs::symlink(
        p.outside.path().join("secret.yaml"),
        p.root().join("fixtures/link.yaml"),
    )
    .unwrap();
    let (e, shown) = refused(&p.scenario("fixtures/link.yaml"));
    assert!(
        e.message.contains("leaves the scenario's root") && e.message.contains("symbolic link to"),
        "{e}"
    );
    assert!(!shown.contains("hunter2"), "{shown}");
    // So is one among the files of a folder the world reads.
    std::os::unix::fs::symlink(
        p.outside.path().join("secret.yaml"),
        p.root().join("fixtures/c1/zz.yaml"),
    )
    .unwrap();
    let (e, _) = refused(&p.scenario("fixtures/c1"));
    assert!(e.message.contains("leaves the scenario's root"), "{e}");
}

#[test]
fn the_upward_search_stops_at_the_root() {
    let p = Project::new();
    // `secret.yaml` sits one folder above the root: found before, now not.
    let (e, _) = refused(&p.scenario("secret.yaml"));
    assert!(e.message.contains("not found"), "{e}");
    let hint = e.hint.unwrap_or_default();
    assert!(hint.contains("up to the scenario's root"), "{hint}");
    // A path inside the root is found from a folder above the scenario's.
    let s = load(&p.scenario("fixtures/c1")).unwrap();
    assert_eq!(s.files.len(), 1, "{:?}", s.files);
}

#[test]
fn a_named_root_widens_or_narrows_what_a_scenario_reads() {
    let p = Project::new();
    let scenario = p.scenario("../../secret.yaml");
    let run = |root: &Path| {
        Command::new(env!("CARGO_BIN_EXE_mcsdns"))
            .args(["lint", "--root"])
            .arg(root)
            .arg(&scenario)
            .output()
            .unwrap()
    };
    let out = run(&p.root());
    assert_eq!(out.status.code(), Some(2));
    assert!(unwrapped(&out.stderr).contains("leaves the scenario's root"));
    // With the outer folder as the root, the path is inside it (and fails
    // only as the manifest it is not).
    let out = run(p.outside.path());
    let err = unwrapped(&out.stderr);
    assert!(!err.contains("leaves the scenario's root"), "{err}");
    assert!(err.contains("secret.yaml"), "{err}");
}

#[test]
fn a_symbolic_link_loop_is_not_called_missing() {
    let p = Project::new();
    let a = p.root().join("fixtures/a.yaml");
    let b = p.root().join("fixtures/b.yaml");
    std::os::unix::fs::symlink(&b, &a).unwrap();
    std::os::unix::fs::symlink(&a, &b).unwrap();
    let (e, _) = refused(&p.scenario("fixtures/a.yaml"));
    assert!(e.message.contains("loop of symbolic links"), "{e}");
    assert!(!e.message.contains("not found"), "{e}");
}

#[test]
fn a_bare_file_name_has_a_folder_in_its_hint() {
    let e = parse_scenario(
        Path::new("s.yaml"),
        Path::new("."),
        &scenario_text("nowhere/c1"),
    )
    .expect_err("no such fixture");
    let hint = e.hint.unwrap_or_default();
    assert!(hint.contains("looked up from . and"), "{hint}");
}

#[test]
fn a_fifo_is_refused_at_once_not_waited_on() {
    let p = Project::new();
    let fifo = p.root().join("fixtures/pipe.yaml");
    assert!(
        Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap()
            .success()
    );
    let started = Instant::now();
    let (e, _) = refused(&p.scenario("fixtures/pipe.yaml"));
    assert!(e.message.contains("not a regular file but a FIFO"), "{e}");
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[test]
fn an_input_over_the_size_limit_is_refused_with_the_way_to_raise_it() {
    let p = Project::new();
    let big = format!("{NAMESPACE}# {}\n", "x".repeat(4096));
    std::fs::write(p.root().join("fixtures/big.yaml"), big).unwrap();
    let scenario = p.scenario("fixtures/big.yaml");
    let lint = |limit: &str| {
        Command::new(env!("CARGO_BIN_EXE_mcsdns"))
            .args(["lint", "--max-file-size", limit])
            .arg(&scenario)
            .output()
            .unwrap()
    };
    let out = lint("2KiB");
    let err = unwrapped(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("larger than the 2 KiB limit") && err.contains("--max-file-size"),
        "{err}"
    );
    assert!(err.contains("s.yaml:3:13"), "{err}");
    assert_eq!(lint("1MiB").status.code(), Some(0));
}

#[test]
fn the_default_size_limit_is_far_above_a_world_of_100000_objects() {
    // 100,000 objects as a world of that size writes them: a Service, its
    // EndpointSlice and its ServiceImport per name.
    let mut world = String::new();
    for i in 0..100_000 / 3 + 1 {
        world.push_str(&format!(
            "---\napiVersion: v1\nkind: Service\nmetadata:\n  name: svc-{i}\n  namespace: team\nspec:\n  clusterIP: 10.96.{}.{}\n  ports:\n  - name: http\n    port: 80\n    protocol: TCP\n---\napiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\nmetadata:\n  name: svc-{i}-abcde\n  namespace: team\n  labels:\n    kubernetes.io/service-name: svc-{i}\n    multicluster.kubernetes.io/source-cluster: c1\naddressType: IPv4\nendpoints:\n- addresses: [10.1.{}.{}]\n  conditions: {{ready: true}}\nports:\n- name: http\n  port: 8080\n  protocol: TCP\n---\napiVersion: multicluster.x-k8s.io/v1alpha1\nkind: ServiceImport\nmetadata:\n  name: svc-{i}\n  namespace: team\nspec:\n  type: ClusterSetIP\n  ips: [10.200.{}.{}]\n  ports:\n  - name: http\n    port: 80\n    protocol: TCP\n",
            i / 256 % 256, i % 256, i / 256 % 256, i % 256, i / 256 % 256, i % 256
        ));
    }
    assert!(
        (world.len() as u64) * 4 < mcsdns::files::DEFAULT_MAX_SIZE,
        "{} bytes",
        world.len()
    );
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("world.yaml");
    std::fs::write(&file, &world).unwrap();
    assert_eq!(
        mcsdns::files::read_to_string(&file).unwrap().len(),
        world.len()
    );
}

/// A scenario of the suite, bundled.
fn bundled(project: &Project, extra: Option<(&str, &str)>) -> Result<bundle::Bundle, BundleError> {
    if let Some((name, text)) = extra {
        std::fs::write(project.root().join("fixtures/c1").join(name), text).unwrap();
    }
    let s = load(&project.scenario("fixtures/c1")).unwrap();
    let r = mcsdns::run::run_scenario(&s, &mut ReferenceTarget::new());
    bundle::make(&s, &r, Credentials::Refuse)
}

#[test]
fn a_bundle_refuses_files_that_look_like_credentials() {
    let kubeconfig =
        "apiVersion: v1\nkind: Config\nusers:\n- name: admin\n  user:\n    token: 3f9c0c1b2d\n";
    let key = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: tls\n  namespace: team\ndata:\n  key: |\n    -----BEGIN EC PRIVATE KEY-----\n    MHcCAQEEIB\n    -----END EC PRIVATE KEY-----\n";
    for (name, text, what) in [
        (
            "kubeconfig.yaml",
            kubeconfig,
            "a kubeconfig with credentials",
        ),
        ("key.yaml", key, "a private key"),
    ] {
        let p = Project::new();
        match bundled(&p, Some((name, text))) {
            Err(BundleError::Credentials { file, what: w }) => {
                assert_eq!(file, format!("fixtures/c1/{name}"));
                assert_eq!(w, what);
            }
            other => panic!(
                "{name}: {:?}",
                other.map(|b| b.files.into_keys().collect::<Vec<_>>())
            ),
        }
    }
    assert!(bundle::looks_like_credentials(NAMESPACE).is_none());
    let p = Project::new();
    let b = bundled(&p, None).unwrap();
    assert_eq!(b.files.keys().collect::<Vec<_>>(), ["fixtures/c1/ns.yaml"]);
}

#[test]
fn bundle_lists_every_file_it_packs_and_is_told_to_pack_credentials() {
    let p = Project::new();
    std::fs::write(
        p.root().join("fixtures/c1/secret.yaml"),
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: s\n  namespace: team\ndata:\n  token: aGk=\n",
    )
    .unwrap();
    let scenario = p.scenario("fixtures/c1");
    let output = p.outside.path().join("bundle.json");
    let bundle = |extra: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_mcsdns"))
            .arg("bundle")
            .arg(&scenario)
            .arg("-o")
            .arg(&output)
            .args(extra)
            .output()
            .unwrap()
    };
    let out = bundle(&[]);
    let err = unwrapped(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("fixtures/c1/secret.yaml looks like a Kubernetes Secret"),
        "{err}"
    );
    assert!(!output.exists());
    let out = bundle(&["--include-credentials"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for f in ["s.yaml", "fixtures/c1/ns.yaml", "fixtures/c1/secret.yaml"] {
        assert!(
            stdout.contains(&format!("packed {f}")) || stdout.contains(&format!("/{f} (")),
            "{f}: {stdout}"
        );
    }
}

#[test]
fn replay_unpacks_into_a_fresh_private_folder_and_never_through_a_link() {
    let p = Project::new();
    let b = bundled(&p, None).unwrap();
    // The folder an older replay used, planted as a link to a victim.
    let victim = tempfile::tempdir().unwrap();
    let planted = std::env::temp_dir().join(format!("mcsdns-replay-{}", std::process::id()));
    let _ = std::fs::remove_file(&planted);
    std::os::unix::fs::symlink(victim.path(), &planted).unwrap();
    let a = bundle::unpack(&b).unwrap();
    let again = bundle::unpack(&b).unwrap();
    std::fs::remove_file(&planted).unwrap();
    assert_ne!(a.dir(), again.dir());
    assert_ne!(a.dir(), planted);
    assert_eq!(std::fs::metadata(a.dir()).unwrap().mode() & 0o777, 0o700);
    assert!(a.scenario.starts_with(a.dir()));
    assert_eq!(std::fs::read_dir(victim.path()).unwrap().count(), 0);
    let replayed = bundle::replay(&b, &mut mcsdns::target::ReferenceTarget::new()).unwrap();
    assert!(replayed.diff.is_none());
    // Paths that would leave the folder, or name nothing, are refused.
    for bad in ["../escape.yaml", "/etc/cron.d/x", "a/../../b", "", "."] {
        let mut evil = b.clone();
        evil.files.insert(bad.into(), "x".into());
        assert!(
            matches!(bundle::unpack(&evil), Err(BundleError::Escapes(_))),
            "{bad:?}"
        );
    }
    let mut evil = b.clone();
    evil.scenario_name = "../s.yaml".into();
    assert!(matches!(
        bundle::unpack(&evil),
        Err(BundleError::Escapes(_))
    ));
    // A bundled scenario that names a file outside the folder gets nothing.
    let mut evil = b.clone();
    evil.scenario = scenario_text("/etc/passwd");
    match bundle::replay(&evil, &mut mcsdns::target::ReferenceTarget::new()) {
        Err(BundleError::Scenario(e)) => {
            assert!(e.message.contains("leaves the scenario's root"), "{e}")
        }
        other => panic!("{:?}", other.err()),
    }
}

#[test]
fn replay_errors_read_as_errors_not_as_rust_structs() {
    let p = Project::new();
    let mut b = bundled(&p, None).unwrap();
    b.scenario = b.scenario.replace("query:", "qurey:");
    let file = p.outside.path().join("bad.json");
    std::fs::write(&file, serde_json::to_string(&b).unwrap()).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_mcsdns"))
        .arg("replay")
        .arg(&file)
        .output()
        .unwrap();
    let err = unwrapped(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("s.yaml:7:5: steps[0]: unknown step `qurey`"),
        "{err}"
    );
    assert!(
        !err.contains("SourceError {") && !err.contains("NamedSource"),
        "{err}"
    );
    // Not a bundle at all, or one too large: said so, with the file's name.
    std::fs::write(&file, "{\"format\": 7").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_mcsdns"))
        .arg("replay")
        .arg(&file)
        .output()
        .unwrap();
    let err = unwrapped(&out.stderr);
    assert!(err.contains("bad.json: not an mcsdns bundle"), "{err}");
    b.files
        .insert("fixtures/c1/notes.yaml".into(), "#".repeat(2048));
    std::fs::write(&file, serde_json::to_string(&b).unwrap()).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_mcsdns"))
        .args(["replay", "--max-file-size", "1KiB"])
        .arg(&file)
        .output()
        .unwrap();
    let err = unwrapped(&out.stderr);
    assert!(err.contains("larger than the 1 KiB limit"), "{err}");
}

/// `mcsdns apiserver --dir DIR` under `umask 000`, until its kubeconfig is
/// written; the child is killed before returning.
fn apiserver_writes(dir: &Path) -> Result<(), String> {
    let mut child = Command::new("sh")
        .arg("-c")
        .arg("umask 000; exec \"$@\"")
        .arg("sh")
        .arg(env!("CARGO_BIN_EXE_mcsdns"))
        .args(["apiserver", "--manifests"])
        .arg(repo().join("fixtures/seed"))
        .arg("--dir")
        .arg(dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    let result = loop {
        if let Some(status) = child.try_wait().unwrap() {
            let mut err = String::new();
            std::io::Read::read_to_string(child.stderr.as_mut().unwrap(), &mut err).unwrap();
            break Err(format!("{status}: {err}"));
        }
        if std::fs::symlink_metadata(dir.join("kubeconfig")).is_ok_and(|m| m.is_file())
            && std::fs::symlink_metadata(dir.join("ca.crt"))
                .is_ok_and(|m| m.is_file() && m.len() > 0)
        {
            break Ok(());
        }
        if Instant::now() > deadline {
            break Err("no kubeconfig within 30 s".into());
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let _ = child.kill();
    let _ = child.wait();
    result
}

fn mode(p: &Path) -> u32 {
    std::fs::metadata(p).unwrap().mode() & 0o777
}

#[test]
fn the_emulator_writes_tokens_0600_in_a_0700_folder_whatever_the_umask_and_whatever_was_there() {
    let top = tempfile::tempdir().unwrap();
    // A new folder, under umask 000.
    let fresh = top.path().join("new/apiserver");
    apiserver_writes(&fresh).unwrap();
    assert_eq!(mode(&fresh), 0o700);
    assert_eq!(mode(&fresh.join("kubeconfig")), 0o600);
    assert_eq!(mode(&fresh.join("ca.crt")), 0o600);
    // An existing folder with a link planted at the kubeconfig's name and a
    // world-readable ca.crt: the link is replaced, its target untouched.
    let victim = top.path().join("victim");
    std::fs::write(&victim, "precious").unwrap();
    let used = top.path().join("used");
    std::fs::create_dir(&used).unwrap();
    std::os::unix::fs::symlink(&victim, used.join("kubeconfig")).unwrap();
    std::fs::write(used.join("ca.crt"), "old").unwrap();
    std::fs::set_permissions(used.join("ca.crt"), std::fs::Permissions::from_mode(0o666)).unwrap();
    apiserver_writes(&used).unwrap();
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious");
    assert_eq!(mode(&used.join("kubeconfig")), 0o600);
    assert_eq!(mode(&used.join("ca.crt")), 0o600);
    // A folder others can change is refused.
    let open = top.path().join("open");
    std::fs::create_dir(&open).unwrap();
    std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o777)).unwrap();
    let e = apiserver_writes(&open).unwrap_err();
    assert!(e.contains("can be changed by other users"), "{e}");
    assert!(!open.join("kubeconfig").exists());
}

#[test]
fn the_emulator_refuses_a_folder_another_user_made() {
    // Another local user pre-creates the folder (here: root hands it over).
    let top = tempfile::tempdir().unwrap();
    let theirs = top.path().join("theirs");
    std::fs::create_dir(&theirs).unwrap();
    if std::os::unix::fs::chown(&theirs, Some(65534), Some(65534)).is_err() {
        eprintln!("SKIP: cannot hand a folder to another user (not root)");
        return;
    }
    let e = apiserver_writes(&theirs).unwrap_err();
    assert!(e.contains("belongs to another user (uid 65534)"), "{e}");
}

#[test]
fn record_mode_does_not_write_through_a_symlinked_scenario() {
    let p = Project::new();
    let real = p.root().join("scenarios/real.yaml");
    let text = "world:\n  c1:\n    - path: fixtures/c1\nresolver:\n  cluster: c1\nsteps:\n  - query: a.team.svc.clusterset.local A\n";
    std::fs::write(&real, text).unwrap();
    let link = p.root().join("scenarios/link.yaml");
    std::os::unix::fs::symlink("real.yaml", &link).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_mcsdns"))
        .args(["run", "--record", "--no-reports"])
        .arg(&link)
        .output()
        .unwrap();
    let err = unwrapped(&out.stderr);
    assert_ne!(out.status.code(), Some(0), "{err}");
    assert!(err.contains("symbolic link"), "{err}");
    assert!(
        std::fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink()
    );
    assert_eq!(std::fs::read_to_string(&real).unwrap(), text);
}

/// `mcsdns ARGS` with its address space limited to 1 GiB: an input that
/// made mcsdns grow without bound makes it fail to allocate and abort.
fn within_a_gibibyte(args: &[&std::ffi::OsStr]) -> std::process::Output {
    Command::new("sh")
        .arg("-c")
        .arg("ulimit -v 1048576; exec \"$@\"")
        .arg("sh")
        .arg(env!("CARGO_BIN_EXE_mcsdns"))
        .args(args)
        .output()
        .unwrap()
}

#[test]
fn the_worst_inputs_are_refused_within_bounded_memory() {
    let p = Project::new();
    // A world read from /dev/zero, with a root that allows it.
    let scenario = p.scenario("/dev/zero");
    let out = within_a_gibibyte(&[
        "lint".as_ref(),
        "--root".as_ref(),
        "/".as_ref(),
        scenario.as_os_str(),
    ]);
    let err = unwrapped(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("not a regular file but a device"), "{err}");
    // A bundle holding a member over the limit.
    let mut b = bundled(&p, None).unwrap();
    b.files
        .insert("fixtures/c1/big.yaml".into(), "#".repeat(3 << 20));
    let file = p.outside.path().join("big.json");
    std::fs::write(&file, serde_json::to_string(&b).unwrap()).unwrap();
    let out = within_a_gibibyte(&[
        "replay".as_ref(),
        "--max-file-size".as_ref(),
        "1MiB".as_ref(),
        file.as_os_str(),
    ]);
    let err = unwrapped(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("larger than the 1 MiB limit"), "{err}");
    // Alias expansion in a scenario.
    let mut laughs = String::from("a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]\n");
    for i in 1..12 {
        let refs = vec![format!("*a{}", i - 1); 10].join(", ");
        laughs.push_str(&format!("a{i}: &a{i} [{refs}]\n"));
    }
    laughs.push_str(
        "world: {c1: [{inline: *a11}]}\nresolver: {cluster: c1}\nsteps: [{query: a A}]\n",
    );
    let bomb = p.root().join("scenarios/bomb.yaml");
    std::fs::write(&bomb, laughs).unwrap();
    let out = within_a_gibibyte(&["lint".as_ref(), bomb.as_os_str()]);
    assert_eq!(
        out.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// `run --record` rewrites the user's scenario; killed or interrupted at
/// any moment, it leaves the old file or the new one whole, never an empty
/// or cut file. Some rounds kill it the instant the file on disk starts to
/// change (the moment an in-place rewrite has truncated it), the others at
/// moments spread over one uninterrupted run's time.
#[test]
fn record_mode_killed_at_any_moment_leaves_the_old_scenario_or_the_new_one() {
    let p = Project::new();
    let path = p.root().join("scenarios/big.yaml");
    std::fs::create_dir_all(p.root().join("scenarios/snapshots")).unwrap();
    // About 8 MB: a long comment (a scenario's own notes) and many steps.
    let mut original = String::from("# notes\n");
    for i in 0..80_000 {
        original.push_str(&format!("# {i:06} {}\n", "x".repeat(90)));
    }
    original.push_str("world:\n  c1:\n    - path: fixtures/c1\nresolver:\n  cluster: c1\nsteps:\n");
    for i in 0..400 {
        original.push_str(&format!("  - query: s{i}.team.svc.clusterset.local A\n"));
    }
    let record = || {
        Command::new(env!("CARGO_BIN_EXE_mcsdns"))
            .args(["run", "--record", "--no-reports"])
            .arg(&path)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap()
    };
    std::fs::write(&path, &original).unwrap();
    let started = Instant::now();
    let status = record().wait().unwrap();
    let whole_run = started.elapsed();
    let recorded = std::fs::read_to_string(&path).unwrap();
    assert!(status.success(), "the uninterrupted record run failed");
    assert_ne!(recorded, original, "record mode wrote no expectations");
    let check = |what: &str| {
        let now = std::fs::read_to_string(&path).unwrap();
        assert!(
            now == original || now == recorded,
            "{what}: the scenario is neither the old nor the new file ({} bytes; old {}, new {})",
            now.len(),
            original.len(),
            recorded.len()
        );
    };
    // Killed the instant the scenario on disk is no longer the old file.
    for round in 0..4 {
        std::fs::write(&path, &original).unwrap();
        let before = std::fs::metadata(&path).unwrap();
        let mut child = record();
        let deadline = Instant::now() + Duration::from_secs(60);
        while Instant::now() < deadline {
            if let Ok(m) = std::fs::metadata(&path)
                && (m.len() != before.len() || m.ino() != before.ino())
            {
                let _ = child.kill();
                break;
            }
            if child.try_wait().unwrap().is_some() {
                break;
            }
        }
        let _ = child.kill();
        let _ = child.wait();
        check(&format!("killed as the file changed, round {round}"));
    }
    // Killed or interrupted at moments spread over a run, most of them late.
    let rounds = 16u32;
    for round in 0..rounds {
        std::fs::write(&path, &original).unwrap();
        let at = whole_run.mul_f64(0.3 + 0.9 * f64::from(round) / f64::from(rounds));
        let mut child = record();
        std::thread::sleep(at);
        let signal = if round % 2 == 0 { "-KILL" } else { "-INT" };
        let _ = Command::new("kill")
            .args([signal, &child.id().to_string()])
            .status();
        let _ = child.wait();
        check(&format!("{signal} after {at:?}"));
    }
}
