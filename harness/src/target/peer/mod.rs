//! Starts the DNS servers the harness runs itself, one process per scenario (and
//! per `corefile` step): `mcsdns serve` through a kubeconfig, or real
//! CoreDNS, or a Lighthouse build. Each reads its world from the API emulator as the resolver's
//! service account, and is stopped when the scenario ends, fails or is
//! interrupted.

pub mod container;
pub mod coredns;
pub mod lighthouse;

use std::net::{SocketAddr, TcpListener, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::resolver::Profile;
use crate::resolver::config::PluginKind;
use crate::resolver::corefile::Corefile;
use crate::target::{TargetError, interrupt};

/// What a peer needs to start for one scenario.
#[derive(Clone, Debug)]
pub struct PeerSetup<'a> {
    /// Where to serve DNS (UDP and TCP).
    pub listen: SocketAddr,
    /// The emulator's kubeconfig.
    pub kubeconfig: &'a Path,
    /// The context to use (`resolver@member2`).
    pub context: String,
    /// The resolver's cluster (`member2`), for servers told their own
    /// cluster id (Lighthouse's `SUBMARINER_CLUSTERID`).
    pub cluster: &'a str,
    /// The scenario's Corefile, if it has one.
    pub corefile: Option<&'a Corefile>,
    /// The reference profile (for `mcsdns serve`).
    pub profile: Profile,
    /// The CoreDNS build's plugin order the scenario assumes.
    pub order: &'a [PluginKind],
    /// A folder for the peer's files and log.
    pub dir: &'a Path,
}

/// A started server.
pub trait Started: Send {
    /// Where it answers DNS.
    fn addr(&self) -> SocketAddr;
    /// The whole lines it has logged since the last call.
    fn new_log(&mut self) -> String;
}

/// The whole lines of `text` after `read` bytes, moving `read` past them;
/// a line still being written waits for the next call.
pub(crate) fn new_lines(text: &str, read: &mut usize) -> String {
    let new = text.get(*read..).unwrap_or_default();
    let whole = new.rfind('\n').map_or(0, |i| i + 1);
    *read += whole;
    new[..whole].to_owned()
}

/// A DNS server the harness can start: a program, or an image.
pub trait Peer: Send {
    /// Its name in reports (`serve`, `coredns`).
    fn name(&self) -> String;
    /// Its version, as it reports it.
    fn version(&self) -> String;
    /// The command that starts it for a scenario (files it needs written),
    /// for peers that are programs.
    fn command(&self, setup: &PeerSetup<'_>) -> Result<Command, TargetError> {
        let _ = setup;
        Err(TargetError::failed(format!(
            "{} is not started as a program",
            self.name()
        )))
    }
    /// Starts it and waits until it listens.
    fn start(
        &self,
        setup: &PeerSetup<'_>,
        timeout: Duration,
    ) -> Result<Box<dyn Started>, TargetError> {
        let name = self.name();
        let closed = |log: &str, timed_out: bool| self.closed_on_purpose(log, timed_out);
        start_process(&name, self.command(setup)?, setup, timeout, &closed)
            .map(|p| Box::new(p) as Box<dyn Started>)
    }
    /// Whether the server, still running, keeps its port closed on purpose
    /// (it opens it once it has listed what it needs), judged from its log
    /// so far, or only once `timed_out`. Then it has started: its questions
    /// meet a closed port, which is its answer.
    fn closed_on_purpose(&self, log: &str, timed_out: bool) -> bool {
        let _ = (log, timed_out);
        false
    }
    /// The port it must listen on, if it cannot be told one.
    fn listen_port(&self) -> Option<u16> {
        None
    }
    /// Whether it runs each scenario's Corefile (so `corefile` steps apply).
    fn follows_corefile(&self) -> bool {
        true
    }
    /// Lines of its log worth showing in a transcript (its own words about
    /// the API), each prefixed with who said it.
    fn log_events(&self, log: &str) -> Vec<String> {
        let _ = log;
        Vec::new()
    }
}

/// `mcsdns serve --kubeconfig`: the reference resolver as an outside process.
pub struct ServePeer {
    /// The mcsdns executable.
    pub exe: PathBuf,
}

impl Peer for ServePeer {
    fn name(&self) -> String {
        "serve".into()
    }

    fn version(&self) -> String {
        format!("mcsdns {}", env!("CARGO_PKG_VERSION"))
    }

    fn command(&self, setup: &PeerSetup<'_>) -> Result<Command, TargetError> {
        let mut c = Command::new(&self.exe);
        c.arg("serve")
            .arg("--kubeconfig")
            .arg(setup.kubeconfig)
            .arg("--context")
            .arg(&setup.context)
            .arg("--listen")
            .arg(setup.listen.to_string())
            .arg("--profile")
            .arg(setup.profile.to_string())
            // The lighthouse profile's local cluster, as Lighthouse reads it.
            .env(lighthouse::CLUSTER_ID_ENV, setup.cluster);
        if let Some(text) = setup.corefile.map(|c| &c.text) {
            let path = setup.dir.join("Corefile");
            crate::files::replace_file(&path, text).map_err(|e| {
                TargetError::failed(format!("cannot write {}: {e}", path.display()))
            })?;
            c.arg("--corefile").arg(path);
        }
        let order: Vec<&str> = setup.order.iter().map(|p| p.as_str()).collect();
        if !order.is_empty() {
            c.arg("--plugin-order").arg(order.join(","));
        }
        Ok(c)
    }

    fn closed_on_purpose(&self, log: &str, _timed_out: bool) -> bool {
        // `serve` says so before it waits for its lists (cli/serve.rs).
        log.contains("not serving yet")
    }
}

/// A started program; killed when dropped.
pub struct PeerProcess {
    child: Child,
    /// Its combined output.
    pub log: PathBuf,
    /// Where it serves.
    pub addr: SocketAddr,
    /// How much of the log [`Started::new_log`] has returned.
    log_read: usize,
}

impl Started for PeerProcess {
    fn addr(&self) -> SocketAddr {
        self.addr
    }

    fn new_log(&mut self) -> String {
        let text =
            String::from_utf8_lossy(&std::fs::read(&self.log).unwrap_or_default()).into_owned();
        new_lines(&text, &mut self.log_read)
    }
}

impl Drop for PeerProcess {
    fn drop(&mut self) {
        interrupt::stop(&mut self.child);
    }
}

/// The last `lines` lines of `text`, for error messages.
pub(crate) fn tail(text: &str, lines: usize) -> String {
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

/// A loopback port free for both UDP and TCP right now, chosen at random
/// below the kernel's ephemeral range (32768 and up), so that sockets bound
/// to port 0 meanwhile (the emulator's, clients') cannot take it.
pub fn free_port() -> Result<SocketAddr, TargetError> {
    for _ in 0..100 {
        let mut b = [0u8; 2];
        let _ = getrandom::fill(&mut b);
        let port = 20_000 + u16::from_be_bytes(b) % 12_000;
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        let Ok(udp) = UdpSocket::bind(addr) else {
            continue;
        };
        if TcpListener::bind(addr).is_ok() {
            drop(udp);
            return Ok(addr);
        }
    }
    Err(TargetError::failed(
        "no loopback port is free for both UDP and TCP",
    ))
}

/// Starts a program and waits until it listens on `setup.listen`, up to
/// `timeout`.
pub fn start_process(
    name: &str,
    mut cmd: Command,
    setup: &PeerSetup<'_>,
    timeout: Duration,
    closed: &dyn Fn(&str, bool) -> bool,
) -> Result<PeerProcess, TargetError> {
    let log = setup.dir.join(format!("{name}.log"));
    let out = crate::files::create_log(&log)
        .map_err(|e| TargetError::failed(format!("cannot write {}: {e}", log.display())))?;
    let err = out
        .try_clone()
        .map_err(|e| TargetError::failed(format!("cannot write {}: {e}", log.display())))?;
    cmd.stdin(Stdio::null())
        .stdout(Stdio::from(out))
        .stderr(Stdio::from(err))
        .current_dir(setup.dir);
    // A group of its own: the terminal's Ctrl-C reaches mcsdns only, and
    // the runner stops the server when the scenario ends.
    let child = interrupt::spawn(&mut cmd)
        .map_err(|e| TargetError::failed(format!("cannot start {}: {e}", name)))?;
    let mut process = PeerProcess {
        child,
        log,
        addr: setup.listen,
        log_read: 0,
    };
    let log_path = process.log.clone();
    wait_listening(
        name,
        setup.listen,
        timeout,
        || match process.child.try_wait() {
            Ok(Some(status)) => Some(format!("exited ({status})")),
            _ => None,
        },
        || tail(&std::fs::read_to_string(&log_path).unwrap_or_default(), 15),
        closed,
    )?;
    Ok(process)
}

/// Waits until `name` listens on TCP at `addr`, for up to `timeout`.
/// Listening on TCP is enough: a resolver that has not synced may rightly
/// stay silent on UDP. `gone` says why it never will (it exited);
/// `log_tail` gives its last lines for the error; `closed` says when a
/// running server's closed port is its answer (see
/// [`Peer::closed_on_purpose`]).
pub(crate) fn wait_listening(
    name: &str,
    addr: SocketAddr,
    timeout: Duration,
    mut gone: impl FnMut() -> Option<String>,
    log_tail: impl Fn() -> String,
    closed: &dyn Fn(&str, bool) -> bool,
) -> Result<(), TargetError> {
    let started = Instant::now();
    loop {
        if let Some(why) = gone() {
            let log = log_tail();
            // Go's `bind: address already in use`, Rust's `Address already
            // in use (os error 98)`: the port was taken after it was chosen.
            if log.to_ascii_lowercase().contains("address already in use") {
                return Err(TargetError::PortInUse {
                    name: name.to_owned(),
                    addr,
                    why,
                    log,
                });
            }
            return Err(TargetError::failed(format!(
                "{name} {why} before it answered DNS; its log ends:\n{log}"
            )));
        }
        if std::net::TcpStream::connect_timeout(&addr, Duration::from_millis(100)).is_ok() {
            return Ok(());
        }
        if interrupt::requested() {
            return Err(TargetError::Interrupted);
        }
        let timed_out = started.elapsed() > timeout;
        if closed(&log_tail(), timed_out) {
            return Ok(());
        }
        if timed_out {
            let log = log_tail();
            // A container's process is not watched: a taken port shows only
            // in its log.
            if log.to_ascii_lowercase().contains("address already in use") {
                return Err(TargetError::PortInUse {
                    name: name.to_owned(),
                    addr,
                    why: format!("did not listen within {} s", timeout.as_secs()),
                    log,
                });
            }
            return Err(TargetError::failed(format!(
                "{name} did not answer DNS on {addr} within {} s; its log ends:\n{log}",
                timeout.as_secs()
            )));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}
