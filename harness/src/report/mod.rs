//! Writes a run's results for CI (JUnit), machines (JSON), job summaries
//! (Markdown) and people (one self-contained HTML page).

pub mod conformance;
pub mod diff;
pub mod github;
pub mod html;
pub mod human;
pub mod junit;
pub mod markdown;

use std::path::{Path, PathBuf};

use crate::check::diagnose::Diagnosis;
use crate::run::{ScenarioResult, Status, SuiteResult};

/// How much a report says about steps that passed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Verbosity {
    /// Failures and the totals only.
    Quiet,
    /// Every scenario's status; each failure with the diagnoses that
    /// explain it.
    #[default]
    Normal,
    /// Also the diagnoses of steps that passed.
    Verbose,
}

/// The diagnoses a report shows for a scenario, each once: those that
/// explain a failed step (with `verbose`, those of every step too).
pub fn diagnoses(s: &ScenarioResult, verbose: bool) -> Vec<&Diagnosis> {
    let mut out: Vec<&Diagnosis> = Vec::new();
    for st in &s.steps {
        for d in &st.diagnoses {
            let shown = verbose || (st.status == Status::Failed && st.explaining.contains(&d.id));
            if shown && !out.contains(&d) {
                out.push(d);
            }
        }
    }
    out
}

/// Where a scenario's first failure is: its step's line, or line 1 for a
/// failure of the scenario as a whole (a snapshot mismatch).
pub fn failure_line(s: &ScenarioResult) -> usize {
    s.steps
        .iter()
        .find(|st| matches!(st.status, Status::Failed | Status::Interrupted))
        .map_or(1, |st| st.line)
}

/// A scenario's first failure in one line, for a JUnit message or an
/// annotation's title.
pub fn short_message(s: &ScenarioResult) -> String {
    let first = s
        .steps
        .iter()
        .flat_map(|st| {
            st.failures
                .iter()
                .map(move |f| format!("{}: {f}", st.action))
        })
        .chain(
            s.snapshot_mismatch
                .as_ref()
                .map(|m| format!("answers differ from the snapshot {}", m.snapshot)),
        )
        .next();
    let first = match (first, s.status) {
        (Some(f), _) => f,
        (None, Status::Interrupted) => "cut short: the run was interrupted (Ctrl-C)".into(),
        (None, _) => "failed".into(),
    };
    first.lines().next().unwrap_or_default().to_owned()
}

/// Escapes text for HTML, in elements and in quoted attributes.
pub(crate) fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// Orders clauses by their letters, then by number: `R2` before `R10`.
pub(crate) fn clause_key(c: &str) -> (String, u32) {
    let letters: String = c
        .chars()
        .take_while(|ch| ch.is_ascii_alphabetic())
        .collect();
    let number = c[letters.len()..].parse().unwrap_or(u32::MAX);
    (letters, number)
}

/// The result as pretty JSON.
pub fn json(suite: &SuiteResult) -> String {
    serde_json::to_string_pretty(suite).unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"))
}

/// Writes all four reports into `dir` (created if missing); returns their paths.
pub fn write_all(suite: &SuiteResult, dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    std::fs::create_dir_all(dir)?;
    let files = [
        ("junit.xml", junit::render(suite)),
        ("report.json", json(suite)),
        ("summary.md", markdown::render(suite)),
        ("report.html", html::render(suite, &html::Links::from(dir))),
    ];
    let mut written = Vec::new();
    for (name, text) in files {
        let path = dir.join(name);
        crate::files::replace_file(&path, &text)?;
        written.push(path);
    }
    Ok(written)
}

/// A status as a short word.
pub fn status_word(s: Status) -> &'static str {
    match s {
        Status::Passed => "pass",
        Status::Failed => "FAIL",
        Status::Skipped => "skip",
        Status::Done => "done",
        Status::Interrupted => "INTR",
    }
}

/// The run's outcome in one word, for banners: failed, interrupted or passed.
pub fn verdict(suite: &SuiteResult) -> &'static str {
    if suite.count(Status::Failed) > 0 {
        "failed"
    } else if suite.interrupted {
        "interrupted"
    } else {
        "passed"
    }
}
