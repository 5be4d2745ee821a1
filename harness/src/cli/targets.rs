//! Parses `--target` and the options of each kind of target, grouped in
//! `--help` by the targets that read them.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, ValueEnum};
use mcsdns::target::outside::{Api, OutsideOptions};
use mcsdns::target::peer::container::{ContainerOptions, Style};
use mcsdns::target::spec::{KubeSettings, TargetOptions, TargetSpec};

use super::parse_duration;

/// Every target `--target` takes, for `--help`.
pub const TARGET_HELP: &str = "The implementation under test:
  reference         the reference resolver in process (default)
  reference=PROFILE the same in PROFILE (kep1645, coredns, lighthouse) whatever the scenario says
  serve[=PATH]      `mcsdns serve` (this executable, or PATH) started per scenario
  coredns[=PATH]    real CoreDNS started per scenario (`go install github.com/coredns/coredns@v1.15.0`)
  lighthouse=PATH   a Submariner Lighthouse build started per scenario (docs/lighthouse.md)
  container=IMAGE   a DNS server image started per scenario (cargo feature `container`, a Docker engine)
  dns=ADDR          a DNS server already listening at ADDR (see --exec)
  kube=CTX[,CTX]    real clusters: each scenario cluster on a kubeconfig context (CLUSTER:CTX)
serve, coredns, lighthouse, container and dns read each scenario's world from the API emulator,
or from real kube-apiservers with `--api real` or a `@real` suffix (coredns@real).";

/// Parses a `--target` value, naming the option in the error.
pub fn parse_target(s: &str) -> miette::Result<TargetSpec> {
    TargetSpec::parse(s).map_err(|e| miette::miette!("--target {s:?}: {e}"))
}

/// Checks that a target can start at all before any scenario runs: a
/// missing peer is a usage error (exit 2) with the install command.
pub fn preflight(spec: &TargetSpec, options: &TargetOptions) -> miette::Result<()> {
    spec.preflight(options)
        .map_err(|e| miette::miette!("target {spec} cannot start: {e}"))
}

/// The options of every kind of target.
#[derive(Args, Clone)]
pub struct TargetArgs {
    #[command(flatten)]
    outside: OutsideArgs,
    #[command(flatten)]
    pub kube: KubeArgs,
    #[command(flatten)]
    container: ContainerArgs,
}

/// Servers outside the process, their world in the API emulator or in real
/// control planes.
#[derive(Args, Clone)]
#[command(next_help_heading = "Outside servers (dns, serve, coredns, lighthouse, container)")]
struct OutsideArgs {
    /// Where each scenario's world lives: mcsdns's API emulator, or real
    /// kube-apiservers started for the run (build them with `just control-plane`).
    #[arg(long, value_enum, default_value = "emulator")]
    api: ApiArg,
    /// How long a failed check is retried while an outside server catches up.
    #[arg(long, default_value = "5s", value_parser = parse_duration)]
    settle: std::time::Duration,
    /// The longest `advance` an outside target waits out in real time.
    #[arg(long, default_value = "60s", value_parser = parse_duration)]
    max_wait: std::time::Duration,
    /// How long to wait for a server to answer DNS at start.
    #[arg(long, default_value = "20s", value_parser = parse_duration)]
    start_timeout: std::time::Duration,
    /// With dns=ADDR: a shell command that starts the server once, with
    /// KUBECONFIG and MCSDNS_CONTEXT set to the emulator's.
    #[arg(long, value_name = "CMD")]
    exec: Option<String>,
    /// Where the emulator writes its kubeconfig (default: a fresh private
    /// temporary folder); each further target of the run (parallel workers,
    /// `diff`'s other targets) writes in DIR/target-N. Created 0700; a
    /// folder another user owns or could change is refused.
    #[arg(long, value_name = "DIR")]
    emulator_dir: Option<PathBuf>,
}

/// Which Kubernetes API serves an outside server's world.
#[derive(Clone, Copy, Debug, ValueEnum)]
enum ApiArg {
    /// The in-process API emulator (fast; any fault).
    Emulator,
    /// Real control planes: etcd, kube-apiserver and kube-controller-manager per cluster.
    Real,
}

/// Real clusters.
#[derive(Args, Clone)]
#[command(next_help_heading = "Real clusters (kube)")]
pub struct KubeArgs {
    /// The kubeconfig (default: $KUBECONFIG or ~/.kube/config).
    #[arg(long, value_name = "FILE")]
    kubeconfig: Option<PathBuf>,
    /// The cluster DNS address to query (default: a port-forward to a
    /// kube-dns Pod of the resolver's cluster, DNS over TCP).
    #[arg(long, value_name = "ADDR")]
    dns: Option<SocketAddr>,
    /// Print what would be created and deleted, change nothing.
    #[arg(long)]
    pub dry_run: bool,
}

/// How an image is run.
#[derive(Clone, Copy, Debug, ValueEnum)]
enum StyleArg {
    /// `-conf FILE`, the Corefile rendered for CoreDNS.
    Coredns,
    /// `serve ...`, as mcsdns's own image.
    Mcsdns,
}

/// DNS server images.
#[derive(Args, Clone)]
#[command(next_help_heading = "Images (container)")]
struct ContainerArgs {
    /// How the image is started (default: guessed from the image name).
    #[arg(long, value_enum, value_name = "STYLE")]
    container_style: Option<StyleArg>,
    /// An argument replacing the style's (repeatable); {port}, {kubeconfig},
    /// {context}, {corefile} and {profile} are filled in.
    #[arg(long = "container-arg", value_name = "ARG", allow_hyphen_values = true)]
    container_args: Vec<String>,
    /// An environment variable (repeatable).
    #[arg(long = "container-env", value_name = "KEY=VALUE", value_parser = key_value)]
    container_env: Vec<(String, String)>,
    /// An extra bind mount (repeatable).
    #[arg(long = "container-mount", value_name = "HOST:PATH", value_parser = host_path)]
    container_mounts: Vec<(PathBuf, String)>,
    /// The DNS port the image listens on, if it cannot be told one.
    #[arg(long, value_name = "PORT")]
    dns_port: Option<u16>,
}

fn key_value(s: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some((k, v)) if !k.is_empty() => Ok((k.to_owned(), v.to_owned())),
        _ => Err(format!("{s:?} is not KEY=VALUE")),
    }
}

fn host_path(s: &str) -> Result<(PathBuf, String), String> {
    match s.split_once(':') {
        Some((h, c)) if !h.is_empty() && c.starts_with('/') => Ok((PathBuf::from(h), c.to_owned())),
        _ => Err(format!("{s:?} is not HOST:/PATH")),
    }
}

impl TargetArgs {
    /// The options each kind of target reads.
    pub fn options(&self) -> TargetOptions {
        let e = &self.outside;
        let c = &self.container;
        TargetOptions {
            outside: OutsideOptions {
                settle: e.settle,
                start_timeout: e.start_timeout,
                dir: e.emulator_dir.clone(),
                exec: e.exec.clone(),
                max_wait: e.max_wait,
                api: match e.api {
                    ApiArg::Emulator => Api::Emulator,
                    ApiArg::Real => Api::Real,
                },
                ..Default::default()
            },
            kube: KubeSettings {
                kubeconfig: self.kube.kubeconfig.clone(),
                dns: self.kube.dns,
            },
            container: Some(ContainerOptions {
                image: String::new(),
                style: c.container_style.map(|s| match s {
                    StyleArg::Coredns => Style::Coredns,
                    StyleArg::Mcsdns => Style::Mcsdns,
                }),
                // `--corefile` replaces the scenarios' own, for every target.
                corefile: None,
                args: (!c.container_args.is_empty()).then(|| c.container_args.clone()),
                env: c.container_env.clone(),
                mounts: c.container_mounts.clone(),
                port: c.dns_port,
                start_timeout: e.start_timeout,
            }),
        }
    }
}
