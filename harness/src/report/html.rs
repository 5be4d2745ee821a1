//! Writes one self-contained HTML page: a status banner, the failures
//! first (listed at the top, each linked to its scenario file and line),
//! a requirement-by-requirement conformance table, and every scenario's
//! steps with dig-like answers.

use std::fmt::Write;
use std::path::{Path, PathBuf};

use super::{clause_key, diagnoses, esc, failure_line, short_message, status_word, verdict};
use crate::run::{ScenarioResult, Status, SuiteResult};

const STYLE: &str = "body{font-family:system-ui,sans-serif;margin:2em;max-width:70em;color:#222}\
table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:.3em .6em;text-align:left}\
.pass{color:#176f2c;font-weight:bold}.FAIL{color:#b00020;font-weight:bold}.skip,.done{color:#777}.INTR{color:#8a6d00;font-weight:bold}\
pre{background:#f6f8fa;padding:.8em;overflow-x:auto;font-size:.85em}details{margin:.4em 0}\
.banner{padding:.8em 1.2em;font-size:1.2em;font-weight:bold;border-radius:4px}\
.banner.passed{background:#e6f4ea;color:#176f2c}.banner.failed{background:#fde7e9;color:#b00020}\
.banner.interrupted{background:#fff4d6;color:#8a6d00}\
.diag{border-left:4px solid #b00020;padding:.2em .8em;margin:.5em 0;background:#fff6f6}";

/// How the page links to scenario files.
#[derive(Clone, Debug, Default)]
pub struct Links {
    /// The folder the page is written to: links are relative to it.
    pub from: Option<PathBuf>,
}

impl From<&Path> for Links {
    fn from(dir: &Path) -> Self {
        Links {
            from: Some(dir.to_owned()),
        }
    }
}

impl Links {
    /// A link to `file` at `line`, relative to the page's folder when the
    /// file is relative to the working directory.
    fn to(&self, file: &str, line: usize) -> String {
        use std::path::Component;
        let path = Path::new(file);
        let simple = |from: &Path| {
            from.is_relative() && !from.components().any(|c| c == Component::ParentDir)
        };
        let href = match &self.from {
            Some(from) if path.is_relative() && simple(from) => {
                let up = from
                    .components()
                    .filter(|c| matches!(c, Component::Normal(_)))
                    .count();
                format!("{}{file}", "../".repeat(up))
            }
            // The page is elsewhere: an absolute path is found from anywhere.
            Some(_) if path.is_relative() => std::env::current_dir()
                .map(|d| d.join(path).display().to_string())
                .unwrap_or_else(|_| file.to_owned()),
            _ => file.to_owned(),
        };
        format!("{href}#L{line}")
    }
}

/// The suite as an HTML page.
pub fn render(suite: &SuiteResult, links: &Links) -> String {
    let mut s = String::new();
    let _ = write!(
        s,
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>mcsdns report</title><style>{STYLE}</style></head><body>"
    );
    let v = verdict(suite);
    let _ = write!(
        s,
        "<h1>mcsdns: {} scenarios on <code>{}</code></h1><div class=\"banner {v}\">{}: {}</div><p>{} step(s) skipped, {:.0} ms, mcsdns {}</p>",
        suite.scenarios.len() + suite.not_run.len(),
        esc(&suite.target),
        v.to_uppercase(),
        esc(&suite.totals()),
        suite.skipped_steps(),
        suite.duration_ms,
        esc(&suite.version)
    );
    failure_list(&mut s, suite, links);
    if !suite.not_run.is_empty() {
        let _ = write!(
            s,
            "<p class=\"INTR\">Not run: {}</p>",
            esc(&suite.not_run.join(", "))
        );
    }
    conformance_table(&mut s, suite);
    s.push_str("<h2>Scenarios</h2>");
    // Failures first, then the rest in their order.
    let (failed, rest): (Vec<&ScenarioResult>, Vec<&ScenarioResult>) = suite
        .scenarios
        .iter()
        .partition(|r| matches!(r.status, Status::Failed | Status::Interrupted));
    for r in failed.into_iter().chain(rest) {
        scenario(&mut s, r, links);
    }
    s.push_str("</body></html>\n");
    s
}

fn failure_list(s: &mut String, suite: &SuiteResult, links: &Links) {
    let failed: Vec<&ScenarioResult> = suite
        .scenarios
        .iter()
        .filter(|r| matches!(r.status, Status::Failed | Status::Interrupted))
        .collect();
    if failed.is_empty() {
        return;
    }
    s.push_str("<h2>Failures</h2><ul>");
    for r in failed {
        let line = failure_line(r);
        let _ = write!(
            s,
            "<li><span class=\"{w}\">{w}</span> <a href=\"#{id}\">{id}</a> at <a href=\"{href}\">{file}:{line}</a>: {msg}</li>",
            w = status_word(r.status),
            id = esc(&r.id),
            href = esc(&links.to(&r.path, line)),
            file = esc(&r.path),
            msg = esc(&short_message(r))
        );
    }
    s.push_str("</ul>");
}

fn conformance_table(s: &mut String, suite: &SuiteResult) {
    let mut by_clause: Vec<_> = suite
        .scenarios
        .iter()
        .filter(|r| r.clause.is_some())
        .collect();
    by_clause.sort_by_key(|r| clause_key(r.clause.as_deref().unwrap_or_default()));
    if by_clause.is_empty() {
        return;
    }
    let _ = write!(
        s,
        "<h2>Conformance by requirement</h2><table><tr><th>clause</th><th>level</th><th>scenario</th><th>profile</th><th>result</th></tr>"
    );
    for r in by_clause {
        let w = status_word(r.status);
        let _ = write!(
            s,
            "<tr><td>{}</td><td>{}</td><td><a href=\"#{id}\">{id}</a></td><td>{}</td><td class=\"{w}\">{w}</td></tr>",
            esc(r.clause.as_deref().unwrap_or("")),
            esc(r.level.as_deref().unwrap_or("")),
            esc(&r.profile),
            id = esc(&r.id)
        );
    }
    s.push_str("</table>");
}

fn scenario(s: &mut String, r: &ScenarioResult, links: &Links) {
    let w = status_word(r.status);
    let open = matches!(r.status, Status::Failed | Status::Interrupted);
    let _ = write!(
        s,
        "<details id=\"{id}\"{open}><summary><span class=\"{w}\">{w}</span> <code>{id}</code> — {}</summary><p>{} (<a href=\"{href}\">{file}</a>)</p>",
        esc(&r.name),
        esc(&r.description),
        id = esc(&r.id),
        href = esc(&links.to(&r.path, 1)),
        file = esc(&r.path),
        open = if open { " open" } else { "" }
    );
    if let Some(m) = &r.snapshot_mismatch {
        let _ = write!(
            s,
            "<p class=\"FAIL\">answers differ from the snapshot {} (review with <code>mcsdns review</code>):</p><pre class=\"diff\">{}</pre>",
            esc(&m.snapshot),
            esc(&m.diff)
        );
    }
    for st in &r.steps {
        let sw = status_word(st.status);
        let _ = write!(
            s,
            "<p><span class=\"{sw}\">{sw}</span> <a href=\"{}\">line {}</a>: <code>{}</code></p>",
            esc(&links.to(&r.path, st.line)),
            st.line,
            esc(&st.action)
        );
        if let Some(reason) = &st.skip_reason {
            let _ = write!(s, "<p>{}</p>", esc(reason));
        }
        for f in &st.failures {
            let _ = write!(s, "<pre class=\"FAIL\">{}</pre>", esc(f));
        }
        if let Some(t) = &st.transcript {
            let _ = write!(s, "<pre>{}</pre>", esc(t));
        }
    }
    // Each diagnosis once, after the steps it explains.
    for d in diagnoses(r, false) {
        let _ = write!(
            s,
            "<div class=\"diag\"><b>{}</b> ({})<br>{}<pre>{}</pre></div>",
            esc(&d.title),
            esc(d.id.as_str()),
            esc(&d.detail),
            esc(&d.fix)
        );
    }
    s.push_str("</details>");
}
