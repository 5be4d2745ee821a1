//! Runs every built-in scenario as its own test, so `cargo test` names the
//! scenario that fails, and holds every answer to its reviewed snapshot.

use std::path::{Path, PathBuf};

use libtest_mimic::{Arguments, Failed, Trial};
use mcsdns::run::record::{snapshot_contents, snapshot_path};
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
    // The committed snapshot, read by insta's rules: in CI a missing or
    // changed snapshot fails; locally, INSTA_UPDATE=always (or `mcsdns run
    // --record`) writes it for review.
    let snap = snapshot_path(&root, &result.id);
    let name = snap
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or_default()
        .to_owned();
    let transcript = result.transcript();
    let mut settings = insta::Settings::clone_current();
    settings.set_snapshot_path(root.join("snapshots"));
    settings.set_prepend_module_to_snapshot(false);
    settings.set_input_file(path);
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        settings.bind(|| insta::assert_snapshot!(name, transcript));
    }));
    if outcome.is_err() {
        let recorded = std::fs::read_to_string(&snap).ok();
        let diff = match recorded.as_deref().and_then(snapshot_contents) {
            Some(old) => mcsdns::run::record::unified_diff(old, &result.transcript()),
            None => format!("no snapshot at {}", snap.display()),
        };
        return Err(format!("answers differ from the reviewed snapshot:\n{diff}").into());
    }
    Ok(())
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
