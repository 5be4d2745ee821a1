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
    /// Serve one cluster's view of a world over UDP and TCP until Ctrl-C.
    Serve(ServeArgs),
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
    #[arg(long, value_name = "DIR")]
    manifests: PathBuf,
    /// The cluster the resolver runs in (a subfolder of --manifests).
    #[arg(long, value_name = "NAME")]
    cluster: String,
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
                .unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Serve(a) => run_serve(a),
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

fn load(args: &ResolverArgs) -> Result<(ResolverConfig, ClusterView)> {
    let world = World::load(&args.manifests)?;
    let cluster = world.cluster(&args.manifests, &args.cluster)?;
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
    Ok((config, ClusterView::from_state(cluster)))
}

fn run_serve(args: ServeArgs) -> Result<ExitCode> {
    let (config, view) = load(&args.resolver)?;
    let runtime = tokio::runtime::Runtime::new().into_diagnostic()?;
    runtime.block_on(async {
        let snapshot = SharedSnapshot::new(Snapshot {
            config: config.into(),
            view,
        });
        let mut running = serve(args.listen, snapshot)
            .await
            .into_diagnostic()
            .wrap_err_with(|| format!("cannot listen on {}", args.listen))?;
        eprintln!(
            "mcsdns: serving cluster {} ({} profile) on {} (UDP and TCP); Ctrl-C stops",
            args.resolver.cluster, args.resolver.profile, running.addr
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
