//! The control plane's programs as child processes: each in its own process
//! group (the terminal's Ctrl-C reaches the harness, which then stops them
//! in order), its output in a log file, killed when dropped.

use std::net::{SocketAddr, TcpListener};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use super::ControlPlaneError;

/// The process ids of every program still running, for a quit that skips
/// clean-up (the second Ctrl-C).
static RUNNING: std::sync::Mutex<Vec<u32>> = std::sync::Mutex::new(Vec::new());

/// Kills every control-plane program this process started and has not
/// stopped yet.
pub fn kill_all() {
    if let Ok(pids) = RUNNING.lock() {
        for pid in pids.iter() {
            let _ = Command::new("kill")
                .args(["-KILL", &pid.to_string()])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
        }
    }
}

/// A running program.
pub struct Daemon {
    /// Its name in messages (`etcd`, `kube-apiserver`).
    pub name: String,
    child: Child,
    /// Its combined output.
    pub log: PathBuf,
}

impl Daemon {
    /// Starts `cmd`, its output in `log`.
    pub fn spawn(name: &str, mut cmd: Command, log: &Path) -> Result<Daemon, ControlPlaneError> {
        let io = |source| ControlPlaneError::Io {
            what: format!("cannot write {}", log.display()),
            source,
        };
        let out = crate::files::create_log(log).map_err(io)?;
        let err = out.try_clone().map_err(io)?;
        cmd.process_group(0)
            .stdin(Stdio::null())
            .stdout(Stdio::from(out))
            .stderr(Stdio::from(err));
        let child = cmd.spawn().map_err(|source| ControlPlaneError::Io {
            what: format!("cannot start {name}"),
            source,
        })?;
        if let Ok(mut pids) = RUNNING.lock() {
            pids.push(child.id());
        }
        Ok(Daemon {
            name: name.to_owned(),
            child,
            log: log.to_owned(),
        })
    }

    /// Its process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Why it is no longer running, if it is not.
    pub fn exited(&mut self) -> Option<String> {
        match self.child.try_wait() {
            Ok(Some(status)) => Some(format!("exited ({status})")),
            Ok(None) => None,
            Err(e) => Some(format!("cannot be waited for: {e}")),
        }
    }

    /// The last lines of its log, for error messages.
    pub fn log_tail(&self, lines: usize) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let all: Vec<&str> = text.lines().collect();
        all[all.len().saturating_sub(lines)..].join("\n")
    }

    /// Its resident memory, in bytes (Linux `/proc`).
    pub fn rss(&self) -> Option<u64> {
        rss_of(self.pid())
    }

    /// The error for "it stopped before it was ready".
    pub fn died(&mut self, why: &str) -> ControlPlaneError {
        ControlPlaneError::Died {
            name: self.name.clone(),
            why: why.to_owned(),
            log: self.log_tail(20),
        }
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if let Ok(mut pids) = RUNNING.lock() {
            pids.retain(|p| *p != self.child.id());
        }
    }
}

/// The resident memory of process `pid`, in bytes.
pub fn rss_of(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

/// A loopback TCP port free right now, chosen at random below the kernel's
/// ephemeral range (32768 and up): a port in that range can be taken by an
/// outgoing socket (the API server's to etcd) between choosing and binding.
pub fn free_port(taken: &[u16]) -> Result<u16, ControlPlaneError> {
    for _ in 0..200 {
        let mut b = [0u8; 2];
        let _ = getrandom::fill(&mut b);
        let port = 20_000 + u16::from_be_bytes(b) % 12_000;
        if taken.contains(&port) {
            continue;
        }
        if TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], port))).is_ok() {
            return Ok(port);
        }
    }
    Err(ControlPlaneError::NoPort)
}
