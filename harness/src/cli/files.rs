//! Runs `mcsdns lint`, `bundle` and `replay`: warns of checks that prove
//! little, packs a scenario for a bug report and runs it again elsewhere.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;
use mcsdns::run::suite::{Selection, suite_root};
use miette::{IntoDiagnostic, Result, WrapErr};

#[derive(Args)]
pub struct LintArgs {
    /// Scenario files or folders.
    #[arg(default_value = "scenarios")]
    paths: Vec<PathBuf>,
}

#[derive(Args)]
pub struct BundleArgs {
    /// The scenario file.
    scenario: PathBuf,
    /// Where to write the bundle.
    #[arg(long, short, default_value = "mcsdns-bundle.json")]
    output: PathBuf,
}

#[derive(Args)]
pub struct ReplayArgs {
    /// The bundle file.
    bundle: PathBuf,
}

/// Prints every warning.
pub fn lint(args: LintArgs) -> Result<ExitCode> {
    let loaded = super::scenarios::load(&args.paths, &Selection::default())?;
    let mut warnings = 0;
    for l in &loaded {
        let s = &l.scenario;
        for w in mcsdns::scenario::lint::lint(s) {
            println!("{w}");
            warnings += 1;
        }
    }
    println!("{} scenario(s), {warnings} warning(s)", loaded.len());
    Ok(ExitCode::SUCCESS)
}

/// Runs the scenario on the reference and packs it.
pub fn bundle(args: BundleArgs) -> Result<ExitCode> {
    let root = suite_root(&args.scenario);
    let scenario = mcsdns::scenario::load_scenario(&args.scenario, &root)?;
    let result = mcsdns::run::run_scenario(&scenario, &mut mcsdns::target::ReferenceTarget::new());
    let bundle = mcsdns::run::bundle::make(&scenario, &result).into_diagnostic()?;
    let text = serde_json::to_string_pretty(&bundle).into_diagnostic()?;
    std::fs::write(&args.output, text)
        .into_diagnostic()
        .wrap_err_with(|| format!("cannot write {}", args.output.display()))?;
    println!(
        "wrote {} ({} file(s), {} step(s), {:?})",
        args.output.display(),
        bundle.files.len(),
        result.steps.len(),
        result.status
    );
    Ok(ExitCode::SUCCESS)
}

/// Replays a bundle; exits 1 when an answer changed.
pub fn replay(args: ReplayArgs) -> Result<ExitCode> {
    let text = std::fs::read_to_string(&args.bundle)
        .into_diagnostic()
        .wrap_err_with(|| format!("cannot read {}", args.bundle.display()))?;
    let bundle: mcsdns::run::bundle::Bundle = serde_json::from_str(&text)
        .map_err(|e| miette::miette!("{}: not a bundle: {e}", args.bundle.display()))?;
    let dir = std::env::temp_dir().join(format!("mcsdns-replay-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let replay = mcsdns::run::bundle::replay(&bundle, &dir).map_err(|e| miette::miette!("{e}"));
    let _ = std::fs::remove_dir_all(&dir);
    let replay = replay?;
    println!(
        "replayed {} (recorded with mcsdns {} on {})",
        bundle.scenario_name, bundle.mcsdns_version, bundle.target
    );
    match replay.diff {
        None => {
            println!("every answer is as recorded");
            Ok(ExitCode::SUCCESS)
        }
        Some(diff) => {
            println!("answers changed:\n{diff}");
            Ok(ExitCode::from(1))
        }
    }
}
