//! Builds a conformance report for one target: every requirement of the MCS DNS
//! specification checked by the `spec/` scenarios, with its level and
//! clause, pass/fail/skip and why, the answers seen, and who was tested, in
//! HTML, JSON and YAML (after mcs-api's report.yaml/report.html).
//!
//! An expected-failures file lists requirements a target is known to miss.
//! It is honoured both ways, as hickory's conformance CI does: a listed
//! failure is not a regression, and a listed requirement that now passes is
//! reported, so that the list is kept true.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::{clause_key, esc};
use crate::run::{ScenarioResult, Status};
use crate::scenario::Scenario;

/// A requirement's outcome.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Verdict {
    /// Every scenario of the requirement passed.
    Pass,
    /// A scenario failed, and the requirement is not listed as expected to.
    Fail,
    /// A scenario failed, as the expected-failures file says.
    ExpectedFail,
    /// Listed as expected to fail, but it passed: update the list.
    UnexpectedPass,
    /// Every step was skipped (the target cannot do what the check needs).
    Skip,
    /// A scenario was cut short, or never ran, because the run was
    /// interrupted (Ctrl-C): no verdict.
    Interrupted,
}

impl Verdict {
    /// Whether a CI gate should fail on it.
    pub fn is_problem(self) -> bool {
        matches!(self, Verdict::Fail | Verdict::UnexpectedPass)
    }

    /// The verdict in words.
    pub fn word(self) -> &'static str {
        match self {
            Verdict::Pass => "pass",
            Verdict::Fail => "fail",
            Verdict::ExpectedFail => "expected fail",
            Verdict::UnexpectedPass => "unexpected pass",
            Verdict::Skip => "skip",
            Verdict::Interrupted => "interrupted",
        }
    }
}

/// One scenario's part in a requirement.
#[derive(Clone, Debug, Serialize)]
pub struct Check {
    /// The scenario id.
    pub scenario: String,
    /// What it checks.
    pub title: String,
    /// Its status.
    pub status: String,
    /// Why it failed or was skipped.
    pub reasons: Vec<String>,
    /// The answers seen, dig-like.
    pub answers: String,
    /// The scenario file.
    #[serde(skip)]
    pub file: String,
}

/// One requirement.
#[derive(Clone, Debug, Serialize)]
pub struct Requirement {
    /// The clause (`R3`).
    pub clause: String,
    /// MUST, SHOULD, MAY, MUST NOT.
    pub level: String,
    /// The outcome.
    pub verdict: Verdict,
    /// Why it is expected to fail, from the expected-failures file.
    pub expected_failure: Option<String>,
    /// Its scenarios.
    pub checks: Vec<Check>,
}

/// The report.
#[derive(Clone, Debug, Serialize)]
pub struct Conformance {
    /// The target's name (`coredns`, `dns=127.0.0.1:53`).
    pub target: String,
    /// What it says it is (`CoreDNS-1.15.0`).
    pub version: String,
    /// The specification checked.
    pub specification: String,
    /// mcsdns's version.
    pub mcsdns: String,
    /// Every requirement, in clause order.
    pub requirements: Vec<Requirement>,
    /// Counts per verdict.
    pub totals: BTreeMap<String, usize>,
    /// The run was interrupted (Ctrl-C): some requirements have no verdict.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub interrupted: bool,
}

/// An entry of an expected-failures file.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExpectedFailure {
    /// The clause (`R1`).
    pub clause: String,
    /// Why.
    pub why: String,
}

/// Reads an expected-failures file (YAML list of clause and why).
pub fn read_expected(path: &Path) -> Result<Vec<ExpectedFailure>, String> {
    let text = crate::files::read_to_string(path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    crate::yaml::from_str(&text).map_err(|e| e.in_file(path))
}

/// Builds the report from the results of scenarios that name a clause.
pub fn build(
    target: &str,
    version: &str,
    results: &[ScenarioResult],
    expected: &[ExpectedFailure],
) -> Conformance {
    let mut by_clause: BTreeMap<String, Vec<&ScenarioResult>> = BTreeMap::new();
    for r in results {
        if let Some(c) = &r.clause {
            by_clause.entry(c.clone()).or_default().push(r);
        }
    }
    let mut requirements: Vec<Requirement> = by_clause
        .into_iter()
        .map(|(clause, rs)| {
            let failed = rs.iter().any(|r| r.status == Status::Failed);
            let skipped = rs.iter().all(|r| r.status == Status::Skipped);
            let cut = rs.iter().any(|r| r.status == Status::Interrupted);
            let listed = expected.iter().find(|e| e.clause == clause);
            let verdict = match (failed, skipped, listed) {
                (false, _, _) if cut => Verdict::Interrupted,
                (true, _, Some(_)) => Verdict::ExpectedFail,
                (true, _, None) => Verdict::Fail,
                (false, true, _) => Verdict::Skip,
                (false, false, Some(_)) => Verdict::UnexpectedPass,
                (false, false, None) => Verdict::Pass,
            };
            Requirement {
                level: rs.iter().find_map(|r| r.level.clone()).unwrap_or_default(),
                clause,
                verdict,
                expected_failure: listed.map(|e| e.why.clone()),
                checks: rs
                    .iter()
                    .map(|r| Check {
                        scenario: r.id.clone(),
                        title: r.name.clone(),
                        status: super::status_word(r.status).to_owned(),
                        reasons: r
                            .steps
                            .iter()
                            .flat_map(|s| s.failures.iter().cloned().chain(s.skip_reason.clone()))
                            .chain(r.scenario_failures())
                            .collect(),
                        answers: r.transcript(),
                        file: r.path.clone(),
                    })
                    .collect(),
            }
        })
        .collect();
    requirements.sort_by_key(|r| clause_key(&r.clause));
    let mut totals = BTreeMap::new();
    for r in &requirements {
        *totals.entry(r.verdict.word().to_owned()).or_insert(0) += 1;
    }
    Conformance {
        target: target.to_owned(),
        version: version.to_owned(),
        specification: "KEP-1645 Multi-Cluster Services DNS (clusterset.local)".into(),
        mcsdns: env!("CARGO_PKG_VERSION").into(),
        requirements,
        totals,
        interrupted: false,
    }
}

/// Marks the report of an interrupted run: every requirement whose
/// scenarios did not all run (`not_run`) has no verdict.
pub fn interrupted(mut c: Conformance, not_run: &[&Scenario]) -> Conformance {
    c.interrupted = true;
    for s in not_run {
        let Some(clause) = &s.clause else { continue };
        let level = s.level.map(|l| l.to_string()).unwrap_or_default();
        let check = Check {
            scenario: s.id.clone(),
            title: s.name.clone(),
            status: "not run".into(),
            reasons: vec!["not run: the run was interrupted (Ctrl-C)".into()],
            answers: String::new(),
            file: s.path.display().to_string(),
        };
        match c.requirements.iter_mut().find(|r| &r.clause == clause) {
            Some(r) => {
                if !r.verdict.is_problem() {
                    r.verdict = Verdict::Interrupted;
                }
                r.checks.push(check);
            }
            None => c.requirements.push(Requirement {
                clause: clause.clone(),
                level: level.clone(),
                verdict: Verdict::Interrupted,
                expected_failure: None,
                checks: vec![check],
            }),
        }
    }
    c.requirements.sort_by_key(|r| clause_key(&r.clause));
    c.totals.clear();
    for r in &c.requirements {
        *c.totals.entry(r.verdict.word().to_owned()).or_insert(0) += 1;
    }
    c
}

/// As JUnit XML: one test case per requirement, with the scenario files
/// as its file.
pub fn junit(c: &Conformance) -> String {
    use quick_junit::{NonSuccessKind, Report, TestCase, TestCaseStatus, TestSuite};
    let mut report = Report::new("mcsdns conformance");
    let mut ts = TestSuite::new(format!("conformance ({})", c.target));
    for r in &c.requirements {
        let reasons: Vec<String> = r.checks.iter().flat_map(|ch| ch.reasons.clone()).collect();
        let mut status = match r.verdict {
            Verdict::Pass => TestCaseStatus::success(),
            Verdict::Fail => TestCaseStatus::non_success(NonSuccessKind::Failure),
            Verdict::UnexpectedPass => {
                let mut st = TestCaseStatus::non_success(NonSuccessKind::Failure);
                st.set_message("listed as an expected failure, but it passed: update the list");
                st
            }
            Verdict::Interrupted => {
                let mut st = TestCaseStatus::non_success(NonSuccessKind::Error);
                st.set_type("interrupted");
                st
            }
            Verdict::ExpectedFail | Verdict::Skip => TestCaseStatus::skipped(),
        };
        if !matches!(r.verdict, Verdict::Pass | Verdict::UnexpectedPass) {
            let first = reasons
                .first()
                .cloned()
                .unwrap_or_else(|| r.verdict.word().into());
            status.set_message(match &r.expected_failure {
                Some(why) => format!("expected to fail: {why}"),
                None => first.lines().next().unwrap_or_default().to_owned(),
            });
            status.set_description(reasons.join("\n"));
        }
        let title = r.checks.first().map_or("", |ch| ch.title.as_str());
        let mut tc = TestCase::new(format!("{} {}: {title}", r.clause, r.level), status);
        tc.set_classname("mcsdns.conformance");
        if let Some(ch) = r.checks.first() {
            tc.extra.insert("file".into(), ch.file.clone().into());
        }
        ts.add_test_case(tc);
    }
    report.add_test_suite(ts);
    report.to_string().unwrap_or_default()
}

/// As JSON.
pub fn json(c: &Conformance) -> String {
    serde_json::to_string_pretty(c).unwrap_or_default()
}

/// As YAML.
pub fn yaml(c: &Conformance) -> String {
    serde_saphyr::to_string(c).unwrap_or_default()
}

/// As one self-contained HTML page.
pub fn html(c: &Conformance) -> String {
    let mut s = String::new();
    let _ = write!(
        s,
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>Conformance of {t}</title><style>\
body{{font-family:system-ui,sans-serif;margin:2em;max-width:72em;color:#222}}\
table{{border-collapse:collapse}}td,th{{border:1px solid #ccc;padding:.3em .6em;text-align:left;vertical-align:top}}\
.pass{{color:#176f2c;font-weight:bold}}.fail,.unexpected{{color:#b00020;font-weight:bold}}.expected,.skip{{color:#8a6d00}}\
pre{{background:#f6f8fa;padding:.6em;overflow-x:auto;font-size:.8em}}</style></head><body>\
<h1>Conformance of <code>{t}</code></h1><p>{v}<br>{spec}<br>mcsdns {m}</p><p>",
        t = esc(&c.target),
        v = esc(&c.version),
        spec = esc(&c.specification),
        m = esc(&c.mcsdns)
    );
    let totals: Vec<String> = c.totals.iter().map(|(k, n)| format!("{n} {k}")).collect();
    let _ = write!(
        s,
        "<b>{}</b></p><table><tr><th>clause</th><th>level</th><th>verdict</th><th>requirement and evidence</th></tr>",
        totals.join(", ")
    );
    for r in &c.requirements {
        let class = r.verdict.word().split(' ').next().unwrap_or("");
        let _ = write!(
            s,
            "<tr><td>{}</td><td>{}</td><td class=\"{class}\">{}</td><td>",
            esc(&r.clause),
            esc(&r.level),
            r.verdict.word()
        );
        if let Some(why) = &r.expected_failure {
            let _ = write!(s, "<p><i>expected to fail: {}</i></p>", esc(why));
        }
        for ch in &r.checks {
            let _ = write!(
                s,
                "<details><summary>{} <code>{}</code>: {}</summary>",
                esc(&ch.title),
                esc(&ch.scenario),
                esc(&ch.status)
            );
            for reason in &ch.reasons {
                let _ = write!(s, "<p>{}</p>", esc(reason));
            }
            let _ = write!(s, "<pre>{}</pre></details>", esc(&ch.answers));
        }
        s.push_str("</td></tr>");
    }
    s.push_str("</table></body></html>\n");
    s
}

/// Writes conformance.html, .json, .yaml and .xml (JUnit) into `dir`.
pub fn write_all(c: &Conformance, dir: &Path) -> std::io::Result<Vec<std::path::PathBuf>> {
    std::fs::create_dir_all(dir)?;
    let mut out = Vec::new();
    for (name, text) in [
        ("conformance.html", html(c)),
        ("conformance.json", json(c)),
        ("conformance.yaml", yaml(c)),
        ("conformance.xml", junit(c)),
    ] {
        let p = dir.join(name);
        crate::files::replace_file(&p, &text)?;
        out.push(p);
    }
    Ok(out)
}
