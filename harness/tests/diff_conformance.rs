//! `mcsdns diff` and `mcsdns conformance` on targets that need nothing
//! installed: the reference resolver against itself, and in two profiles.

mod common;

use common::suite_scenarios;
use mcsdns::report::conformance::{self, ExpectedFailure, Verdict};
use mcsdns::resolver::Profile;
use mcsdns::run::diff::{Field, Known, Variants, diff};
use mcsdns::run::run_scenario;
use mcsdns::scenario::Scenario;
use mcsdns::target::{ReferenceTarget, Target};

fn two_references() -> Vec<Box<dyn Target>> {
    vec![
        Box::new(ReferenceTarget::new()),
        Box::new(ReferenceTarget::new()),
    ]
}

#[test]
fn a_target_agrees_with_itself_on_every_field() {
    let plain = suite_scenarios("spec/");
    let variants = Variants {
        plain: &plain,
        profiled: None,
        uses_profile: vec![false, false],
    };
    let report = diff(&variants, &mut two_references(), &[], false, &|_| {});
    assert!(report.compared >= 20, "{}", report.compared);
    assert!(
        report.disagreements.is_empty(),
        "{:#?}",
        report.disagreements
    );
    assert_eq!(report.targets, ["reference#1", "reference#2"]);
}

#[test]
fn the_two_profiles_disagree_where_the_semantics_table_says_and_known_entries_explain() {
    let plain = suite_scenarios("spec/r1-schema-version");
    let profiled: Vec<Scenario> = plain
        .iter()
        .map(|s| s.with_profile(Profile::Coredns).unwrap())
        .collect();
    let variants = Variants {
        plain: &plain,
        profiled: Some(&profiled),
        uses_profile: vec![false, true],
    };
    let report = diff(&variants, &mut two_references(), &[], false, &|_| {});
    // dns-version: "1.0.0" (KEP) against "1.1.0" (CoreDNS), in the answer only.
    let fields: Vec<Field> = report.disagreements.iter().map(|d| d.field).collect();
    assert_eq!(fields, [Field::Answer], "{:#?}", report.disagreements);
    let d = &report.disagreements[0];
    assert!(
        d.values["reference#1"].ends_with("TXT 1.0.0"),
        "{:?}",
        d.values
    );
    assert!(
        d.values["reference#2"].ends_with("TXT 1.1.0"),
        "{:?}",
        d.values
    );
    assert!(!d.unstable);
    assert_eq!(report.unexplained().count(), 1);
    // Explained by a known entry, it no longer fails a gate.
    let known = vec![Known {
        scenario: "spec/".into(),
        line: None,
        field: Field::Answer,
        why: "the CoreDNS schema version".into(),
        intermittent: false,
    }];
    let report = diff(&variants, &mut two_references(), &known, false, &|_| {});
    assert_eq!(report.unexplained().count(), 0);
    assert!(mcsdns::report::diff::markdown(&report).contains("known: the CoreDNS schema version"));
    assert!(report.known_not_seen.is_empty());
}

#[test]
fn a_known_difference_that_does_not_happen_is_stale_unless_intermittent() {
    let plain = suite_scenarios("spec/r1-schema-version");
    let variants = Variants {
        plain: &plain,
        profiled: None,
        uses_profile: vec![false, false],
    };
    let entry = |scenario: &str, field: Field, intermittent: bool| Known {
        scenario: scenario.into(),
        line: None,
        field,
        why: format!("{field} of {scenario}"),
        intermittent,
    };
    let known = vec![
        entry("spec/r1-schema-version", Field::Rcode, false),
        entry("spec/", Field::Ttl, true),
        // About a scenario this run did not include: not judged.
        entry("seed/ra-flag", Field::Flags, false),
    ];
    // The same profile twice: no disagreement, so nothing is seen.
    let report = diff(&variants, &mut two_references(), &known, false, &|_| {});
    assert!(report.disagreements.is_empty());
    let not_seen: Vec<(&str, Field)> = report
        .known_not_seen
        .iter()
        .map(|k| (k.scenario.as_str(), k.field))
        .collect();
    assert_eq!(
        not_seen,
        [
            ("spec/r1-schema-version", Field::Rcode),
            ("spec/", Field::Ttl)
        ]
    );
    let stale: Vec<Field> = report.stale().map(|k| k.field).collect();
    assert_eq!(stale, [Field::Rcode]);
    let md = mcsdns::report::diff::markdown(&report);
    assert!(
        md.contains(
            "| spec/r1-schema-version | rcode | rcode of spec/r1-schema-version | **stale**"
        ),
        "{md}"
    );
    assert!(
        md.contains("| spec/ | ttl | ttl of spec/ | intermittent"),
        "{md}"
    );
}

#[test]
fn conformance_honours_expected_failures_both_ways() {
    // R1 passes on the reference, R3 is made to fail by running the spec in
    // the coredns profile (SRV for unnamed ports).
    let mut results = Vec::new();
    for s in suite_scenarios("spec/r1-")
        .into_iter()
        .chain(suite_scenarios("spec/r3-unnamed"))
    {
        let s = if s.id.contains("r3-") {
            s.with_profile(Profile::Coredns).unwrap()
        } else {
            s
        };
        results.push(run_scenario(&s, &mut ReferenceTarget::new()));
    }
    let expected = vec![ExpectedFailure {
        clause: "R1".into(),
        why: "listed, but it passes".into(),
    }];
    let report = conformance::build("reference", "test", &results, &expected);
    let verdict = |c: &str| {
        report
            .requirements
            .iter()
            .find(|r| r.clause == c)
            .unwrap()
            .verdict
    };
    assert_eq!(verdict("R1"), Verdict::UnexpectedPass);
    assert_eq!(verdict("R3"), Verdict::Fail);
    assert!(verdict("R1").is_problem() && verdict("R3").is_problem());
    let r3 = report
        .requirements
        .iter()
        .find(|r| r.clause == "R3")
        .unwrap();
    assert_eq!(r3.level, "MUST NOT");
    assert!(!r3.checks[0].reasons.is_empty() && r3.checks[0].answers.contains("SRV"));
    // Listing R3 makes its failure expected.
    let expected = vec![ExpectedFailure {
        clause: "R3".into(),
        why: "known".into(),
    }];
    let report = conformance::build("reference", "test", &results, &expected);
    assert_eq!(
        report
            .requirements
            .iter()
            .find(|r| r.clause == "R3")
            .unwrap()
            .verdict,
        Verdict::ExpectedFail
    );
    assert!(!report.requirements.iter().any(|r| r.verdict.is_problem()));
    for text in [
        conformance::html(&report),
        conformance::json(&report),
        conformance::yaml(&report),
    ] {
        assert!(text.contains("R3") && text.contains("MUST NOT"), "{text}");
    }
}
