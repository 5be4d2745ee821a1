//! The `lighthouse=PATH` target's plumbing, with a stand-in for Lighthouse:
//! a script that records the arguments, environment, Corefile and
//! kubeconfig it is started with, then runs `mcsdns serve` in the
//! `lighthouse` profile on the port and context those files name. It proves
//! what the target hands a Lighthouse build, not Lighthouse's answers (those
//! need the real build; docs/lighthouse.md says how to make one).

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn mcsdns(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_mcsdns"))
        .current_dir(repo())
        .args(args)
        .output()
        .unwrap()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// A fresh folder under the target directory.
fn temp(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("lighthouse-{name}"));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn without_a_build_the_target_is_a_usage_error_that_says_how_to_build_one() {
    for (target, looked) in [
        ("lighthouse", "no path was given"),
        (
            "lighthouse=/nonexistent/lighthouse",
            "/nonexistent/lighthouse is not a file",
        ),
    ] {
        let out = mcsdns(&[
            "run",
            "--target",
            target,
            "--no-reports",
            "scenarios/lighthouse/clustersetip-first-ip.yaml",
        ]);
        let err = text(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{target}: {err}");
        assert!(
            err.contains(&format!("target {target} cannot start")),
            "{err}"
        );
        assert!(err.contains(looked), "{err}");
        assert!(err.contains("not on the Go module proxy"), "{err}");
        assert!(err.contains("github.com/submariner-io/lighthouse"), "{err}");
        assert!(err.contains("--target lighthouse=PATH"), "{err}");
    }
}

/// Writes the stand-in into `dir`; it records into `dir/record`.
fn stand_in(dir: &Path) -> PathBuf {
    let record = dir.join("record");
    std::fs::create_dir_all(&record).unwrap();
    let script = format!(
        r#"#!/bin/sh
# A stand-in for a Lighthouse build: records how it was started, then serves
# the lighthouse profile with mcsdns on the rendered Corefile's port.
rec='{record}'
if [ "$1" = "-subm-version" ]; then echo "stand-in"; exit 0; fi
printf '%s\n' "$@" > "$rec/argv"
printf '%s\n' "$SUBMARINER_CLUSTERID" > "$rec/clusterid"
while [ $# -gt 0 ]; do
  case "$1" in
    -conf) conf=$2; shift 2 ;;
    -kubeconfig) kc=$2; shift 2 ;;
    *) shift ;;
  esac
done
cp "$conf" "$rec/Corefile"
cp "$kc" "$rec/kubeconfig"
port=$(sed -n 's/^clusterset\.local:\([0-9]*\) {{$/\1/p' "$conf" | head -n 1)
ctx=$(sed -n 's/^current-context: *//p' "$kc" | tr -d "\"'")
exec '{exe}' serve --kubeconfig "$kc" --context "$ctx" --listen "127.0.0.1:$port" \
  --profile lighthouse --corefile "$conf"
"#,
        record = record.display(),
        exe = env!("CARGO_BIN_EXE_mcsdns"),
    );
    let path = dir.join("lighthouse");
    std::fs::write(&path, script).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    path
}

/// The target starts the build with `-conf` and `-kubeconfig`, the
/// resolver's cluster in `SUBMARINER_CLUSTERID`, a Corefile on its loopback
/// port and a kubeconfig whose current context is the resolver's: the local
/// cluster wins every query only if the cluster id arrived.
#[test]
fn the_target_passes_the_corefile_kubeconfig_and_cluster_id_lighthouse_needs() {
    let dir = temp("stand-in");
    let exe = stand_in(&dir);
    let target = format!("lighthouse={}", exe.display());
    let out = mcsdns(&[
        "run",
        "--target",
        &target,
        "--no-reports",
        "scenarios/lighthouse/local-first.yaml",
    ]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    let rec = dir.join("record");
    let read = |f: &str| std::fs::read_to_string(rec.join(f)).unwrap();
    let argv: Vec<String> = read("argv").lines().map(str::to_owned).collect();
    assert_eq!(argv.len(), 4, "{argv:?}");
    assert_eq!(argv[0], "-conf");
    assert!(argv[1].ends_with("/Corefile"), "{argv:?}");
    assert_eq!(argv[2], "-kubeconfig");
    assert!(argv[3].ends_with("/kubeconfig"), "{argv:?}");
    assert_eq!(read("clusterid"), "c1\n");
    let corefile = read("Corefile");
    assert!(
        corefile.starts_with("# Rendered by mcsdns for a Lighthouse peer on loopback.\n"),
        "{corefile}"
    );
    assert!(
        corefile.contains("    bind 127.0.0.1\n    errors\n    lighthouse\n"),
        "{corefile}"
    );
    let kubeconfig = read("kubeconfig");
    assert!(
        kubeconfig.contains("current-context: resolver@c1"),
        "{kubeconfig}"
    );
}

/// A build that keeps its port closed until it can list ServiceImports has
/// started all the same: its questions meet the closed port (no response),
/// and it answers once the RBAC rule is back.
#[test]
fn a_closed_port_while_serviceimports_are_forbidden_is_the_answer() {
    let dir = temp("closed");
    let exe = stand_in(&dir);
    let target = format!("lighthouse={}", exe.display());
    let out = mcsdns(&[
        "run",
        "--target",
        &target,
        "--start-timeout",
        "3s",
        "--settle",
        "10s",
        "--no-reports",
        "scenarios/lighthouse/rbac-serviceimports.yaml",
    ]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
}

/// A real Lighthouse build: `MCSDNS_LIGHTHOUSE`, else the one
/// peers/lighthouse/build.sh leaves in the cache for the measured commit.
/// Lighthouse is not on the Go module proxy, so CI has none: the tests that
/// need one skip (with the command that builds it), under CI too.
fn real_build() -> Option<PathBuf> {
    let path = std::env::var_os("MCSDNS_LIGHTHOUSE")
        .map(PathBuf::from)
        .or_else(|| {
            let cache = std::env::var_os("XDG_CACHE_HOME")
                .map(PathBuf::from)
                .or_else(|| std::env::var_os("HOME").map(|h| Path::new(&h).join(".cache")))?;
            Some(cache.join("mcsdns/lighthouse/9d3c39e8/bin/lighthouse-coredns"))
        })
        .filter(|p| p.is_file());
    if path.is_none() {
        eprintln!(
            "skipped: no Lighthouse build; clone github.com/submariner-io/lighthouse at 9d3c39e8 and run \
             `peers/lighthouse/build.sh SRC_DIR` (or set MCSDNS_LIGHTHOUSE to a build)"
        );
    }
    path
}

/// The `lighthouse` profile and the real build agree on every step of the
/// lighthouse scenarios but the differences fixtures/known/lighthouse-real.yaml
/// explains, and every entry there not marked intermittent still happens.
#[test]
fn the_lighthouse_profile_has_no_unexplained_difference_from_the_real_build() {
    let Some(build) = real_build() else { return };
    let reports = temp("real-diff");
    let target = format!("lighthouse={}", build.display());
    let out = mcsdns(&[
        "diff",
        "--target",
        "reference=lighthouse",
        "--target",
        &target,
        "--known",
        "fixtures/known/lighthouse-real.yaml",
        "--reports",
        reports.to_str().unwrap(),
        "scenarios/lighthouse",
    ]);
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert!(
        stdout.contains("23 scenarios, 68 steps compared") && stdout.contains("(0 unexplained"),
        "{stdout}"
    );
    assert!(
        !stderr.contains("known difference not seen"),
        "stale entries in fixtures/known/lighthouse-real.yaml:\n{stderr}"
    );
}
