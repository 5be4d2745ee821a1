//! Writes JUnit XML: one test case per scenario with its file and line, a
//! short failure message and the details in the body, its transcript as
//! system-out; scenarios an interrupt cut short are errors, those it kept
//! from running are skipped with the reason.

use std::time::Duration;

use quick_junit::{NonSuccessKind, Property, Report, TestCase, TestCaseStatus, TestSuite};

use super::{diagnoses, failure_line, short_message};
use crate::run::{ScenarioResult, Status, SuiteResult};

/// The suite as JUnit XML.
pub fn render(suite: &SuiteResult) -> String {
    let mut report = Report::new("mcsdns");
    let mut ts = TestSuite::new(format!("mcsdns ({})", suite.target));
    ts.set_time(Duration::from_secs_f64(suite.duration_ms / 1000.0));
    if suite.interrupted {
        ts.add_property(Property::new("interrupted", "true"));
        ts.add_property(Property::new("not-run", suite.not_run.len().to_string()));
    }
    for s in &suite.scenarios {
        let mut tc = TestCase::new(s.id.clone(), status(s));
        tc.set_classname(classname(&s.id));
        tc.set_time(Duration::from_secs_f64(s.duration_ms / 1000.0));
        tc.extra.insert("file".into(), s.path.clone().into());
        if s.status != Status::Passed {
            tc.extra
                .insert("line".into(), failure_line(s).to_string().into());
        }
        tc.set_system_out(s.transcript());
        ts.add_test_case(tc);
    }
    for id in &suite.not_run {
        let mut st = TestCaseStatus::skipped();
        st.set_message(if suite.interrupted {
            "not run: the run was interrupted (Ctrl-C)"
        } else {
            "not run: the run stopped at the first failure (--fail-fast)"
        });
        let mut tc = TestCase::new(id.clone(), st);
        tc.set_classname(classname(id));
        ts.add_test_case(tc);
    }
    report.add_test_suite(ts);
    report.to_string().unwrap_or_default()
}

fn classname(id: &str) -> String {
    format!("mcsdns.{}", id.split('/').next().unwrap_or("scenarios"))
}

fn status(s: &ScenarioResult) -> TestCaseStatus {
    match s.status {
        Status::Failed => {
            let mut st = TestCaseStatus::non_success(NonSuccessKind::Failure);
            st.set_message(short_message(s));
            let mut description = s.failures().join("\n");
            for d in diagnoses(s, false) {
                description.push_str(&format!(
                    "\n\ndiagnosis {}: {}\n{}\nfix: {}",
                    d.id, d.title, d.detail, d.fix
                ));
            }
            st.set_description(description);
            st
        }
        Status::Interrupted => {
            let mut st = TestCaseStatus::non_success(NonSuccessKind::Error);
            st.set_message("cut short: the run was interrupted (Ctrl-C)");
            st.set_type("interrupted");
            st
        }
        Status::Skipped => {
            let mut st = TestCaseStatus::skipped();
            st.set_message("every step was skipped by the target");
            st
        }
        Status::Passed | Status::Done => TestCaseStatus::success(),
    }
}
