//! Writes large worlds as YAML files on disk, the way users hand them to
//! mcsdns, and runs the `mcsdns` binary on them (`serve`, `zone`, `query`).
//!
//! A world is one cluster, `c1`, holding `n` ClusterSetIP ServiceImports
//! (`svc-<i>` in namespaces `ns-<i/100>` of 100, one named port each) and
//! their Namespaces, in one file or spread over several.

use std::fmt::Write as _;
use std::fs;
use std::io;
use std::net::{Ipv4Addr, SocketAddr, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The `mcsdns` binary built with the bench.
pub const MCSDNS: &str = env!("CARGO_BIN_EXE_mcsdns");

/// The cluster every world holds.
pub const CLUSTER: &str = "c1";

/// The world sizes to measure: `MCSDNS_BENCH_SIZES` (comma-separated
/// import counts), else `default`.
pub fn sizes(default: &str) -> Vec<usize> {
    std::env::var("MCSDNS_BENCH_SIZES")
        .unwrap_or_else(|_| default.into())
        .split(',')
        .filter_map(|s| s.trim().parse().ok())
        .filter(|&n| n > 0)
        .collect()
}

/// Writes a world of `n` imports under `dir/c1/` in `files` files (at
/// least one); returns the bytes written.
pub fn write(dir: &Path, n: usize, files: usize) -> io::Result<u64> {
    let cluster = dir.join(CLUSTER);
    fs::create_dir_all(&cluster)?;
    let files = files.clamp(1, n.max(1));
    let per = n.div_ceil(files).max(1);
    let mut total = 0;
    for f in 0..files {
        let mut text = String::with_capacity(per * 230);
        for i in f * per..((f + 1) * per).min(n) {
            let ns = i / 100;
            if i % 100 == 0 {
                let _ = write!(
                    text,
                    "---\napiVersion: v1\nkind: Namespace\nmetadata:\n  name: ns-{ns}\n"
                );
            }
            let _ = write!(
                text,
                "---\napiVersion: multicluster.x-k8s.io/v1alpha1\nkind: ServiceImport\n\
                 metadata:\n  name: svc-{i}\n  namespace: ns-{ns}\nspec:\n  type: ClusterSetIP\n  \
                 ips:\n  - {}\n  ports:\n  - name: http\n    protocol: TCP\n    port: 80\n",
                ip(i)
            );
        }
        total += text.len() as u64;
        fs::write(cluster.join(format!("imports-{f:05}.yaml")), text)?;
    }
    Ok(total)
}

/// The clusterset IP of import `i`.
pub fn ip(i: usize) -> String {
    format!("10.{}.{}.{}", 100 + i / 65536, (i / 256) % 256, i % 256)
}

/// A query mix over the whole world: 70% A hits, 10% SRV hits, 20% NXDOMAIN.
pub fn queries(n: usize) -> Vec<String> {
    let mut out = Vec::new();
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    for k in 0..2000 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let i = (x as usize) % n;
        let ns = i / 100;
        out.push(match k % 10 {
            0 => format!("_http._tcp.svc-{i}.ns-{ns}.svc.clusterset.local SRV"),
            1 | 2 => format!("missing-{i}.ns-{ns}.svc.clusterset.local A"),
            _ => format!("svc-{i}.ns-{ns}.svc.clusterset.local A"),
        });
    }
    out
}

/// The seed's Corefile (`cache 30`, `header` setting RA).
pub fn seed_corefile() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/seed/Corefile")
}

/// The zone `clusterset.local` of the world as `mcsdns zone` prints it.
pub fn zone(dir: &Path) -> io::Result<String> {
    let out = Command::new(MCSDNS)
        .args(["zone", "--cluster", CLUSTER, "--manifests"])
        .arg(dir)
        .arg("--corefile")
        .arg(seed_corefile())
        .stderr(Stdio::null())
        .output()?;
    if !out.status.success() {
        return Err(io::Error::other(format!(
            "mcsdns zone failed: {}",
            out.status
        )));
    }
    String::from_utf8(out.stdout).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))
}

/// `mcsdns query` on the world: (wall time, peak RSS in KiB when
/// `/usr/bin/time` is there to say it).
pub fn query(dir: &Path) -> io::Result<(Duration, Option<u64>)> {
    let time = Path::new("/usr/bin/time");
    let mut cmd = if time.exists() {
        let mut c = Command::new(time);
        c.args(["-f", "%M", MCSDNS]);
        c
    } else {
        Command::new(MCSDNS)
    };
    cmd.args(["query", "--cluster", CLUSTER, "--manifests"])
        .arg(dir)
        .args(["svc-0.ns-0.svc.clusterset.local", "A"]);
    let t = Instant::now();
    let out = cmd.stdin(Stdio::null()).output()?;
    let elapsed = t.elapsed();
    if !out.status.success() {
        return Err(io::Error::other(format!(
            "mcsdns query failed: {}\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        )));
    }
    let rss = String::from_utf8_lossy(&out.stderr)
        .lines()
        .last()
        .and_then(|l| l.trim().parse().ok());
    Ok((elapsed, rss))
}

/// A running `mcsdns serve`; killed on drop.
pub struct Serve {
    child: Child,
    /// Where it answers, UDP and TCP.
    pub addr: SocketAddr,
    /// From spawning to the first answer.
    pub ready_after: Duration,
}

impl Serve {
    /// Starts `mcsdns serve` with the seed Corefile (and `args`) on a free
    /// loopback port and waits (at most `timeout`) for it to answer `svc-0`.
    pub fn start(dir: &Path, timeout: Duration, args: &[&str]) -> io::Result<Serve> {
        let port = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0))?
            .local_addr()?
            .port();
        let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
        let t = Instant::now();
        let child = Command::new(MCSDNS)
            .args(["serve", "--cluster", CLUSTER, "--manifests"])
            .arg(dir)
            .arg("--corefile")
            .arg(seed_corefile())
            .arg("--listen")
            .arg(addr.to_string())
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()?;
        let mut serve = Serve {
            child,
            addr,
            ready_after: Duration::ZERO,
        };
        serve.ready_after = first_answer(&mut serve.child, addr, t, timeout)?;
        Ok(serve)
    }
}

impl Serve {
    /// Its resident memory now, in KiB (Linux `/proc`).
    pub fn rss_kib(&self) -> Option<u64> {
        rss_kib(self.child.id())
    }

    /// Its process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

/// The CPU time process `pid` has used so far, all threads, user and
/// system (`utime` + `stime` in `/proc/<pid>/stat`, in clock ticks).
pub fn cpu_time(pid: u32) -> Option<Duration> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command (which may hold spaces) start at field 3.
    let mut rest = stat.rsplit_once(')')?.1.split_whitespace();
    let utime: u64 = rest.nth(11)?.parse().ok()?;
    let stime: u64 = rest.next()?.parse().ok()?;
    let hz = rustix::param::clock_ticks_per_second().max(1);
    Some(Duration::from_secs_f64((utime + stime) as f64 / hz as f64))
}

/// The resident memory of process `pid` now, in KiB (`VmRSS` in `/proc`).
pub fn rss_kib(pid: u32) -> Option<u64> {
    fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()?
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Sends `svc-0.ns-0.svc.clusterset.local A` every 10 ms until an answer
/// with NOERROR comes; the time since `start`.
fn first_answer(
    child: &mut Child,
    addr: SocketAddr,
    start: Instant,
    timeout: Duration,
) -> io::Result<Duration> {
    let sock = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0))?;
    sock.set_read_timeout(Some(Duration::from_millis(10)))?;
    let mut query = vec![0x12, 0x34, 0x01, 0, 0, 1, 0, 0, 0, 0, 0, 0];
    for label in "svc-0.ns-0.svc.clusterset.local".split('.') {
        query.push(label.len() as u8);
        query.extend_from_slice(label.as_bytes());
    }
    query.extend_from_slice(&[0, 0, 1, 0, 1]);
    let mut buf = [0u8; 1500];
    while start.elapsed() < timeout {
        if let Some(status) = child.try_wait()? {
            return Err(io::Error::other(format!("mcsdns serve exited: {status}")));
        }
        let _ = sock.send_to(&query, addr);
        if let Ok((len, _)) = sock.recv_from(&mut buf)
            && len >= 12
            && buf[..2] == [0x12, 0x34]
            && buf[3] & 0x0f == 0
        {
            return Ok(start.elapsed());
        }
    }
    Err(io::Error::new(
        io::ErrorKind::TimedOut,
        format!("mcsdns serve did not answer within {timeout:?}"),
    ))
}
