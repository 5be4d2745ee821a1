//! Runs `mcsdns diff`: the same scenarios on several targets, reporting
//! every disagreement by field, each explained by a known difference or failing.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;
use mcsdns::resolver::Profile;
use miette::{IntoDiagnostic, Result};

use super::scenarios::ScenarioArgs;
use super::targets::{TargetArgs, parse_target};

#[derive(Args)]
pub struct DiffArgs {
    #[command(flatten)]
    scenarios: ScenarioArgs,
    /// A target (at least two; the first is the baseline, run twice to find unstable answers).
    #[arg(long = "target", required = true, num_args = 1)]
    target: Vec<String>,
    /// Run the reference resolver (targets `reference` and `serve`) in this profile.
    #[arg(long)]
    profile: Option<Profile>,
    /// Expected differences (YAML: scenario, line, field, why); the rest fail the run.
    #[arg(long, value_name = "FILE")]
    known: Option<PathBuf>,
    /// What to print on standard output.
    #[arg(long, value_enum, default_value = "markdown")]
    format: DiffFormat,
    /// Where to write diff.json and diff.md.
    #[arg(long, default_value = "reports")]
    reports: PathBuf,
    /// Do not write reports.
    #[arg(long)]
    no_reports: bool,
    #[command(flatten)]
    targets: TargetArgs,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum DiffFormat {
    /// The Markdown report.
    Markdown,
    /// The JSON report.
    Json,
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
    let known = match &args.known {
        Some(p) => mcsdns::run::diff::read_known(p).map_err(|e| miette::miette!("{e}"))?,
        None => Vec::new(),
    };
    let scenarios: Vec<mcsdns::scenario::Scenario> = args
        .scenarios
        .load()?
        .into_iter()
        .map(|l| l.scenario)
        .collect();
    // The profile applies to the reference resolver, in or out of process.
    let profiled: Vec<mcsdns::scenario::Scenario> = match args.profile {
        Some(p) => scenarios
            .iter()
            .map(|s| {
                s.with_profile(p)
                    .map_err(|e| miette::miette!("{}: {e}", s.id))
            })
            .collect::<Result<_>>()?,
        None => scenarios.clone(),
    };
    super::catch_interrupts();
    let options = args.targets.options();
    let mut targets: Vec<Box<dyn mcsdns::target::Target>> =
        specs.iter().map(|s| s.make(&options)).collect();
    let variants = mcsdns::run::diff::Variants {
        plain: &scenarios,
        profiled: args.profile.map(|_| profiled.as_slice()),
        uses_profile: specs
            .iter()
            .map(|s| match s {
                TargetSpec::RealApi(inner) => matches!(**inner, TargetSpec::Serve(_)),
                s => matches!(s, TargetSpec::Reference | TargetSpec::Serve(_)),
            })
            .collect(),
    };
    let bar = indicatif::ProgressBar::new(scenarios.len() as u64);
    let report = mcsdns::run::diff::diff(&variants, &mut targets, &known, &|id| {
        bar.set_message(id.to_owned());
        bar.inc(1);
    });
    bar.finish_and_clear();
    for k in report.stale() {
        let line = k.line.map(|l| format!(":{l}")).unwrap_or_default();
        eprintln!(
            "warning: known difference not seen: {}{line} {} ({}); remove the entry, or mark it `intermittent: true` if a random delay decides it",
            k.scenario, k.field, k.why
        );
    }
    let md = mcsdns::report::diff::markdown(&report);
    let json = serde_json::to_string_pretty(&report).into_diagnostic()?;
    match args.format {
        DiffFormat::Markdown => println!("{md}"),
        DiffFormat::Json => println!("{json}"),
    }
    if !args.no_reports {
        std::fs::create_dir_all(&args.reports).into_diagnostic()?;
        mcsdns::files::replace_file(&args.reports.join("diff.md"), &md).into_diagnostic()?;
        mcsdns::files::replace_file(&args.reports.join("diff.json"), &json).into_diagnostic()?;
        eprintln!(
            "reports: {}, {}",
            args.reports.join("diff.md").display(),
            args.reports.join("diff.json").display()
        );
    }
    Ok(if report.unexplained().next().is_some() {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}
