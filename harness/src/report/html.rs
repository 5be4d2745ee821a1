//! Writes one self-contained HTML page: totals, a requirement-by-requirement
//! conformance table, and every scenario's steps with dig-like answers.

use std::fmt::Write;

use super::{clause_key, esc, status_word};
use crate::run::{Status, SuiteResult};

const STYLE: &str = "body{font-family:system-ui,sans-serif;margin:2em;max-width:70em;color:#222}\
table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:.3em .6em;text-align:left}\
.pass{color:#176f2c;font-weight:bold}.FAIL{color:#b00020;font-weight:bold}.skip,.done{color:#777}\
pre{background:#f6f8fa;padding:.8em;overflow-x:auto;font-size:.85em}details{margin:.4em 0}\
.diag{border-left:4px solid #b00020;padding:.2em .8em;margin:.5em 0;background:#fff6f6}";

/// The suite as an HTML page.
pub fn render(suite: &SuiteResult) -> String {
    let mut s = String::new();
    let _ = write!(
        s,
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>mcsdns report</title><style>{STYLE}</style></head><body>"
    );
    let _ = write!(
        s,
        "<h1>mcsdns: {} scenarios on <code>{}</code></h1><p><b>{} passed, {} failed, {} skipped</b> ({} step(s) skipped) in {:.0} ms, mcsdns {}</p>",
        suite.scenarios.len(),
        esc(&suite.target),
        suite.count(Status::Passed),
        suite.count(Status::Failed),
        suite.count(Status::Skipped),
        suite.skipped_steps(),
        suite.duration_ms,
        esc(&suite.version)
    );
    let mut by_clause: Vec<_> = suite
        .scenarios
        .iter()
        .filter(|r| r.clause.is_some())
        .collect();
    by_clause.sort_by_key(|r| clause_key(r.clause.as_deref().unwrap_or_default()));
    if !by_clause.is_empty() {
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
    s.push_str("<h2>Scenarios</h2>");
    for r in &suite.scenarios {
        let w = status_word(r.status);
        let _ = write!(
            s,
            "<details id=\"{id}\"{open}><summary><span class=\"{w}\">{w}</span> <code>{id}</code> — {}</summary><p>{}</p>",
            esc(&r.name),
            esc(&r.description),
            id = esc(&r.id),
            open = if r.status == Status::Failed {
                " open"
            } else {
                ""
            }
        );
        for f in r.scenario_failures() {
            let _ = write!(s, "<p class=\"FAIL\">{}</p>", esc(&f));
        }
        for st in &r.steps {
            let sw = status_word(st.status);
            let _ = write!(
                s,
                "<p><span class=\"{sw}\">{sw}</span> line {}: <code>{}</code></p>",
                st.line,
                esc(&st.action)
            );
            if let Some(reason) = &st.skip_reason {
                let _ = write!(s, "<p>skipped: {}</p>", esc(reason));
            }
            for f in &st.failures {
                let _ = write!(s, "<p class=\"FAIL\">{}</p>", esc(f));
            }
            if let Some(t) = &st.transcript {
                let _ = write!(s, "<pre>{}</pre>", esc(t));
            }
            for d in &st.diagnoses {
                let _ = write!(
                    s,
                    "<div class=\"diag\"><b>{}</b> ({})<br>{}<pre>{}</pre></div>",
                    esc(&d.title),
                    esc(d.id.as_str()),
                    esc(&d.detail),
                    esc(&d.fix)
                );
            }
        }
        s.push_str("</details>");
    }
    s.push_str("</body></html>\n");
    s
}
