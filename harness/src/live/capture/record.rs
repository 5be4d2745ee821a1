//! Records today's answers into a captured scenario with the run's own
//! record mode (reference resolver, profile `coredns`, the captured objects
//! and Corefile), then asks the live cluster DNS the same questions and
//! notes, as comments in the scenario, where it disagrees.

use std::net::SocketAddr;
use std::time::Duration;

use super::Captured;
use crate::check::compare::{answer_set, summary};
use crate::client::wire;
use crate::live::LiveError;
use crate::resolver::{Outcome, Question};
use crate::run::record::{SnapshotMode, apply};
use crate::run::suite::suite_root;
use crate::run::{ScenarioResult, Status, run_scenario};
use crate::scenario::load_scenario;
use crate::target::ReferenceTarget;

/// A question the live DNS answers otherwise than the recorded expectation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Disagreement {
    /// The question as asked of the live DNS.
    pub question: String,
    /// What the live DNS said.
    pub live: String,
    /// What was recorded.
    pub recorded: String,
}

/// What recording did.
#[derive(Clone, Debug)]
pub struct Recorded {
    /// The run of the recorded scenario (it passes unless recording failed).
    pub result: ScenarioResult,
    /// What record mode wrote, a line each.
    pub written: Vec<String>,
    /// Where the live DNS disagrees (empty without `--dns`).
    pub disagreements: Vec<Disagreement>,
    /// Questions the live DNS was asked.
    pub asked_live: usize,
}

/// How many silent answers in a row end the asking.
const SILENT_LIMIT: usize = 3;

fn words(o: &Outcome) -> String {
    match o {
        Outcome::Reply(r) => summary(r),
        Outcome::Silent(_) => "no answer".into(),
    }
}

/// Whether the live answer is the recorded one: the same rcode and answer
/// records; for an anonymized capture, the same rcode and record count
/// (the live DNS answers with the original names and addresses).
fn same(live: &Outcome, recorded: &Outcome, anonymized: bool) -> bool {
    match (live, recorded) {
        (Outcome::Reply(x), Outcome::Reply(y)) if anonymized => {
            x.rcode == y.rcode && x.answers.len() == y.answers.len()
        }
        (Outcome::Reply(x), Outcome::Reply(y)) => {
            x.rcode == y.rcode && answer_set(&x.answers) == answer_set(&y.answers)
        }
        (Outcome::Silent(_), Outcome::Silent(_)) => true,
        _ => false,
    }
}

fn failed(why: impl std::fmt::Display) -> LiveError {
    LiveError::Record {
        why: why.to_string(),
    }
}

/// Runs the captured scenario on the reference resolver in record mode
/// (expectations and snapshot written as `mcsdns run --record` writes
/// them); with `dns`, asks the live server every question and notes each
/// disagreement above its step.
pub fn record(
    captured: &Captured,
    dns: Option<(SocketAddr, Duration)>,
) -> Result<Recorded, LiveError> {
    let path = &captured.scenario;
    let root = suite_root(path);
    let scenario = load_scenario(path, &root).map_err(failed)?;
    let mut results = vec![run_scenario(&scenario, &mut ReferenceTarget::new())];
    let mut rerun =
        |s: &crate::scenario::Scenario| Some(run_scenario(s, &mut ReferenceTarget::new()));
    let written = apply(
        SnapshotMode::Record { snapshots: true },
        &mut results,
        std::slice::from_ref(&scenario),
        std::slice::from_ref(&root),
        &mut rerun,
    )
    .map_err(failed)?;
    let result = results.remove(0);
    let mut recorded = Recorded {
        result,
        written,
        disagreements: Vec::new(),
        asked_live: 0,
    };
    let Some((addr, timeout)) = dns else {
        return Ok(recorded);
    };
    let mut notes: Vec<(usize, String)> = Vec::new();
    let mut silent_run = 0;
    for (i, (name, qtype)) in captured.asked.iter().enumerate() {
        if silent_run >= SILENT_LIMIT {
            break;
        }
        let Some(seen) = recorded
            .result
            .steps
            .get(i)
            .and_then(|s| s.observed.as_ref())
            .and_then(|o| o.outcome.as_ref())
        else {
            continue;
        };
        let Ok(q) = Question::parse(name, *qtype) else {
            continue;
        };
        recorded.asked_live += 1;
        let live = wire::ask(addr, &q, timeout).unwrap_or_else(|e| Outcome::Silent(e.to_string()));
        silent_run = if matches!(live, Outcome::Silent(_)) {
            silent_run + 1
        } else {
            0
        };
        if same(&live, seen, captured.anonymized) {
            continue;
        }
        let d = Disagreement {
            question: format!("{name} {qtype}"),
            live: words(&live),
            recorded: words(seen),
        };
        let live_words = if captured.anonymized {
            // The live words name the originals: keep them out of the file.
            match &live {
                Outcome::Reply(r) => format!(
                    "{} with {} record(s)",
                    crate::resolver::text::rcode_name(r.rcode),
                    r.answers.len()
                ),
                Outcome::Silent(_) => "no answer".into(),
            }
        } else {
            d.live.clone()
        };
        notes.push((i, format!("# live DNS {addr} disagrees: {live_words}")));
        recorded.disagreements.push(d);
    }
    if !notes.is_empty() {
        note(path, &notes)?;
    }
    Ok(recorded)
}

/// Writes each note as a comment line above its step.
fn note(path: &std::path::Path, notes: &[(usize, String)]) -> Result<(), LiveError> {
    let root = suite_root(path);
    let scenario = load_scenario(path, &root).map_err(failed)?;
    let mut lines: Vec<String> = scenario.text.lines().map(str::to_owned).collect();
    let mut at: Vec<(usize, &String)> = notes
        .iter()
        .filter_map(|(i, n)| scenario.steps.get(*i).map(|s| (s.line, n)))
        .collect();
    at.sort_by_key(|(l, _)| std::cmp::Reverse(*l));
    for (line, text) in at {
        let indent = lines
            .get(line - 1)
            .map(|l| l.len() - l.trim_start().len())
            .unwrap_or(2);
        lines.insert(line - 1, format!("{}{text}", " ".repeat(indent)));
    }
    let mut text = lines.join("\n");
    text.push('\n');
    crate::files::replace_file(path, &text).map_err(|e| LiveError::Write {
        path: path.to_owned(),
        why: e.to_string(),
    })?;
    // The file must still load.
    load_scenario(path, &root).map_err(failed)?;
    Ok(())
}

impl Recorded {
    /// Whether the recorded scenario passes.
    pub fn passed(&self) -> bool {
        self.result.status == Status::Passed
    }
}
