//! Writes a run's results for a person at a terminal: a table of
//! scenarios, then each failure with its file and line, the diagnoses that
//! explain it and their fixes, then the totals.

use std::fmt::Write;

use super::{Verbosity, diagnoses, status_word};
use crate::check::diagnose::Diagnosis;
use crate::run::{ScenarioResult, Status, SuiteResult};

/// The table of scenarios (not when quiet), each failure with its
/// diagnoses, what an interrupt left undone, and the totals.
pub fn render(result: &SuiteResult, verbosity: Verbosity) -> String {
    let mut out = String::new();
    if verbosity != Verbosity::Quiet {
        table(&mut out, result);
    }
    let verbose = verbosity == Verbosity::Verbose;
    for s in &result.scenarios {
        match s.status {
            Status::Failed => failure(&mut out, s, verbose),
            _ if verbose => {
                let shown = diagnoses(s, true);
                if !shown.is_empty() {
                    let _ = writeln!(out, "\n{} {} ({})", status_word(s.status), s.id, s.name);
                    shown.into_iter().for_each(|d| diagnosis(&mut out, d));
                }
            }
            _ => {}
        }
    }
    let cut: Vec<&str> = result
        .scenarios
        .iter()
        .filter(|s| s.status == Status::Interrupted)
        .map(|s| s.id.as_str())
        .collect();
    if !cut.is_empty() {
        let _ = writeln!(out, "\nINTERRUPTED (Ctrl-C), cut short: {}", cut.join(", "));
    }
    if !result.not_run.is_empty() {
        let _ = writeln!(out, "not run: {}", result.not_run.join(", "));
    }
    let _ = writeln!(
        out,
        "\n{} ({} step(s) skipped) in {:.0} ms on {}",
        result.totals(),
        result.skipped_steps(),
        result.duration_ms,
        result.target
    );
    out
}

fn table(out: &mut String, result: &SuiteResult) {
    let width = result
        .scenarios
        .iter()
        .map(|s| s.id.len())
        .max()
        .unwrap_or(10);
    let _ = writeln!(
        out,
        "{:<6} {:<width$} {:>6} {:>9}  clause",
        "status", "scenario", "steps", "ms"
    );
    for s in &result.scenarios {
        let skipped = s
            .steps
            .iter()
            .filter(|st| st.status == Status::Skipped)
            .count();
        let steps = if skipped > 0 {
            format!("{}/{}s", s.steps.len(), skipped)
        } else {
            s.steps.len().to_string()
        };
        let _ = writeln!(
            out,
            "{:<6} {:<width$} {:>6} {:>9.2}  {}",
            status_word(s.status),
            s.id,
            steps,
            s.duration_ms,
            s.clause
                .as_deref()
                .map(|c| format!("{c} {}", s.level.as_deref().unwrap_or("")))
                .unwrap_or_default()
        );
    }
}

/// A failed scenario: each failure at its line, then each diagnosis that
/// explains one, once.
fn failure(out: &mut String, s: &ScenarioResult, verbose: bool) {
    let _ = writeln!(out, "\nFAIL {} ({})", s.id, s.name);
    for f in s.scenario_failures() {
        let _ = writeln!(out, "  {}: {f}", s.path);
    }
    for st in s.steps.iter().filter(|st| st.status == Status::Failed) {
        for f in &st.failures {
            let _ = writeln!(out, "  {}:{}: {}: {f}", s.path, st.line, st.action);
        }
    }
    for d in diagnoses(s, verbose) {
        diagnosis(out, d);
    }
}

fn diagnosis(out: &mut String, d: &Diagnosis) {
    let _ = writeln!(
        out,
        "  diagnosis {}: {}\n    {}\n    fix: {}",
        d.id,
        d.title,
        d.detail,
        d.fix.replace('\n', "\n         ")
    );
}

/// One line for a finished scenario, for logs without a terminal.
pub fn progress_line(s: &ScenarioResult, done: usize, total: usize) -> String {
    format!(
        "[{done}/{total}] {} {} ({:.0} ms)",
        status_word(s.status),
        s.id,
        s.duration_ms
    )
}
