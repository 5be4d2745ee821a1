//! Runs the same scenarios on several targets and reports every
//! disagreement by field (rcode, flags, answer, authority,
//! additional, TTL), in the manner of respdiff.
//!
//! The first target is the baseline and runs twice: where its two runs
//! disagree with each other, the query is marked unstable instead of being
//! blamed on a target. Disagreements can be explained in a known-differences
//! file; what no entry explains is what a CI gate fails on.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::result::ScenarioResult;
use super::runner::run_scenario;
use crate::check::Observed;
use crate::resolver::{Outcome, Reply};
use crate::scenario::Scenario;
use crate::target::Target;

/// A field of an observation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Field {
    /// The response code, or that there was no answer.
    Rcode,
    /// The AA and RA flags.
    Flags,
    /// The answer section (owner, type, data).
    Answer,
    /// The authority section.
    Authority,
    /// The additional section.
    Additional,
    /// The TTLs of the answer and authority records.
    Ttl,
    /// For a `resolve`: which search-list candidate answered.
    Candidate,
    /// For a `connect`: whether a backend was reached.
    Reachable,
}

impl Field {
    /// Every field, in report order.
    pub const ALL: [Field; 8] = [
        Field::Rcode,
        Field::Flags,
        Field::Answer,
        Field::Authority,
        Field::Additional,
        Field::Ttl,
        Field::Candidate,
        Field::Reachable,
    ];
}

impl std::fmt::Display for Field {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let s = serde_json::to_value(self).ok();
        f.write_str(s.as_ref().and_then(|v| v.as_str()).unwrap_or("?"))
    }
}

/// One field on which the targets did not agree.
#[derive(Clone, Debug, Serialize)]
pub struct Disagreement {
    /// The scenario's id.
    pub scenario: String,
    /// The step's line.
    pub line: usize,
    /// The step (`query web.team.svc.clusterset.local. A`).
    pub step: String,
    /// The field.
    pub field: Field,
    /// Each target's value.
    pub values: BTreeMap<String, String>,
    /// The baseline disagreed with itself here.
    pub unstable: bool,
    /// Why it is expected, from the known-differences file.
    pub explained: Option<String>,
}

/// A differential run's result.
#[derive(Clone, Debug, Serialize)]
pub struct DiffReport {
    /// The targets, baseline first.
    pub targets: Vec<String>,
    /// Scenarios run.
    pub scenarios: usize,
    /// Steps compared.
    pub compared: usize,
    /// Every disagreement.
    pub disagreements: Vec<Disagreement>,
    /// Known differences (of the scenarios run) that no disagreement matched.
    pub known_not_seen: Vec<Known>,
    /// The run was interrupted (Ctrl-C): the scenarios in `not_run` were
    /// not compared, and a scenario cut short is compared up to where it stopped.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub interrupted: bool,
    /// Scenarios never run (after an interrupt, or a disagreement under
    /// fail-fast), by id.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub not_run: Vec<String>,
}

impl DiffReport {
    /// Disagreements that are neither unstable nor explained.
    pub fn unexplained(&self) -> impl Iterator<Item = &Disagreement> {
        self.disagreements
            .iter()
            .filter(|d| !d.unstable && d.explained.is_none())
    }

    /// Counts per field: (total, explained, unstable).
    pub fn by_field(&self) -> BTreeMap<Field, (usize, usize, usize)> {
        let mut m: BTreeMap<Field, (usize, usize, usize)> = BTreeMap::new();
        for d in &self.disagreements {
            let e = m.entry(d.field).or_default();
            e.0 += 1;
            e.1 += usize::from(d.explained.is_some());
            e.2 += usize::from(d.unstable);
        }
        m
    }

    /// Known differences that should have been seen and were not: the
    /// entry is stale and would hide a difference that comes back. Entries
    /// marked intermittent are left out; their delay is random.
    pub fn stale(&self) -> impl Iterator<Item = &Known> {
        self.known_not_seen.iter().filter(|k| !k.intermittent)
    }
}

/// An expected difference: a scenario (id, or a prefix ending in `/`), an
/// optional line, a field, and why.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Known {
    /// The scenario id (`spec/r1-schema-version`) or a folder (`faults/`).
    pub scenario: String,
    /// The step's line; every step when absent.
    #[serde(default)]
    pub line: Option<usize>,
    /// The field.
    pub field: Field,
    /// The explanation.
    pub why: String,
    /// The difference rides on a randomized delay (client-go's jittered
    /// backoff), so some runs do not see it; it is then not called stale.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub intermittent: bool,
}

impl Known {
    /// Whether this entry explains `field` at `line` of `scenario`.
    pub fn covers(&self, scenario: &str, line: usize, field: Field) -> bool {
        self.field == field && self.concerns(scenario) && self.line.is_none_or(|l| l == line)
    }

    /// Whether this entry is about `scenario` (by id or by folder).
    pub fn concerns(&self, scenario: &str) -> bool {
        self.scenario == scenario
            || (self.scenario.ends_with('/') && scenario.starts_with(&self.scenario))
    }
}

/// Reads a known-differences file (YAML list).
pub fn read_known(path: &Path) -> Result<Vec<Known>, String> {
    let text = crate::files::read_to_string(path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    crate::yaml::from_str(&text).map_err(|e| e.in_file(path))
}

/// The SOA serial is the implementation's own clock (the reference: the
/// API's resourceVersion; CoreDNS: the time of the last change it saw), so
/// it is compared as present, not by value.
fn data_text(r: &hickory_proto::rr::Record) -> String {
    match &r.data {
        hickory_proto::rr::RData::SOA(soa) => format!(
            "{} {} (serial) {} {} {} {}",
            soa.mname, soa.rname, soa.refresh, soa.retry, soa.expire, soa.minimum
        ),
        other => other.to_string(),
    }
}

fn records(rs: &[hickory_proto::rr::Record], with_ttl: bool) -> String {
    let mut v: Vec<String> = rs
        .iter()
        .map(|r| {
            let owner = r.name.to_ascii().to_ascii_lowercase();
            if with_ttl {
                format!("{owner} {} {}", r.record_type(), r.ttl)
            } else {
                format!("{owner} {} {}", r.record_type(), data_text(r))
            }
        })
        .collect();
    v.sort();
    if v.is_empty() {
        "(none)".into()
    } else {
        v.join("; ")
    }
}

fn flags(r: &Reply) -> String {
    let mut f = vec!["qr"];
    if r.authoritative {
        f.push("aa");
    }
    if r.recursion_available {
        f.push("ra");
    }
    f.join(" ")
}

/// The value of `field` in an observation; `None` where it does not apply.
pub fn value(o: &Observed, field: Field) -> Option<String> {
    let reply = o.outcome.as_ref().and_then(Outcome::reply);
    match field {
        Field::Rcode => o.outcome.as_ref().map(|out| match out {
            Outcome::Reply(r) => crate::resolver::text::rcode_name(r.rcode).to_owned(),
            Outcome::Silent(_) => "no answer".to_owned(),
        }),
        Field::Flags => reply.map(flags),
        Field::Answer => reply.map(|r| records(&r.answers, false)),
        Field::Authority => reply.map(|r| records(&r.authorities, false)),
        Field::Additional => reply.map(|r| records(&r.additionals, false)),
        Field::Ttl => reply.map(|r| {
            let mut all = r.answers.clone();
            all.extend(r.authorities.iter().cloned());
            records(&all, true)
        }),
        Field::Candidate => o.candidate.as_ref().map(|c| match c {
            Some(n) => n.to_ascii().to_ascii_lowercase(),
            None => "(none answered)".into(),
        }),
        Field::Reachable => o
            .reachable
            .map(|r| if r { "reachable" } else { "unreachable" }.to_owned()),
    }
}

fn observations(r: &ScenarioResult) -> Vec<Option<&Observed>> {
    // Skipped steps and steps of a target that could not start observed
    // nothing.
    r.steps.iter().map(|s| s.observed.as_ref()).collect()
}

/// The scenarios each target runs: most run them as written, the
/// reference resolver may run a copy in another profile.
pub struct Variants<'a> {
    /// As written.
    pub plain: &'a [Scenario],
    /// In the chosen profile (same ids and steps), if any.
    pub profiled: Option<&'a [Scenario]>,
    /// Which targets run the profiled copy.
    pub uses_profile: Vec<bool>,
}

/// Runs every scenario on every target (the first twice) and compares.
/// `progress` hears each scenario's id as it finishes.
pub fn diff(
    variants: &Variants<'_>,
    targets: &mut [Box<dyn Target>],
    known: &[Known],
    fail_fast: bool,
    progress: &dyn Fn(&str),
) -> DiffReport {
    let scenarios = variants.plain;
    let pick = |t: usize, j: usize| -> &Scenario {
        match variants.profiled {
            Some(p) if variants.uses_profile.get(t).copied().unwrap_or(false) => &p[j],
            _ => &scenarios[j],
        }
    };
    let names: Vec<String> = targets.iter().map(|t| t.name()).collect();
    // Two targets may share a name (the same kind twice): number them.
    let names: Vec<String> = names
        .iter()
        .enumerate()
        .map(|(i, n)| {
            if names.iter().filter(|m| *m == n).count() > 1 {
                format!("{n}#{}", i + 1)
            } else {
                n.clone()
            }
        })
        .collect();
    let mut report = DiffReport {
        targets: names.clone(),
        scenarios: scenarios.len(),
        compared: 0,
        disagreements: Vec::new(),
        known_not_seen: Vec::new(),
        interrupted: false,
        not_run: Vec::new(),
    };
    let mut ran: Vec<&str> = Vec::new();
    for (j, s) in scenarios.iter().enumerate() {
        if super::interrupted() || (fail_fast && report.unexplained().next().is_some()) {
            report
                .not_run
                .extend(scenarios[j..].iter().map(|s| s.id.clone()));
            break;
        }
        let results: Vec<ScenarioResult> = targets
            .iter_mut()
            .enumerate()
            .map(|(t, target)| run_scenario(pick(t, j), target.as_mut()))
            .collect();
        let again = targets
            .first_mut()
            .map(|t| run_scenario(pick(0, j), t.as_mut()));
        let seen: Vec<Vec<Option<&Observed>>> = results.iter().map(observations).collect();
        let seen_again = again.as_ref().map(observations).unwrap_or_default();
        for (i, step) in s.steps.iter().enumerate() {
            if !step.action.is_checkable() {
                continue;
            }
            let row: Vec<Option<&Observed>> =
                seen.iter().map(|v| v.get(i).copied().flatten()).collect();
            if row.iter().filter(|o| o.is_some()).count() < 2 {
                continue;
            }
            report.compared += 1;
            for field in Field::ALL {
                let values: BTreeMap<String, String> = row
                    .iter()
                    .zip(&names)
                    .filter_map(|(o, n)| o.and_then(|o| value(o, field)).map(|v| (n.clone(), v)))
                    .collect();
                let mut distinct: Vec<&String> = values.values().collect();
                distinct.sort();
                distinct.dedup();
                if distinct.len() < 2 {
                    continue;
                }
                let unstable = match (row[0], seen_again.get(i).copied().flatten()) {
                    (Some(a), Some(b)) => value(a, field) != value(b, field),
                    _ => false,
                };
                let explained = known
                    .iter()
                    .find(|k| k.covers(&s.id, step.line, field))
                    .map(|k| k.why.clone());
                report.disagreements.push(Disagreement {
                    scenario: s.id.clone(),
                    line: step.line,
                    step: step.action.describe(),
                    field,
                    values,
                    unstable,
                    explained,
                });
            }
        }
        ran.push(&s.id);
        progress(&s.id);
    }
    report.interrupted = super::interrupted();
    report.known_not_seen = known
        .iter()
        .filter(|k| ran.iter().any(|id| k.concerns(id)))
        .filter(|k| {
            !report
                .disagreements
                .iter()
                .any(|d| k.covers(&d.scenario, d.line, d.field))
        })
        .cloned()
        .collect();
    report
}
