//! Holds the options `run`, `conformance` and `diff` share: which scenarios
//! (files and folders, filtered by id and tag), how they run (workers,
//! profile, Corefile, fail-fast) and what is said about them (format,
//! reports, quiet or verbose), and how progress is shown.

use std::io::IsTerminal;
use std::path::PathBuf;

use clap::Args;
use mcsdns::report::Verbosity;
use mcsdns::resolver::Profile;
use mcsdns::run::ScenarioResult;
use mcsdns::run::suite::{self, LoadError, Loaded, RunOptions, Selection};
use mcsdns::scenario::Scenario;

/// Which scenarios a command runs.
#[derive(Args)]
pub struct ScenarioArgs {
    /// Scenario files or folders.
    #[arg(default_value = "scenarios")]
    pub paths: Vec<PathBuf>,
    /// Run only scenarios whose id contains this (repeatable).
    #[arg(long)]
    pub filter: Vec<String>,
    /// Run only scenarios with this tag (repeatable).
    #[arg(long)]
    pub tag: Vec<String>,
}

impl ScenarioArgs {
    /// Loads the scenarios under `paths` that pass the filters.
    pub fn load(&self) -> miette::Result<Vec<Loaded>> {
        let selection = Selection {
            filters: self.filter.clone(),
            tags: self.tag.clone(),
        };
        let loaded = load(&self.paths, &selection)?;
        if loaded.is_empty() {
            return Err(miette::miette!("no scenario found under the paths given"));
        }
        Ok(loaded)
    }
}

/// What a command prints on standard output.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// A table and explained failures.
    Human,
    /// The JSON report.
    Json,
    /// JUnit XML.
    Junit,
    /// Markdown (a CI job summary).
    Markdown,
    /// GitHub Actions annotations: each failure on its file and line.
    Github,
}

/// How scenarios run and what is said about them.
#[derive(Args, Clone)]
pub struct RunnerArgs {
    /// Parallel workers (default: the number of cores; one for a target
    /// every scenario shares).
    #[arg(long, short)]
    pub jobs: Option<usize>,
    /// What to print on standard output.
    #[arg(long, value_enum, default_value = "human")]
    pub format: Format,
    /// Where to write the reports.
    #[arg(long, default_value = "reports")]
    pub reports: PathBuf,
    /// Do not write reports.
    #[arg(long)]
    pub no_reports: bool,
    /// Start no scenario after the first one fails.
    #[arg(long)]
    pub fail_fast: bool,
    /// Print only failures and the totals.
    #[arg(long, short, conflicts_with = "verbose")]
    pub quiet: bool,
    /// Also print the diagnoses of steps that passed.
    #[arg(long, short)]
    pub verbose: bool,
    /// Run the reference resolver (targets `reference` and `serve`) in
    /// this profile instead of each scenario's own.
    #[arg(long)]
    pub profile: Option<Profile>,
    /// A Corefile for every scenario instead of each scenario's own, on
    /// every target.
    #[arg(long, value_name = "FILE")]
    pub corefile: Option<PathBuf>,
}

impl RunnerArgs {
    /// How much the reports say.
    pub fn verbosity(&self) -> Verbosity {
        match (self.quiet, self.verbose) {
            (true, _) => Verbosity::Quiet,
            (_, true) => Verbosity::Verbose,
            _ => Verbosity::Normal,
        }
    }

    /// Workers and fail-fast; one worker for a target every scenario shares.
    pub fn options(&self, shared: bool) -> RunOptions {
        let jobs = if shared {
            1
        } else {
            self.jobs
                .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
        };
        RunOptions::from(jobs).fail_fast(self.fail_fast)
    }

    /// The scenarios with `--corefile` and `--profile` applied.
    pub fn apply(&self, scenarios: Vec<Scenario>) -> miette::Result<Vec<Scenario>> {
        let corefile = match &self.corefile {
            Some(p) => Some(mcsdns::resolver::corefile::Corefile::read(p)?),
            None => None,
        };
        scenarios
            .into_iter()
            .map(|s| {
                let s = match &corefile {
                    Some(cf) => s.with_corefile(cf).map_err(miette::Report::new)?,
                    None => s,
                };
                match self.profile {
                    Some(p) => s
                        .with_profile(p)
                        .map_err(|e| miette::miette!("{}: {e}", s.id)),
                    None => Ok(s),
                }
            })
            .collect()
    }
}

/// Shows progress: a bar on a terminal, else one line per finished
/// scenario on standard error (a CI log shows the run as it goes).
pub struct Progress {
    bar: Option<indicatif::ProgressBar>,
    total: usize,
    done: std::sync::atomic::AtomicUsize,
    quiet: bool,
}

impl Progress {
    /// Progress over `total` scenarios.
    pub fn new(total: usize, quiet: bool) -> Progress {
        let bar = std::io::stderr().is_terminal().then(|| {
            let bar = indicatif::ProgressBar::new(total as u64);
            bar.set_style(
                indicatif::ProgressStyle::with_template("{bar:30} {pos}/{len} {msg}")
                    .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
            );
            bar
        });
        Progress {
            bar,
            total,
            done: 0.into(),
            quiet,
        }
    }

    /// A scenario finished.
    pub fn finished(&self, r: &ScenarioResult) {
        self.step(&r.id, Some(r));
    }

    /// A scenario finished, known by id only.
    pub fn step(&self, id: &str, r: Option<&ScenarioResult>) {
        let done = self.done.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1;
        match (&self.bar, r) {
            (Some(bar), _) => {
                bar.set_message(id.to_owned());
                bar.inc(1);
            }
            (None, _) if self.quiet => {}
            (None, Some(r)) => {
                eprintln!(
                    "{}",
                    mcsdns::report::human::progress_line(r, done, self.total)
                )
            }
            (None, None) => eprintln!("[{done}/{}] {id}", self.total),
        }
    }

    /// The run is over.
    pub fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

/// Loads every scenario under `paths` that `selection` keeps; each file that
/// does not load is reported with its line and column.
pub fn load(paths: &[PathBuf], selection: &Selection) -> miette::Result<Vec<Loaded>> {
    suite::load_paths(paths, selection).map_err(|e| {
        if let LoadError::Invalid(errors) = &e {
            for err in errors {
                eprintln!("{:?}", miette::Report::new(err.clone()));
            }
        }
        miette::miette!("{e}")
    })
}

/// The exit code of a run: 130 after an interrupt (as a shell reports
/// Ctrl-C), 1 on failures, else 0.
pub fn exit_code(interrupted: bool, failed: bool) -> std::process::ExitCode {
    match (interrupted, failed) {
        (true, _) => std::process::ExitCode::from(130),
        (false, true) => std::process::ExitCode::from(1),
        (false, false) => std::process::ExitCode::SUCCESS,
    }
}
