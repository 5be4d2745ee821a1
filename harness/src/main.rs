//! Parses the `mcsdns` command line and runs one subcommand.

mod cli;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use cli::capture::CaptureArgs;
use cli::conformance::ConformanceArgs;
use cli::control_plane::ControlPlaneArgs;
use cli::diff::DiffArgs;
use cli::doctor::DoctorArgs;
use cli::files::{BundleArgs, LintArgs, ReplayArgs};
use cli::inspect::{QueryArgs, WorldArgs, ZoneArgs};
use cli::review::ReviewArgs;
use cli::run::RunArgs;
use cli::serve::{ApiserverArgs, ServeArgs};

/// Conformance and simulation harness for Kubernetes multi-cluster DNS
/// (KEP-1645, clusterset.local).
#[derive(Parser)]
#[command(name = "mcsdns", version, about, long_about = None, after_help = cli::FILES_POLICY)]
struct Cli {
    #[command(subcommand)]
    command: Command,
    /// The project root of every scenario: the folder whose files it may
    /// read [default: the nearest folder at or above the scenario holding
    /// scenarios/ or fixtures/, else the scenario's own folder].
    #[arg(long, global = true, env = "MCSDNS_ROOT", value_name = "DIR")]
    root: Option<PathBuf>,
    /// The largest input file mcsdns reads (scenario, manifest, Corefile,
    /// bundle, each file a bundle holds): bytes, or with KiB, MiB, GiB.
    #[arg(long, global = true, env = "MCSDNS_MAX_FILE_SIZE", value_name = "SIZE",
          default_value = "256MiB", value_parser = mcsdns::files::parse_size)]
    max_file_size: u64,
}

#[derive(Subcommand)]
enum Command {
    /// Run scenarios (the built-in suite by default) and write reports.
    Run(RunArgs),
    /// Show each pending snapshot's changed answers and accept or reject it.
    Review(ReviewArgs),
    /// Check scenario files and warn about checks that prove little.
    Lint(LintArgs),
    /// Print the JSON Schema of the scenario format.
    Schema,
    /// Pack a scenario, its files and its answers into one file for a bug report.
    Bundle(BundleArgs),
    /// Re-run a bundle and show every answer that changed.
    Replay(ReplayArgs),
    /// Serve one cluster's view of a world over UDP and TCP until Ctrl-C.
    Serve(ServeArgs),
    /// Serve a world's clusters as Kubernetes APIs (HTTPS and HTTP) and write a kubeconfig.
    Apiserver(ApiserverArgs),
    /// Run real Kubernetes control planes (etcd, kube-apiserver, kube-controller-manager) for a world.
    ControlPlane(ControlPlaneArgs),
    /// Run the same scenarios on several targets and report every disagreement by field.
    Diff(DiffArgs),
    /// Check a target against each requirement of the MCS DNS spec (the spec/ scenarios).
    Conformance(ConformanceArgs),
    /// Explain what is wrong with a live multi-cluster DNS set-up (read-only: get, list and access reviews only).
    Doctor(DoctorArgs),
    /// Write a live cluster set down as a world folder and a scenario (read-only).
    Capture(CaptureArgs),
    /// Answer one question from a world without any network, printed as dig does.
    Query(QueryArgs),
    /// List the clusters and objects of a world folder (and what is not used).
    World(WorldArgs),
    /// Print one zone of a cluster's view as an RFC 1035 zone file.
    Zone(ZoneArgs),
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            // kube-client's own error lines repeat the watch errors mcsdns
            // logs itself, once per retry.
            tracing_subscriber::EnvFilter::try_from_env("MCSDNS_LOG")
                .unwrap_or_else(|_| "info,kube_runtime=error,kube_client=off".into()),
        )
        .with_writer(std::io::stderr)
        // Colour codes only for a person at a terminal, never into a log file or a pipe.
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    // Messages keep their lines: an install command or a path stays whole,
    // ready to copy, whatever the width.
    let _ = miette::set_hook(Box::new(|_| {
        Box::new(miette::MietteHandlerOpts::new().wrap_lines(false).build())
    }));
    let cli = Cli::parse();
    mcsdns::files::set_max_size(cli.max_file_size);
    if let Some(root) = &cli.root
        && let Err(e) = mcsdns::scenario::ProjectRoot::pin(root)
    {
        eprintln!("mcsdns: --root {}: {e}", root.display());
        return ExitCode::from(2);
    }
    let result = match cli.command {
        Command::Run(a) => cli::run::run(a),
        Command::Review(a) => cli::review::run(a),
        Command::Lint(a) => cli::files::lint(a),
        Command::Schema => {
            println!("{}", mcsdns::scenario::schema());
            Ok(ExitCode::SUCCESS)
        }
        Command::Bundle(a) => cli::files::bundle(a),
        Command::Replay(a) => cli::files::replay(a),
        Command::Serve(a) => cli::serve::run(a),
        Command::Apiserver(a) => cli::serve::apiserver(a),
        Command::ControlPlane(a) => cli::control_plane::run(a),
        Command::Diff(a) => cli::diff::run(a),
        Command::Conformance(a) => cli::conformance::run(a),
        Command::Doctor(a) => cli::doctor::run(a),
        Command::Capture(a) => cli::capture::run(a),
        Command::Query(a) => cli::inspect::query(a),
        Command::World(a) => cli::inspect::world(a),
        Command::Zone(a) => cli::inspect::zone(a),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("{e:?}");
            ExitCode::from(2)
        }
    }
}
