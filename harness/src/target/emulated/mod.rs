//! Drives a DNS server outside the process, reached over the wire, whose
//! world lives in the API emulator.
//!
//! The runner changes the world through the emulator's stores (so the
//! server's watches see ordinary API events) and asks its questions over
//! UDP/TCP. The server is either already running at an address the user
//! gives (`dns=ADDR`, optionally started once with `--exec`), or started
//! by the harness per scenario with the scenario's Corefile (`serve`,
//! `coredns`): see [`Server`].
//!
//! Such a server learns changes asynchronously, so checks are retried for
//! a while ([`Capabilities::settle`]) before they count as failures.

mod exec;
mod folder;
mod stale;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use self::exec::ExecCommand;
pub use self::exec::stop_exec_commands;
use self::folder::WorkDir;
use self::stale::AnswersSeen;
use super::peer::{self, Peer, PeerSetup, Started};
use super::{Answer, Capabilities, Events, Operation, Target, TargetError, unique_events};
use crate::client::wire;
use crate::cluster::emulator::{Emulator, RESOLVER_USER};
use crate::cluster::store::SharedApi;
use crate::model::ClusterState;
use crate::resolver::config::PluginKind;
use crate::resolver::corefile::Corefile;
use crate::resolver::{ClusterView, Outcome, Question, ResolverConfig};
use crate::scenario::Scenario;
use crate::scenario::{Change, Fault};

/// The emulator cluster that always holds the current scenario's resolver
/// cluster, for a server started once for the whole run.
pub const CURRENT: &str = "current";

/// Which DNS server answers.
pub enum Server {
    /// Already listening at this address (started by the user or by
    /// `--exec`): its configuration is its own.
    Fixed(SocketAddr),
    /// Started by the harness for each scenario.
    Managed(Box<dyn Peer>),
}

/// Options of an external target.
#[derive(Clone, Debug)]
pub struct EmulatedOptions {
    /// How long a failed check is retried while the server catches up.
    pub settle: Duration,
    /// How long to wait for a server to answer at start.
    pub start_timeout: Duration,
    /// How long to wait for one DNS reply.
    pub query_timeout: Duration,
    /// Where to write the kubeconfig and peer files (a temporary folder
    /// when `None`).
    pub dir: Option<PathBuf>,
    /// A shell command that starts a `Fixed` server once, with
    /// `KUBECONFIG` and `MCSDNS_CONTEXT` set.
    pub exec: Option<String>,
    /// The longest `advance` waited out in real time; longer ones fail.
    pub max_wait: Duration,
}

impl Default for EmulatedOptions {
    fn default() -> Self {
        EmulatedOptions {
            settle: Duration::from_secs(5),
            start_timeout: Duration::from_secs(20),
            query_timeout: Duration::from_secs(1),
            dir: None,
            exec: None,
            max_wait: Duration::from_secs(60),
        }
    }
}

/// A DNS server outside the process, its world in the API emulator.
pub struct EmulatedTarget {
    runtime: tokio::runtime::Runtime,
    emulator: Emulator,
    dir: WorkDir,
    kubeconfig: PathBuf,
    server: Server,
    options: EmulatedOptions,
    exec: Option<ExecCommand>,
    process: Option<Box<dyn Started>>,
    /// The scenario's resolver cluster and how it is configured.
    resolver: Option<ResolverState>,
    /// Whether the fixed server has answered once.
    ready: bool,
}

struct ResolverState {
    cluster: String,
    corefile: Option<Corefile>,
    config: ResolverConfig,
    order: Vec<PluginKind>,
    down_until: Option<Instant>,
    /// Each question's last answer, to tell a cached one.
    seen: AnswersSeen,
}

impl Drop for EmulatedTarget {
    fn drop(&mut self) {
        // The server first, then the command that started it, then its folder.
        self.process = None;
        self.exec = None;
    }
}

/// `what` failed, and why.
fn failed(what: &str, why: impl std::fmt::Display) -> TargetError {
    TargetError::failed(format!("{what}: {why}"))
}

impl EmulatedTarget {
    /// Starts the emulator (with the `current` cluster) and, for a fixed
    /// server with `exec`, the server.
    pub fn new(server: Server, options: EmulatedOptions) -> Result<EmulatedTarget, TargetError> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .map_err(|e| TargetError::failed(format!("cannot start a runtime: {e}")))?;
        let mut emulator = Emulator::new(crate::scenario::load::DEFAULT_IDENTITY)
            .map_err(|e| failed("cannot start the API emulator", e))?;
        runtime
            .block_on(emulator.add_cluster(CURRENT, &ClusterState::new(CURRENT)))
            .map_err(|e| failed("cannot start the API emulator", e))?;
        let dir = WorkDir::claim(options.dir.as_deref())?;
        let kubeconfig = emulator
            .write(dir.path(), Some(&format!("{RESOLVER_USER}@{CURRENT}")))
            .map_err(|e| failed("cannot write the kubeconfig", e))?;
        let mut target = EmulatedTarget {
            runtime,
            emulator,
            dir,
            kubeconfig,
            server,
            options,
            exec: None,
            process: None,
            resolver: None,
            ready: false,
        };
        if let (Server::Fixed(addr), Some(cmd)) = (&target.server, &target.options.exec) {
            let env = [
                ("KUBECONFIG", target.kubeconfig.display().to_string()),
                ("MCSDNS_KUBECONFIG", target.kubeconfig.display().to_string()),
                ("MCSDNS_CONTEXT", format!("{RESOLVER_USER}@{CURRENT}")),
                ("MCSDNS_LISTEN", addr.to_string()),
            ];
            let log = target.dir.path().join("exec.log");
            target.exec = Some(ExecCommand::start(cmd, &env, &log)?);
        }
        Ok(target)
    }

    /// The emulator's kubeconfig (context `resolver@current` follows the
    /// scenario's resolver cluster).
    pub fn kubeconfig(&self) -> &Path {
        &self.kubeconfig
    }

    fn api(&self, cluster: &str) -> Option<SharedApi> {
        self.emulator.api(cluster)
    }

    /// The stores a change of `cluster` goes to: the cluster's, and
    /// `current` when it is the resolver's cluster.
    fn stores_of(&self, cluster: &str) -> Vec<SharedApi> {
        let mut out: Vec<SharedApi> = self.api(cluster).into_iter().collect();
        if self.resolver.as_ref().is_some_and(|r| r.cluster == cluster)
            && let Some(c) = self.api(CURRENT)
        {
            out.push(c);
        }
        out
    }

    /// Waits (bounded) until every open watch has been handed its events,
    /// then a moment for the server to apply them.
    fn settle(&self) {
        let deadline = Instant::now() + Duration::from_secs(2);
        while Instant::now() < deadline {
            let pending = self
                .emulator
                .clusters()
                .values()
                .any(|e| e.api.lock().is_ok_and(|a| a.has_undelivered()));
            if !pending {
                break;
            }
            std::thread::sleep(Duration::from_millis(2));
        }
        std::thread::sleep(Duration::from_millis(5));
    }

    fn start_peer(&mut self) -> Result<(), TargetError> {
        let Server::Managed(peer) = &self.server else {
            return Ok(());
        };
        let Some(r) = &self.resolver else {
            return Err(TargetError::NotStarted);
        };
        self.process = None;
        // A free port can be taken between choosing it and the peer binding
        // it: try another.
        let mut attempt = 0;
        loop {
            attempt += 1;
            let listen = match peer.listen_port() {
                Some(port) => std::net::SocketAddr::from(([127, 0, 0, 1], port)),
                None => peer::free_port()?,
            };
            let setup = PeerSetup {
                listen,
                kubeconfig: &self.kubeconfig,
                context: format!("{RESOLVER_USER}@{}", r.cluster),
                corefile: r.corefile.as_ref(),
                profile: r.config.profile,
                order: &r.order,
                dir: self.dir.path(),
            };
            match peer.start(&setup, self.options.start_timeout) {
                Ok(p) => {
                    self.process = Some(p);
                    return Ok(());
                }
                Err(TargetError::PortInUse { .. })
                    if attempt < 4 && peer.listen_port().is_none() =>
                {
                    tracing::debug!("{listen} was taken; trying another port");
                }
                Err(e) => return Err(e),
            }
        }
    }

    fn addr(&self) -> Option<SocketAddr> {
        match &self.server {
            Server::Fixed(a) => Some(*a),
            Server::Managed(_) => self.process.as_ref().map(|p| p.addr()),
        }
    }

    fn wait_for_fixed(&mut self) -> Result<(), TargetError> {
        let Server::Fixed(addr) = self.server else {
            return Ok(());
        };
        if self.ready {
            return Ok(());
        }
        let probe = Question::parse(
            "dns-version.clusterset.local",
            hickory_proto::rr::RecordType::TXT,
        )
        .map_err(|e| TargetError::failed(e.to_string()))?;
        let started = Instant::now();
        while started.elapsed() < self.options.start_timeout {
            if let Some(status) = self.exec.as_mut().and_then(ExecCommand::exited) {
                return Err(TargetError::failed(format!(
                    "the --exec command exited ({status}); see {}",
                    self.dir.path().join("exec.log").display()
                )));
            }
            if let Ok(Outcome::Reply(_)) = wire::ask(addr, &probe, Duration::from_millis(200)) {
                self.ready = true;
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Err(TargetError::failed(format!(
            "no DNS server answered at {addr} within {} s (start it with KUBECONFIG={} and context {RESOLVER_USER}@{CURRENT}, or pass --exec)",
            self.options.start_timeout.as_secs(),
            self.kubeconfig.display()
        )))
    }

    fn lift_outage(&mut self) {
        let due = self
            .resolver
            .as_ref()
            .and_then(|r| r.down_until)
            .is_some_and(|t| Instant::now() >= t);
        if due {
            for e in self.emulator.clusters().values() {
                if let Ok(mut a) = e.api.lock() {
                    a.faults.unavailable = false;
                }
            }
            if let Some(r) = self.resolver.as_mut() {
                r.down_until = None;
            }
        }
    }
}

impl Target for EmulatedTarget {
    fn name(&self) -> String {
        match &self.server {
            Server::Fixed(a) => format!("dns={a}"),
            Server::Managed(p) => p.name(),
        }
    }

    fn version(&self) -> String {
        match &self.server {
            Server::Managed(p) => format!("{}, against the mcsdns API emulator", p.version()),
            Server::Fixed(a) => format!("the DNS server at {a}, against the mcsdns API emulator"),
        }
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities {
            apply_state: true,
            // Waited out in real time, up to `max_wait`.
            advance_time: true,
            reconfigure: matches!(&self.server, Server::Managed(p) if p.follows_corefile()),
            inject_faults: true,
            settle: Some(self.options.settle),
        }
    }

    fn start(&mut self, scenario: &Scenario) -> Result<Events, TargetError> {
        self.process = None;
        self.emulator
            .set_resolver_identity(&scenario.resolver.identity);
        let mut added = false;
        for (name, state) in &scenario.world.clusters {
            match self.api(name) {
                Some(api) => {
                    if let Ok(mut a) = api.lock() {
                        a.reset_to(state);
                    }
                }
                None => {
                    self.runtime
                        .block_on(self.emulator.add_cluster(name, state))
                        .map_err(|e| failed("cannot serve a cluster", e))?;
                    added = true;
                }
            }
        }
        // Clusters of earlier scenarios are emptied, not left behind.
        let names: Vec<String> = self.emulator.clusters().keys().cloned().collect();
        for name in names {
            if name != CURRENT
                && !scenario.world.clusters.contains_key(&name)
                && let Some(api) = self.api(&name)
                && let Ok(mut a) = api.lock()
            {
                a.reset_to(&ClusterState::new(&name));
            }
        }
        let resolver = scenario
            .world
            .clusters
            .get(&scenario.resolver.cluster)
            .ok_or_else(|| {
                TargetError::failed(format!("no cluster {}", scenario.resolver.cluster))
            })?;
        if let Some(api) = self.api(CURRENT)
            && let Ok(mut a) = api.lock()
        {
            a.reset_to(resolver);
        }
        if added {
            self.kubeconfig = self
                .emulator
                .write(self.dir.path(), Some(&format!("{RESOLVER_USER}@{CURRENT}")))
                .map_err(|e| failed("cannot write the kubeconfig", e))?;
        }
        self.resolver = Some(ResolverState {
            cluster: scenario.resolver.cluster.clone(),
            corefile: scenario.resolver.corefile.clone(),
            config: scenario.resolver.config.clone(),
            order: scenario.resolver.order.clone(),
            down_until: None,
            seen: AnswersSeen::default(),
        });
        self.wait_for_fixed()?;
        self.start_peer()?;
        self.settle();
        Ok(self.events())
    }

    fn perform(&mut self, operation: Operation<'_>) -> Result<Events, TargetError> {
        match operation {
            Operation::Apply { cluster, change } => self.change(cluster, change)?,
            Operation::Fault { cluster, fault } => self.fault(cluster, fault)?,
            Operation::Advance(by) => self.advance(by)?,
            Operation::Reconfigure { config, corefile } => self.reconfigure(config, corefile)?,
        }
        Ok(self.events())
    }

    fn ask(&mut self, question: &Question) -> Result<Answer, TargetError> {
        self.lift_outage();
        let addr = self
            .addr()
            .ok_or_else(|| TargetError::failed("the DNS server is not running"))?;
        let outcome = wire::ask(addr, question, self.options.query_timeout)
            .map_err(|e| TargetError::failed(e.to_string()))?;
        let current = self.api(CURRENT);
        // The world's view is built only when an unchanged, cached answer
        // needs judging.
        let view = || {
            current
                .as_ref()
                .and_then(|a| a.lock().ok().map(|a| ClusterView::from_state(a.state())))
        };
        let cache = match (self.resolver.as_mut(), &outcome) {
            (Some(r), Outcome::Reply(reply)) => r.seen.stale_note(&r.config, question, reply, view),
            _ => None,
        };
        Ok(Answer {
            outcome,
            cache,
            events: self.events(),
        })
    }
}

impl EmulatedTarget {
    fn change(&mut self, cluster: &str, change: &Change) -> Result<(), TargetError> {
        self.lift_outage();
        for api in self.stores_of(cluster) {
            if let Ok(mut a) = api.lock() {
                change.apply_to(&mut a);
            }
        }
        self.settle();
        Ok(())
    }

    /// The peer's log events since the last report.
    fn events(&mut self) -> Events {
        let (Server::Managed(peer), Some(p)) = (&self.server, self.process.as_mut()) else {
            return Vec::new();
        };
        unique_events(peer.log_events(&p.new_log()))
    }

    fn advance(&mut self, by: Duration) -> Result<(), TargetError> {
        if by > self.options.max_wait {
            return Err(TargetError::failed(format!(
                "{} cannot be waited out in real time (the limit is {}; raise --max-wait)",
                crate::scenario::humanize(by),
                crate::scenario::humanize(self.options.max_wait)
            )));
        }
        // An outage ending inside the wait ends on time.
        let end = Instant::now() + by;
        while Instant::now() < end {
            let next = self
                .resolver
                .as_ref()
                .and_then(|r| r.down_until)
                .filter(|t| *t < end)
                .unwrap_or(end);
            std::thread::sleep(next.saturating_duration_since(Instant::now()));
            self.lift_outage();
        }
        self.settle();
        Ok(())
    }

    fn reconfigure(
        &mut self,
        config: &ResolverConfig,
        corefile: &Corefile,
    ) -> Result<(), TargetError> {
        if let Some(r) = self.resolver.as_mut() {
            r.corefile = Some(corefile.clone());
            r.config = config.clone();
            // A reload starts with an empty cache.
            r.seen.clear();
        }
        self.start_peer()?;
        self.settle();
        Ok(())
    }

    fn fault(&mut self, cluster: &str, fault: &Fault) -> Result<(), TargetError> {
        let stores = self.stores_of(cluster);
        for api in &stores {
            if let Ok(mut a) = api.lock() {
                fault.apply_to(&mut a);
            }
        }
        if let (Fault::Unavailable(d), Some(r)) = (fault, self.resolver.as_mut()) {
            r.down_until = Some(Instant::now() + *d);
        }
        self.settle();
        Ok(())
    }
}
