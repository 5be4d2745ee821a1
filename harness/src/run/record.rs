//! Record mode: writes snapshots of every answer, and fills in the
//! expectations a scenario leaves out, in the file's own style.

use std::path::{Path, PathBuf};

use hickory_proto::op::ResponseCode;

use super::result::ScenarioResult;
use crate::resolver::Outcome;
use crate::resolver::text::{rcode_name, rdata_text};
use crate::scenario::{Action, Scenario};

/// Where a scenario's snapshot lives: `<suite root>/snapshots/<id with __>.snap`.
pub fn snapshot_path(root: &Path, id: &str) -> PathBuf {
    root.join("snapshots")
        .join(format!("{}.snap", id.replace('/', "__")))
}

/// A snapshot file as insta writes it, so `cargo test` and `mcsdns run`
/// share one set of files.
pub fn snapshot_file(transcript: &str) -> String {
    format!("---\nsource: harness/tests/scenarios.rs\nexpression: transcript\n---\n{transcript}")
}

/// The recorded transcript in a snapshot file (what follows its header).
pub fn snapshot_contents(file: &str) -> Option<&str> {
    let rest = file.strip_prefix("---\n")?;
    let end = rest.find("\n---\n")?;
    Some(&rest[end + 5..])
}

/// An expectation, as YAML lines, for what a step produced.
fn expectation(
    action: &Action,
    outcome: Option<&Outcome>,
    candidate: Option<Option<String>>,
    reachable: Option<bool>,
) -> Vec<String> {
    let mut lines = Vec::new();
    if let Some(r) = reachable {
        lines.push(format!("reachable: {r}"));
        return lines;
    }
    match outcome {
        Some(Outcome::Silent(_)) => lines.push("no_response: true".into()),
        Some(Outcome::Reply(r)) => {
            if r.rcode == ResponseCode::NoError && r.answers.is_empty() {
                lines.push("nodata: true".into());
            } else if r.rcode != ResponseCode::NoError {
                lines.push(format!("rcode: {}", rcode_name(r.rcode)));
            }
            if !r.answers.is_empty() {
                let mut a: Vec<String> =
                    r.answers.iter().map(|x| yaml_str(&rdata_text(x))).collect();
                a.sort();
                lines.push(format!("answer: [{}]", a.join(", ")));
            }
        }
        None => {}
    }
    if matches!(action, Action::Resolve { .. }) {
        lines.push(format!(
            "candidate: {}",
            candidate.flatten().unwrap_or_else(|| "none".into())
        ));
    }
    lines
}

fn yaml_str(s: &str) -> String {
    if s.chars()
        .all(|c| c.is_ascii_alphanumeric() || ".:-".contains(c))
    {
        s.to_owned()
    } else {
        format!("\"{}\"", s.replace('"', "\\\""))
    }
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
        let candidate = seen
            .candidate
            .as_ref()
            .map(|c| c.as_ref().map(|n| n.to_string()));
        let body = expectation(
            &step.action,
            seen.outcome.as_ref(),
            candidate,
            seen.reachable,
        );
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

/// Compares a result with its snapshot: `None` when they agree or there is
/// no snapshot yet, else a unified diff (recorded -> now).
pub fn snapshot_diff(root: &Path, result: &ScenarioResult) -> Option<String> {
    let file = std::fs::read_to_string(snapshot_path(root, &result.id)).ok()?;
    let recorded = snapshot_contents(&file)?;
    let now = result.transcript();
    if recorded.trim_end() == now.trim_end() {
        return None;
    }
    Some(unified_diff(recorded, &now))
}

/// A unified diff of two texts.
pub fn unified_diff(old: &str, new: &str) -> String {
    similar::TextDiff::from_lines(old, new)
        .unified_diff()
        .context_radius(2)
        .header("recorded", "now")
        .to_string()
}
