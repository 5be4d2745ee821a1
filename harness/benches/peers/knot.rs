//! Knot DNS as a reference peer for the benchmarks, plus a `dnsperf` driver.
//!
//! The benchmarks compare mcsdns against a mature authoritative server serving the
//! same records. Knot is a good yardstick because it is fast, strictly authoritative
//! and loads plain RFC 1035 zone files, so the bench can render its fixture once as a
//! zone file and hand it over unchanged.
//!
//! Everything here shells out to system binaries (`knotd`, `dnsperf`) and uses only
//! `std`, so the bench keeps no extra dependencies. Both tools are optional: when a
//! binary is missing the entry points return `Ok(None)` and say so on stderr, letting
//! the bench skip the comparison instead of failing on machines without them.
//!
//! Nothing here touches the network beyond loopback: Knot is configured to listen on
//! `127.0.0.1` only, and `dnsperf` refuses non-loopback targets.

use std::env;
use std::fmt::{self, Write as _};
use std::fs::{self, File};
use std::io::{self, BufWriter, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Upper bound on how long `Knot::start` waits for the zone to be served.
///
/// Measured on the 2-core dev machine: Knot 3.2.6 answers for a 100,000-record zone about
/// 0.16 s after spawn and for 1,000,000 records after about 2 s, so 10 s leaves ample
/// headroom for a loaded machine while still failing fast when something is wrong.
const READY_TIMEOUT: Duration = Duration::from_secs(10);

/// How long each readiness probe waits for an answer before sending the next one.
const PROBE_INTERVAL: Duration = Duration::from_millis(50);

/// How many times `Knot::start` picks a fresh port when knotd loses the race for it.
const BIND_ATTEMPTS: u32 = 3;

/// Directories searched after `PATH`: daemons live in `sbin`, which is often missing
/// from `PATH` in non-login shells and CI runners.
const EXTRA_BIN_DIRS: &[&str] = &[
    "/usr/sbin",
    "/usr/local/sbin",
    "/sbin",
    "/usr/bin",
    "/usr/local/bin",
];

/// DNS RR type code of SOA (RFC 1035 §3.2.2).
const TYPE_SOA: u16 = 6;
/// DNS class code of IN (RFC 1035 §3.2.4).
const CLASS_IN: u16 = 1;

/// A running Knot DNS server on loopback serving one zone from a zone file.
///
/// Dropping it kills knotd and removes every file it used, so a bench that panics
/// halfway still leaves nothing behind.
#[derive(Debug)]
pub struct Knot {
    /// The knotd process; killed on drop.
    child: Child,
    /// Holds config, zone file, databases, PID file and control socket. Declared
    /// after `child` only for readability: `Drop for Knot` kills the child before any
    /// field is dropped, so the directory is never removed under a live server.
    dir: TempDir,
    /// Where knotd listens, for both UDP and TCP.
    addr: SocketAddr,
}

impl Knot {
    /// Starts knotd serving `zone_origin` (e.g. "clusterset.local.") from `zone_text`
    /// (RFC 1035 zone file text) on 127.0.0.1:<free port> (UDP+TCP).
    ///
    /// Returns `Ok(None)`, with a message on stderr, if `knotd` is not installed, so
    /// the caller can skip the comparison. Otherwise waits (at most 10 s) until Knot
    /// answers an SOA query for the origin authoritatively (NOERROR, AA, an SOA in the
    /// answer section); that only happens once the zone file is fully loaded, so the
    /// caller can start measuring immediately.
    ///
    /// # Errors
    ///
    /// `InvalidInput` for an origin that is not a plain domain name; I/O errors from
    /// preparing the temp dir or spawning knotd; `AddrInUse` if three fresh ports were
    /// all taken before knotd bound them; `TimedOut` if the zone is not served within
    /// 10 s; `InvalidData` if knotd rejects the zone file; `Other` if knotd exits
    /// (e.g. a bad config). Startup errors carry the tail of knotd's log.
    pub fn start(zone_origin: &str, zone_text: &str) -> io::Result<Option<Knot>> {
        let origin = normalize_origin(zone_origin)?;
        let qname = encode_name(&origin)?;
        let Some(knotd) = find_program("knotd") else {
            eprintln!("knotd not found in PATH or sbin directories; skipping the Knot DNS peer");
            return Ok(None);
        };

        // knotd binds only after we released the port, so someone else may grab it in
        // between; knotd then exits with "cannot bind address" and we try another port.
        let mut attempt = 1;
        loop {
            match Self::start_once(&knotd, &origin, &qname, zone_text) {
                Err(err) if err.kind() == io::ErrorKind::AddrInUse && attempt < BIND_ATTEMPTS => {
                    attempt += 1;
                }
                other => return other.map(Some),
            }
        }
    }

    /// knotd's process id.
    #[must_use]
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The UDP and TCP address Knot listens on.
    #[must_use]
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// One attempt at `start`: fresh directory, fresh port, spawn, wait for the zone.
    fn start_once(knotd: &Path, origin: &str, qname: &[u8], zone_text: &str) -> io::Result<Knot> {
        let dir = TempDir::new("knot")?;
        let port = free_loopback_port()?;
        let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));

        fs::create_dir(dir.path().join("run"))?;
        fs::create_dir(dir.path().join("db"))?;
        fs::write(dir.path().join("zone.db"), zone_text)?;
        let conf_path = dir.path().join("knot.conf");
        fs::write(&conf_path, knot_config(dir.path(), port, origin)?)?;

        // knotd logs to its own file (see the config); stdout/stderr only catch what
        // it prints before logging is configured, e.g. config syntax errors. Files,
        // not pipes, so a chatty knotd can never block on a full pipe.
        let out = File::create(dir.path().join("knotd.out"))?;
        let err = out.try_clone()?;
        let child = Command::new(knotd)
            .arg("-c")
            .arg(&conf_path)
            .current_dir(dir.path())
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()?;

        // From here on `knot` owns the process: any early return kills it via Drop.
        let mut knot = Knot { child, dir, addr };
        knot.wait_ready(qname)?;
        Ok(knot)
    }

    /// Polls with SOA queries until the zone is served, knotd exits, or the deadline.
    fn wait_ready(&mut self, qname: &[u8]) -> io::Result<()> {
        let deadline = Instant::now() + READY_TIMEOUT;
        let sock = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0))?;
        sock.connect(self.addr)?;
        sock.set_read_timeout(Some(PROBE_INTERVAL))?;

        // Seed the ID from the clock so probes from concurrent benches look distinct.
        let mut id = (clock_nanos() & 0xffff) as u16;
        let mut last_seen = String::from("no answer");
        let mut buf = [0u8; 4096];

        loop {
            if let Some(status) = self.child.try_wait()? {
                return Err(self.startup_error(status));
            }
            if Instant::now() >= deadline {
                return Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    format!(
                        "knotd did not serve the zone within {READY_TIMEOUT:?} (last probe: {last_seen})\n{}",
                        self.log_tail()
                    ),
                ));
            }

            id = id.wrapping_add(1);
            match sock.send(&build_query(id, qname, TYPE_SOA)) {
                Ok(_) => {}
                // Linux reports the ICMP "port unreachable" for an earlier probe on the
                // next call on a connected socket: knotd has not bound yet.
                Err(err) if err.kind() == io::ErrorKind::ConnectionRefused => {
                    thread::sleep(PROBE_INTERVAL);
                    continue;
                }
                Err(err) => return Err(err),
            }

            // Read until this probe's answer arrives or the interval ends; answers to
            // older probes are skipped by the ID check.
            let probe_end = Instant::now() + PROBE_INTERVAL;
            while Instant::now() < probe_end {
                let len = match sock.recv(&mut buf) {
                    Ok(len) => len,
                    Err(err)
                        if matches!(
                            err.kind(),
                            io::ErrorKind::WouldBlock
                                | io::ErrorKind::TimedOut
                                | io::ErrorKind::ConnectionRefused
                                | io::ErrorKind::Interrupted
                        ) =>
                    {
                        // A refused recv returns at once; pace the loop anyway.
                        if err.kind() == io::ErrorKind::ConnectionRefused {
                            thread::sleep(PROBE_INTERVAL);
                        }
                        break;
                    }
                    Err(err) => return Err(err),
                };
                match check_soa_answer(&buf[..len], id, qname) {
                    Probe::Ready => return Ok(()),
                    Probe::NotReady(why) => {
                        // knotd keeps running (answering SERVFAIL) when the zone file
                        // is rejected; its log is the only place that says so.
                        if self.zone_load_failed() {
                            return Err(io::Error::new(
                                io::ErrorKind::InvalidData,
                                format!("knotd rejected the zone file\n{}", self.log_tail()),
                            ));
                        }
                        last_seen = why;
                        break;
                    }
                    Probe::Unrelated => {}
                }
            }
        }
    }

    /// Builds the error for a knotd that exited during startup, classifying bind
    /// failures as `AddrInUse` so `start` can retry on another port.
    fn startup_error(&self, status: ExitStatus) -> io::Error {
        let tail = self.log_tail();
        let kind = if tail.contains("cannot bind address") {
            io::ErrorKind::AddrInUse
        } else {
            io::ErrorKind::Other
        };
        io::Error::new(
            kind,
            format!("knotd exited during startup ({status})\n{tail}"),
        )
    }

    /// Whether knotd logged that loading the zone failed (Knot 3.x messages). Only
    /// called while probes are not yet answered, and the log is a few lines long.
    fn zone_load_failed(&self) -> bool {
        fs::read_to_string(self.dir.path().join("knot.log")).is_ok_and(|log| {
            log.contains("zone event 'load' failed") || log.contains("failed to load zone")
        })
    }

    /// The last lines of knotd's log and console output, for error messages.
    fn log_tail(&self) -> String {
        let mut text = String::new();
        for name in ["knot.log", "knotd.out"] {
            let path = self.dir.path().join(name);
            if let Ok(content) = fs::read_to_string(&path) {
                let _ = writeln!(text, "--- {} ---", path.display());
                text.push_str(&tail_lines(&content, 20));
            }
        }
        text
    }
}

impl Drop for Knot {
    /// Kills knotd and reaps it before the temp dir (a field) is removed.
    ///
    /// SIGKILL rather than a graceful stop: nothing on disk is worth keeping, and it
    /// cannot hang. Errors are ignored because the process may already be gone.
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Result of one dnsperf run, as reported in dnsperf's "Statistics" block.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PerfResult {
    /// "Queries per second": completed queries divided by the run time.
    pub qps: f64,
    /// "Queries sent".
    pub sent: u64,
    /// "Queries completed": answers received, whatever their rcode.
    pub completed: u64,
    /// "Queries lost": no answer within dnsperf's timeout (1 s here).
    pub lost: u64,
    /// "Average Latency (s)", converted to milliseconds.
    pub avg_latency_ms: f64,
}

impl fmt::Display for PerfResult {
    /// One line suitable for bench output.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:.0} qps, {}/{} completed, {} lost, avg latency {:.3} ms",
            self.qps, self.completed, self.sent, self.lost, self.avg_latency_ms
        )
    }
}

/// Runs dnsperf against `addr` for `seconds`, cycling through `queries` (lines like
/// "serve.default.svc.clusterset.local A").
///
/// Flags: `-c 1 -T 1 -q 100 -t 1 -l <seconds>`, chosen for a 2-core machine where the
/// server under test needs the other core:
/// * `-T 1 -c 1`: one sending thread and one client socket keep dnsperf on one core.
///   More clients only add contention on 2 cores (measured: `-c 4` was no faster).
/// * `-q 100`: 100 outstanding queries saturate a loopback server (250k-295k qps
///   for Knot on 2 cores) without loss; `-q 10` left Knot idle at ~34k qps, and `-q 500` lost
///   queries to socket buffer overflow with no throughput gain.
/// * `-t 1`: a loopback answer later than 1 s is a drop, and it caps the wait for
///   stragglers after `-l` so a run takes at most about `seconds + 1`.
/// * no `-Q`: the point is peak throughput, not behaviour at a fixed rate.
///
/// The process is also killed if it overruns `seconds + 15` s, so a wedged dnsperf
/// cannot hang the bench. Returns `Ok(None)`, with a message on stderr, if dnsperf is
/// not installed.
///
/// # Errors
///
/// `InvalidInput` for an empty query list, a blank or multi-line query, a zero
/// duration or a non-loopback `addr`; `TimedOut` if dnsperf overruns; `Other` if it
/// exits unsuccessfully; `InvalidData` if its output lacks the statistics block;
/// I/O errors from the temp dir or spawning.
pub fn dnsperf(
    addr: SocketAddr,
    queries: &[String],
    seconds: u32,
    load: &Load,
) -> io::Result<Option<PerfResult>> {
    if !addr.ip().is_loopback() {
        return Err(invalid_input(format!(
            "refusing to load-test non-loopback address {addr}"
        )));
    }
    if seconds == 0 {
        // With `-l 0` dnsperf makes a single pass over the file: no measurement.
        return Err(invalid_input(
            "dnsperf run length must be at least one second",
        ));
    }
    if queries.is_empty() {
        return Err(invalid_input("dnsperf needs at least one query"));
    }
    if let Some(bad) = queries
        .iter()
        .find(|q| q.trim().is_empty() || q.contains(['\n', '\r']))
    {
        return Err(invalid_input(format!("invalid dnsperf query line {bad:?}")));
    }
    let Some(bin) = find_program("dnsperf") else {
        eprintln!("dnsperf not found in PATH; skipping the load test");
        return Ok(None);
    };

    let dir = TempDir::new("dnsperf")?;
    let query_path = dir.path().join("queries.txt");
    let mut file = BufWriter::new(File::create(&query_path)?);
    for query in queries {
        writeln!(file, "{query}")?;
    }
    file.into_inner()
        .map_err(io::IntoInnerError::into_error)?
        .sync_all()?;

    // Output goes to files, not pipes: with a dead server dnsperf prints one line per
    // timed-out query, which could fill a pipe and deadlock a child we only read after
    // it exits.
    let out_path = dir.path().join("dnsperf.out");
    let err_path = dir.path().join("dnsperf.err");
    let mut child = Command::new(&bin)
        .arg("-s")
        .arg(addr.ip().to_string())
        .arg("-p")
        .arg(addr.port().to_string())
        .arg("-d")
        .arg(&query_path)
        .arg("-l")
        .arg(seconds.to_string())
        .args(load.args)
        .args(["-t", "1"])
        .current_dir(dir.path())
        .stdin(Stdio::null())
        .stdout(File::create(&out_path)?)
        .stderr(File::create(&err_path)?)
        .spawn()?;

    let deadline = Instant::now() + Duration::from_secs(u64::from(seconds) + 15);
    let status = loop {
        if let Some(status) = child.try_wait()? {
            break status;
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            return Err(io::Error::new(
                io::ErrorKind::TimedOut,
                format!("dnsperf did not finish a {seconds} s run in time; killed it"),
            ));
        }
        thread::sleep(Duration::from_millis(50));
    };

    let stdout = fs::read_to_string(&out_path)?;
    if !status.success() {
        let stderr = fs::read_to_string(&err_path).unwrap_or_default();
        return Err(io::Error::other(format!(
            "dnsperf failed ({status}):\n{}{}",
            tail_lines(&stderr, 20),
            tail_lines(&stdout, 20)
        )));
    }
    parse_dnsperf(&stdout).map(Some)
}

/// How dnsperf loads a server: its client and outstanding-query settings.
pub struct Load {
    /// As the table prints it.
    pub name: &'static str,
    /// dnsperf's arguments.
    pub args: &'static [&'static str],
}

/// The two loads every server meets: many clients (dnsperf's default
/// threads), and one client on one thread with 100 queries in flight.
pub const LOADS: [Load; 2] = [
    Load {
        name: "-c 8",
        args: &["-c", "8"],
    },
    Load {
        name: "-c 1 -T 1 -q 100",
        args: &["-c", "1", "-T", "1", "-q", "100"],
    },
];

/// Extracts the numbers from dnsperf's "Statistics" block (dnsperf 2.x), e.g.
///
/// ```text
///   Queries sent:         550782
///   Queries completed:    550782 (100.00%)
///   Queries lost:         0 (0.00%)
///   ...
///   Queries per second:   275049.663368
///
///   Average Latency (s):  0.000257 (min 0.000012, max 0.002519)
/// ```
fn parse_dnsperf(output: &str) -> io::Result<PerfResult> {
    /// The first whitespace-separated token after `label` on its line.
    fn field<'a>(output: &'a str, label: &str) -> io::Result<&'a str> {
        output
            .lines()
            .find_map(|line| line.trim_start().strip_prefix(label))
            .and_then(|rest| rest.split_whitespace().next())
            .ok_or_else(|| {
                io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!("dnsperf output has no {label:?} line:\n{output}"),
                )
            })
    }
    fn number<T: std::str::FromStr>(output: &str, label: &str) -> io::Result<T> {
        let raw = field(output, label)?;
        raw.parse().map_err(|_| {
            io::Error::new(
                io::ErrorKind::InvalidData,
                format!("dnsperf {label:?} value {raw:?} is not a number"),
            )
        })
    }

    let avg_latency_s: f64 = number(output, "Average Latency (s):")?;
    Ok(PerfResult {
        qps: number(output, "Queries per second:")?,
        sent: number(output, "Queries sent:")?,
        completed: number(output, "Queries completed:")?,
        lost: number(output, "Queries lost:")?,
        avg_latency_ms: avg_latency_s * 1000.0,
    })
}

/// Renders knotd's configuration; every path lives under `dir`.
///
/// Why each non-default setting:
/// * `listen` on 127.0.0.1 only: the bench must never expose a server.
/// * `rundir`, `pidfile`, control socket, `storage`: keep knotd out of `/run/knot` and
///   `/var/lib/knot`, so it needs no packaging setup and cannot clash with a system
///   instance or with parallel benches. No `user`: knotd stays the invoking user
///   instead of switching to `knot`, which could not read the temp dir.
/// * one UDP/TCP/background worker: on the 2-core box Knot gets one core and dnsperf
///   the other; more workers would only compete with the load generator. With
///   dnsperf's single client socket (one 4-tuple, so one reuseport socket) a second
///   UDP worker measured no faster anyway (~305k vs ~275k qps, within noise).
/// * `semantic-checks: off`: fixtures point NS at names without glue; the extra
///   checks would only add warnings and load time.
/// * `zonefile-load: whole`, `journal-content: none`, `zonefile-sync: -1`: load the
///   zone file as is on every start and never write back, so the file we wrote is
///   exactly what is served.
fn knot_config(dir: &Path, port: u16, origin: &str) -> io::Result<String> {
    let d = config_path(dir)?;
    Ok(format!(
        r#"# Generated by the mcsdns bench; removed when the bench ends.
server:
    rundir: "{d}/run"
    pidfile: "{d}/run/knot.pid"
    listen: [ "127.0.0.1@{port}" ]
    udp-workers: 1
    tcp-workers: 1
    background-workers: 1

control:
    listen: "{d}/run/knot.sock"

log:
  - target: "{d}/knot.log"
    any: info

database:
    storage: "{d}/db"

template:
  - id: default
    storage: "{d}/db"
    semantic-checks: off
    zonefile-load: whole
    zonefile-sync: -1
    journal-content: none

zone:
  - domain: "{origin}"
    file: "{d}/zone.db"
"#
    ))
}

/// `dir` as a string that can sit inside a double-quoted Knot config value.
fn config_path(dir: &Path) -> io::Result<String> {
    let text = dir
        .to_str()
        .ok_or_else(|| invalid_input(format!("temp dir {} is not UTF-8", dir.display())))?;
    if text.contains(['"', '\\', '\n', '\r', '#']) {
        return Err(invalid_input(format!(
            "temp dir {text:?} cannot be quoted in knot.conf"
        )));
    }
    Ok(text.to_owned())
}

/// Returns the origin as an absolute name ("x.y."), rejecting what Knot's config or
/// our hand-built query could not carry (escapes, quotes, whitespace, bad labels).
fn normalize_origin(origin: &str) -> io::Result<String> {
    let trimmed = origin.trim();
    if trimmed.is_empty() {
        return Err(invalid_input("zone origin is empty"));
    }
    if trimmed.contains(|c: char| c.is_whitespace() || matches!(c, '"' | '\\' | '#')) {
        return Err(invalid_input(format!("unsupported zone origin {origin:?}")));
    }
    let absolute = if trimmed.ends_with('.') {
        trimmed.to_owned()
    } else {
        format!("{trimmed}.")
    };
    encode_name(&absolute)?;
    Ok(absolute)
}

/// Encodes an absolute domain name in DNS wire format (RFC 1035 §3.1).
fn encode_name(name: &str) -> io::Result<Vec<u8>> {
    let mut wire = Vec::with_capacity(name.len() + 1);
    if name != "." {
        let body = name.strip_suffix('.').unwrap_or(name);
        for label in body.split('.') {
            // Labels are 1..=63 octets (RFC 1035 §2.3.4).
            let len = u8::try_from(label.len())
                .ok()
                .filter(|len| (1..=63).contains(len))
                .ok_or_else(|| invalid_input(format!("bad label {label:?} in {name:?}")))?;
            wire.push(len);
            wire.extend_from_slice(label.as_bytes());
        }
    }
    wire.push(0);
    if wire.len() > 255 {
        return Err(invalid_input(format!(
            "name {name:?} is longer than 255 octets"
        )));
    }
    Ok(wire)
}

/// A minimal query: header with RD clear (an authoritative server should not need
/// it), one question, no EDNS.
fn build_query(id: u16, qname: &[u8], qtype: u16) -> Vec<u8> {
    let mut msg = Vec::with_capacity(12 + qname.len() + 4);
    msg.extend_from_slice(&id.to_be_bytes());
    msg.extend_from_slice(&[0, 0]); // flags: standard query
    msg.extend_from_slice(&1u16.to_be_bytes()); // QDCOUNT
    msg.extend_from_slice(&[0; 6]); // ANCOUNT, NSCOUNT, ARCOUNT
    msg.extend_from_slice(qname);
    msg.extend_from_slice(&qtype.to_be_bytes());
    msg.extend_from_slice(&CLASS_IN.to_be_bytes());
    msg
}

/// Outcome of one readiness probe.
enum Probe {
    /// NOERROR, AA, and an SOA record in the answer section.
    Ready,
    /// An answer to our probe that shows the zone is not served yet (and why).
    NotReady(String),
    /// Not an answer to the current probe (stale ID, garbage); keep reading.
    Unrelated,
}

/// Checks that `msg` answers our SOA probe `id` authoritatively from the zone.
///
/// AA plus an SOA in the answer is what proves the zone was loaded: a server still
/// loading answers SERVFAIL or REFUSED, and without the zone the name is not
/// authoritative.
fn check_soa_answer(msg: &[u8], id: u16, qname: &[u8]) -> Probe {
    if msg.len() < 12 || u16::from_be_bytes([msg[0], msg[1]]) != id || msg[2] & 0x80 == 0 {
        return Probe::Unrelated;
    }
    let rcode = msg[3] & 0x0f;
    let aa = msg[2] & 0x04 != 0;
    let qdcount = u16::from_be_bytes([msg[4], msg[5]]);
    let ancount = u16::from_be_bytes([msg[6], msg[7]]);
    if rcode != 0 {
        return Probe::NotReady(format!("rcode {rcode}"));
    }
    if !aa {
        return Probe::NotReady("answer without AA".into());
    }
    // The question must echo ours; names are compared case-insensitively (RFC 4343).
    let question_end = 12 + qname.len() + 4;
    if qdcount != 1
        || msg.len() < question_end
        || !msg[12..12 + qname.len()].eq_ignore_ascii_case(qname)
    {
        return Probe::Unrelated;
    }
    if ancount == 0 {
        return Probe::NotReady("no answer records".into());
    }
    match skip_name(msg, question_end).and_then(|pos| msg.get(pos..pos + 2)) {
        Some(rtype) if u16::from_be_bytes([rtype[0], rtype[1]]) == TYPE_SOA => Probe::Ready,
        Some(_) => Probe::NotReady("first answer is not an SOA".into()),
        None => Probe::NotReady("truncated answer".into()),
    }
}

/// Returns the offset just past the (possibly compressed) name at `pos`.
fn skip_name(msg: &[u8], mut pos: usize) -> Option<usize> {
    loop {
        let len = *msg.get(pos)?;
        match len & 0xc0 {
            0x00 if len == 0 => return Some(pos + 1),
            0x00 => pos += 1 + usize::from(len),
            // A compression pointer always ends the name.
            0xc0 => return Some(pos + 2),
            _ => return None,
        }
    }
}

/// Finds a free port on 127.0.0.1 for both UDP and TCP.
///
/// The OS picks a free UDP port; we then check TCP on the same number and release
/// both for knotd. Another process could take it in between, which `Knot::start`
/// handles by retrying.
fn free_loopback_port() -> io::Result<u16> {
    for _ in 0..32 {
        let udp = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0))?;
        let port = udp.local_addr()?.port();
        match TcpListener::bind((Ipv4Addr::LOCALHOST, port)) {
            Ok(_tcp) => return Ok(port),
            Err(err) if err.kind() == io::ErrorKind::AddrInUse => {}
            Err(err) => return Err(err),
        }
    }
    Err(io::Error::new(
        io::ErrorKind::AddrInUse,
        "no port on 127.0.0.1 is free for both UDP and TCP",
    ))
}

/// Looks `name` up in `PATH`, then in the usual system binary directories.
fn find_program(name: &str) -> Option<PathBuf> {
    let path = env::var_os("PATH").unwrap_or_default();
    env::split_paths(&path)
        .chain(EXTRA_BIN_DIRS.iter().map(PathBuf::from))
        .map(|dir| dir.join(name))
        .find(|candidate| is_executable(candidate))
}

/// Whether `path` is a regular file we may execute.
fn is_executable(path: &Path) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
    }
    #[cfg(not(unix))]
    {
        path.is_file()
    }
}

/// A uniquely named directory under the system temp dir, removed on drop.
#[derive(Debug)]
struct TempDir(PathBuf);

impl TempDir {
    /// Creates a fresh directory; `create_dir` (not `_all`) guarantees it is ours.
    fn new(prefix: &str) -> io::Result<TempDir> {
        static COUNTER: AtomicU32 = AtomicU32::new(0);
        let base = env::temp_dir();
        for _ in 0..16 {
            let n = COUNTER.fetch_add(1, Ordering::Relaxed);
            let dir = base.join(format!(
                "mcsdns-{prefix}-{}-{n}-{}",
                std::process::id(),
                clock_nanos() % 1_000_000_000
            ));
            match fs::create_dir(&dir) {
                Ok(()) => return Ok(TempDir(dir)),
                Err(err) if err.kind() == io::ErrorKind::AlreadyExists => {}
                Err(err) => return Err(err),
            }
        }
        Err(io::Error::new(
            io::ErrorKind::AlreadyExists,
            format!(
                "could not create a unique temp dir under {}",
                base.display()
            ),
        ))
    }

    /// The directory's path.
    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    /// Best effort: a leftover temp dir is not worth a panic in drop.
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

/// Nanoseconds since the Unix epoch (0 if the clock is before it); only used to make
/// names and IDs differ between runs.
fn clock_nanos() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos())
}

/// The last `n` lines of `text`, each newline-terminated, to keep error messages short.
fn tail_lines(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    let mut tail = String::new();
    for line in &lines[lines.len().saturating_sub(n)..] {
        tail.push_str(line);
        tail.push('\n');
    }
    tail
}

/// Shorthand for an `InvalidInput` error.
fn invalid_input(msg: impl Into<String>) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, msg.into())
}
