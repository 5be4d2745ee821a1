//! Writes JUnit XML: one test case per scenario, its transcript as system-out.

use std::time::Duration;

use quick_junit::{NonSuccessKind, Report, TestCase, TestCaseStatus, TestSuite};

use crate::run::{Status, SuiteResult};

/// The suite as JUnit XML.
pub fn render(suite: &SuiteResult) -> String {
    let mut report = Report::new("mcsdns");
    let mut ts = TestSuite::new(format!("mcsdns ({})", suite.target));
    ts.set_time(Duration::from_secs_f64(suite.duration_ms / 1000.0));
    for s in &suite.scenarios {
        let status = match s.status {
            Status::Failed => {
                let mut st = TestCaseStatus::non_success(NonSuccessKind::Failure);
                let failures = s.failures();
                st.set_message(failures.first().cloned().unwrap_or_else(|| "failed".into()));
                let mut description = failures.join("\n");
                for d in s.steps.iter().flat_map(|st| &st.diagnoses) {
                    description.push_str(&format!(
                        "\n\ndiagnosis {}: {}\n{}\nfix: {}",
                        d.id, d.title, d.detail, d.fix
                    ));
                }
                st.set_description(description);
                st
            }
            Status::Skipped => {
                let mut st = TestCaseStatus::skipped();
                st.set_message("every step was skipped by the target");
                st
            }
            Status::Passed | Status::Done => TestCaseStatus::success(),
        };
        let mut tc = TestCase::new(s.id.clone(), status);
        tc.set_classname(format!(
            "mcsdns.{}",
            s.id.split('/').next().unwrap_or("scenarios")
        ));
        tc.set_time(Duration::from_secs_f64(s.duration_ms / 1000.0));
        tc.set_system_out(s.transcript());
        ts.add_test_case(tc);
    }
    report.add_test_suite(ts);
    report.to_string().unwrap_or_default()
}
