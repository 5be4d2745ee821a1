//! Targets outside the process: a DNS server reached over the wire, whose
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

use std::net::SocketAddr;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use std::collections::BTreeMap;

use hickory_proto::rr::{Name, RecordType};

use super::peer::{self, Peer, PeerSetup, Started};
use super::{Capabilities, Target, TargetError};
use crate::check::CacheNote;
use crate::check::compare::same_answer;
use crate::client::wire;
use crate::cluster::emulator::{Emulator, RESOLVER_USER};
use crate::cluster::store::SharedApi;
use crate::model::ClusterState;
use crate::resolver::config::PluginKind;
use crate::resolver::{ClusterView, Outcome, Question, Reply, ResolverConfig, answer};
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
    dir: PathBuf,
    owns_dir: bool,
    kubeconfig: PathBuf,
    server: Server,
    options: EmulatedOptions,
    exec: Option<Child>,
    process: Option<Box<dyn Started>>,
    /// The scenario's resolver cluster and how it is configured.
    resolver: Option<Running>,
    /// Whether the fixed server has answered once.
    ready: bool,
}

struct Running {
    cluster: String,
    corefile: Option<String>,
    config: ResolverConfig,
    order: Vec<PluginKind>,
    down_until: Option<Instant>,
    /// Each question's last answer and since when it has been the same.
    seen: BTreeMap<(Name, RecordType), (Instant, Reply)>,
    note: Option<CacheNote>,
}

impl Drop for EmulatedTarget {
    fn drop(&mut self) {
        self.process = None;
        if let Some(mut c) = self.exec.take() {
            kill_group(c.id());
            let _ = c.kill();
            let _ = c.wait();
            if let Ok(mut groups) = EXEC_GROUPS.lock() {
                groups.retain(|g| *g != c.id());
            }
        }
        if self.owns_dir {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

/// The process groups of `--exec` commands still running.
static EXEC_GROUPS: std::sync::Mutex<Vec<u32>> = std::sync::Mutex::new(Vec::new());

/// Stops every `--exec` command still running; for a quit that skips
/// clean-up (the second Ctrl-C).
pub fn stop_exec_commands() {
    if let Ok(groups) = EXEC_GROUPS.lock() {
        groups.iter().copied().for_each(kill_group);
    }
}

/// Sends SIGKILL to process group `id` (std has no killpg).
fn kill_group(id: u32) {
    let _ = Command::new("kill")
        .args(["-KILL", "--", &format!("-{id}")])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
}

fn err(what: &str) -> impl Fn(String) -> TargetError + '_ {
    move |e| TargetError(format!("{what}: {e}"))
}

impl EmulatedTarget {
    /// Starts the emulator (with the `current` cluster) and, for a fixed
    /// server with `exec`, the server.
    pub fn new(server: Server, options: EmulatedOptions) -> Result<EmulatedTarget, TargetError> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .map_err(|e| TargetError(format!("cannot start a runtime: {e}")))?;
        let mut emulator = Emulator::new(crate::scenario::load::DEFAULT_IDENTITY)
            .map_err(|e| err("cannot start the API emulator")(e.to_string()))?;
        runtime
            .block_on(emulator.add_cluster(CURRENT, &ClusterState::new(CURRENT)))
            .map_err(|e| err("cannot start the API emulator")(e.to_string()))?;
        let (dir, owns_dir) = match &options.dir {
            Some(d) => (claim_dir(d)?, false),
            None => (temp_dir()?, true),
        };
        let kubeconfig = emulator
            .write(&dir, Some(&format!("{RESOLVER_USER}@{CURRENT}")))
            .map_err(|e| err("cannot write the kubeconfig")(e.to_string()))?;
        let mut target = EmulatedTarget {
            runtime,
            emulator,
            dir,
            owns_dir,
            kubeconfig,
            server,
            options,
            exec: None,
            process: None,
            resolver: None,
            ready: false,
        };
        if let (Server::Fixed(addr), Some(cmd)) = (&target.server, &target.options.exec) {
            let log = target.dir.join("exec.log");
            let out = std::fs::File::create(&log)
                .map_err(|e| err("cannot write exec.log")(e.to_string()))?;
            let err2 = out
                .try_clone()
                .map_err(|e| err("cannot write exec.log")(e.to_string()))?;
            // Its own process group: everything the command starts is
            // stopped with it, and the terminal's first Ctrl-C (finish the
            // step) does not reach it.
            let child = Command::new("sh")
                .arg("-c")
                .arg(cmd)
                .process_group(0)
                .env("KUBECONFIG", &target.kubeconfig)
                .env("MCSDNS_KUBECONFIG", &target.kubeconfig)
                .env("MCSDNS_CONTEXT", format!("{RESOLVER_USER}@{CURRENT}"))
                .env("MCSDNS_LISTEN", addr.to_string())
                .stdin(Stdio::null())
                .stdout(Stdio::from(out))
                .stderr(Stdio::from(err2))
                .spawn()
                .map_err(|e| err("cannot run --exec")(e.to_string()))?;
            if let Ok(mut groups) = EXEC_GROUPS.lock() {
                groups.push(child.id());
            }
            target.exec = Some(child);
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
            return Err(TargetError("not started".into()));
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
                corefile: r.corefile.as_deref(),
                profile: r.config.profile,
                order: &r.order,
                dir: &self.dir,
            };
            match peer.start(&setup, self.options.start_timeout) {
                Ok(p) => {
                    self.process = Some(p);
                    return Ok(());
                }
                Err(e) if attempt < 4 && peer.listen_port().is_none() && e.0.contains("in use") => {
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
        .map_err(|e| TargetError(e.to_string()))?;
        let started = Instant::now();
        while started.elapsed() < self.options.start_timeout {
            if let Some(c) = self.exec.as_mut()
                && let Ok(Some(status)) = c.try_wait()
            {
                return Err(TargetError(format!(
                    "the --exec command exited ({status}); see {}",
                    self.dir.join("exec.log").display()
                )));
            }
            if let Ok(Outcome::Reply(_)) = wire::ask(addr, &probe, Duration::from_millis(200)) {
                self.ready = true;
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Err(TargetError(format!(
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

/// Explains an answer that has not changed while the world has, where the
/// Corefile caches the name: the server is serving it from its cache. The
/// answer is judged against the reference engine on the API's objects now.
fn stale_note(
    r: &mut Running,
    q: &Question,
    reply: &Reply,
    view: impl FnOnce() -> Option<ClusterView>,
) -> Option<CacheNote> {
    let key = (q.name.to_lowercase(), q.qtype);
    let now = Instant::now();
    let since = match r.seen.get(&key) {
        Some((at, before)) if same_answer(before, reply) => *at,
        _ => {
            r.seen.insert(key, (now, reply.clone()));
            return None;
        }
    };
    let policy = r.config.cache_for(&q.name)?;
    let fresh = CacheNote::fresh_if_changed(&answer(&r.config, &view()?, q), reply)?;
    let remaining = reply
        .answers
        .iter()
        .chain(&reply.authorities)
        .map(|rec| u64::from(rec.ttl))
        .min()
        .unwrap_or(0);
    Some(CacheNote {
        age: now.duration_since(since).as_secs(),
        remaining,
        line: policy.line,
        fresh: Some(fresh),
    })
}

/// The user's emulator folder for the first target of the process; each
/// further one (parallel workers, `diff`'s other targets) gets
/// `DIR/target-N`, so that no two write the same kubeconfig and Corefile.
fn claim_dir(dir: &Path) -> Result<PathBuf, TargetError> {
    use std::sync::atomic::{AtomicU32, Ordering};
    static CLAIMS: AtomicU32 = AtomicU32::new(0);
    let dir = match CLAIMS.fetch_add(1, Ordering::SeqCst) {
        0 => dir.to_owned(),
        n => dir.join(format!("target-{}", n + 1)),
    };
    std::fs::create_dir_all(&dir)
        .map_err(|e| err("cannot create the emulator folder")(format!("{}: {e}", dir.display())))?;
    Ok(dir)
}

fn temp_dir() -> Result<PathBuf, TargetError> {
    use std::sync::atomic::{AtomicU32, Ordering};
    static N: AtomicU32 = AtomicU32::new(0);
    let dir = std::env::temp_dir().join(format!(
        "mcsdns-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::SeqCst)
    ));
    std::fs::create_dir_all(&dir)
        .map_err(|e| err("cannot create a temporary folder")(e.to_string()))?;
    Ok(dir)
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

    fn start(&mut self, scenario: &Scenario) -> Result<(), TargetError> {
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
                        .map_err(|e| err("cannot serve a cluster")(e.to_string()))?;
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
            .ok_or_else(|| TargetError(format!("no cluster {}", scenario.resolver.cluster)))?;
        if let Some(api) = self.api(CURRENT)
            && let Ok(mut a) = api.lock()
        {
            a.reset_to(resolver);
        }
        if added {
            self.kubeconfig = self
                .emulator
                .write(&self.dir, Some(&format!("{RESOLVER_USER}@{CURRENT}")))
                .map_err(|e| err("cannot write the kubeconfig")(e.to_string()))?;
        }
        self.resolver = Some(Running {
            cluster: scenario.resolver.cluster.clone(),
            corefile: scenario.resolver.corefile_text.clone(),
            config: scenario.resolver.config.clone(),
            order: scenario.resolver.order.clone(),
            down_until: None,
            seen: BTreeMap::new(),
            note: None,
        });
        self.wait_for_fixed()?;
        self.start_peer()?;
        self.settle();
        Ok(())
    }

    fn apply(&mut self, cluster: &str, change: &Change) -> Result<(), TargetError> {
        self.lift_outage();
        for api in self.stores_of(cluster) {
            if let Ok(mut a) = api.lock() {
                change.apply_to(&mut a);
            }
        }
        self.settle();
        Ok(())
    }

    fn query(&mut self, question: &Question) -> Result<Outcome, TargetError> {
        self.lift_outage();
        let addr = self
            .addr()
            .ok_or_else(|| TargetError("the DNS server is not running".into()))?;
        let outcome = wire::ask(addr, question, self.options.query_timeout)
            .map_err(|e| TargetError(e.to_string()))?;
        let current = self.api(CURRENT);
        // The world's view is built only when an unchanged, cached answer
        // needs judging.
        let view = || {
            current
                .as_ref()
                .and_then(|a| a.lock().ok().map(|a| ClusterView::from_state(a.state())))
        };
        if let (Some(r), Outcome::Reply(reply)) = (self.resolver.as_mut(), &outcome) {
            r.note = stale_note(r, question, reply, view);
        }
        Ok(outcome)
    }

    fn take_events(&mut self) -> Vec<String> {
        let (Server::Managed(peer), Some(p)) = (&self.server, self.process.as_mut()) else {
            return Vec::new();
        };
        super::unique_events(peer.log_events(&p.new_log()))
    }

    fn take_note(&mut self) -> Option<CacheNote> {
        self.resolver.as_mut().and_then(|r| r.note.take())
    }

    fn advance(&mut self, by: Duration) -> Result<(), TargetError> {
        if by > self.options.max_wait {
            return Err(TargetError(format!(
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

    fn reconfigure(&mut self, config: &ResolverConfig, corefile: &str) -> Result<(), TargetError> {
        if let Some(r) = self.resolver.as_mut() {
            r.corefile = Some(corefile.to_owned());
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
