//! Writes Markdown for a CI job summary: the totals, a table, and each failure
//! with its diagnosis.

use std::fmt::Write;

use super::status_word;
use crate::run::{Status, SuiteResult};

/// The suite as Markdown.
pub fn render(suite: &SuiteResult) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "# mcsdns: {} scenarios on `{}`\n",
        suite.scenarios.len(),
        suite.target
    );
    let _ = writeln!(
        s,
        "**{}: {}** ({} step(s) skipped) in {:.0} ms\n",
        super::verdict(suite).to_uppercase(),
        suite.totals(),
        suite.skipped_steps(),
        suite.duration_ms
    );
    if !suite.not_run.is_empty() {
        let _ = writeln!(s, "Not run: {}\n", suite.not_run.join(", "));
    }
    let _ = writeln!(
        s,
        "| status | scenario | clause | level | profile | ms |\n|---|---|---|---|---|---:|"
    );
    for r in &suite.scenarios {
        let _ = writeln!(
            s,
            "| {} | `{}` | {} | {} | {} | {:.1} |",
            status_word(r.status),
            r.id,
            r.clause.as_deref().unwrap_or(""),
            r.level.as_deref().unwrap_or(""),
            r.profile,
            r.duration_ms
        );
    }
    for r in suite
        .scenarios
        .iter()
        .filter(|r| r.status == Status::Failed)
    {
        let _ = writeln!(s, "\n## FAIL `{}`: {}\n", r.id, r.name);
        for f in r.failures() {
            match f.split_once('\n') {
                // Multi-line failures (snapshot diffs) keep their lines in a fence.
                Some((head, rest)) => {
                    let _ = writeln!(s, "- {head}\n\n```diff\n{rest}\n```");
                }
                None => {
                    let _ = writeln!(s, "- {f}");
                }
            }
        }
        for d in super::diagnoses(r, false) {
            let _ = writeln!(
                s,
                "\n**{}** (`{}`)\n\n{}\n\nFix:\n```\n{}\n```",
                d.title, d.id, d.detail, d.fix
            );
        }
    }
    s
}
