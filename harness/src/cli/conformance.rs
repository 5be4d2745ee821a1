//! Runs `mcsdns conformance`: checks a target against each requirement of
//! the MCS DNS specification, with known failures held both ways.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;
use mcsdns::scenario::Scenario;
use mcsdns::target::Target;
use mcsdns::target::spec::TargetSpec;
use miette::{IntoDiagnostic, Result};

use super::scenarios::{Format, Progress, RunnerArgs, ScenarioArgs, exit_code};
use super::targets::{TARGET_HELP, TargetArgs, parse_target, preflight};

#[derive(Args)]
pub struct ConformanceArgs {
    // Of these, the scenarios that name a requirement (`clause`) run: by
    // default the spec suite's.
    #[command(flatten)]
    scenarios: ScenarioArgs,
    #[command(flatten)]
    runner: RunnerArgs,
    #[arg(long, default_value = "reference", long_help = TARGET_HELP)]
    target: String,
    /// Requirements the target is known to miss (YAML: clause, why); both
    /// ways: a listed one that passes is reported too.
    #[arg(long, value_name = "FILE")]
    expected_failures: Option<PathBuf>,
    #[command(flatten)]
    targets: TargetArgs,
}

/// Runs the spec scenarios on the target (in parallel where it allows)
/// and reports each requirement's verdict.
pub fn run(args: ConformanceArgs) -> Result<ExitCode> {
    use mcsdns::report::conformance;
    let spec = parse_target(&args.target)?;
    let expected = match &args.expected_failures {
        Some(p) => conformance::read_expected(p).map_err(|e| miette::miette!("{e}"))?,
        None => Vec::new(),
    };
    let scenarios: Vec<Scenario> = args
        .scenarios
        .load()?
        .into_iter()
        .map(|l| l.scenario)
        .filter(|s| s.clause.is_some())
        .collect();
    if scenarios.is_empty() {
        return Err(miette::miette!("no scenario names a requirement (clause)"));
    }
    let scenarios = args.runner.apply(scenarios)?;
    let options = args.targets.options();
    preflight(&spec, &options)?;
    super::catch_interrupts();
    let make = || -> Box<dyn Target> { spec.make(&options) };
    let progress = Progress::new(scenarios.len(), args.runner.quiet);
    let result = mcsdns::run::suite::run_all(
        &scenarios,
        args.runner.options(spec.is_shared()),
        &make,
        &|r| progress.finished(r),
    );
    progress.finish();
    // A reference resolver run in another profile says so in the report.
    let target = match (&spec, args.runner.profile) {
        (TargetSpec::Reference | TargetSpec::Serve(_), Some(p)) => {
            format!("{} --profile {p}", result.target)
        }
        _ => result.target.clone(),
    };
    let mut report = conformance::build(
        &target,
        &result.target_version,
        &result.scenarios,
        &expected,
    );
    if result.interrupted || !result.not_run.is_empty() {
        let not_run: Vec<&Scenario> = scenarios
            .iter()
            .filter(|s| result.not_run.contains(&s.id))
            .collect();
        report = conformance::interrupted(report, &not_run);
        report.interrupted = result.interrupted;
    }
    match args.runner.format {
        Format::Human | Format::Markdown => print_table(&report, args.runner.quiet),
        Format::Json => println!("{}", conformance::json(&report)),
        Format::Junit => println!("{}", conformance::junit(&report)),
        Format::Github => print!("{}", mcsdns::report::github::render(&result)),
    }
    if !args.runner.no_reports {
        let written = conformance::write_all(&report, &args.runner.reports).into_diagnostic()?;
        if args.runner.format == Format::Human {
            let names: Vec<String> = written.iter().map(|p| p.display().to_string()).collect();
            println!("reports: {}", names.join(", "));
        }
    }
    let problem = report.requirements.iter().any(|r| r.verdict.is_problem());
    Ok(exit_code(result.interrupted, problem))
}

fn print_table(report: &mcsdns::report::conformance::Conformance, quiet: bool) {
    println!("{} ({})", report.target, report.version);
    for r in &report.requirements {
        if quiet && !r.verdict.is_problem() {
            continue;
        }
        println!(
            "  {:<4} {:<9} {:<16} {}",
            r.clause,
            r.level,
            r.verdict.word(),
            r.checks.first().map_or("", |c| c.title.as_str())
        );
    }
    let totals: Vec<String> = report
        .totals
        .iter()
        .map(|(k, n)| format!("{n} {k}"))
        .collect();
    println!("{}", totals.join(", "));
}
