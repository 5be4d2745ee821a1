//! Runs `mcsdns query`, `world` and `zone`: reads a world from manifests
//! and answers or prints it without any network.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;
use hickory_proto::rr::RecordType;
use mcsdns::model::World;
use mcsdns::resolver::config::{PluginKind, STOCK_ORDER};
use mcsdns::resolver::text::render;
use mcsdns::resolver::{ClusterView, Profile, Question, ResolverConfig, answer};
use miette::Result;

/// Which world and resolver set-up to use.
#[derive(Args)]
pub struct ResolverArgs {
    /// World folder: one subfolder per cluster holding Kubernetes YAML.
    #[arg(long, value_name = "DIR", required_unless_present = "kubeconfig")]
    pub manifests: Option<PathBuf>,
    /// The cluster the resolver runs in (a subfolder of --manifests).
    #[arg(long, value_name = "NAME", required_unless_present = "kubeconfig")]
    pub cluster: Option<String>,
    /// Learn the cluster from a Kubernetes API instead (serve only).
    #[arg(long, value_name = "FILE", conflicts_with_all = ["manifests", "cluster"])]
    pub kubeconfig: Option<PathBuf>,
    /// Corefile to read; without it, kubernetes serves cluster.local and
    /// multicluster serves clusterset.local, with no header plugin.
    #[arg(long, value_name = "FILE")]
    corefile: Option<PathBuf>,
    /// kep1645 follows the MCS DNS spec; coredns reproduces the CoreDNS plugin.
    #[arg(long, default_value = "kep1645")]
    pub profile: Profile,
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
pub struct QueryArgs {
    #[command(flatten)]
    resolver: ResolverArgs,
    /// The name to ask for.
    name: String,
    /// The record type (A, AAAA, SRV, TXT, SOA, NS, PTR, ANY, ...).
    #[arg(default_value = "A")]
    qtype: String,
}

#[derive(Args)]
pub struct WorldArgs {
    /// World folder.
    #[arg(long, value_name = "DIR")]
    manifests: PathBuf,
}

#[derive(Args)]
pub struct ZoneArgs {
    #[command(flatten)]
    resolver: ResolverArgs,
    /// The zone to print.
    #[arg(long, default_value = "clusterset.local")]
    zone: String,
}

/// The resolver's configuration: the Corefile given, or the default one.
pub fn resolver_config(args: &ResolverArgs) -> Result<ResolverConfig> {
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

/// The configuration and the cluster's view from `--manifests`.
pub fn load(args: &ResolverArgs) -> Result<(ResolverConfig, ClusterView)> {
    let (Some(manifests), Some(name)) = (&args.manifests, &args.cluster) else {
        return Err(miette::miette!("give --manifests and --cluster"));
    };
    let config = resolver_config(args)?;
    let world = World::load(manifests)?;
    let cluster = world.cluster(manifests, name)?;
    Ok((config, ClusterView::from_state(cluster)))
}

/// Answers one question, printed as dig does.
pub fn query(args: QueryArgs) -> Result<ExitCode> {
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

/// Lists each cluster's objects and where they came from.
pub fn world(args: WorldArgs) -> Result<ExitCode> {
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

/// Prints one zone as an RFC 1035 zone file.
pub fn zone(args: ZoneArgs) -> Result<ExitCode> {
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
