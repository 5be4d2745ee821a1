//! Holds results to their snapshots, or records them: writes snapshots of
//! every answer and fills in the expectations a scenario leaves out
//! (answers, rcodes, the authority's SOA and diagnoses, as seen), in the
//! file's own style.

use std::path::{Path, PathBuf};

use hickory_proto::op::ResponseCode;

use super::result::{ScenarioResult, SnapshotMismatch, Status};
use super::snapshot::{self, Snapshot};
use crate::check::Observed;
use crate::check::compare::answer_set;
use crate::resolver::Outcome;
use crate::resolver::text::rcode_name;
use crate::scenario::format::ExpectSpec;
use crate::scenario::load::parse_scenario;
use crate::scenario::{Action, DiagnosisId, Scenario, ScenarioError};
use crate::scenario::{Located, print};

/// An expectation for what a step produced, as the printer writes it.
fn expectation(action: &Action, seen: &Observed) -> Vec<String> {
    // One diagnosis can be expected: the first about the data. A missing
    // RA flag accompanies every answer of a Corefile without `header`; a
    // `flags` check says more about it than its diagnosis would.
    let mut spec = ExpectSpec {
        diagnosis: seen
            .diagnoses
            .iter()
            .find(|d| d.id != DiagnosisId::RaFlagOff)
            .map(|d| Located::nowhere(d.id.as_str().to_owned())),
        ..Default::default()
    };
    if let Some(r) = seen.reachable {
        spec.reachable = Some(r);
        return print::expect(&spec);
    }
    let candidate = seen
        .candidate
        .as_ref()
        .map(|c| c.as_ref().map(|n| n.to_string()));
    match seen.outcome.as_ref() {
        Some(Outcome::Silent(_)) => spec.no_response = Some(true),
        Some(Outcome::Reply(r)) => {
            if r.is_nodata() {
                spec.nodata = Some(true);
            } else if r.rcode != ResponseCode::NoError {
                spec.rcode = Some(Located::nowhere(rcode_name(r.rcode).to_owned()));
            }
            if !r.answers.is_empty() {
                spec.answer = Some(answer_set(&r.answers));
            }
            if r.authorities
                .iter()
                .any(|a| a.record_type() == hickory_proto::rr::RecordType::SOA)
            {
                spec.authority_soa = Some(true);
            }
        }
        None => {}
    }
    if matches!(action, Action::Resolve { .. }) {
        spec.candidate = Some(candidate.flatten().unwrap_or_else(|| "none".into()));
    }
    print::expect(&spec)
}

/// The scenario's text with an `expect` added after every checkable step
/// that has none, built from `result`. `None` when nothing was missing.
///
/// Only block-style step lists (`- query: ...` one per line) are rewritten;
/// a flow-style list is an error, and the file is left alone.
pub fn fill_expectations(
    scenario: &Scenario,
    result: &ScenarioResult,
) -> Result<Option<String>, String> {
    let lines: Vec<&str> = scenario.text.lines().collect();
    let Some(steps_line) = lines.iter().position(|l| l.starts_with("steps:")) else {
        return Err("no top-level `steps:` key found".into());
    };
    if !lines[steps_line]["steps:".len()..].trim().is_empty()
        && !lines[steps_line]["steps:".len()..].trim().starts_with('#')
    {
        return Err("steps are written in flow style (`steps: [...]`); record mode rewrites block-style lists only".into());
    }
    // The steps sequence ends where the next top-level key starts.
    let steps_end = lines
        .iter()
        .enumerate()
        .skip(steps_line + 1)
        .find(|(_, l)| {
            l.chars()
                .next()
                .is_some_and(|c| !c.is_whitespace() && c != '#' && c != '-')
        })
        .map_or(lines.len(), |(i, _)| i);
    let mut inserts: Vec<(usize, Vec<String>)> = Vec::new();
    let starts: Vec<usize> = scenario.steps.iter().map(|s| s.line).collect();
    for (i, step) in scenario.steps.iter().enumerate() {
        if !step.action.is_checkable() || step.expect_line.is_some() {
            continue;
        }
        let Some(seen) = result.steps.get(i).and_then(|r| r.observed.as_ref()) else {
            continue;
        };
        let body = expectation(&step.action, seen);
        if body.is_empty() {
            continue;
        }
        // The step's own text ends before the next step (or the list's end);
        // blank lines and comments that introduce the next step stay with it.
        let mut end = starts
            .get(i + 1)
            .map_or(steps_end, |n| n - 1)
            .min(steps_end);
        while end > step.line
            && lines
                .get(end - 1)
                .is_some_and(|l| l.trim().is_empty() || l.trim().starts_with('#'))
        {
            end -= 1;
        }
        let first = lines.get(step.line - 1).copied().unwrap_or_default();
        let dash = first.find("- ").unwrap_or(2);
        let indent = " ".repeat(dash);
        let mut block = vec![format!("{indent}- expect:")];
        block.extend(body.into_iter().map(|l| format!("{indent}    {l}")));
        inserts.push((end, block));
    }
    if inserts.is_empty() {
        return Ok(None);
    }
    let mut out: Vec<String> = lines.iter().map(|l| l.to_string()).collect();
    for (at, block) in inserts.into_iter().rev() {
        for (k, l) in block.into_iter().enumerate() {
            out.insert(at + k, l);
        }
    }
    let mut text = out.join("\n");
    text.push('\n');
    Ok(Some(text))
}

/// What a run does with snapshots.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SnapshotMode {
    /// Hold each result to its snapshot: a difference fails the scenario.
    Check,
    /// Fill in missing expectations (and run the rewritten file again);
    /// write the snapshots too when `snapshots` (they hold the reference
    /// resolver's transcripts only).
    Record {
        /// Whether to write snapshot files.
        snapshots: bool,
    },
    /// Leave snapshots alone (another target's answers are judged by the
    /// scenarios' expectations).
    Ignore,
}

/// Why record mode could not write.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum RecordError {
    /// A file could not be written.
    #[error("cannot write {}: {source}", .path.display())]
    Write {
        /// The file.
        path: PathBuf,
        /// Why not.
        source: std::io::Error,
    },
    /// The rewritten scenario does not load (a bug of record mode: the
    /// file was left as it was).
    #[error(transparent)]
    #[diagnostic(transparent)]
    Scenario(#[from] ScenarioError),
}

/// Applies `mode` to each result; `scenarios[i]` has its suite root at
/// `roots[i]`, and a result is matched to its scenario by file (a run cut
/// short has no result for some). `rerun` runs a rewritten scenario again
/// (`None`: keep the result as it is). Returns what was written, a line
/// each.
pub fn apply(
    mode: SnapshotMode,
    results: &mut [ScenarioResult],
    scenarios: &[Scenario],
    roots: &[PathBuf],
    rerun: &mut dyn FnMut(&Scenario) -> Option<ScenarioResult>,
) -> Result<Vec<String>, RecordError> {
    let mut written = Vec::new();
    for r in results.iter_mut() {
        let Some(i) = scenarios
            .iter()
            .position(|s| s.path.display().to_string() == r.path)
        else {
            continue;
        };
        // A scenario cut short by an interrupt has no answers to hold.
        if r.status == Status::Interrupted {
            continue;
        }
        let (s, root) = (&scenarios[i], &roots[i]);
        let snap = snapshot::path(root, &r.id);
        match mode {
            SnapshotMode::Ignore => {}
            SnapshotMode::Check => {
                let now = Snapshot::new(root, &s.path, &r.transcript());
                let diff =
                    snapshot::check(&snap, &now, true).map_err(|source| RecordError::Write {
                        path: snapshot::pending_path(&snap),
                        source,
                    })?;
                if let Some(diff) = diff {
                    r.status = Status::Failed;
                    r.snapshot_mismatch = Some(SnapshotMismatch {
                        snapshot: snap.display().to_string(),
                        pending: snapshot::pending_path(&snap).display().to_string(),
                        diff,
                    });
                }
            }
            SnapshotMode::Record { snapshots } => {
                match fill_expectations(s, r) {
                    Ok(Some(text)) => {
                        // Run the rewritten file again, so the snapshot's line numbers are its own.
                        let again = parse_scenario(&s.path, root, &text)?;
                        replace_file(&s.path, &text)?;
                        if let Some(again) = rerun(&again) {
                            *r = again;
                        }
                        written.push(format!(
                            "recorded missing expectations into {}",
                            s.path.display()
                        ));
                    }
                    Ok(None) => {}
                    Err(why) => written.push(format!(
                        "{}: expectations not recorded: {why}",
                        s.path.display()
                    )),
                }
                if snapshots {
                    let now = Snapshot::new(root, &s.path, &r.transcript());
                    replace_file(&snap, &now.render())?;
                    let pending = snapshot::pending_path(&snap);
                    if pending.exists() {
                        std::fs::remove_file(&pending).map_err(|source| RecordError::Write {
                            path: pending,
                            source,
                        })?;
                    }
                }
            }
        }
    }
    Ok(written)
}

/// Writes `text` to a new file beside `path`, then renames it over `path`:
/// an interrupt leaves the old file or the new one, never a mix.
fn replace_file(path: &Path, text: &str) -> Result<(), RecordError> {
    crate::error::replace_file(path, text).map_err(|source| RecordError::Write {
        path: path.to_owned(),
        source,
    })
}
