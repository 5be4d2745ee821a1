//! Writes a run's results for a person at a terminal: a table of
//! scenarios, then each failure with its file and line, its diagnoses and
//! their fixes, then the totals.

use std::fmt::Write;

use crate::run::{Status, SuiteResult};

/// The table of scenarios, each failure with its diagnoses, and the totals.
pub fn render(result: &SuiteResult) -> String {
    let mut out = String::new();
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
            super::status_word(s.status),
            s.id,
            steps,
            s.duration_ms,
            s.clause
                .as_deref()
                .map(|c| format!("{c} {}", s.level.as_deref().unwrap_or("")))
                .unwrap_or_default()
        );
    }
    for s in result
        .scenarios
        .iter()
        .filter(|s| s.status == Status::Failed)
    {
        let _ = writeln!(out, "\nFAIL {} ({})", s.id, s.name);
        for f in s.scenario_failures() {
            let _ = writeln!(out, "  {}: {f}", s.path);
        }
        for st in s.steps.iter().filter(|st| st.status == Status::Failed) {
            for f in &st.failures {
                let _ = writeln!(out, "  {}:{}: {}: {f}", s.path, st.line, st.action);
            }
            for d in &st.diagnoses {
                let _ = writeln!(
                    out,
                    "  diagnosis {}: {}\n    {}\n    fix: {}",
                    d.id,
                    d.title,
                    d.detail,
                    d.fix.replace('\n', "\n         ")
                );
            }
        }
    }
    let _ = writeln!(
        out,
        "\n{} passed, {} failed, {} skipped ({} step(s) skipped) in {:.0} ms on {}",
        result.count(Status::Passed),
        result.count(Status::Failed),
        result.count(Status::Skipped),
        result.skipped_steps(),
        result.duration_ms,
        result.target
    );
    out
}
