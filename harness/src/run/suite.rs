//! Finds scenario files, selects them, and runs them on parallel workers.

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Instant;

use super::result::{ScenarioResult, Status, SuiteResult};
use super::runner::run_scenario;
use crate::scenario::{Scenario, ScenarioError, load_scenario};
use crate::target::Target;

/// Every `*.yaml` scenario file below `root`, sorted.
pub fn discover(root: &Path) -> std::io::Result<Vec<PathBuf>> {
    if root.is_file() {
        return Ok(vec![root.to_owned()]);
    }
    let mut out = Vec::new();
    let mut stack = vec![root.to_owned()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir)? {
            let path = entry?.path();
            if path.is_dir() {
                stack.push(path);
            } else if matches!(
                path.extension().and_then(|e| e.to_str()),
                Some("yaml" | "yml")
            ) {
                out.push(path);
            }
        }
    }
    out.sort();
    Ok(out)
}

/// Loads every scenario; all errors are returned together.
pub fn load_all(files: &[PathBuf], root: &Path) -> (Vec<Scenario>, Vec<ScenarioError>) {
    let mut ok = Vec::new();
    let mut errors = Vec::new();
    for f in files {
        match load_scenario(f, root) {
            Ok(s) => ok.push(s),
            Err(e) => errors.push(e),
        }
    }
    (ok, errors)
}

/// The suite root a path belongs to: the nearest folder at or above it that
/// holds `scenario.schema.json` (so ids and snapshots do not depend on which
/// subfolder was run), else the folder itself.
pub fn suite_root(path: &Path) -> PathBuf {
    let start = if path.is_dir() {
        path.to_owned()
    } else {
        path.parent().map(|p| p.to_owned()).unwrap_or_default()
    };
    start
        .ancestors()
        .find(|d| d.join("scenario.schema.json").is_file())
        .map_or(start.clone(), |d| d.to_owned())
}

/// Why a set of scenarios could not be loaded; nothing is run then.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// A path could not be read.
    #[error("cannot read scenarios from {}: {source}", .path.display())]
    Unreadable {
        /// The path given.
        path: PathBuf,
        /// Why not.
        source: std::io::Error,
    },
    /// Some files do not load; each error names its file and line.
    #[error("{} scenario file(s) could not be loaded; nothing was run", .0.len())]
    Invalid(Vec<ScenarioError>),
    /// Every scenario was filtered out.
    #[error("{0}")]
    NoneSelected(&'static str),
    /// Two files have the same id: their snapshots and report entries
    /// would overwrite each other.
    #[error(
        "two scenario files have the id {id:?}: {} and {}; run them in separate runs, or rename one",
        .first.display(),
        .second.display()
    )]
    DuplicateId {
        /// The id.
        id: String,
        /// The first file.
        first: PathBuf,
        /// The second file.
        second: PathBuf,
    },
}

/// A loaded scenario and the suite root its id and snapshot are relative to.
pub struct Loaded {
    /// The suite root.
    pub root: PathBuf,
    /// The scenario.
    pub scenario: Scenario,
}

/// Loads every scenario under `paths` that `selection` keeps; any file
/// that does not load, or nothing selected, is an error.
pub fn load_paths(paths: &[PathBuf], selection: &Selection) -> Result<Vec<Loaded>, LoadError> {
    let mut all = Vec::new();
    let mut errors = Vec::new();
    for p in paths {
        let root = suite_root(p);
        let files = discover(p).map_err(|source| LoadError::Unreadable {
            path: p.clone(),
            source,
        })?;
        let (ok, errs) = load_all(&files, &root);
        all.extend(ok.into_iter().map(|scenario| Loaded {
            root: root.clone(),
            scenario,
        }));
        errors.extend(errs);
    }
    if !errors.is_empty() {
        return Err(LoadError::Invalid(errors));
    }
    // A file named twice (a folder and a file in it) runs once; two files
    // with one id are an error.
    let mut seen: Vec<&Loaded> = Vec::new();
    let mut keep = Vec::with_capacity(all.len());
    for (i, l) in all.iter().enumerate() {
        match seen.iter().find(|o| o.scenario.id == l.scenario.id) {
            Some(o) if same_file(&o.scenario.path, &l.scenario.path) => {}
            Some(o) => {
                return Err(LoadError::DuplicateId {
                    id: l.scenario.id.clone(),
                    first: o.scenario.path.clone(),
                    second: l.scenario.path.clone(),
                });
            }
            None => {
                seen.push(l);
                keep.push(i);
            }
        }
    }
    let mut all: Vec<Loaded> = all
        .into_iter()
        .enumerate()
        .filter(|(i, _)| keep.contains(i))
        .map(|(_, l)| l)
        .collect();
    all.retain(|l| selection.matches(&l.scenario));
    let filtered = !selection.filters.is_empty() || !selection.tags.is_empty();
    if all.is_empty() && filtered {
        return Err(LoadError::NoneSelected("no scenario matches the filters"));
    }
    Ok(all)
}

fn same_file(a: &Path, b: &Path) -> bool {
    a == b || matches!((a.canonicalize(), b.canonicalize()), (Ok(x), Ok(y)) if x == y)
}

/// Which scenarios to run.
#[derive(Clone, Debug, Default)]
pub struct Selection {
    /// Keep ids containing one of these (all when empty).
    pub filters: Vec<String>,
    /// Keep scenarios with one of these tags (all when empty).
    pub tags: Vec<String>,
}

impl Selection {
    /// Whether `s` is selected.
    pub fn matches(&self, s: &Scenario) -> bool {
        (self.filters.is_empty() || self.filters.iter().any(|f| s.id.contains(f.as_str())))
            && (self.tags.is_empty() || self.tags.iter().any(|t| s.tags.contains(t)))
    }
}

/// How a suite runs.
#[derive(Clone, Copy, Debug)]
pub struct RunOptions {
    /// Parallel workers, each with its own target.
    pub jobs: usize,
    /// Start no scenario after one has failed.
    pub fail_fast: bool,
}

impl From<usize> for RunOptions {
    fn from(jobs: usize) -> Self {
        RunOptions {
            jobs,
            fail_fast: false,
        }
    }
}

impl RunOptions {
    /// Stops starting scenarios after the first failure.
    pub fn fail_fast(self, fail_fast: bool) -> Self {
        RunOptions { fail_fast, ..self }
    }
}

/// Runs `scenarios` on parallel workers, each with its own target from
/// `make_target`; `progress` hears each result as it arrives. Results come
/// back in the scenarios' order whatever the interleaving; scenarios never
/// started (after an interrupt, or a failure under `fail_fast`) are listed
/// as not run.
pub fn run_all(
    scenarios: &[Scenario],
    options: impl Into<RunOptions>,
    make_target: &(dyn Fn() -> Box<dyn Target> + Sync),
    progress: &(dyn Fn(&ScenarioResult) + Sync),
) -> SuiteResult {
    let options = options.into();
    let started = Instant::now();
    let next = AtomicUsize::new(0);
    let failed = AtomicBool::new(false);
    let results: Mutex<Vec<Option<ScenarioResult>>> = Mutex::new(vec![None; scenarios.len()]);
    let identity: Mutex<Option<(String, String)>> = Mutex::new(None);
    std::thread::scope(|scope| {
        for _ in 0..options.jobs.max(1).min(scenarios.len().max(1)) {
            scope.spawn(|| {
                let mut target = make_target();
                if let Ok(mut id) = identity.lock() {
                    id.get_or_insert_with(|| (target.name(), target.version()));
                }
                loop {
                    if super::interrupted() || failed.load(Ordering::SeqCst) {
                        break;
                    }
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(s) = scenarios.get(i) else { break };
                    let r = run_scenario(s, target.as_mut());
                    if options.fail_fast && r.status == Status::Failed {
                        failed.store(true, Ordering::SeqCst);
                    }
                    progress(&r);
                    if let Ok(mut all) = results.lock() {
                        all[i] = Some(r);
                    }
                }
            });
        }
    });
    let results = results.into_inner().unwrap_or_default();
    let not_run = scenarios
        .iter()
        .zip(&results)
        .filter(|(_, r)| r.is_none())
        .map(|(s, _)| s.id.clone())
        .collect();
    let (target, target_version) = identity.into_inner().ok().flatten().unwrap_or_else(|| {
        let t = make_target();
        (t.name(), t.version())
    });
    SuiteResult {
        version: env!("CARGO_PKG_VERSION").into(),
        target,
        target_version,
        duration_ms: started.elapsed().as_secs_f64() * 1000.0,
        scenarios: results.into_iter().flatten().collect(),
        interrupted: super::interrupted(),
        not_run,
    }
}
