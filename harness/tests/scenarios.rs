//! Runs every built-in scenario as its own test, so `cargo test` names the
//! scenario that fails, and holds every answer to its reviewed snapshot the
//! way `mcsdns run` does: only answers are compared, and a difference is
//! written beside the snapshot as a pending `.snap.new` for `mcsdns review`
//! (not under `CI`, as insta does).

use std::path::{Path, PathBuf};

use libtest_mimic::{Arguments, Failed, Trial};
use mcsdns::run::snapshot::{self, Snapshot};
use mcsdns::run::{Status, run_scenario, suite};
use mcsdns::scenario::load_scenario;
use mcsdns::target::ReferenceTarget;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios")
}

fn run_one(path: &Path) -> Result<(), Failed> {
    let root = root();
    let scenario = load_scenario(path, &root).map_err(|e| format!("{e:?}"))?;
    let result = run_scenario(&scenario, &mut ReferenceTarget::new());
    if result.status == Status::Failed {
        let mut msg = result.failures().join("\n");
        for d in result.steps.iter().flat_map(|s| &s.diagnoses) {
            msg.push_str(&format!(
                "\ndiagnosis {}: {}\n  {}",
                d.id, d.title, d.detail
            ));
        }
        return Err(msg.into());
    }
    let snap = snapshot::path(&root, &result.id);
    if !snap.is_file() {
        return Err(format!(
            "no snapshot at {}: write it with `mcsdns run --record` and review it",
            snap.display()
        )
        .into());
    }
    let now = Snapshot::new(&root, path, &result.transcript());
    let in_ci = std::env::var_os("CI").is_some_and(|v| !v.is_empty() && v != "false");
    match snapshot::check(&snap, &now, !in_ci) {
        Ok(None) => Ok(()),
        Ok(Some(diff)) => Err(format!(
            "answers differ from the reviewed snapshot {} (review with `mcsdns review`):\n{diff}",
            snap.display()
        )
        .into()),
        Err(e) => Err(format!(
            "cannot write {}: {e}",
            snapshot::pending_path(&snap).display()
        )
        .into()),
    }
}

fn main() {
    let args = Arguments::from_args();
    let root = root();
    let files = suite::discover(&root).expect("scenarios/ is readable");
    let trials = files
        .into_iter()
        .map(|path| {
            let id = path
                .strip_prefix(&root)
                .unwrap_or(&path)
                .with_extension("")
                .to_string_lossy()
                .replace('\\', "/");
            Trial::test(id, move || run_one(&path))
        })
        .collect();
    libtest_mimic::run(&args, trials).exit();
}
