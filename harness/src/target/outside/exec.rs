//! Runs the `--exec` command that starts a fixed DNS server once for a
//! whole run, in a process group of its own so that everything it starts is
//! stopped with it.

use std::path::Path;
use std::process::{Child, Command, Stdio};

use crate::target::{TargetError, interrupt};

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
            .stdin(Stdio::null())
            .stdout(Stdio::from(out))
            .stderr(Stdio::from(err));
        for (k, v) in env {
            command.env(k, v);
        }
        let child = interrupt::spawn(&mut command)
            .map_err(|e| TargetError::failed(format!("cannot run --exec: {e}")))?;
        Ok(ExecCommand { child })
    }

    /// How it ended, once it has.
    pub fn exited(&mut self) -> Option<std::process::ExitStatus> {
        self.child.try_wait().ok().flatten()
    }
}

impl Drop for ExecCommand {
    fn drop(&mut self) {
        interrupt::stop(&mut self.child);
    }
}
