//! Warns about scenarios that run but prove little: queries nobody checks,
//! expectations that cannot fail.

use crate::scenario::{Action, Check, Scenario};

/// One warning.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Warning {
    /// The scenario file.
    pub path: String,
    /// The line.
    pub line: usize,
    /// What is weak, and what to do.
    pub message: String,
}

impl std::fmt::Display for Warning {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}: warning: {}", self.path, self.line, self.message)
    }
}

/// Every warning for one scenario.
pub fn lint(s: &Scenario) -> Vec<Warning> {
    let path = s.path.display().to_string();
    let mut out = Vec::new();
    let mut warn = |line: usize, message: String| {
        out.push(Warning {
            path: path.clone(),
            line,
            message,
        })
    };
    for step in &s.steps {
        if step.action.is_checkable() && step.checks.is_empty() {
            warn(
                step.line,
                format!(
                    "{} has no expectation: it can never fail (add `- expect:` after it)",
                    step.action.kind()
                ),
            );
        }
        let line = step.expect_line.unwrap_or(step.line);
        for c in &step.checks {
            match c {
                Check::TtlMin(0) => warn(line, "ttl.min 0 holds for every record: the check cannot fail".into()),
                Check::TtlMax(m) if *m == u32::MAX => warn(line, "ttl.max is the largest TTL: the check cannot fail".into()),
                Check::Flag(crate::scenario::HeaderFlag::Rd, true) => {
                    warn(line, "+rd only echoes the query's RD bit, which mcsdns always sets: the check cannot fail".into())
                }
                _ => {}
            }
        }
        let has_answer = step
            .checks
            .iter()
            .any(|c| matches!(c, Check::Answer(a) if !a.is_empty()));
        let has_noerror = step.checks.iter().any(
            |c| matches!(c, Check::Rcode(r) if *r == hickory_proto::op::ResponseCode::NoError),
        );
        if has_answer && has_noerror {
            warn(
                line,
                "rcode NOERROR is implied by a non-empty answer".into(),
            );
        }
        if let Action::Resolve { .. } = step.action
            && !step.checks.is_empty()
            && !step.checks.iter().any(|c| matches!(c, Check::Candidate(_)))
        {
            warn(
                line,
                "resolve without `candidate`: which search candidate answered goes unchecked"
                    .into(),
            );
        }
    }
    if s.tags.is_empty() {
        warn(
            1,
            "no tags: `mcsdns run --tag` cannot select this scenario".into(),
        );
    }
    out
}
