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
    /// Ask for the PTR record of ADDR, as `dig -x`.
    #[arg(short = 'x', value_name = "ADDR")]
    reverse: Option<std::net::IpAddr>,
    /// The name, the record type (A, AAAA, SRV, TXT, SOA, NS, PTR, ANY, ...;
    /// default A) and dig's display options: `+short` (the answers' data
    /// only), `+noall` with `+answer`, `+authority` or `+additional`.
    #[arg(value_name = "NAME [TYPE] [+OPTION]")]
    words: Vec<String>,
}

/// What of a reply `query` prints, as dig's display options choose.
#[derive(Debug, Default, PartialEq, Eq)]
struct Display {
    short: bool,
    noall: bool,
    answer: bool,
    authority: bool,
    additional: bool,
}

/// The question and display options of `query`'s words.
fn question_of(args: &QueryArgs) -> Result<(Question, Display)> {
    let mut display = Display::default();
    let mut plain = Vec::new();
    for w in &args.words {
        match w.strip_prefix('+') {
            Some("short") => display.short = true,
            Some("noall") => display.noall = true,
            Some("answer") => display.answer = true,
            Some("authority") => display.authority = true,
            Some("additional") => display.additional = true,
            Some(other) => {
                return Err(miette::miette!(
                    "unknown option +{other}: mcsdns query knows +short, +noall, +answer, +authority and +additional"
                ));
            }
            None => plain.push(w.as_str()),
        }
    }
    let (name, qtype) = match (args.reverse, plain.as_slice()) {
        (Some(ip), []) => (mcsdns::resolver::zone::reverse_name(ip).to_string(), "PTR"),
        (Some(_), _) => return Err(miette::miette!("give either -x ADDR or a name, not both")),
        (None, [name]) => (name.to_string(), "A"),
        (None, [name, qtype]) => (name.to_string(), *qtype),
        (None, []) => return Err(miette::miette!("give a name to ask for (or -x ADDR)")),
        (None, more) => {
            return Err(miette::miette!(
                "expected NAME [TYPE], got {} words: {}",
                more.len(),
                more.join(" ")
            ));
        }
    };
    let qtype: RecordType = qtype
        .to_ascii_uppercase()
        .parse()
        .map_err(|_| miette::miette!("unknown record type {qtype:?}"))?;
    let question =
        Question::parse(&name, qtype).map_err(|e| miette::miette!("invalid name {name:?}: {e}"))?;
    Ok((question, display))
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
    // What CoreDNS knows but mcsdns does not simulate is listed, never
    // silently dropped.
    if let Some(path) = &args.corefile {
        for ig in &config.ignored {
            eprintln!(
                "note: {}:{}: {}: {}",
                path.display(),
                ig.line,
                ig.name,
                ig.note
            );
        }
    }
    Ok(config)
}

/// The configuration and the cluster's view from `--manifests`.
pub fn load(args: &ResolverArgs) -> Result<(ResolverConfig, ClusterView)> {
    let (Some(manifests), Some(name)) = (&args.manifests, &args.cluster) else {
        return Err(miette::miette!("give --manifests and --cluster"));
    };
    let config = resolver_config(args)?;
    let mut world = World::load(manifests)?;
    // The error that names the clusters there are.
    world.cluster(manifests, name)?;
    let cluster = world
        .clusters
        .remove(name.as_str())
        .unwrap_or_else(|| mcsdns::model::ClusterState::new(name.as_str()));
    Ok((
        config,
        ClusterView::listed_as(&cluster, mcsdns::scenario::load::DEFAULT_IDENTITY),
    ))
}

/// `query`'s exit code when the resolver would send no reply: dig's for
/// "no servers could be reached".
pub const NO_REPLY: u8 = 9;

/// Answers one question, printed as dig does, with the diagnoses that
/// explain the answer under it as `;;` lines.
pub fn query(args: QueryArgs) -> Result<ExitCode> {
    let (question, display) = question_of(&args)?;
    let (Some(manifests), Some(name)) = (&args.resolver.manifests, &args.resolver.cluster) else {
        return Err(miette::miette!("give --manifests and --cluster"));
    };
    let config = resolver_config(&args.resolver)?;
    let world = World::load(manifests)?;
    let view = ClusterView::listed_as(
        world.cluster(manifests, name)?,
        mcsdns::scenario::load::DEFAULT_IDENTITY,
    );
    let outcome = answer(&config, &view, &question);
    let explained = explain(&args.resolver, &world, config, &question, &outcome);
    let reply = outcome.reply();
    if display.short {
        for r in reply.map(|r| r.answers.as_slice()).unwrap_or_default() {
            println!("{}", mcsdns::resolver::text::rdata_text(r));
        }
        eprint!("{explained}");
    } else if display.noall {
        let mut records = Vec::new();
        if let Some(r) = reply {
            for (on, section) in [
                (display.answer, &r.answers),
                (display.authority, &r.authorities),
                (display.additional, &r.additionals),
            ] {
                if on {
                    records.extend(section.iter());
                }
            }
        }
        for r in records {
            println!("{}", mcsdns::resolver::text::record_line(r));
        }
        eprint!("{explained}");
    } else {
        print!("{}", render(&question, &outcome));
        print!("{explained}");
    }
    // A resolver that sends nothing (CoreDNS's standalone plugin before
    // ServiceImports are listed, Lighthouse before its informers sync):
    // dig's own exit code when no server replies.
    let code = match &outcome {
        mcsdns::resolver::Outcome::Silent(why) => {
            if display.short || display.noall {
                eprintln!(";; no response: {why}");
            }
            ExitCode::from(NO_REPLY)
        }
        _ => ExitCode::SUCCESS,
    };
    // The process ends here: freeing a large world object by object would
    // only delay the exit (a tenth of a second at 100,000 objects).
    std::mem::forget(outcome);
    std::mem::forget(view);
    std::mem::forget(world);
    Ok(code)
}

/// The diagnoses of an answer as dig-like `;;` lines, and why a refusal
/// came: no zone of the Corefile serves the name.
fn explain(
    args: &ResolverArgs,
    world: &World,
    config: ResolverConfig,
    question: &Question,
    outcome: &mcsdns::resolver::Outcome,
) -> String {
    use mcsdns::check::diagnose::{self, Context};
    use mcsdns::scenario::{Client, ResolverSetup, load::default_search};
    let cluster = args.cluster.clone().unwrap_or_default();
    let refused = outcome
        .reply()
        .is_some_and(|r| r.rcode == hickory_proto::op::ResponseCode::Refused);
    let zones: Vec<String> = config
        .servers
        .iter()
        .flat_map(|s| s.zones.iter().map(|z| z.to_string()))
        .collect();
    let setup = ResolverSetup {
        cluster: cluster.clone(),
        order: args.plugin_order.clone(),
        identity: mcsdns::scenario::load::DEFAULT_IDENTITY.into(),
        corefile: None,
        config,
    };
    let client = Client {
        cluster,
        namespace: "default".into(),
        search: default_search("default"),
        ndots: 5,
        libc: Default::default(),
    };
    let cx = Context {
        world,
        resolver: &setup,
        client: &client,
        controllers: &[],
        overwritten: &[],
    };
    let mut out = String::new();
    for d in diagnose::query(&cx, question, outcome) {
        out.push_str(&d.comment());
    }
    if refused {
        out.push_str(&format!(
            ";; REFUSED: no server block of {} serves {} (served: {}); mcsdns never recurses\n",
            args.corefile
                .as_ref()
                .map_or("the default Corefile".into(), |p| p.display().to_string()),
            question.name,
            zones.join(" ")
        ));
    }
    if !out.is_empty() {
        out.insert(0, '\n');
    }
    out
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
