//! Runs `mcsdns conformance`: checks a target against each requirement of
//! the MCS DNS specification, with known failures held both ways.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;
use mcsdns::run::suite::{self, Selection};
use mcsdns::scenario::Scenario;
use mcsdns::target::Target;
use mcsdns::target::spec::TargetSpec;
use miette::{IntoDiagnostic, Result};

use super::targets::{TargetArgs, parse_target};

#[derive(Args)]
pub struct ConformanceArgs {
    /// The spec scenarios.
    #[arg(default_value = "scenarios/spec")]
    paths: Vec<PathBuf>,
    /// The target (as for `run`).
    #[arg(long, default_value = "reference")]
    target: String,
    /// Requirements the target is known to miss (YAML: clause, why); both
    /// ways: a listed one that passes is reported too.
    #[arg(long, value_name = "FILE")]
    expected_failures: Option<PathBuf>,
    /// Where to write conformance.html, .json and .yaml.
    #[arg(long, default_value = "reports")]
    reports: PathBuf,
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
    let scenarios: Vec<Scenario> = super::scenarios::load(&args.paths, &Selection::default())?
        .into_iter()
        .map(|l| l.scenario)
        .filter(|s| s.clause.is_some())
        .collect();
    if scenarios.is_empty() {
        return Err(miette::miette!("no scenario names a requirement (clause)"));
    }
    if spec != TargetSpec::Reference {
        super::catch_interrupts();
    }
    let jobs = if spec.is_shared() {
        1
    } else {
        std::thread::available_parallelism().map_or(1, |n| n.get())
    };
    let options = args.targets.options();
    let make = || -> Box<dyn Target> { spec.make(&options) };
    let bar = indicatif::ProgressBar::new(scenarios.len() as u64);
    let result = suite::run_all(&scenarios, jobs, &make, &|r| {
        bar.set_message(r.id.clone());
        bar.inc(1);
    });
    bar.finish_and_clear();
    let report = conformance::build(
        &result.target,
        &result.target_version,
        &result.scenarios,
        &expected,
    );
    println!("{} ({})", report.target, report.version);
    for r in &report.requirements {
        println!(
            "  {:<4} {:<9} {:<16} {}",
            r.clause,
            r.level,
            r.verdict.word(),
            r.checks.first().map_or("", |c| c.title.as_str())
        );
    }
    let written = conformance::write_all(&report, &args.reports).into_diagnostic()?;
    let names: Vec<String> = written.iter().map(|p| p.display().to_string()).collect();
    println!("reports: {}", names.join(", "));
    Ok(
        if report.requirements.iter().any(|r| r.verdict.is_problem()) {
            ExitCode::from(1)
        } else {
            ExitCode::SUCCESS
        },
    )
}
