//! Writes a run's results for CI (JUnit), machines (JSON), job summaries
//! (Markdown) and people (one self-contained HTML page).

pub mod conformance;
pub mod diff;
pub mod html;
pub mod human;
pub mod junit;
pub mod markdown;

use std::path::{Path, PathBuf};

use crate::run::SuiteResult;

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
        ("report.html", html::render(suite)),
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
pub fn status_word(s: crate::run::Status) -> &'static str {
    match s {
        crate::run::Status::Passed => "pass",
        crate::run::Status::Failed => "FAIL",
        crate::run::Status::Skipped => "skip",
        crate::run::Status::Done => "done",
    }
}
