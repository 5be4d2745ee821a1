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
    /// The scenario file. It may read only files inside its project root
    /// (see `mcsdns --help`); every file packed is listed.
    scenario: PathBuf,
    /// Where to write the bundle.
    #[arg(long, short, default_value = "mcsdns-bundle.json")]
    output: PathBuf,
    /// Pack files that look like credentials (private keys, kubeconfigs
    /// with tokens, Secrets) instead of refusing them. A bundle is meant for
    /// a bug report: check what it holds before you attach it.
    #[arg(long)]
    include_credentials: bool,
    /// The target whose answers the bundle records.
    #[arg(long, default_value = "reference", long_help = super::targets::TARGET_HELP)]
    target: String,
    #[command(flatten)]
    targets: super::targets::TargetArgs,
}

#[derive(Args)]
pub struct ReplayArgs {
    /// The bundle file. It is unpacked into a new private temporary folder,
    /// which is its scenario's project root, and removed afterwards.
    bundle: PathBuf,
    /// The target to replay on (a bundle recorded on one replays on any).
    #[arg(long, default_value = "reference", long_help = super::targets::TARGET_HELP)]
    target: String,
    #[command(flatten)]
    targets: super::targets::TargetArgs,
}

/// The target `--target` names, checked before it is built.
fn target(
    name: &str,
    args: &super::targets::TargetArgs,
) -> Result<Box<dyn mcsdns::target::Target>> {
    let spec = super::targets::parse_target(name)?;
    let options = args.options();
    super::targets::preflight(&spec, &options)?;
    Ok(spec.make(&options))
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

/// Runs the scenario on the target and packs it, listing every file.
pub fn bundle(args: BundleArgs) -> Result<ExitCode> {
    use mcsdns::run::bundle::Credentials;
    let root = suite_root(&args.scenario);
    let scenario = mcsdns::scenario::load_scenario(&args.scenario, &root)?;
    let mut target = target(&args.target, &args.targets)?;
    let result = mcsdns::run::run_scenario(&scenario, target.as_mut());
    let credentials = match args.include_credentials {
        true => Credentials::Include,
        false => Credentials::Refuse,
    };
    let bundle = mcsdns::run::bundle::make(&scenario, &result, credentials)?;
    let text = serde_json::to_string_pretty(&bundle).into_diagnostic()?;
    mcsdns::files::replace_file(&args.output, &text)
        .into_diagnostic()
        .wrap_err_with(|| format!("cannot write {}", args.output.display()))?;
    println!(
        "packed {} ({} bytes)",
        args.scenario.display(),
        bundle.scenario.len()
    );
    for (name, text) in &bundle.files {
        println!("packed {name} ({} bytes)", text.len());
    }
    println!(
        "wrote {} ({} file(s), {} step(s), {})",
        args.output.display(),
        bundle.files.len() + 1,
        result.steps.len(),
        bundle.status
    );
    Ok(ExitCode::SUCCESS)
}

/// Replays a bundle; exits 1 when an answer changed.
pub fn replay(args: ReplayArgs) -> Result<ExitCode> {
    let bundle = mcsdns::run::bundle::read(&args.bundle)?;
    let mut target = target(&args.target, &args.targets)?;
    let replay = mcsdns::run::bundle::replay(&bundle, target.as_mut())?;
    println!(
        "replayed {} on {} (recorded with mcsdns {} on {})",
        bundle.scenario_name, replay.result.target, bundle.mcsdns_version, bundle.target
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
