//! Runs `mcsdns diff`: the same scenarios on several targets, reporting
//! every disagreement by field, each explained by a known difference or failing.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;
use miette::{IntoDiagnostic, Result};

use super::scenarios::{Format, Progress, RunnerArgs, ScenarioArgs, exit_code};
use super::targets::{TARGET_HELP, TargetArgs, parse_target, preflight};

#[derive(Args)]
pub struct DiffArgs {
    #[command(flatten)]
    scenarios: ScenarioArgs,
    #[command(flatten)]
    runner: RunnerArgs,
    /// A target (at least two; the first is the baseline, run twice to find
    /// unstable answers); each as for `run`.
    #[arg(long = "target", required = true, num_args = 1, long_help = TARGET_HELP)]
    target: Vec<String>,
    /// Expected differences (YAML: scenario, line, field, why); the rest fail the run.
    #[arg(long, value_name = "FILE")]
    known: Option<PathBuf>,
    #[command(flatten)]
    targets: TargetArgs,
}

/// Runs the scenarios on every target and reports each disagreement.
pub fn run(args: DiffArgs) -> Result<ExitCode> {
    use mcsdns::target::spec::TargetSpec;
    if args.target.len() < 2 {
        return Err(miette::miette!("give at least two --target"));
    }
    let specs: Vec<TargetSpec> = args
        .target
        .iter()
        .map(|t| parse_target(t))
        .collect::<Result<_>>()?;
    // The same target twice compares a target with itself: to hold one
    // profile against another, each reference target names its own.
    for (i, a) in specs.iter().enumerate() {
        if specs[..i].contains(a) && !matches!(a, TargetSpec::Dns(_)) {
            return Err(miette::miette!(
                help = "to hold one profile against another, give each its own: --target reference=kep1645 --target reference=lighthouse",
                "--target {a} is given twice: the run would compare it with itself"
            ));
        }
    }
    let known = match &args.known {
        Some(p) => mcsdns::run::diff::read_known(p).map_err(|e| miette::miette!("{e}"))?,
        None => Vec::new(),
    };
    let loaded: Vec<mcsdns::scenario::Scenario> = args
        .scenarios
        .load()?
        .into_iter()
        .map(|l| l.scenario)
        .collect();
    // `--corefile` applies to every target; `--profile` to the reference
    // resolver, in or out of process, only.
    let profile = args.runner.profile;
    let plain = RunnerArgs {
        profile: None,
        ..args.runner.clone()
    };
    let scenarios = plain.apply(loaded)?;
    let profiled = args.runner.apply(scenarios.clone())?;
    let options = args.targets.options();
    for spec in &specs {
        preflight(spec, &options)?;
    }
    super::catch_interrupts();
    let mut targets: Vec<Box<dyn mcsdns::target::Target>> =
        specs.iter().map(|s| s.make(&options)).collect();
    let variants = mcsdns::run::diff::Variants {
        plain: &scenarios,
        profiled: profile.map(|_| profiled.as_slice()),
        uses_profile: specs
            .iter()
            .map(|s| match s {
                TargetSpec::RealApi(inner) => matches!(**inner, TargetSpec::Serve(_)),
                s => matches!(s, TargetSpec::Reference | TargetSpec::Serve(_)),
            })
            .collect(),
    };
    let progress = Progress::new(scenarios.len(), args.runner.quiet);
    let report = mcsdns::run::diff::diff(
        &variants,
        &mut targets,
        &known,
        args.runner.fail_fast,
        &|id| progress.step(id, None),
    );
    progress.finish();
    for k in report.stale() {
        let line = k.line.map(|l| format!(":{l}")).unwrap_or_default();
        eprintln!(
            "warning: known difference not seen: {}{line} {} ({}); remove the entry, or mark it `intermittent: true` if a random delay decides it",
            k.scenario, k.field, k.why
        );
    }
    let md = mcsdns::report::diff::markdown(&report);
    let json = serde_json::to_string_pretty(&report).into_diagnostic()?;
    let paths = |id: &str| {
        scenarios
            .iter()
            .find(|s| s.id == id)
            .map_or(id.to_owned(), |s| s.path.display().to_string())
    };
    match args.runner.format {
        Format::Human | Format::Markdown => println!("{md}"),
        Format::Json => println!("{json}"),
        Format::Junit => println!("{}", mcsdns::report::diff::junit(&report, &paths)),
        Format::Github => print!("{}", mcsdns::report::diff::github(&report, &paths)),
    }
    if !args.runner.no_reports {
        let dir = &args.runner.reports;
        std::fs::create_dir_all(dir).into_diagnostic()?;
        mcsdns::files::replace_file(&dir.join("diff.md"), &md).into_diagnostic()?;
        mcsdns::files::replace_file(&dir.join("diff.json"), &json).into_diagnostic()?;
        mcsdns::files::replace_file(
            &dir.join("diff.xml"),
            &mcsdns::report::diff::junit(&report, &paths),
        )
        .into_diagnostic()?;
        eprintln!(
            "reports: {}, {}, {}",
            dir.join("diff.md").display(),
            dir.join("diff.json").display(),
            dir.join("diff.xml").display()
        );
    }
    Ok(exit_code(
        report.interrupted,
        report.unexplained().next().is_some(),
    ))
}
