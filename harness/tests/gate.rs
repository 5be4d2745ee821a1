//! Holds `mcsdns` to what a CI gate must do, through the command line as a
//! CI job runs it: an interrupt ends the run at once and is reported as
//! such (exit 130), a target that cannot start is one usage error, typos
//! in a Corefile are errors, failures come with the diagnoses that explain
//! them (once), reports carry files and lines, and snapshots change only
//! when answers do.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn exe() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_mcsdns"));
    c.current_dir(repo());
    c
}

fn mcsdns(args: &[&str]) -> Output {
    exe().args(args).output().unwrap()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// A fresh folder under the target directory.
fn temp(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("gate-{name}"));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A suite folder (with its schema marker) holding `files`.
fn suite(name: &str, files: &[(&str, String)]) -> PathBuf {
    let dir = temp(name);
    std::fs::write(dir.join("scenario.schema.json"), "{}").unwrap();
    for (f, body) in files {
        let p = dir.join(f);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, body).unwrap();
    }
    dir
}

/// A scenario on the field report's member2, with `steps`.
fn seed_scenario(corefile: Option<&str>, steps: &str) -> String {
    let fixtures = repo().join("fixtures/seed");
    let corefile = corefile
        .map(|c| format!("  corefile: {}\n", repo().join(c).display()))
        .unwrap_or_default();
    format!(
        "world:\n  member1:\n    - path: {}\n  member2:\n    - path: {}\nresolver:\n  cluster: member2\n{corefile}steps:\n{steps}",
        fixtures.join("member1").display(),
        fixtures.join("member2").display()
    )
}

// ---------------------------------------------------------------- interrupts

/// Starts `mcsdns run --target serve` over the fault scenarios (the first,
/// an API outage, waits 30 s in real time) in a process group of its own,
/// interrupts it as `to_group` says once it is well into that wait, and
/// returns its output and how long it took to exit after the signal.
fn interrupted_run(name: &str, to_group: bool) -> (Output, Duration, PathBuf, u32) {
    let args = ["run", "--target", "serve", "--filter", "faults/"];
    interrupted(name, to_group, Duration::from_secs(4), &args)
}

/// Runs `args` with `--reports` in a fresh folder, in a process group of
/// its own, and interrupts it `after` a while.
fn interrupted(
    name: &str,
    to_group: bool,
    after: Duration,
    args: &[&str],
) -> (Output, Duration, PathBuf, u32) {
    let reports = temp(name);
    let child = exe()
        .args(args)
        .args(["--reports", reports.to_str().unwrap()])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .spawn()
        .unwrap();
    std::thread::sleep(after);
    let id = child.id();
    let pid = id.to_string();
    let target = if to_group { format!("-{pid}") } else { pid };
    let signalled = Instant::now();
    Command::new("kill")
        .args(["-INT", "--", &target])
        .status()
        .unwrap();
    let out = child.wait_with_output().unwrap();
    (out, signalled.elapsed(), reports, id)
}

#[test]
fn an_interrupt_stops_the_step_at_once_and_reports_what_did_not_run() {
    let (out, took, reports, _) = interrupted_run("interrupt", false);
    let stdout = text(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(130),
        "{stdout}\n{}",
        text(&out.stderr)
    );
    assert!(
        took < Duration::from_secs(10),
        "exited {took:?} after SIGINT, in the middle of a 30 s wait"
    );
    assert!(stdout.contains("interrupted:"), "{stdout}");
    assert!(stdout.contains("not run"), "{stdout}");
    // The scenario cut short is not a pass.
    let outage = stdout
        .lines()
        .find(|l| l.contains("faults/api-outage"))
        .unwrap_or_default();
    assert!(outage.starts_with("INTR"), "{stdout}");
    let junit = std::fs::read_to_string(reports.join("junit.xml")).unwrap();
    assert!(
        junit.contains("name=\"interrupted\" value=\"true\""),
        "{junit}"
    );
    assert!(
        junit.contains("not run: the run was interrupted"),
        "{junit}"
    );
    assert!(junit.contains("type=\"interrupted\""), "{junit}");
    let json = std::fs::read_to_string(reports.join("report.json")).unwrap();
    assert!(json.contains("\"interrupted\": true"), "{json}");
    let html = std::fs::read_to_string(reports.join("report.html")).unwrap();
    assert!(html.contains("banner interrupted"), "{html}");
}

#[test]
fn conformance_and_diff_stop_on_an_interrupt_and_say_so() {
    let (out, took, reports, _) = interrupted(
        "interrupt-diff",
        false,
        Duration::from_secs(4),
        &[
            "diff",
            "--target",
            "reference",
            "--target",
            "serve",
            "--filter",
            "faults/api-outage",
        ],
    );
    assert_eq!(out.status.code(), Some(130), "{}", text(&out.stderr));
    assert!(took < Duration::from_secs(10), "{took:?}");
    let md = std::fs::read_to_string(reports.join("diff.md")).unwrap();
    assert!(md.contains("INTERRUPTED"), "{md}");
    // A requirement whose check waits 30 s in real time on `serve`.
    let world = repo().join("fixtures/spec/c1");
    let long = format!(
        "clause: R2\nlevel: MUST\nworld:\n  c1:\n    - path: {}\nresolver:\n  cluster: c1\nsteps:\n  - advance: 30s\n  - query: web.team.svc.clusterset.local A\n  - expect:\n      answer: [10.42.0.1]\n",
        world.display()
    );
    let dir = suite(
        "interrupt-conformance-suite",
        &[("a.yaml", long.clone()), ("b.yaml", long)],
    );
    let (out, took, reports, _) = interrupted(
        "interrupt-conformance",
        false,
        Duration::from_secs(4),
        &[
            "conformance",
            "--target",
            "serve",
            "--jobs",
            "1",
            dir.to_str().unwrap(),
        ],
    );
    assert_eq!(out.status.code(), Some(130), "{}", text(&out.stderr));
    assert!(took < Duration::from_secs(10), "{took:?}");
    let json = std::fs::read_to_string(reports.join("conformance.json")).unwrap();
    assert!(
        json.contains("\"interrupted\": true") && json.contains("not run"),
        "{json}"
    );
}

#[test]
fn a_terminals_ctrl_c_reaches_mcsdns_only_and_its_servers_are_stopped() {
    let (out, took, _, pid) = interrupted_run("interrupt-group", true);
    let stdout = text(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(130),
        "{stdout}\n{}",
        text(&out.stderr)
    );
    assert!(took < Duration::from_secs(10), "{took:?}");
    // The servers did not get the signal: nothing failed because of it.
    assert!(stdout.contains(" 0 failed"), "{stdout}");
    // And none of its servers (their files are in mcsdns-PID-N) is left.
    let left = Command::new("pgrep")
        .args(["-f", &format!("mcsdns-{pid}-")])
        .output()
        .unwrap();
    let left = text(&left.stdout);
    assert!(left.is_empty(), "servers left running: {left}");
}

// ---------------------------------------------------------------- usage errors

#[test]
fn a_target_that_cannot_start_is_one_usage_error_before_any_scenario() {
    let reports = temp("missing-peer");
    let out = mcsdns(&[
        "run",
        "--target",
        "coredns=/nonexistent/coredns",
        "--reports",
        reports.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = text(&out.stderr);
    assert_eq!(stderr.matches("CoreDNS not found").count(), 1, "{stderr}");
    assert!(
        stderr.contains("go install github.com/coredns/coredns@v1.15.0"),
        "{stderr}"
    );
    assert!(text(&out.stdout).is_empty(), "no scenario ran");
    assert!(!reports.join("junit.xml").exists());
    #[cfg(not(feature = "container"))]
    {
        let out = mcsdns(&[
            "run",
            "--target",
            "container=coredns:1.15.0",
            "--no-reports",
        ]);
        assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
        assert!(
            text(&out.stderr).contains("container"),
            "{}",
            text(&out.stderr)
        );
    }
}

#[test]
fn two_files_with_one_id_are_an_error_and_one_file_named_twice_runs_once() {
    let body = seed_scenario(
        None,
        "  - query: serve.default.svc.clusterset.local A\n  - expect:\n      answer: [10.10.0.5]\n",
    );
    let a = temp("dup-a");
    let b = temp("dup-b");
    std::fs::write(a.join("same.yaml"), &body).unwrap();
    std::fs::write(b.join("same.yaml"), &body).unwrap();
    let out = mcsdns(&[
        "run",
        "--no-reports",
        a.to_str().unwrap(),
        b.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("two scenario files have the id \"same\""),
        "{}",
        text(&out.stderr)
    );
    let file = a.join("same.yaml");
    let out = mcsdns(&[
        "run",
        "--no-reports",
        a.to_str().unwrap(),
        file.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("1 passed"),
        "{}",
        text(&out.stdout)
    );
}

// ---------------------------------------------------------------- Corefile typos

#[test]
fn a_corefile_typo_is_an_error_at_its_line_as_in_coredns() {
    let dir = temp("typo");
    let corefile = dir.join("Corefile");
    // A query through a Corefile whose fourth line is `mcs`.
    let query = |mcs: &str| {
        let text = format!(".:53 {{\n    errors\n    forward . /etc/resolv.conf\n    {mcs}\n}}\n");
        std::fs::write(&corefile, text).unwrap();
        mcsdns(&[
            "query",
            "--manifests",
            "fixtures/seed",
            "--cluster",
            "member2",
            "--corefile",
            corefile.to_str().unwrap(),
            "serve.default.svc.clusterset.local",
        ])
    };
    let out = query("mutlicluster clusterset.local");
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stdout));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("unknown directive 'mutlicluster'"),
        "{stderr}"
    );
    assert!(stderr.contains("did you mean multicluster?"), "{stderr}");
    assert!(
        stderr.contains(&format!("{}:4:5", corefile.display())),
        "{stderr}"
    );

    // Directives CoreDNS knows but mcsdns does not simulate are listed.
    let out = query("multicluster clusterset.local");
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let stderr = text(&out.stderr);
    assert!(stderr.contains(":3: forward: never simulated"), "{stderr}");
    assert!(
        stderr.contains(":2: errors: no effect on answers"),
        "{stderr}"
    );
}

// ---------------------------------------------------------------- explanations

#[test]
fn a_failure_shows_the_diagnoses_that_explain_it_once() {
    // No `header`: every answer lacks RA, which explains none of these
    // failures; the missing import explains both, and is shown once.
    let steps = "  - query: nothere.default.svc.clusterset.local A\n  - expect:\n      answer: [10.0.0.1]\n  - query: nothere.default.svc.clusterset.local AAAA\n  - expect:\n      answer: [\"::1\"]\n";
    let dir = suite("relevant", &[("s.yaml", seed_scenario(None, steps))]);
    let out = mcsdns(&["run", "--no-reports", dir.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let stdout = text(&out.stdout);
    assert!(!stdout.contains("ra-flag-off"), "{stdout}");
    assert_eq!(
        stdout.matches("diagnosis import-missing").count(),
        1,
        "{stdout}"
    );
    // --verbose shows the diagnoses of every step, still each once.
    let out = mcsdns(&["run", "--no-reports", "--verbose", dir.to_str().unwrap()]);
    let stdout = text(&out.stdout);
    assert_eq!(
        stdout.matches("diagnosis ra-flag-off").count(),
        1,
        "{stdout}"
    );
    // --quiet: no table, the failure and the totals.
    let out = mcsdns(&["run", "--no-reports", "--quiet", dir.to_str().unwrap()]);
    let stdout = text(&out.stdout);
    assert!(!stdout.contains("status scenario"), "{stdout}");
    assert!(
        stdout.contains("FAIL s") && stdout.contains("0 passed, 1 failed"),
        "{stdout}"
    );
}

#[test]
fn query_explains_its_answer_and_speaks_digs_options() {
    let base = [
        "query",
        "--manifests",
        "fixtures/seed",
        "--cluster",
        "member2",
        "--corefile",
        "fixtures/seed/Corefile",
    ];
    let run = |extra: &[&str]| {
        let mut args = base.to_vec();
        args.extend_from_slice(extra);
        let out = mcsdns(&args);
        assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
        (text(&out.stdout), text(&out.stderr))
    };
    let (stdout, _) = run(&["nothere.default.svc.clusterset.local"]);
    assert!(stdout.contains("status: NXDOMAIN"), "{stdout}");
    assert!(stdout.contains(";; diagnosis import-missing"), "{stdout}");
    let (stdout, _) = run(&["example.com"]);
    assert!(stdout.contains(";; REFUSED: no server block"), "{stdout}");
    let (stdout, _) = run(&["serve.default.svc.clusterset.local", "+short"]);
    assert_eq!(stdout, "10.10.0.5\n");
    let (stdout, _) = run(&[
        "serve.default.svc.clusterset.local",
        "A",
        "+noall",
        "+answer",
    ]);
    assert_eq!(stdout.lines().count(), 1, "{stdout}");
    assert!(
        stdout.starts_with("serve.default.svc.clusterset.local.") && stdout.contains("10.10.0.5"),
        "{stdout}"
    );
    let (stdout, _) = run(&["-x", "10.13.166.120", "+short"]);
    assert_eq!(stdout, "derived-serve.default.svc.cluster.local.\n");
}

// ---------------------------------------------------------------- reports

#[test]
fn reports_point_at_files_and_lines_for_ci() {
    let steps =
        "  - query: serve.default.svc.clusterset.local A\n  - expect:\n      answer: [10.0.0.1]\n";
    let dir = suite(
        "reports",
        &[(
            "s.yaml",
            seed_scenario(Some("fixtures/seed/Corefile"), steps),
        )],
    );
    let reports = dir.join("out");
    let out = mcsdns(&[
        "run",
        "--reports",
        reports.to_str().unwrap(),
        dir.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(1));
    let file = dir.join("s.yaml").display().to_string();
    let junit = std::fs::read_to_string(reports.join("junit.xml")).unwrap();
    assert!(junit.contains(&format!("file=\"{file}\"")), "{junit}");
    assert!(junit.contains("line=\"10\""), "{junit}");
    assert!(
        junit.contains("message=\"query serve.default.svc.clusterset.local. A: answer differs"),
        "{junit}"
    );
    let html = std::fs::read_to_string(reports.join("report.html")).unwrap();
    assert!(
        html.contains("banner failed") && html.contains("<h2>Failures</h2>"),
        "{html}"
    );
    assert!(html.contains("s.yaml#L10"), "{html}");
    let out = mcsdns(&[
        "run",
        "--no-reports",
        "--format",
        "github",
        dir.to_str().unwrap(),
    ]);
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains(&format!(
            "::error file={},line=10,",
            file.replace(':', "%3A")
        )),
        "{stdout}"
    );
    // Without a terminal, each finished scenario is a line as it ends.
    assert!(
        text(&out.stderr).contains("[1/1] FAIL s"),
        "{}",
        text(&out.stderr)
    );
    assert!(
        !text(&out.stderr).contains('\u{1b}'),
        "no colour codes into a pipe"
    );

    let conformance = temp("conformance");
    let out = mcsdns(&["conformance", "--reports", conformance.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let junit = std::fs::read_to_string(conformance.join("conformance.xml")).unwrap();
    assert!(junit.contains("<testcase name=\"R1 "), "{junit}");
}

#[test]
fn fail_fast_starts_nothing_after_the_first_failure() {
    let steps =
        "  - query: serve.default.svc.clusterset.local A\n  - expect:\n      answer: [10.0.0.1]\n";
    let body = seed_scenario(None, steps);
    let dir = suite("fail-fast", &[("a.yaml", body.clone()), ("b.yaml", body)]);
    let out = mcsdns(&[
        "run",
        "--no-reports",
        "--fail-fast",
        "--jobs",
        "1",
        dir.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(1));
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains("1 failed") && stdout.contains("1 not run"),
        "{stdout}"
    );
}

// ---------------------------------------------------------------- snapshots

#[test]
fn a_snapshot_changes_only_when_an_answer_does_and_waits_for_review() {
    let steps =
        "  - query: serve.default.svc.clusterset.local A\n  - expect:\n      answer: [10.10.0.5]\n";
    let body = seed_scenario(None, steps);
    let dir = suite("snap", &[("s.yaml", body.clone())]);
    let run = || mcsdns(&["run", "--no-reports", dir.to_str().unwrap()]);
    let out = mcsdns(&["run", "--no-reports", "--record", dir.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let snap = dir.join("snapshots/s.snap");
    let recorded = std::fs::read_to_string(&snap).unwrap();
    let source = format!(
        "source: {}/s.yaml",
        dir.file_name().unwrap().to_string_lossy()
    );
    assert!(recorded.contains(&source), "{recorded}");

    // A comment line moves every step: the snapshot still holds.
    std::fs::write(dir.join("s.yaml"), format!("# a comment\n{body}")).unwrap();
    let out = run();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stdout));

    // A changed answer: the run fails, the new answers wait beside the old.
    std::fs::write(&snap, recorded.replace("10.10.0.5", "10.10.0.9")).unwrap();
    let out = run();
    assert_eq!(out.status.code(), Some(1));
    let pending = dir.join("snapshots/s.snap.new");
    assert!(pending.is_file());
    let mut review = exe()
        .args(["review", dir.to_str().unwrap()])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    review.stdin.take().unwrap().write_all(b"a\n").unwrap();
    let out = review.wait_with_output().unwrap();
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains("-") && stdout.contains("10.10.0.9"),
        "{stdout}"
    );
    assert!(stdout.contains("1 accepted, 0 rejected"), "{stdout}");
    assert!(!pending.exists());
    assert_eq!(run().status.code(), Some(0));
}

#[test]
fn record_mode_writes_diagnoses_and_the_authoritys_soa_it_saw() {
    let steps = "  - query: nothere.default.svc.clusterset.local A\n";
    let dir = suite(
        "record-more",
        &[(
            "s.yaml",
            seed_scenario(Some("fixtures/seed/Corefile"), steps),
        )],
    );
    let out = mcsdns(&["run", "--no-reports", "--record", dir.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let recorded = std::fs::read_to_string(dir.join("s.yaml")).unwrap();
    assert!(recorded.contains("rcode: NXDOMAIN"), "{recorded}");
    assert!(recorded.contains("authority_soa: true"), "{recorded}");
    assert!(recorded.contains("diagnosis: import-missing"), "{recorded}");
}

#[test]
fn every_committed_snapshot_names_its_own_scenario_file() {
    let root = repo().join("scenarios");
    for entry in std::fs::read_dir(root.join("snapshots")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "snap") {
            continue;
        }
        let snap = mcsdns::run::snapshot::Snapshot::parse(&std::fs::read_to_string(&path).unwrap())
            .unwrap_or_else(|| panic!("{} is not a snapshot file", path.display()));
        assert!(
            repo().join(&snap.source).is_file(),
            "{}: source {:?} is not a scenario file",
            path.display(),
            snap.source
        );
        let id = path
            .file_stem()
            .unwrap()
            .to_string_lossy()
            .replace("__", "/");
        assert_eq!(
            snap.source,
            format!("scenarios/{id}.yaml"),
            "{}",
            path.display()
        );
        assert!(
            !snap.contents.contains(" (line "),
            "{}: line numbers",
            path.display()
        );
    }
}

// ---------------------------------------------------------------- flags

#[test]
fn run_conformance_and_diff_share_one_set_of_flags() {
    for cmd in ["run", "conformance", "diff"] {
        let out = mcsdns(&[cmd, "--help"]);
        let help = text(&out.stdout);
        for flag in [
            "--filter",
            "--tag",
            "--jobs",
            "--format",
            "--reports",
            "--no-reports",
            "--fail-fast",
            "--quiet",
            "--verbose",
            "--profile",
            "--corefile",
        ] {
            assert!(help.contains(flag), "{cmd} --help lacks {flag}");
        }
        for target in [
            "reference",
            "serve[=PATH]",
            "coredns[=PATH]",
            "container=IMAGE",
            "dns=ADDR",
            "kube=CTX",
        ] {
            assert!(help.contains(target), "{cmd} --help lacks target {target}");
        }
    }
    // --corefile means the same on every target: here, on the reference.
    let steps = "  - query: serve.default.svc.clusterset.local A\n  - expect:\n      flags: +ra\n";
    let dir = suite("corefile", &[("s.yaml", seed_scenario(None, steps))]);
    let out = mcsdns(&["run", "--no-reports", dir.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1), "no header: no RA");
    let out = mcsdns(&[
        "run",
        "--no-reports",
        "--corefile",
        "fixtures/seed/Corefile",
        "--profile",
        "coredns",
        dir.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stdout));
}

#[test]
fn serve_listens_on_a_bare_port_or_localhost() {
    for listen in ["0", "localhost:0"] {
        let mut child = exe()
            .args([
                "serve",
                "--manifests",
                "fixtures/seed",
                "--cluster",
                "member2",
                "--listen",
                listen,
            ])
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stderr.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let _ = child.kill();
        let _ = child.wait();
        assert!(line.contains(" on 127.0.0.1:"), "{listen}: {line}");
    }
}

#[test]
fn apiserver_listens_on_fixed_ports_when_asked() {
    let dir = temp("apiserver-ports");
    // The port after a free one may be taken by another test's server in
    // the meantime: a few tries, each on a fresh free port.
    let mut seen = Vec::new();
    for _ in 0..5 {
        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().port()
        };
        let mut child = exe()
            .args([
                "apiserver",
                "--manifests",
                "fixtures/seed",
                "--dir",
                dir.to_str().unwrap(),
                "--port",
                &port.to_string(),
                "--insecure-http",
            ])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut first = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut first)
            .unwrap();
        let _ = child.kill();
        let _ = child.wait();
        if first.is_empty() {
            // It could not listen there (a port taken); try other ports.
            seen.push(port);
            continue;
        }
        assert!(
            first.contains(&format!("https://127.0.0.1:{port}")),
            "{first}"
        );
        assert!(
            first.contains(&format!("http://127.0.0.1:{}", port + 1)),
            "{first}"
        );
        return;
    }
    panic!("the apiserver never started on the ports asked: {seen:?}");
}

#[test]
fn a_bundle_replays_on_another_target() {
    let dir = temp("bundle-target");
    let bundle = dir.join("b.json");
    let out = mcsdns(&[
        "bundle",
        "scenarios/seed/ra-flag.yaml",
        "--output",
        bundle.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let out = mcsdns(&["replay", bundle.to_str().unwrap(), "--target", "serve"]);
    let stdout = text(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{stdout}\n{}",
        text(&out.stderr)
    );
    assert!(
        stdout.contains("replayed ra-flag.yaml on serve"),
        "{stdout}"
    );
}

// ---------------------------------------------------------------- kubectl auth can-i

#[test]
fn kubectl_auth_can_i_answers_from_the_emulators_rbac() {
    if Command::new("kubectl")
        .arg("version")
        .arg("--client")
        .output()
        .is_err()
    {
        eprintln!("SKIP: kubectl is not installed");
        return;
    }
    let dir = temp("can-i");
    let mut child = exe()
        .args([
            "apiserver",
            "--scenario",
            "scenarios/seed/rbac-denied.yaml",
            "--dir",
            dir.to_str().unwrap(),
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    while out.read_line(&mut line).unwrap() > 0 && !line.contains("kubeconfig:") {
        line.clear();
    }
    let kubeconfig = dir.join("kubeconfig");
    let can_i = |args: &[&str]| {
        let o = Command::new("kubectl")
            .arg("--kubeconfig")
            .arg(&kubeconfig)
            .args(["auth", "can-i"])
            .args(args)
            .output()
            .unwrap();
        text(&o.stdout).trim().to_owned()
    };
    let sa = "system:serviceaccount:kube-system:coredns";
    let member2 = ["--context", "member2"];
    let as_sa = format!("--as={sa}");
    let no = can_i(
        &[
            &member2[..],
            &["list", "serviceimports.multicluster.x-k8s.io", &as_sa],
        ]
        .concat(),
    );
    let yes = can_i(
        &[
            &member2[..],
            &["list", "endpointslices.discovery.k8s.io", &as_sa],
        ]
        .concat(),
    );
    let own = can_i(&["--context", "resolver@member2", "list", "services"]);
    let _ = child.kill();
    let _ = child.wait();
    assert!(no.starts_with("no"), "{no}");
    assert_eq!(yes, "yes");
    assert_eq!(own, "yes");
}

// ---------------------------------------------------------------- RBAC

/// A scenario on the spec world whose resolver may list only `allowed`.
fn rbac_scenario(allowed: &[(&str, &str)], corefile: &str, steps: &str) -> String {
    let rules: String = allowed
        .iter()
        .map(|(group, resource)| {
            format!("          - apiGroups: [\"{group}\"]\n            resources: [\"{resource}\"]\n            verbs: [\"list\", \"watch\"]\n")
        })
        .collect();
    format!(
        "world:\n  c1:\n    - path: {world}\n    - inline: |\n        apiVersion: rbac.authorization.k8s.io/v1\n        kind: ClusterRole\n        metadata: {{name: system:coredns}}\n        rules:\n{rules}        ---\n        apiVersion: rbac.authorization.k8s.io/v1\n        kind: ClusterRoleBinding\n        metadata: {{name: system:coredns}}\n        roleRef: {{apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: system:coredns}}\n        subjects: [{{kind: ServiceAccount, name: coredns, namespace: kube-system}}]\nresolver:\n  cluster: c1\n  corefile_inline: |\n{corefile}steps:\n{steps}",
        world = repo().join("fixtures/spec/c1").display()
    )
}

#[test]
fn every_list_the_resolver_needs_is_diagnosed_when_denied() {
    use mcsdns::run::{Status, run_scenario};
    use mcsdns::target::ReferenceTarget;
    let all = [
        ("multicluster.x-k8s.io", "serviceimports"),
        ("discovery.k8s.io", "endpointslices"),
        ("", "services"),
        ("", "namespaces"),
        ("", "pods"),
    ];
    let corefile = "    .:53 {\n        kubernetes cluster.local {\n            pods verified\n        }\n        multicluster clusterset.local\n    }\n";
    for (denied, question, id) in [
        (
            "serviceimports",
            "web.team.svc.clusterset.local A",
            "rbac-serviceimports",
        ),
        (
            "endpointslices",
            "db.team.svc.clusterset.local A",
            "rbac-endpointslices",
        ),
        ("services", "nope.team.svc.cluster.local A", "rbac-services"),
        (
            "namespaces",
            "nope.team.svc.cluster.local A",
            "rbac-namespaces",
        ),
        ("pods", "10-9-9-9.team.pod.cluster.local A", "rbac-pods"),
    ] {
        let allowed: Vec<(&str, &str)> =
            all.iter().copied().filter(|(_, r)| *r != denied).collect();
        let steps = format!("  - query: {question}\n  - expect:\n      diagnosis: {id}\n");
        let dir = suite(
            &format!("rbac-{denied}"),
            &[("s.yaml", rbac_scenario(&allowed, corefile, &steps))],
        );
        let s = mcsdns::scenario::load_scenario(&dir.join("s.yaml"), &dir).unwrap();
        let r = run_scenario(&s, &mut ReferenceTarget::new());
        assert_eq!(r.status, Status::Passed, "{denied}: {:#?}", r.failures());
        let d = r.steps[0].diagnoses.iter().find(|d| d.id == id).unwrap();
        assert!(
            d.detail.contains("forbidden") && d.detail.contains("kubectl auth can-i list"),
            "{}",
            d.detail
        );
        assert!(
            d.fix
                .contains("kubectl patch clusterrole system:coredns --type=json"),
            "{}",
            d.fix
        );
        assert!(
            d.fix.contains(&format!("\"resources\":[\"{denied}\"]")),
            "{}",
            d.fix
        );
        // Only what was denied is blamed.
        assert!(
            r.steps[0]
                .diagnoses
                .iter()
                .filter(|d| d.id.as_str().starts_with("rbac-"))
                .count()
                == 1,
            "{denied}: {:?}",
            r.steps[0].diagnoses
        );
    }
}

#[test]
fn access_reviews_answer_for_the_caller_and_for_the_administrator() {
    use mcsdns::cluster::rest::{ApiReply, ApiRequest, handle};
    use mcsdns::cluster::store::{ADMIN, ApiStore};
    let s = mcsdns::scenario::load_scenario(
        &repo().join("scenarios/seed/rbac-denied.yaml"),
        &repo().join("scenarios"),
    )
    .unwrap();
    let api = std::sync::Arc::new(std::sync::Mutex::new(ApiStore::new(
        &s.world.clusters["member2"],
    )));
    let sa = "system:serviceaccount:kube-system:coredns";
    let ask = |who: &str, kind: &str, body: serde_json::Value| {
        let body = body.to_string();
        let req = ApiRequest {
            method: "POST",
            path: &format!("/apis/authorization.k8s.io/v1/{kind}"),
            query: "",
            content_type: "application/json",
            body: body.as_bytes(),
            user_agent: "test",
        };
        match handle(&api, who, &req) {
            ApiReply::Json(code, v) => (code, v),
            _ => panic!("not JSON"),
        }
    };
    let attrs = |resource: &str, group: &str| serde_json::json!({"verb": "list", "resource": resource, "group": group});
    let (code, v) = ask(
        sa,
        "selfsubjectaccessreviews",
        serde_json::json!({"spec": {"resourceAttributes": attrs("serviceimports", "multicluster.x-k8s.io")}}),
    );
    assert_eq!(code, 201);
    assert_eq!(v["status"]["allowed"], false, "{v}");
    let (_, v) = ask(
        sa,
        "selfsubjectaccessreviews",
        serde_json::json!({"spec": {"resourceAttributes": attrs("services", "")}}),
    );
    assert_eq!(v["status"]["allowed"], true, "{v}");
    let (code, v) = ask(
        ADMIN,
        "subjectaccessreviews",
        serde_json::json!({"spec": {"user": sa, "resourceAttributes": attrs("serviceimports", "multicluster.x-k8s.io")}}),
    );
    assert_eq!(code, 201);
    assert_eq!(v["kind"], "SubjectAccessReview");
    assert_eq!(v["status"]["allowed"], false, "{v}");
    let (code, _) = ask(
        sa,
        "subjectaccessreviews",
        serde_json::json!({"spec": {"user": ADMIN, "resourceAttributes": attrs("services", "")}}),
    );
    assert_eq!(code, 403, "only the administrator reviews others");
}

// ---------------------------------------------------------------- logs

#[test]
fn a_server_that_lost_its_api_logs_each_retry_once_without_colour_codes() {
    let dir = temp("lost-api");
    // A port nothing listens on.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let kubeconfig = dir.join("kubeconfig");
    std::fs::write(
        &kubeconfig,
        format!(
            "apiVersion: v1\nkind: Config\nclusters: [{{name: c, cluster: {{server: \"http://127.0.0.1:{port}\"}}}}]\nusers: [{{name: u, user: {{token: t}}}}]\ncontexts: [{{name: c, context: {{cluster: c, user: u}}}}]\ncurrent-context: c\n"
        ),
    )
    .unwrap();
    let log = std::fs::File::create(dir.join("serve.log")).unwrap();
    let mut child = exe()
        .args([
            "serve",
            "--kubeconfig",
            kubeconfig.to_str().unwrap(),
            "--listen",
            "0",
            "--sync-timeout",
            "0s",
        ])
        .env_remove("MCSDNS_LOG")
        .stderr(Stdio::from(log))
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(7500));
    let _ = child.kill();
    let _ = child.wait();
    let log = std::fs::read_to_string(dir.join("serve.log")).unwrap();
    assert!(
        !log.contains('\u{1b}'),
        "colour codes in a log file:\n{log}"
    );
    // Five watches, retried after 1, 2 and 4 s: at most four lines each in
    // 7.5 s (a steady one-second retry gives eight).
    let retries = log
        .lines()
        .filter(|l| l.contains("WARN") || l.contains("ERROR"))
        .count();
    assert!(retries > 0, "the lost API is logged:\n{log}");
    assert!(retries <= 5 * 4, "{retries} lines in 7.5 s:\n{log}");
}

/// A world whose RBAC lets CoreDNS's service account list everything but
/// ServiceImports, and a Corefile with the standalone plugin.
fn forbidden_imports(name: &str) -> (PathBuf, PathBuf) {
    let dir = temp(name);
    let world = dir.join("world");
    std::fs::create_dir_all(world.join("c1")).unwrap();
    std::fs::copy(
        repo().join("fixtures/spec/c1/world.yaml"),
        world.join("c1/world.yaml"),
    )
    .unwrap();
    std::fs::write(
        world.join("c1/rbac.yaml"),
        "apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata: {name: system:coredns}\nrules:\n  - apiGroups: [\"\", \"discovery.k8s.io\"]\n    resources: [\"services\", \"namespaces\", \"endpointslices\"]\n    verbs: [\"list\", \"watch\"]\n---\napiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRoleBinding\nmetadata: {name: system:coredns}\nroleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: system:coredns}\nsubjects: [{kind: ServiceAccount, name: coredns, namespace: kube-system}]\n",
    )
    .unwrap();
    let corefile = dir.join("Corefile");
    std::fs::write(
        &corefile,
        "clusterset.local:53 {\n    multicluster clusterset.local\n}\n",
    )
    .unwrap();
    (world, corefile)
}

/// `query` holds the start-up block `run` models: in the coredns profile
/// the standalone plugin serves nothing until ServiceImports are listed,
/// so the answer is no reply (exit 9, as dig's when no server replies);
/// the spec profile answers SERVFAIL.
#[test]
fn query_says_when_coredns_would_not_have_started() {
    let (world, corefile) = forbidden_imports("query-blocked");
    let ask = |profile: &str| {
        mcsdns(&[
            "query",
            "--manifests",
            world.to_str().unwrap(),
            "--cluster",
            "c1",
            "--corefile",
            corefile.to_str().unwrap(),
            "--profile",
            profile,
            "web.team.svc.clusterset.local",
        ])
    };
    let out = ask("coredns");
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(9), "{stdout}{}", text(&out.stderr));
    assert!(
        stdout.contains(";; no response: CoreDNS's multicluster plugin waits for ServiceImports"),
        "{stdout}"
    );
    assert!(stdout.contains("diagnosis rbac-serviceimports"), "{stdout}");
    let out = ask("kep1645");
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}{}", text(&out.stderr));
    assert!(stdout.contains("status: SERVFAIL"), "{stdout}");
}

/// `serve` opens no socket while the profile's server would not have
/// started: a fixed world never lists what its RBAC forbids.
#[test]
fn serve_opens_no_socket_while_coredns_would_wait() {
    let (world, corefile) = forbidden_imports("serve-blocked");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let listen = format!("127.0.0.1:{port}");
    let mut child = exe()
        .args([
            "serve",
            "--manifests",
            world.to_str().unwrap(),
            "--cluster",
            "c1",
            "--corefile",
            corefile.to_str().unwrap(),
            "--profile",
            "coredns",
            "--listen",
            &listen,
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let mut line = String::new();
    for _ in 0..20 {
        line.clear();
        if stderr.read_line(&mut line).unwrap() == 0 || line.contains("not serving") {
            break;
        }
    }
    assert!(
        line.contains("not serving cluster c1 (coredns profile)"),
        "{line}"
    );
    assert!(line.contains("waits for ServiceImports"), "{line}");
    assert!(line.contains("no socket opens"), "{line}");
    // Still running, and nothing listens.
    std::thread::sleep(Duration::from_millis(300));
    assert!(child.try_wait().unwrap().is_none());
    assert!(std::net::TcpStream::connect(&listen).is_err());
    let udp = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    udp.connect(&listen).unwrap();
    udp.set_read_timeout(Some(Duration::from_millis(300)))
        .unwrap();
    let _ = udp.send(&[0u8; 12]);
    assert!(udp.recv(&mut [0u8; 512]).is_err());
    let _ = child.kill();
    let _ = child.wait();
}
