//! Runs `mcsdns serve` and `mcsdns apiserver`: serves the reference
//! resolver on a socket, or a world's clusters as Kubernetes APIs, until Ctrl-C.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;
use mcsdns::model::World;
use mcsdns::resolver::ready::silence;
use mcsdns::resolver::server::{SharedSnapshot, Snapshot, serve_with, udp_workers};
use mcsdns::run::suite::suite_root;
use mcsdns::target::peer::lighthouse::CLUSTER_ID_ENV;
use miette::{IntoDiagnostic, Result, WrapErr};

use super::inspect::{ResolverArgs, load, resolver_config};

#[derive(Args)]
pub struct ServeArgs {
    #[command(flatten)]
    resolver: ResolverArgs,
    /// Where to listen, UDP and TCP: `PORT` (on 127.0.0.1),
    /// `localhost:PORT` or `ADDR:PORT`.
    #[arg(long, default_value = "127.0.0.1:5353", value_parser = parse_listen)]
    listen: SocketAddr,
    /// The kubeconfig context (with --kubeconfig; default: its current one).
    #[arg(long, requires = "kubeconfig")]
    context: Option<String>,
    /// The kubeconfig user, instead of the context's (with --kubeconfig).
    #[arg(long, requires = "kubeconfig")]
    user: Option<String>,
    /// How long to wait for the first list of every source before serving.
    #[arg(long, default_value = "5s", value_parser = super::parse_duration)]
    sync_timeout: std::time::Duration,
    /// Threads answering UDP, each taking in a batch of queries per system
    /// call (default: one per core).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..=1024))]
    udp_workers: Option<u16>,
}

#[derive(Args)]
pub struct ApiserverArgs {
    /// Serve this scenario's world (its resolver's identity gets a token).
    #[arg(long, value_name = "FILE", required_unless_present = "manifests")]
    scenario: Option<PathBuf>,
    /// Serve this world folder instead (one subfolder per cluster).
    #[arg(long, value_name = "DIR", conflicts_with = "scenario")]
    manifests: Option<PathBuf>,
    /// The identity of the `resolver` user (default: the scenario's, else CoreDNS's service account).
    #[arg(long)]
    identity: Option<String>,
    /// Where to write `kubeconfig` and `ca.crt` (0600: they hold tokens).
    /// Created 0700 if missing; a folder another user owns or could change
    /// is refused.
    #[arg(long, default_value = ".mcsdns/apiserver")]
    dir: PathBuf,
    /// Also serve each cluster over plain HTTP on loopback, WITHOUT
    /// AUTHENTICATION: one port where every caller is the admin (contexts
    /// `NAME-http`) and one where every caller is the resolver
    /// (`resolver@NAME-http`). Any local process, of any user, that reaches
    /// the admin's port may read and change everything. Only for tools that
    /// cannot use TLS, on a machine whose local users are all trusted.
    #[arg(long)]
    insecure_http: bool,
    /// Listen on fixed ports from PORT on, three per cluster (HTTPS, HTTP,
    /// HTTP as the resolver) in cluster order, instead of free ones.
    #[arg(long, value_name = "PORT")]
    port: Option<u16>,
}

/// `PORT`, `localhost:PORT` or `ADDR:PORT`; a bare port and `localhost`
/// mean 127.0.0.1.
pub fn parse_listen(s: &str) -> Result<SocketAddr, String> {
    let loopback = |port: &str| -> Result<SocketAddr, String> {
        port.parse::<u16>()
            .map(|p| SocketAddr::from(([127, 0, 0, 1], p)))
            .map_err(|_| format!("{port:?} is not a port (0-65535)"))
    };
    if s.bytes().all(|b| b.is_ascii_digit()) {
        return loopback(s);
    }
    if let Some(port) = s.strip_prefix("localhost:") {
        return loopback(port);
    }
    s.parse().map_err(|_| {
        format!(
            "{s:?} is not PORT, localhost:PORT or ADDR:PORT (such as 127.0.0.1:5353 or [::1]:5353)"
        )
    })
}

/// Serves until Ctrl-C.
pub fn run(args: ServeArgs) -> Result<ExitCode> {
    let runtime = tokio::runtime::Runtime::new().into_diagnostic()?;
    runtime.block_on(async {
        let (snapshot, what) = match &args.resolver.kubeconfig {
            None => {
                let (config, view) = load(&args.resolver)?;
                let what = format!(
                    "cluster {}",
                    args.resolver.cluster.as_deref().unwrap_or_default()
                );
                // A fixed world never lists what its RBAC forbids: the
                // server never starts, as CoreDNS's would not.
                if let Some(why) = silence(&config, &view) {
                    eprintln!(
                        "mcsdns: not serving {what} ({} profile): {why}; the world of --manifests \
                         does not change, so no socket opens; Ctrl-C stops",
                        args.resolver.profile
                    );
                    tokio::signal::ctrl_c().await.into_diagnostic()?;
                    eprintln!("mcsdns: stopping");
                    return Ok(ExitCode::SUCCESS);
                }
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
                // Lighthouse's local cluster id comes from its environment
                // (gateway/controller.go:64); the lighthouse profile reads it
                // the same way.
                if let Ok(id) = std::env::var(CLUSTER_ID_ENV)
                    && let Ok(mut s) = state.lock()
                {
                    s.view.cluster = id.as_str().into();
                }
                // The profile's start-up block: CoreDNS's standalone plugin
                // and Lighthouse open no socket until they have listed.
                if !wait_until_started(&state, &config, args.resolver.profile).await {
                    eprintln!("mcsdns: stopping");
                    return Ok(ExitCode::SUCCESS);
                }
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
        let workers = args.udp_workers.map_or_else(udp_workers, usize::from);
        let mut running = serve_with(args.listen, snapshot, workers)
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

/// Waits while the profile keeps the server from starting (its reason
/// logged each time it changes); `false` when Ctrl-C came first.
async fn wait_until_started(
    state: &mcsdns::cluster::watch::SharedState,
    config: &mcsdns::resolver::ResolverConfig,
    profile: mcsdns::resolver::Profile,
) -> bool {
    let mut said: Option<String> = None;
    loop {
        let why = state.lock().ok().and_then(|s| silence(config, &s.view));
        let Some(why) = why else {
            if said.is_some() {
                eprintln!("mcsdns: listed at last; opening the sockets");
            }
            return true;
        };
        if said.as_ref() != Some(&why) {
            eprintln!("mcsdns: not serving yet ({profile} profile): {why}");
            said = Some(why);
        }
        tokio::select! {
            _ = tokio::time::sleep(std::time::Duration::from_millis(200)) => {}
            _ = tokio::signal::ctrl_c() => return false,
        }
    }
}

/// The world of `--scenario FILE` with its resolver's identity, or of
/// `--manifests DIR` with CoreDNS's service account; `None` when neither is
/// given.
pub fn world_and_identity(
    scenario: Option<&std::path::Path>,
    manifests: Option<&std::path::Path>,
) -> Result<Option<(World, String)>> {
    Ok(match (scenario, manifests) {
        (Some(path), _) => {
            let s = mcsdns::scenario::load_scenario(path, &suite_root(path))?;
            Some((s.world, s.resolver.identity))
        }
        (None, Some(dir)) => Some((
            World::load(dir)?,
            mcsdns::scenario::load::DEFAULT_IDENTITY.to_owned(),
        )),
        (None, None) => None,
    })
}

/// Serves the APIs until Ctrl-C.
pub fn apiserver(args: ApiserverArgs) -> Result<ExitCode> {
    use mcsdns::cluster::emulator::Emulator;
    let (world, identity) =
        world_and_identity(args.scenario.as_deref(), args.manifests.as_deref())?
            .ok_or_else(|| miette::miette!("give --scenario or --manifests"))?;
    let identity = args.identity.unwrap_or(identity);
    let runtime = tokio::runtime::Runtime::new().into_diagnostic()?;
    runtime.block_on(async {
        let mut emulator = Emulator::new(&identity).into_diagnostic()?;
        emulator.serve_insecure_http(args.insecure_http);
        if let Some(port) = args.port {
            emulator = emulator.with_ports(port);
        }
        for (name, state) in &world.clusters {
            emulator.add_cluster(name, state).await.into_diagnostic()?;
        }
        let path = emulator.write(&args.dir, None).into_diagnostic()?;
        for (name, e) in emulator.clusters() {
            match (e.http, e.http_resolver) {
                (Some(admin), Some(resolver)) => println!(
                    "cluster {name}: https://{} (contexts {name}, resolver@{name}), http://{admin} (context {name}-http, no authentication: anyone local is the admin), http://{resolver} (context resolver@{name}-http)",
                    e.https
                ),
                _ => println!(
                    "cluster {name}: https://{} (contexts {name}, resolver@{name})",
                    e.https
                ),
            }
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
