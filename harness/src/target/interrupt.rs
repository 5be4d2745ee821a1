//! Tells every wait of a run that the user asked it to stop (Ctrl-C), and
//! keeps the harness's children in process groups of their own.
//!
//! A terminal's Ctrl-C goes to its whole foreground process group. Servers
//! the harness starts (`mcsdns serve`, CoreDNS, `--exec` commands) are put
//! in groups of their own so that only mcsdns hears it: the runner then
//! stops the current step, stops its children itself, and reports. Every
//! wait that can last seconds (a server starting, a check retried while a
//! server catches up, an `advance` waited out in real time) sleeps in short
//! slices through [`sleep`] and ends early once [`requested`].

use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

static REQUESTED: AtomicBool = AtomicBool::new(false);

/// The process groups of the children still running.
static GROUPS: Mutex<Vec<u32>> = Mutex::new(Vec::new());

/// Asks every wait to end and every scenario to stop after its current step.
pub fn request() {
    REQUESTED.store(true, Ordering::SeqCst);
}

/// Whether the run was asked to stop.
pub fn requested() -> bool {
    REQUESTED.load(Ordering::SeqCst)
}

/// The longest a wait goes without looking at [`requested`].
const SLICE: Duration = Duration::from_millis(50);

/// Sleeps for `d`, or less when the run is asked to stop; `false` then.
pub fn sleep(d: Duration) -> bool {
    let end = Instant::now() + d;
    loop {
        if requested() {
            return false;
        }
        let left = end.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return true;
        }
        std::thread::sleep(left.min(SLICE));
    }
}

/// Starts `command` as the leader of a new process group, out of reach of
/// the terminal's Ctrl-C, and remembers the group for [`stop_all`].
pub fn spawn(command: &mut Command) -> std::io::Result<Child> {
    let child = command.process_group(0).spawn()?;
    if let Ok(mut groups) = GROUPS.lock() {
        groups.push(child.id());
    }
    Ok(child)
}

/// Stops a child started by [`spawn`] and everything it started, and
/// waits for it, so that nothing is left `<defunct>`.
pub fn stop(child: &mut Child) {
    let id = child.id();
    kill_group(id);
    let _ = child.kill();
    let _ = child.wait();
    if let Ok(mut groups) = GROUPS.lock() {
        groups.retain(|g| *g != id);
    }
}

/// Stops every child still running; for a quit that skips clean-up (the
/// second Ctrl-C).
pub fn stop_all() {
    if let Ok(groups) = GROUPS.lock() {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_child_is_in_its_own_group_and_stopped_with_what_it_started() {
        let mut child = spawn(Command::new("sh").args(["-c", "sleep 30 & sleep 30"])).unwrap();
        let id = child.id();
        let pgid = std::fs::read_to_string(format!("/proc/{id}/stat")).unwrap();
        // Field 5 of /proc/PID/stat is the process group.
        let group: u32 = pgid.split_whitespace().nth(4).unwrap().parse().unwrap();
        assert_eq!(group, id, "the child leads a group of its own");
        stop(&mut child);
        std::thread::sleep(Duration::from_millis(100));
        let left = Command::new("pgrep")
            .args(["-g", &id.to_string()])
            .output()
            .unwrap();
        // A killed grandchild may wait for PID 1 to reap it: dead all the same.
        let alive: Vec<String> = String::from_utf8_lossy(&left.stdout)
            .lines()
            .filter(|pid| {
                std::fs::read_to_string(format!("/proc/{pid}/stat"))
                    .is_ok_and(|s| s.split_whitespace().nth(2) != Some("Z"))
            })
            .map(str::to_owned)
            .collect();
        assert!(alive.is_empty(), "the group is gone: {alive:?}");
    }
}
