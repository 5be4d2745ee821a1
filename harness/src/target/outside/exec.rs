//! Runs the `--exec` command that starts a fixed DNS server once for a
//! whole run, in a process group of its own so that everything it starts is
//! stopped with it.

use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};

use crate::target::TargetError;

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

/// A running `--exec` command; dropping it stops its whole process group.
pub struct ExecCommand {
    child: Child,
}

impl ExecCommand {
    /// Starts `sh -c cmd` with `env`, its output in `log`.
    pub fn start(
        cmd: &str,
        env: &[(&str, String)],
        log: &Path,
    ) -> Result<ExecCommand, TargetError> {
        let out = crate::files::create_log(log).map_err(|e| TargetError::file("write", log, e))?;
        let err = out
            .try_clone()
            .map_err(|e| TargetError::file("write", log, e))?;
        // Its own process group: everything the command starts is stopped
        // with it, and the terminal's first Ctrl-C (finish the step) does
        // not reach it.
        let mut command = Command::new("sh");
        command
            .arg("-c")
            .arg(cmd)
            .process_group(0)
            .stdin(Stdio::null())
            .stdout(Stdio::from(out))
            .stderr(Stdio::from(err));
        for (k, v) in env {
            command.env(k, v);
        }
        let child = command
            .spawn()
            .map_err(|e| TargetError::failed(format!("cannot run --exec: {e}")))?;
        if let Ok(mut groups) = EXEC_GROUPS.lock() {
            groups.push(child.id());
        }
        Ok(ExecCommand { child })
    }

    /// How it ended, once it has.
    pub fn exited(&mut self) -> Option<std::process::ExitStatus> {
        self.child.try_wait().ok().flatten()
    }
}

impl Drop for ExecCommand {
    fn drop(&mut self) {
        let id = self.child.id();
        kill_group(id);
        let _ = self.child.kill();
        let _ = self.child.wait();
        if let Ok(mut groups) = EXEC_GROUPS.lock() {
            groups.retain(|g| *g != id);
        }
    }
}
