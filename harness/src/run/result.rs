//! Holds what a run found: per step, per scenario, per suite. Reports are
//! written from these.

use serde::Serialize;

use crate::check::diagnose::Diagnosis;

/// How a step or scenario ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Every check held.
    Passed,
    /// A check failed, or the scenario could not run.
    Failed,
    /// The target could not perform it.
    Skipped,
    /// Done, with nothing to check (apply, advance, an unchecked query).
    Done,
    /// Cut short, or never run, because the run was interrupted (Ctrl-C):
    /// neither a pass nor a failure.
    Interrupted,
}

/// One step's result.
#[derive(Clone, Debug, Serialize)]
pub struct StepResult {
    /// Its line in the scenario file.
    pub line: usize,
    /// Its kind (`query`, `apply`, ...).
    pub kind: &'static str,
    /// What it did, in a line.
    pub action: String,
    /// How it ended.
    pub status: Status,
    /// Why it was skipped.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub skip_reason: Option<String>,
    /// The checks that failed.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub failures: Vec<String>,
    /// The response(s), as dig prints them.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub transcript: Option<String>,
    /// Explanations of the result.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub diagnoses: Vec<Diagnosis>,
    /// The diagnoses that explain a failed check of this step (the others
    /// are shown with `--verbose` only).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub explaining: Vec<crate::scenario::DiagnosisId>,
    /// What the step produced, for record mode.
    #[serde(skip)]
    pub observed: Option<crate::check::Observed>,
}

/// One scenario's result.
#[derive(Clone, Debug, Serialize)]
pub struct ScenarioResult {
    /// Its id (`seed/rbac`).
    pub id: String,
    /// Its title.
    pub name: String,
    /// Its file.
    pub path: String,
    /// What it shows.
    pub description: String,
    /// Its tags.
    pub tags: Vec<String>,
    /// The requirement it checks.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub clause: Option<String>,
    /// The requirement's level.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub level: Option<String>,
    /// The target it ran on.
    pub target: String,
    /// The resolver profile.
    pub profile: String,
    /// How it ended.
    pub status: Status,
    /// Wall time in milliseconds.
    pub duration_ms: f64,
    /// Its steps.
    pub steps: Vec<StepResult>,
    /// Its answers differ from its reviewed snapshot: a failure of the
    /// scenario as a whole, not of one step.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub snapshot_mismatch: Option<SnapshotMismatch>,
}

/// A scenario's transcript differs from its snapshot.
#[derive(Clone, Debug, Serialize)]
pub struct SnapshotMismatch {
    /// The snapshot file.
    pub snapshot: String,
    /// The pending snapshot written beside it for review.
    pub pending: String,
    /// A unified diff, recorded -> now.
    pub diff: String,
}

impl std::fmt::Display for SnapshotMismatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "answers differ from the snapshot {}; the new answers are in {} (accept or reject with `mcsdns review`):\n{}",
            self.snapshot, self.pending, self.diff
        )
    }
}

impl ScenarioResult {
    /// Every step's transcript, for snapshots and replays.
    pub fn transcript(&self) -> String {
        let mut out = String::new();
        for (i, s) in self.steps.iter().enumerate() {
            // No line number: a snapshot changes only when an answer does.
            out.push_str(&format!("### step {}: {}\n", i + 1, s.action));
            if let Some(reason) = &s.skip_reason {
                out.push_str(&format!(";; skipped: {reason}\n"));
            }
            if let Some(t) = &s.transcript {
                out.push_str(t);
            }
            for d in &s.diagnoses {
                out.push_str(&format!(";; diagnosis {}: {}\n", d.id, d.title));
            }
            out.push('\n');
        }
        out
    }

    /// The failure messages of every step, with lines, then the
    /// scenario's own (a snapshot mismatch), with its file.
    pub fn failures(&self) -> Vec<String> {
        self.steps
            .iter()
            .flat_map(|s| {
                s.failures
                    .iter()
                    .map(move |f| format!("{}:{}: {}: {f}", self.path, s.line, s.action))
            })
            .chain(
                self.scenario_failures()
                    .map(|f| format!("{}: {f}", self.path)),
            )
            .collect()
    }

    /// The failures of the scenario as a whole, not of one step.
    pub fn scenario_failures(&self) -> impl Iterator<Item = String> + '_ {
        self.snapshot_mismatch.iter().map(|m| m.to_string())
    }
}

/// A whole run.
#[derive(Clone, Debug, Serialize)]
pub struct SuiteResult {
    /// mcsdns's version.
    pub version: String,
    /// The target.
    pub target: String,
    /// What the target says it is (`CoreDNS-1.15.0, against the mcsdns API emulator`).
    pub target_version: String,
    /// Wall time in milliseconds.
    pub duration_ms: f64,
    /// Scenario results, in id order.
    pub scenarios: Vec<ScenarioResult>,
    /// The run was interrupted (Ctrl-C): some scenarios were cut short or
    /// never ran.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub interrupted: bool,
    /// The scenarios that never started, by id.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub not_run: Vec<String>,
}

impl SuiteResult {
    /// How many scenarios ended with `status`.
    pub fn count(&self, status: Status) -> usize {
        self.scenarios.iter().filter(|s| s.status == status).count()
    }

    /// The totals in words: `19 passed, 0 failed, 0 skipped`, and, after
    /// an interrupt, how many were cut short and how many never ran.
    pub fn totals(&self) -> String {
        let mut s = format!(
            "{} passed, {} failed, {} skipped",
            self.count(Status::Passed),
            self.count(Status::Failed),
            self.count(Status::Skipped)
        );
        if self.interrupted {
            s.push_str(&format!(
                "; interrupted: {} cut short, {} not run",
                self.count(Status::Interrupted),
                self.not_run.len()
            ));
        } else if !self.not_run.is_empty() {
            s.push_str(&format!(
                "; stopped at the first failure: {} not run",
                self.not_run.len()
            ));
        }
        s
    }

    /// How many steps were skipped, over all scenarios.
    pub fn skipped_steps(&self) -> usize {
        self.scenarios
            .iter()
            .flat_map(|s| &s.steps)
            .filter(|s| s.status == Status::Skipped)
            .count()
    }
}
