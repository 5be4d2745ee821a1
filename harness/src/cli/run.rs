//! Runs `mcsdns run`: the scenarios on one target, held to their snapshots
//! or recorded, then prints the table and the failures explained and
//! writes the reports.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;
use miette::{IntoDiagnostic, Result, WrapErr};

use super::scenarios::ScenarioArgs;
use super::targets::{TargetArgs, parse_target};

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
}

#[derive(Args)]
pub struct RunArgs {
    #[command(flatten)]
    scenarios: ScenarioArgs,
    /// Parallel workers (default: the number of cores).
    #[arg(long, short)]
    jobs: Option<usize>,
    /// What to print on standard output.
    #[arg(long, value_enum, default_value = "human")]
    format: Format,
    /// Where to write junit.xml, report.json, summary.md and report.html.
    #[arg(long, default_value = "reports")]
    reports: PathBuf,
    /// Do not write reports.
    #[arg(long)]
    no_reports: bool,
    /// Write snapshots and fill in missing expectations instead of checking snapshots.
    #[arg(long)]
    record: bool,
    /// The target: `reference` (in process), `serve[=PATH]` (`mcsdns serve`
    /// started per scenario against the API emulator), `dns=ADDR` (a server
    /// already listening, its world in the emulator) or `kube=CTX[,CTX]`
    /// (real clusters from a kubeconfig).
    #[arg(long, default_value = "reference")]
    target: String,
    #[command(flatten)]
    targets: TargetArgs,
}

/// Runs the scenarios, holds them to their snapshots (or records them),
/// prints the result and writes the reports.
pub fn run(args: RunArgs) -> Result<ExitCode> {
    use mcsdns::run::{Status, record, suite};
    use mcsdns::target::Target;
    let spec = parse_target(&args.target)?;
    let (roots, scenarios): (Vec<PathBuf>, Vec<_>) = args
        .scenarios
        .load()?
        .into_iter()
        .map(|l| (l.root, l.scenario))
        .unzip();
    let jobs = args
        .jobs
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    // One outside server answers for one scenario at a time.
    let jobs = if spec.is_shared() { 1 } else { jobs };
    if let mcsdns::target::spec::TargetSpec::Kube(contexts) = &spec
        && args.targets.kube.dry_run
    {
        let run = "r000000";
        for (i, s) in scenarios.iter().enumerate() {
            println!("scenario {} ({}):", s.id, s.path.display());
            for line in mcsdns::target::kube::plan(s, contexts, run, i + 1) {
                println!("  {line}");
            }
        }
        println!("dry run: nothing was changed (the run id is chosen at random when it runs)");
        return Ok(ExitCode::SUCCESS);
    }
    if spec != mcsdns::target::spec::TargetSpec::Reference {
        super::catch_interrupts();
    }
    let external = args.targets.options();
    let bar = indicatif::ProgressBar::new(scenarios.len() as u64);
    bar.set_style(
        indicatif::ProgressStyle::with_template("{bar:30} {pos}/{len} {msg}")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    let make = || -> Box<dyn Target> { spec.make(&external) };
    let mut result = suite::run_all(&scenarios, jobs, &make, &|r| {
        bar.set_message(r.id.clone());
        bar.inc(1);
    });
    bar.finish_and_clear();
    // Snapshots hold the reference resolver's transcripts; other targets
    // are judged by the scenarios' expectations alone.
    let reference = spec == mcsdns::target::spec::TargetSpec::Reference;
    let mode = match (args.record, reference) {
        (true, snapshots) => record::SnapshotMode::Record { snapshots },
        (false, true) => record::SnapshotMode::Check,
        (false, false) => record::SnapshotMode::Ignore,
    };
    // A rewritten file runs again on the reference only: another target's
    // server or clusters are those of the run, which has ended, and its
    // snapshots are not written anyway.
    let mut rerun = |s: &mcsdns::scenario::Scenario| {
        reference.then(|| mcsdns::run::run_scenario(s, &mut mcsdns::target::ReferenceTarget::new()))
    };
    for line in record::apply(mode, &mut result.scenarios, &scenarios, &roots, &mut rerun)? {
        eprintln!("{line}");
    }
    match args.format {
        Format::Human => print!("{}", mcsdns::report::human::render(&result)),
        Format::Json => println!("{}", mcsdns::report::json(&result)),
        Format::Junit => println!("{}", mcsdns::report::junit::render(&result)),
        Format::Markdown => println!("{}", mcsdns::report::markdown::render(&result)),
    }
    if !args.no_reports {
        let written = mcsdns::report::write_all(&result, &args.reports)
            .into_diagnostic()
            .wrap_err_with(|| format!("cannot write reports to {}", args.reports.display()))?;
        if args.format == Format::Human {
            let names: Vec<String> = written.iter().map(|p| p.display().to_string()).collect();
            println!("reports: {}", names.join(", "));
        }
    }
    Ok(if result.count(Status::Failed) > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}
