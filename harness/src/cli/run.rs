//! Runs `mcsdns run`: the scenarios on one target, held to their snapshots
//! or recorded, then prints the table and the failures explained and
//! writes the reports.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;
use miette::{IntoDiagnostic, Result, WrapErr};

use super::scenarios::{Format, Progress, RunnerArgs, ScenarioArgs, exit_code};
use super::targets::{TARGET_HELP, TargetArgs, parse_target, preflight};

#[derive(Args)]
pub struct RunArgs {
    #[command(flatten)]
    scenarios: ScenarioArgs,
    #[command(flatten)]
    runner: RunnerArgs,
    /// Write snapshots and fill in missing expectations instead of checking snapshots.
    #[arg(long)]
    record: bool,
    #[arg(long, default_value = "reference", long_help = TARGET_HELP)]
    target: String,
    #[command(flatten)]
    targets: TargetArgs,
}

/// Runs the scenarios, holds them to their snapshots (or records them),
/// prints the result and writes the reports.
pub fn run(args: RunArgs) -> Result<ExitCode> {
    use mcsdns::run::{Status, record, suite};
    use mcsdns::target::Target;
    use mcsdns::target::spec::TargetSpec;
    let spec = parse_target(&args.target)?;
    let (roots, scenarios): (Vec<PathBuf>, Vec<_>) = args
        .scenarios
        .load()?
        .into_iter()
        .map(|l| (l.root, l.scenario))
        .unzip();
    let scenarios = args.runner.apply(scenarios)?;
    if let TargetSpec::Kube(contexts) = &spec
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
    let external = args.targets.options();
    preflight(&spec, &external)?;
    super::catch_interrupts();
    let progress = Progress::new(scenarios.len(), args.runner.quiet);
    let make = || -> Box<dyn Target> { spec.make(&external) };
    let mut result = suite::run_all(
        &scenarios,
        args.runner.options(spec.is_shared()),
        &make,
        &|r| progress.finished(r),
    );
    progress.finish();
    // Snapshots hold the reference resolver's transcripts; other targets
    // are judged by the scenarios' expectations alone. A Corefile or
    // profile given on the command line makes other answers than the
    // snapshots hold.
    let reference = spec == TargetSpec::Reference
        && args.runner.corefile.is_none()
        && args.runner.profile.is_none();
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
    print_result(&result, &args.runner);
    if !args.runner.no_reports {
        let dir = &args.runner.reports;
        let written = mcsdns::report::write_all(&result, dir)
            .into_diagnostic()
            .wrap_err_with(|| format!("cannot write reports to {}", dir.display()))?;
        if args.runner.format == Format::Human {
            let names: Vec<String> = written.iter().map(|p| p.display().to_string()).collect();
            println!("reports: {}", names.join(", "));
        }
    }
    Ok(exit_code(
        result.interrupted,
        result.count(Status::Failed) > 0,
    ))
}

fn print_result(result: &mcsdns::run::SuiteResult, runner: &RunnerArgs) {
    use mcsdns::report;
    match runner.format {
        Format::Human => print!("{}", report::human::render(result, runner.verbosity())),
        Format::Json => println!("{}", report::json(result)),
        Format::Junit => println!("{}", report::junit::render(result)),
        Format::Markdown => println!("{}", report::markdown::render(result)),
        Format::Github => print!("{}", report::github::render(result)),
    }
}
