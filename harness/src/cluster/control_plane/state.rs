//! What a running control plane leaves in its folder for `status` and
//! `down` from another shell: its programs' process ids and addresses.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::ControlPlaneError;

/// The file name in the control plane's folder.
pub const STATE_FILE: &str = "state.json";

/// A control plane as it was started.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct State {
    /// Its folder.
    pub dir: PathBuf,
    /// Its kubeconfig.
    pub kubeconfig: PathBuf,
    /// Its clusters.
    pub clusters: BTreeMap<String, ClusterRecord>,
}

/// One cluster as it was started.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ClusterRecord {
    /// The API server's address.
    pub server: SocketAddr,
    /// etcd's client address.
    pub etcd: SocketAddr,
    /// Each program's name and process id, in start order.
    pub programs: Vec<(String, u32)>,
}

impl State {
    /// Writes `dir/state.json` (atomically).
    pub fn write(&self, dir: &Path) -> Result<(), ControlPlaneError> {
        let path = dir.join(STATE_FILE);
        let text = serde_json::to_string_pretty(self).unwrap_or_default();
        crate::files::replace_file(&path, &text).map_err(|source| ControlPlaneError::Io {
            what: format!("cannot write {}", path.display()),
            source,
        })
    }

    /// Reads `dir/state.json`.
    pub fn read(dir: &Path) -> Result<State, ControlPlaneError> {
        let path = dir.join(STATE_FILE);
        let text = std::fs::read_to_string(&path).map_err(|source| ControlPlaneError::Io {
            what: format!(
                "no control plane in {} (cannot read {})",
                dir.display(),
                path.display()
            ),
            source,
        })?;
        serde_json::from_str(&text).map_err(|e| ControlPlaneError::Io {
            what: format!("cannot read {}", path.display()),
            source: std::io::Error::other(e),
        })
    }
}

/// Whether process `pid` still runs `program` (a reused id does not count).
pub fn is_running(pid: u32, program: &str) -> bool {
    std::fs::read(format!("/proc/{pid}/cmdline")).is_ok_and(|cmd| {
        let argv0 = cmd.split(|b| *b == 0).next().unwrap_or_default();
        String::from_utf8_lossy(argv0).ends_with(program)
    })
}

/// Stops every program of a control plane left running (a `up` that was
/// killed), last started first, and removes its folder. Returns what was
/// stopped.
pub fn stop_left_over(dir: &Path) -> Result<Vec<String>, ControlPlaneError> {
    let state = State::read(dir)?;
    let mut stopped = Vec::new();
    for (cluster, record) in &state.clusters {
        for (program, pid) in record.programs.iter().rev() {
            if is_running(*pid, program) {
                let _ = std::process::Command::new("kill")
                    .args(["-KILL", &pid.to_string()])
                    .status();
                stopped.push(format!("{cluster}: {program} (pid {pid})"));
            }
        }
    }
    std::fs::remove_dir_all(dir).map_err(|source| ControlPlaneError::Io {
        what: format!("cannot remove {}", dir.display()),
        source,
    })?;
    Ok(stopped)
}
