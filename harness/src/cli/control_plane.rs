//! Runs `mcsdns control-plane`: real Kubernetes control planes on loopback
//! for a world's clusters (`up`), and what is running (`status`, `down`).

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Subcommand};
use mcsdns::cluster::control_plane::world::WorldWriter;
use mcsdns::cluster::control_plane::{Binaries, ControlPlane, KUBERNETES_VERSION, state};
use mcsdns::model::{ClusterState, World};
use miette::{IntoDiagnostic, Result};

#[derive(Args)]
pub struct ControlPlaneArgs {
    #[command(subcommand)]
    command: ControlPlaneCommand,
}

#[derive(Subcommand)]
enum ControlPlaneCommand {
    /// Start one control plane per cluster, apply the world, serve until Ctrl-C, then remove everything.
    Up(UpArgs),
    /// Show the control plane running in a folder.
    Status(DirArgs),
    /// Stop a control plane left running (its `up` was killed) and remove its folder.
    Down(DirArgs),
}

#[derive(Args)]
struct UpArgs {
    /// The scenario whose world to serve (its resolver's identity gets the `resolver@NAME` contexts).
    #[arg(long, value_name = "FILE", conflicts_with_all = ["manifests", "clusters"])]
    scenario: Option<PathBuf>,
    /// A world folder (one subfolder per cluster).
    #[arg(long, value_name = "DIR", conflicts_with = "clusters")]
    manifests: Option<PathBuf>,
    /// Empty clusters with these names instead of a world.
    #[arg(long, value_delimiter = ',', value_name = "NAME,...")]
    clusters: Vec<String>,
    /// The identity of the `resolver@NAME` contexts (default: the scenario's, else CoreDNS's service account).
    #[arg(long)]
    identity: Option<String>,
    #[command(flatten)]
    dir: DirArgs,
    /// Keep the folder (data, keys, logs) after stopping.
    #[arg(long)]
    keep: bool,
}

#[derive(Args)]
struct DirArgs {
    /// The control plane's folder (kubeconfig, keys, data, logs, state.json):
    /// created 0700, its keys and tokens 0600; a folder another user owns or
    /// could change is refused.
    #[arg(long, default_value = ".mcsdns/control-plane")]
    dir: PathBuf,
}

pub fn run(args: ControlPlaneArgs) -> Result<ExitCode> {
    match args.command {
        ControlPlaneCommand::Up(a) => up(a),
        ControlPlaneCommand::Status(a) => status(a),
        ControlPlaneCommand::Down(a) => down(a),
    }
}

fn mib(bytes: Option<u64>) -> String {
    bytes.map_or("?".into(), |b| format!("{} MiB", b / (1024 * 1024)))
}

fn up(args: UpArgs) -> Result<ExitCode> {
    let loaded =
        super::serve::world_and_identity(args.scenario.as_deref(), args.manifests.as_deref())?;
    let (world, identity) = match loaded {
        Some(w) => w,
        None if !args.clusters.is_empty() => {
            let mut w = World::default();
            for name in &args.clusters {
                w.clusters.insert(name.clone(), ClusterState::new(name));
            }
            (w, mcsdns::scenario::load::DEFAULT_IDENTITY.to_owned())
        }
        None => {
            return Err(miette::miette!(
                "give --scenario, --manifests or --clusters"
            ));
        }
    };
    let identity = args.identity.unwrap_or(identity);
    if let Ok(s) = state::State::read(&args.dir.dir)
        && s.clusters
            .values()
            .flat_map(|c| &c.programs)
            .any(|(p, pid)| state::is_running(*pid, p))
    {
        return Err(miette::miette!(
            "a control plane is already running in {} (see `mcsdns control-plane status --dir {0}`; stop it with `down`)",
            args.dir.dir.display()
        ));
    }
    let binaries = Binaries::find().into_diagnostic()?;
    let names: Vec<String> = world.clusters.keys().cloned().collect();
    eprintln!(
        "mcsdns: starting Kubernetes {KUBERNETES_VERSION} for {} cluster(s): {}",
        names.len(),
        names.join(", ")
    );
    let progress = |name: &str| eprintln!("mcsdns: cluster {name} is ready");
    let mut cp = ControlPlane::start(&names, &args.dir.dir, args.keep, binaries, &progress)
        .into_diagnostic()?;
    let runtime = tokio::runtime::Runtime::new().into_diagnostic()?;
    runtime.block_on(async {
        cp.set_resolver_identity(&identity).await.into_diagnostic()?;
        for (name, state) in &world.clusters {
            let client = cp.admin_client(name).await.into_diagnostic()?;
            WorldWriter::new(client, name)
                .reset(state, &identity)
                .await
                .into_diagnostic()?;
        }
        for (name, c) in cp.clusters() {
            let rss: Vec<String> = c.rss().into_iter().map(|(p, b)| format!("{p} {}", mib(b))).collect();
            println!(
                "cluster {name}: https://{} (contexts {name}, resolver@{name}); etcd http://{}; ready in {:.1} s; RSS {}",
                c.server,
                c.etcd,
                c.startup.as_secs_f64(),
                rss.join(", ")
            );
        }
        println!("resolver identity: {identity}");
        println!("kubeconfig: {}", cp.kubeconfig().display());
        eprintln!(
            "mcsdns: serving; try `kubectl --kubeconfig {} --context {} get serviceimports -A`; Ctrl-C stops and removes {}",
            cp.kubeconfig().display(),
            names.first().map_or("", String::as_str),
            cp.dir().display()
        );
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .into_diagnostic()?;
        let mut check = tokio::time::interval(std::time::Duration::from_secs(2));
        loop {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => break,
                _ = term.recv() => break,
                _ = check.tick() => cp.check_running().into_diagnostic()?,
            }
        }
        eprintln!("mcsdns: stopping");
        Ok::<(), miette::Report>(())
    })?;
    drop(cp);
    Ok(ExitCode::SUCCESS)
}

fn status(args: DirArgs) -> Result<ExitCode> {
    let s = state::State::read(&args.dir).into_diagnostic()?;
    let mut all = true;
    for (name, c) in &s.clusters {
        let programs: Vec<String> = c
            .programs
            .iter()
            .map(|(p, pid)| {
                let up = state::is_running(*pid, p);
                all &= up;
                format!("{p} {}", if up { "running" } else { "stopped" })
            })
            .collect();
        println!(
            "cluster {name}: https://{}: {}",
            c.server,
            programs.join(", ")
        );
    }
    println!("kubeconfig: {}", s.kubeconfig.display());
    Ok(if all {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

fn down(args: DirArgs) -> Result<ExitCode> {
    let stopped = state::stop_left_over(&args.dir).into_diagnostic()?;
    for s in &stopped {
        println!("stopped {s}");
    }
    println!("removed {}", args.dir.display());
    Ok(ExitCode::SUCCESS)
}
