//! Drives a DNS server outside the process, reached over the wire, whose
//! world lives in the API emulator or in real control planes (`--api
//! real`; see [`backend`]).
//!
//! The runner changes the world through the API (so the server's watches
//! see ordinary API events) and asks its questions over UDP/TCP. The server is either already running at an address the user
//! gives (`dns=ADDR`, optionally started once with `--exec`), or started
//! by the harness per scenario with the scenario's Corefile (`serve`,
//! `coredns`): see [`Server`].
//!
//! Such a server learns changes asynchronously, so checks are retried for
//! a while ([`Capabilities::settle`]) before they count as failures.

mod backend;
mod exec;
mod folder;
mod stale;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use self::backend::Backend;
pub use self::backend::{Api, CURRENT, real_available};
use self::exec::ExecCommand;
use self::folder::WorkDir;
use self::stale::AnswersSeen;
use super::peer::{self, Peer, PeerSetup, Started};
use super::{
    Answer, Capabilities, Events, Operation, Target, TargetError, interrupt, unique_events,
};
use crate::client::wire;
use crate::cluster::emulator::RESOLVER_USER;
use crate::resolver::config::PluginKind;
use crate::resolver::corefile::Corefile;
use crate::resolver::{Outcome, Question, ResolverConfig};
use crate::scenario::Scenario;
use crate::scenario::{Change, Fault};

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
pub struct OutsideOptions {
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
    /// Where the world lives.
    pub api: Api,
}

impl Default for OutsideOptions {
    fn default() -> Self {
        OutsideOptions {
            settle: Duration::from_secs(5),
            start_timeout: Duration::from_secs(20),
            query_timeout: Duration::from_secs(1),
            dir: None,
            exec: None,
            max_wait: Duration::from_secs(60),
            api: Api::Emulator,
        }
    }
}

/// A DNS server outside the process, its world in the API emulator.
pub struct OutsideTarget {
    runtime: tokio::runtime::Runtime,
    backend: Backend,
    dir: WorkDir,
    kubeconfig: PathBuf,
    server: Server,
    options: OutsideOptions,
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

impl Drop for OutsideTarget {
    fn drop(&mut self) {
        // The server first, then the command that started it, then its folder.
        self.process = None;
        self.exec = None;
    }
}

impl OutsideTarget {
    /// Starts the emulator (with the `current` cluster) and, for a fixed
    /// server with `exec`, the server.
    pub fn new(server: Server, options: OutsideOptions) -> Result<OutsideTarget, TargetError> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .map_err(|e| TargetError::failed(format!("cannot start a runtime: {e}")))?;
        let dir = WorkDir::claim(options.dir.as_deref())?;
        let (backend, kubeconfig) = match options.api {
            Api::Emulator => Backend::emulator(&runtime, dir.path())?,
            // Only a server started once for the run needs `current`.
            Api::Real => Backend::real(dir.path(), matches!(server, Server::Fixed(_)))?,
        };
        let mut target = OutsideTarget {
            runtime,
            backend,
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

    /// Waits (bounded) until the server has been handed every change.
    fn settle(&self) {
        self.backend.settle();
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
                cluster: &r.cluster,
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
            if !interrupt::sleep(Duration::from_millis(50)) {
                return Err(TargetError::Interrupted);
            }
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
            self.backend.end_outage();
            if let Some(r) = self.resolver.as_mut() {
                r.down_until = None;
            }
        }
    }
}

impl Target for OutsideTarget {
    fn name(&self) -> String {
        let name = match &self.server {
            Server::Fixed(a) => format!("dns={a}"),
            Server::Managed(p) => p.name(),
        };
        match self.options.api {
            Api::Emulator => name,
            Api::Real => format!("{name}@real"),
        }
    }

    fn version(&self) -> String {
        match &self.server {
            Server::Managed(p) => format!("{}, against {}", p.version(), self.backend.describe()),
            Server::Fixed(a) => {
                format!("the DNS server at {a}, against {}", self.backend.describe())
            }
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
        if let Some(path) = self
            .backend
            .reset(&self.runtime, scenario, self.dir.path())?
        {
            self.kubeconfig = path;
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
        // The world's view is built only when an unchanged, cached answer
        // needs judging.
        let backend = &self.backend;
        let cluster = self
            .resolver
            .as_ref()
            .map(|r| r.cluster.clone())
            .unwrap_or_default();
        let view = || backend.view(&cluster);
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

impl OutsideTarget {
    fn resolver_cluster(&self) -> String {
        self.resolver
            .as_ref()
            .map(|r| r.cluster.clone())
            .unwrap_or_default()
    }

    fn change(&mut self, cluster: &str, change: &Change) -> Result<(), TargetError> {
        self.lift_outage();
        let resolver = self.resolver_cluster();
        self.backend
            .change(&self.runtime, &resolver, cluster, change)?;
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
            if !interrupt::sleep(next.saturating_duration_since(Instant::now())) {
                return Err(TargetError::Interrupted);
            }
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
        let resolver = self.resolver_cluster();
        self.backend
            .fault(&self.runtime, &resolver, cluster, fault)?;
        if let (Fault::Unavailable(d), Some(r)) = (fault, self.resolver.as_mut()) {
            r.down_until = Some(Instant::now() + *d);
        }
        self.settle();
        Ok(())
    }
}
