//! The `mcsdns` command line.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};
use hickory_proto::rr::RecordType;
use mcsdns::model::World;
use mcsdns::resolver::config::{PluginKind, STOCK_ORDER};
use mcsdns::resolver::server::{SharedSnapshot, Snapshot, serve};
use mcsdns::resolver::text::render;
use mcsdns::resolver::{ClusterView, Profile, Question, ResolverConfig, answer};
use miette::{IntoDiagnostic, Result, WrapErr};

/// Conformance and simulation harness for Kubernetes multi-cluster DNS
/// (KEP-1645, clusterset.local).
#[derive(Parser)]
#[command(name = "mcsdns", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run scenarios (the built-in suite by default) and write reports.
    Run(RunArgs),
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
    /// Run the same scenarios on several targets and report every disagreement by field.
    Diff(DiffArgs),
    /// Check a target against each requirement of the MCS DNS spec (the spec/ scenarios).
    Conformance(ConformanceArgs),
    /// Answer one question from a world without any network, printed as dig does.
    Query(QueryArgs),
    /// List the clusters and objects of a world folder (and what is not used).
    World(WorldArgs),
    /// Print one zone of a cluster's view as an RFC 1035 zone file.
    Zone(ZoneArgs),
}

#[derive(Args)]
struct ZoneArgs {
    #[command(flatten)]
    resolver: ResolverArgs,
    /// The zone to print.
    #[arg(long, default_value = "clusterset.local")]
    zone: String,
}

/// Which world and resolver set-up to use.
#[derive(Args)]
struct ResolverArgs {
    /// World folder: one subfolder per cluster holding Kubernetes YAML.
    #[arg(long, value_name = "DIR", required_unless_present = "kubeconfig")]
    manifests: Option<PathBuf>,
    /// The cluster the resolver runs in (a subfolder of --manifests).
    #[arg(long, value_name = "NAME", required_unless_present = "kubeconfig")]
    cluster: Option<String>,
    /// Learn the cluster from a Kubernetes API instead (serve only).
    #[arg(long, value_name = "FILE", conflicts_with_all = ["manifests", "cluster"])]
    kubeconfig: Option<PathBuf>,
    /// Corefile to read; without it, kubernetes serves cluster.local and
    /// multicluster serves clusterset.local, with no header plugin.
    #[arg(long, value_name = "FILE")]
    corefile: Option<PathBuf>,
    /// kep1645 follows the MCS DNS spec; coredns reproduces the CoreDNS plugin.
    #[arg(long, default_value = "kep1645")]
    profile: Profile,
    /// Override the TTL of every zone (0-3600).
    #[arg(long, value_parser = clap::value_parser!(u32).range(0..=3600))]
    ttl: Option<u32>,
    /// The plugin chain order of the CoreDNS build (plugin.cfg), comma separated.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "header,kubernetes,multicluster"
    )]
    plugin_order: Vec<PluginKind>,
}

#[derive(Args)]
struct ServeArgs {
    #[command(flatten)]
    resolver: ResolverArgs,
    /// Address for both UDP and TCP.
    #[arg(long, default_value = "127.0.0.1:5353")]
    listen: SocketAddr,
    /// The kubeconfig context (with --kubeconfig; default: its current one).
    #[arg(long, requires = "kubeconfig")]
    context: Option<String>,
    /// The kubeconfig user, instead of the context's (with --kubeconfig).
    #[arg(long, requires = "kubeconfig")]
    user: Option<String>,
    /// How long to wait for the first list of every source before serving.
    #[arg(long, default_value = "5s", value_parser = parse_duration)]
    sync_timeout: std::time::Duration,
}

#[derive(Args)]
struct ApiserverArgs {
    /// Serve this scenario's world (its resolver's identity gets a token).
    #[arg(long, value_name = "FILE", required_unless_present = "manifests")]
    scenario: Option<PathBuf>,
    /// Serve this world folder instead (one subfolder per cluster).
    #[arg(long, value_name = "DIR", conflicts_with = "scenario")]
    manifests: Option<PathBuf>,
    /// The identity of the `resolver` user (default: the scenario's, else CoreDNS's service account).
    #[arg(long)]
    identity: Option<String>,
    /// Where to write `kubeconfig` and `ca.crt`.
    #[arg(long, default_value = ".mcsdns/apiserver")]
    dir: PathBuf,
}

fn parse_duration(s: &str) -> std::result::Result<std::time::Duration, String> {
    mcsdns::scenario::load::duration(s)
        .ok_or_else(|| format!("invalid duration {s:?}: write 500ms, 5s or 2m"))
}

#[derive(Args)]
struct QueryArgs {
    #[command(flatten)]
    resolver: ResolverArgs,
    /// The name to ask for.
    name: String,
    /// The record type (A, AAAA, SRV, TXT, SOA, NS, PTR, ANY, ...).
    #[arg(default_value = "A")]
    qtype: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
enum Format {
    /// A table and explained failures.
    Human,
    /// The JSON report.
    Json,
    /// JUnit XML.
    Junit,
    /// Markdown (a CI job summary).
    Markdown,
}

/// Which scenarios a command runs.
#[derive(Args)]
struct ScenarioArgs {
    /// Scenario files or folders.
    #[arg(default_value = "scenarios")]
    paths: Vec<PathBuf>,
    /// Run only scenarios whose id contains this (repeatable).
    #[arg(long)]
    filter: Vec<String>,
    /// Run only scenarios with this tag (repeatable).
    #[arg(long)]
    tag: Vec<String>,
}

#[derive(Args)]
struct RunArgs {
    #[command(flatten)]
    scenarios: ScenarioArgs,
    /// Parallel workers (default: the number of cores).
    #[arg(long, short)]
    jobs: Option<usize>,
    /// What to print on standard output.
    #[arg(long, value_enum, default_value = "human")]
    format: Format,
    /// Where to write junit.xml, report.json, summary.md and report.html.
    #[arg(long, default_value = "reports")]
    reports: PathBuf,
    /// Do not write reports.
    #[arg(long)]
    no_reports: bool,
    /// Write snapshots and fill in missing expectations instead of checking snapshots.
    #[arg(long)]
    record: bool,
    /// The target: `reference` (in process), `serve[=PATH]` (`mcsdns serve`
    /// started per scenario against the API emulator), `dns=ADDR` (a server
    /// already listening, its world in the emulator) or `kube=CTX[,CTX]`
    /// (real clusters from a kubeconfig).
    #[arg(long, default_value = "reference")]
    target: String,
    #[command(flatten)]
    external: ExternalArgs,
}

/// Options of targets outside the process.
#[derive(Args, Clone)]
struct ExternalArgs {
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
    /// Where the emulator writes its kubeconfig (default: a temporary folder);
    /// each further target of the run (parallel workers, `diff`'s other
    /// targets) writes in DIR/target-N.
    #[arg(long, value_name = "DIR")]
    emulator_dir: Option<PathBuf>,
    /// kube target: the kubeconfig (default: $KUBECONFIG or ~/.kube/config).
    #[arg(long, value_name = "FILE")]
    kubeconfig: Option<PathBuf>,
    /// kube target: the cluster DNS address to query (default: a port-forward
    /// to a kube-dns Pod of the resolver's cluster, DNS over TCP).
    #[arg(long, value_name = "ADDR")]
    dns: Option<SocketAddr>,
    /// kube target: print what would be created and deleted, change nothing.
    #[arg(long)]
    dry_run: bool,
    /// container target: a Corefile for every scenario instead of each scenario's own.
    #[arg(long, value_name = "FILE")]
    corefile: Option<PathBuf>,
    /// container target: `coredns` (-conf FILE) or `mcsdns` (serve ...); guessed from the image name.
    #[arg(long, value_name = "STYLE")]
    container_style: Option<String>,
    /// container target: an argument replacing the style's (repeatable); {port},
    /// {kubeconfig}, {context}, {corefile} and {profile} are filled in.
    #[arg(long = "container-arg", value_name = "ARG", allow_hyphen_values = true)]
    container_args: Vec<String>,
    /// container target: an environment variable KEY=VALUE (repeatable).
    #[arg(long = "container-env", value_name = "KEY=VALUE")]
    container_env: Vec<String>,
    /// container target: an extra bind mount HOST:PATH (repeatable).
    #[arg(long = "container-mount", value_name = "HOST:PATH")]
    container_mounts: Vec<String>,
    /// container target: the DNS port the image listens on, if it cannot be told one.
    #[arg(long, value_name = "PORT")]
    dns_port: Option<u16>,
}

#[derive(Args)]
struct DiffArgs {
    #[command(flatten)]
    scenarios: ScenarioArgs,
    /// A target (at least two; the first is the baseline, run twice to find unstable answers).
    #[arg(long = "target", required = true, num_args = 1)]
    targets: Vec<String>,
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
    external: ExternalArgs,
}

#[derive(Args)]
struct ConformanceArgs {
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
    external: ExternalArgs,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
enum DiffFormat {
    /// The Markdown report.
    Markdown,
    /// The JSON report.
    Json,
}

#[derive(Args)]
struct LintArgs {
    /// Scenario files or folders.
    #[arg(default_value = "scenarios")]
    paths: Vec<PathBuf>,
}

#[derive(Args)]
struct BundleArgs {
    /// The scenario file.
    scenario: PathBuf,
    /// Where to write the bundle.
    #[arg(long, short, default_value = "mcsdns-bundle.json")]
    output: PathBuf,
}

#[derive(Args)]
struct ReplayArgs {
    /// The bundle file.
    bundle: PathBuf,
}

#[derive(Args)]
struct WorldArgs {
    /// World folder.
    #[arg(long, value_name = "DIR")]
    manifests: PathBuf,
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("MCSDNS_LOG")
                .unwrap_or_else(|_| "info,kube_runtime=error,kube_client=error".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Run(a) => run_suite(a),
        Command::Lint(a) => run_lint(a),
        Command::Schema => {
            println!("{}", mcsdns::scenario::schema());
            Ok(ExitCode::SUCCESS)
        }
        Command::Bundle(a) => run_bundle(a),
        Command::Replay(a) => run_replay(a),
        Command::Serve(a) => run_serve(a),
        Command::Apiserver(a) => run_apiserver(a),
        Command::Diff(a) => run_diff(a),
        Command::Conformance(a) => run_conformance(a),
        Command::Query(a) => run_query(a),
        Command::World(a) => run_world(a),
        Command::Zone(a) => run_zone(a),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("{e:?}");
            ExitCode::from(2)
        }
    }
}

fn resolver_config(args: &ResolverArgs) -> Result<ResolverConfig> {
    let order: Vec<PluginKind> = if args.plugin_order.is_empty() {
        STOCK_ORDER.to_vec()
    } else {
        args.plugin_order.clone()
    };
    let mut config = match &args.corefile {
        Some(path) => ResolverConfig::read(path, args.profile, &order)?,
        None => ResolverConfig::default_for(args.profile),
    };
    if let Some(ttl) = args.ttl {
        config = config.with_ttl(ttl);
    }
    for ig in &config.ignored {
        tracing::debug!(directive = %ig.name, line = ig.line, "{}", ig.note);
    }
    Ok(config)
}

fn load(args: &ResolverArgs) -> Result<(ResolverConfig, ClusterView)> {
    let (Some(manifests), Some(name)) = (&args.manifests, &args.cluster) else {
        return Err(miette::miette!("give --manifests and --cluster"));
    };
    let config = resolver_config(args)?;
    let world = World::load(manifests)?;
    let cluster = world.cluster(manifests, name)?;
    Ok((config, ClusterView::from_state(cluster)))
}

fn run_serve(args: ServeArgs) -> Result<ExitCode> {
    let runtime = tokio::runtime::Runtime::new().into_diagnostic()?;
    runtime.block_on(async {
        let (snapshot, what) = match &args.resolver.kubeconfig {
            None => {
                let (config, view) = load(&args.resolver)?;
                let what = format!(
                    "cluster {}",
                    args.resolver.cluster.as_deref().unwrap_or_default()
                );
                (
                    SharedSnapshot::new(Snapshot {
                        config: config.into(),
                        view,
                    }),
                    what,
                )
            }
            Some(path) => {
                use mcsdns::cluster::follow;
                let config = resolver_config(&args.resolver)?;
                let client = follow::client(path, args.context.as_deref(), args.user.as_deref())
                    .await
                    .into_diagnostic()?;
                let state = follow::start(&client, args.sync_timeout).await;
                let view = state.lock().map(|s| s.view.clone()).unwrap_or_default();
                let snapshot = SharedSnapshot::new(Snapshot {
                    config: config.into(),
                    view,
                });
                follow::publish(state, snapshot.clone());
                let what = format!(
                    "context {} of {}",
                    args.context.as_deref().unwrap_or("(current)"),
                    path.display()
                );
                (snapshot, what)
            }
        };
        let mut running = serve(args.listen, snapshot)
            .await
            .into_diagnostic()
            .wrap_err_with(|| format!("cannot listen on {}", args.listen))?;
        eprintln!(
            "mcsdns: serving {what} ({} profile) on {} (UDP and TCP); Ctrl-C stops",
            args.resolver.profile, running.addr
        );
        tokio::select! {
            r = running.block_until_done() => r.into_diagnostic()?,
            _ = tokio::signal::ctrl_c() => {
                eprintln!("mcsdns: stopping");
                running.shutdown().await;
            }
        }
        Ok(ExitCode::SUCCESS)
    })
}

fn run_query(args: QueryArgs) -> Result<ExitCode> {
    let (config, view) = load(&args.resolver)?;
    let qtype: RecordType = args
        .qtype
        .to_ascii_uppercase()
        .parse()
        .map_err(|_| miette::miette!("unknown record type {:?}", args.qtype))?;
    let question = Question::parse(&args.name, qtype)
        .map_err(|e| miette::miette!("invalid name {:?}: {e}", args.name))?;
    let outcome = answer(&config, &view, &question);
    print!("{}", render(&question, &outcome));
    Ok(ExitCode::SUCCESS)
}

fn run_world(args: WorldArgs) -> Result<ExitCode> {
    let world = World::load(&args.manifests)?;
    for (name, cluster) in &world.clusters {
        println!("cluster {name}");
        for stored in cluster.objects.values() {
            let origin = stored
                .origin
                .as_ref()
                .map_or("built in".to_owned(), |o| o.to_string());
            println!("  {:<50} {origin}", stored.resource.key().to_string());
        }
        for (other, origin) in &cluster.others {
            println!(
                "  {:<50} {origin} (not used for DNS)",
                format!("{} {}", other.kind, other.name)
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn run_zone(args: ZoneArgs) -> Result<ExitCode> {
    let (config, view) = load(&args.resolver)?;
    let mut zone = hickory_proto::rr::Name::from_ascii(&args.zone)
        .map_err(|e| miette::miette!("invalid zone {:?}: {e}", args.zone))?;
    zone.set_fqdn(true);
    print!(
        "{}",
        mcsdns::resolver::export::zone_file(&config, &view, &zone.to_lowercase())
    );
    Ok(ExitCode::SUCCESS)
}

/// The suite root a path belongs to: the nearest folder at or above it that
/// holds `scenario.schema.json` (so ids and snapshots do not depend on which
/// subfolder was run), else the folder itself.
fn suite_root(path: &std::path::Path) -> PathBuf {
    let start = if path.is_dir() {
        path.to_owned()
    } else {
        path.parent().map(|p| p.to_owned()).unwrap_or_default()
    };
    start
        .ancestors()
        .find(|d| d.join("scenario.schema.json").is_file())
        .map_or(start.clone(), |d| d.to_owned())
}

fn load_scenarios(paths: &[PathBuf]) -> Result<Vec<(PathBuf, mcsdns::scenario::Scenario)>> {
    let mut all = Vec::new();
    let mut errors = Vec::new();
    for p in paths {
        let root = suite_root(p);
        let files = mcsdns::run::suite::discover(p)
            .into_diagnostic()
            .wrap_err_with(|| format!("cannot read scenarios from {}", p.display()))?;
        let (ok, errs) = mcsdns::run::suite::load_all(&files, &root);
        all.extend(ok.into_iter().map(|s| (root.clone(), s)));
        errors.extend(errs);
    }
    if !errors.is_empty() {
        let n = errors.len();
        for e in errors {
            eprintln!("{:?}", miette::Report::new(e));
        }
        return Err(miette::miette!(
            "{n} scenario file(s) could not be loaded; nothing was run"
        ));
    }
    Ok(all)
}

impl ScenarioArgs {
    /// Loads the scenarios under `paths` that pass the filters, each with
    /// its suite root; none matching is an error.
    fn load(&self) -> Result<Vec<(PathBuf, mcsdns::scenario::Scenario)>> {
        let selection = mcsdns::run::suite::Selection {
            filters: self.filter.clone(),
            tags: self.tag.clone(),
        };
        let chosen: Vec<_> = load_scenarios(&self.paths)?
            .into_iter()
            .filter(|(_, s)| selection.matches(s))
            .collect();
        if chosen.is_empty() {
            return Err(miette::miette!("no scenario matches the filters"));
        }
        Ok(chosen)
    }
}

impl ExternalArgs {
    fn options(&self) -> mcsdns::target::spec::TargetOptions {
        mcsdns::target::spec::TargetOptions {
            external: mcsdns::target::emulated::EmulatedOptions {
                settle: self.settle,
                start_timeout: self.start_timeout,
                dir: self.emulator_dir.clone(),
                exec: self.exec.clone(),
                max_wait: self.max_wait,
                ..Default::default()
            },
            kubeconfig: self.kubeconfig.clone(),
            dns: self.dns,
            dry_run: self.dry_run,
            container: Some(mcsdns::target::peer::container::ContainerOptions {
                image: String::new(),
                style: match self.container_style.as_deref() {
                    Some("coredns") => Some(mcsdns::target::peer::container::Style::Coredns),
                    Some("mcsdns") => Some(mcsdns::target::peer::container::Style::Mcsdns),
                    _ => None,
                },
                corefile: self.corefile.clone(),
                args: (!self.container_args.is_empty()).then(|| self.container_args.clone()),
                env: self
                    .container_env
                    .iter()
                    .filter_map(|kv| {
                        kv.split_once('=')
                            .map(|(k, v)| (k.to_owned(), v.to_owned()))
                    })
                    .collect(),
                mounts: self
                    .container_mounts
                    .iter()
                    .filter_map(|m| {
                        m.split_once(':')
                            .map(|(h, c)| (PathBuf::from(h), c.to_owned()))
                    })
                    .collect(),
                port: self.dns_port,
                start_timeout: self.start_timeout,
            }),
        }
    }
}

fn run_conformance(args: ConformanceArgs) -> Result<ExitCode> {
    use mcsdns::report::conformance;
    let spec = mcsdns::target::spec::TargetSpec::parse(&args.target)
        .map_err(|e| miette::miette!("--target {:?}: {e}", args.target))?;
    let expected = match &args.expected_failures {
        Some(p) => conformance::read_expected(p).map_err(|e| miette::miette!("{e}"))?,
        None => Vec::new(),
    };
    let scenarios: Vec<mcsdns::scenario::Scenario> = load_scenarios(&args.paths)?
        .into_iter()
        .map(|(_, s)| s)
        .filter(|s| s.clause.is_some())
        .collect();
    if scenarios.is_empty() {
        return Err(miette::miette!("no scenario names a requirement (clause)"));
    }
    if spec != mcsdns::target::spec::TargetSpec::Reference {
        catch_interrupts();
    }
    let mut target = spec.make(&args.external.options());
    let bar = indicatif::ProgressBar::new(scenarios.len() as u64);
    let results: Vec<mcsdns::run::ScenarioResult> = scenarios
        .iter()
        .map(|s| {
            bar.set_message(s.id.clone());
            let r = mcsdns::run::run_scenario(s, target.as_mut());
            bar.inc(1);
            r
        })
        .collect();
    bar.finish_and_clear();
    let report = conformance::build(&target.name(), &target.version(), &results, &expected);
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

fn run_diff(args: DiffArgs) -> Result<ExitCode> {
    use mcsdns::target::spec::TargetSpec;
    if args.targets.len() < 2 {
        return Err(miette::miette!("give at least two --target"));
    }
    let specs: Vec<TargetSpec> = args
        .targets
        .iter()
        .map(|t| TargetSpec::parse(t).map_err(|e| miette::miette!("--target {t:?}: {e}")))
        .collect::<Result<_>>()?;
    let known = match &args.known {
        Some(p) => mcsdns::run::diff::read_known(p).map_err(|e| miette::miette!("{e}"))?,
        None => Vec::new(),
    };
    let scenarios: Vec<mcsdns::scenario::Scenario> =
        args.scenarios.load()?.into_iter().map(|(_, s)| s).collect();
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
    catch_interrupts();
    let options = args.external.options();
    let mut targets: Vec<Box<dyn mcsdns::target::Target>> =
        specs.iter().map(|s| s.make(&options)).collect();
    let variants = mcsdns::run::diff::Variants {
        plain: &scenarios,
        profiled: args.profile.map(|_| profiled.as_slice()),
        uses_profile: specs
            .iter()
            .map(|s| matches!(s, TargetSpec::Reference | TargetSpec::Serve(_)))
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
        std::fs::write(args.reports.join("diff.md"), &md).into_diagnostic()?;
        std::fs::write(args.reports.join("diff.json"), &json).into_diagnostic()?;
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

/// First Ctrl-C: finish the current step, clean up and report; second: exit.
fn catch_interrupts() {
    std::thread::spawn(|| {
        let Ok(rt) = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
        else {
            return;
        };
        rt.block_on(async {
            if tokio::signal::ctrl_c().await.is_ok() {
                eprintln!("mcsdns: interrupted; stopping after this step and cleaning up (Ctrl-C again to quit now)");
                mcsdns::run::interrupt();
            }
            if tokio::signal::ctrl_c().await.is_ok() {
                mcsdns::target::emulated::stop_exec_commands();
                std::process::exit(130);
            }
        });
    });
}

fn run_apiserver(args: ApiserverArgs) -> Result<ExitCode> {
    use mcsdns::cluster::emulator::Emulator;
    let (world, identity) = match (&args.scenario, &args.manifests) {
        (Some(path), _) => {
            let s = mcsdns::scenario::load_scenario(path, &suite_root(path))?;
            (s.world, s.resolver.identity)
        }
        (None, Some(dir)) => (
            World::load(dir)?,
            mcsdns::scenario::load::DEFAULT_IDENTITY.to_owned(),
        ),
        (None, None) => return Err(miette::miette!("give --scenario or --manifests")),
    };
    let identity = args.identity.unwrap_or(identity);
    let runtime = tokio::runtime::Runtime::new().into_diagnostic()?;
    runtime.block_on(async {
        let mut emulator = Emulator::new(&identity).into_diagnostic()?;
        for (name, state) in &world.clusters {
            emulator.add_cluster(name, state).await.into_diagnostic()?;
        }
        let path = emulator.write(&args.dir, None).into_diagnostic()?;
        for (name, e) in emulator.clusters() {
            println!(
                "cluster {name}: https://{} (contexts {name}, resolver@{name}), http://{} (context {name}-http), http://{} (context resolver@{name}-http)",
                e.https, e.http, e.http_resolver
            );
        }
        println!("resolver user: {identity}");
        println!("kubeconfig: {}", path.display());
        eprintln!(
            "mcsdns: serving; try `kubectl --kubeconfig {} --context {} get serviceimports -A`; Ctrl-C stops",
            path.display(),
            world.clusters.keys().next().map_or("", String::as_str)
        );
        tokio::signal::ctrl_c().await.into_diagnostic()?;
        eprintln!("mcsdns: stopping");
        Ok(ExitCode::SUCCESS)
    })
}

fn run_suite(args: RunArgs) -> Result<ExitCode> {
    use mcsdns::run::{Status, record, suite};
    use mcsdns::target::Target;
    let spec = mcsdns::target::spec::TargetSpec::parse(&args.target)
        .map_err(|e| miette::miette!("--target {:?}: {e}", args.target))?;
    let (roots, scenarios): (Vec<PathBuf>, Vec<_>) = args.scenarios.load()?.into_iter().unzip();
    let jobs = args
        .jobs
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    // One outside server answers for one scenario at a time.
    let jobs = if spec.is_shared() { 1 } else { jobs };
    if let mcsdns::target::spec::TargetSpec::Kube(contexts) = &spec
        && args.external.dry_run
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
    if spec != mcsdns::target::spec::TargetSpec::Reference {
        catch_interrupts();
    }
    let external = args.external.options();
    let bar = indicatif::ProgressBar::new(scenarios.len() as u64);
    bar.set_style(
        indicatif::ProgressStyle::with_template("{bar:30} {pos}/{len} {msg}")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    let make = || -> Box<dyn Target> { spec.make(&external) };
    let mut result = suite::run_all(&scenarios, jobs, &make, &|r| {
        bar.set_message(r.id.clone());
        bar.inc(1);
    });
    bar.finish_and_clear();
    // Snapshots hold the reference resolver's transcripts; other targets
    // are judged by the scenarios' expectations alone.
    let reference = spec == mcsdns::target::spec::TargetSpec::Reference;
    let mode = match (args.record, reference) {
        (true, snapshots) => record::SnapshotMode::Record { snapshots },
        (false, true) => record::SnapshotMode::Check,
        (false, false) => record::SnapshotMode::Ignore,
    };
    let mut rerun = |s: &mcsdns::scenario::Scenario| mcsdns::run::run_scenario(s, make().as_mut());
    for line in record::apply(mode, &mut result.scenarios, &scenarios, &roots, &mut rerun)? {
        eprintln!("{line}");
    }
    match args.format {
        Format::Human => print!("{}", mcsdns::report::human::render(&result)),
        Format::Json => println!("{}", mcsdns::report::json(&result)),
        Format::Junit => println!("{}", mcsdns::report::junit::render(&result)),
        Format::Markdown => println!("{}", mcsdns::report::markdown::render(&result)),
    }
    if !args.no_reports {
        let written = mcsdns::report::write_all(&result, &args.reports)
            .into_diagnostic()
            .wrap_err_with(|| format!("cannot write reports to {}", args.reports.display()))?;
        if args.format == Format::Human {
            let names: Vec<String> = written.iter().map(|p| p.display().to_string()).collect();
            println!("reports: {}", names.join(", "));
        }
    }
    Ok(if result.count(Status::Failed) > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

fn run_lint(args: LintArgs) -> Result<ExitCode> {
    let loaded = load_scenarios(&args.paths)?;
    let mut warnings = 0;
    for (_, s) in &loaded {
        for w in mcsdns::scenario::lint::lint(s) {
            println!("{w}");
            warnings += 1;
        }
    }
    println!("{} scenario(s), {warnings} warning(s)", loaded.len());
    Ok(ExitCode::SUCCESS)
}

fn run_bundle(args: BundleArgs) -> Result<ExitCode> {
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

fn run_replay(args: ReplayArgs) -> Result<ExitCode> {
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
