//! Real CoreDNS (a stock build with the kubernetes plugin's `multicluster`
//! option) under the harness, reading the API emulator as its service
//! account. `.ci/run` installs it (`go install
//! github.com/coredns/coredns@v1.15.0`); elsewhere these tests skip, saying
//! so, unless `coredns` is on the PATH, in `$GOBIN`, `$GOPATH/bin` or
//! `~/go/bin`, or named by `MCSDNS_COREDNS`.

mod common;

use std::path::PathBuf;
use std::time::Duration;

use common::{repo, suite_scenarios};
use mcsdns::run::diff::{Variants, diff, read_known};
use mcsdns::run::{ScenarioResult, Status, run_scenario};
use mcsdns::scenario::Scenario;
use mcsdns::target::outside::{OutsideOptions, OutsideTarget, Server};
use mcsdns::target::peer::coredns::CoreDnsPeer;
use mcsdns::target::{ReferenceTarget, Target};

fn coredns() -> Option<CoreDnsPeer> {
    let path = std::env::var_os("MCSDNS_COREDNS").map(PathBuf::from);
    match CoreDnsPeer::find(path.as_deref()) {
        Ok(p) => Some(p),
        Err(e) => {
            eprintln!("skipped: {e}");
            None
        }
    }
}

fn target(peer: CoreDnsPeer, settle: Duration) -> OutsideTarget {
    OutsideTarget::new(
        Server::Managed(Box::new(peer)),
        OutsideOptions {
            settle,
            ..Default::default()
        },
    )
    .unwrap()
}

fn step_at(r: &ScenarioResult, line: usize) -> &mcsdns::run::StepResult {
    r.steps
        .iter()
        .find(|s| s.line == line)
        .expect("a step at that line")
}

/// Each of the field report's failures happens on real CoreDNS, and the
/// harness explains it: the step that shows the failure, with its
/// diagnosis, passes.
#[test]
fn the_field_reports_failures_happen_on_real_coredns() {
    let Some(peer) = coredns() else { return };
    let mut t = target(peer, Duration::from_secs(5));
    for (id, line, diagnosis) in [
        ("seed/ra-flag", 23, "ra-flag-off"),
        ("seed/missing-ips", 28, "import-without-ips"),
        ("seed/local-shadowing", 31, "local-shadowing"),
        ("seed/port-mismatch", 17, "port-mismatch"),
    ] {
        let s = suite_scenarios(id).remove(0);
        let r = run_scenario(&s, &mut t);
        let step = step_at(&r, line);
        assert_eq!(
            step.status,
            Status::Passed,
            "{id}:{line}: {:?}\n{}",
            step.failures,
            r.transcript()
        );
        assert!(
            step.diagnoses.iter().any(|d| d.id == diagnosis),
            "{id}:{line} has no {diagnosis}: {:?}",
            step.diagnoses
        );
    }
    // RBAC: the import is denied, and CoreDNS's own log says why.
    let s = suite_scenarios("seed/rbac-denied").remove(0);
    let r = run_scenario(&s, &mut t);
    let step = step_at(&r, 44);
    assert!(
        step.diagnoses.iter().any(|d| d.id == "rbac-serviceimports"),
        "{:?}",
        step.diagnoses
    );
    let transcript = r.transcript();
    assert!(
        transcript.contains(";; coredns: [ERROR]")
            && transcript.contains(r#"serviceimports.multicluster.x-k8s.io is forbidden: User "system:serviceaccount:kube-system:coredns" cannot list resource "serviceimports""#),
        "{transcript}"
    );
}

/// The reference resolver in the `coredns` profile and real CoreDNS agree
/// on every query of the suite but the differences written down, with
/// their reasons, in fixtures/known/.
#[test]
fn the_coredns_profile_has_no_unexplained_difference_from_real_coredns() {
    let Some(peer) = coredns() else { return };
    let plain = suite_scenarios("");
    let profiled: Vec<Scenario> = plain
        .iter()
        .map(|s| s.with_profile(mcsdns::resolver::Profile::Coredns).unwrap())
        .collect();
    let known = read_known(&repo().join("fixtures/known/coredns-1.15.0.yaml")).unwrap();
    let mut targets: Vec<Box<dyn Target>> = vec![
        Box::new(ReferenceTarget::new()),
        Box::new(target(peer, Duration::from_secs(5))),
    ];
    let variants = Variants {
        plain: &plain,
        profiled: Some(&profiled),
        uses_profile: vec![true, false],
    };
    let report = diff(&variants, &mut targets, &known, false, &|_| {});
    let unexplained: Vec<_> = report.unexplained().collect();
    assert!(report.compared > 90, "{}", report.compared);
    assert!(
        unexplained.is_empty(),
        "{}",
        mcsdns::report::diff::markdown(&report)
    );
    // Every known difference still happens (a stale entry hides nothing),
    // but those that ride on client-go's jittered backoff.
    let stale: Vec<_> = report.stale().collect();
    assert!(
        stale.is_empty(),
        "known differences no longer seen: {stale:#?}"
    );
}
