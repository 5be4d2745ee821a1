//! Writes GitHub Actions workflow commands: an `::error` annotation at the
//! file and line of each failure, so failures show on a pull request's
//! lines, then a `::notice` with the totals.

use std::fmt::Write;

use super::{diagnoses, failure_line, short_message};
use crate::run::{Status, SuiteResult};

/// Escapes a message as the runner reads it (`%`, CR and LF).
fn data(s: &str) -> String {
    s.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

/// Escapes a property value (also `:` and `,`, which end a property).
fn property(s: &str) -> String {
    data(s).replace(':', "%3A").replace(',', "%2C")
}

/// Every failure as an annotation, then the totals.
pub fn render(suite: &SuiteResult) -> String {
    let mut out = String::new();
    for s in &suite.scenarios {
        match s.status {
            Status::Failed => {
                for st in s.steps.iter().filter(|st| st.status == Status::Failed) {
                    let mut body = st.failures.join("\n");
                    for d in diagnoses(s, false)
                        .into_iter()
                        .filter(|d| st.explaining.contains(&d.id))
                    {
                        let _ = write!(body, "\ndiagnosis {}: {}\nfix: {}", d.id, d.title, d.fix);
                    }
                    annotate(
                        &mut out,
                        "error",
                        &s.path,
                        st.line,
                        &format!("{}: {}", s.id, st.action),
                        &body,
                    );
                }
                if let Some(m) = &s.snapshot_mismatch {
                    annotate(
                        &mut out,
                        "error",
                        &s.path,
                        1,
                        &format!("{}: snapshot", s.id),
                        &m.to_string(),
                    );
                }
            }
            Status::Interrupted => annotate(
                &mut out,
                "warning",
                &s.path,
                failure_line(s),
                &s.id,
                &short_message(s),
            ),
            _ => {}
        }
    }
    let _ = writeln!(out, "::notice title=mcsdns::{}", data(&suite.totals()));
    out
}

fn annotate(out: &mut String, level: &str, file: &str, line: usize, title: &str, body: &str) {
    let _ = writeln!(
        out,
        "::{level} file={},line={line},title={}::{}",
        property(file),
        property(title),
        data(body)
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_and_properties_are_escaped_as_the_runner_reads_them() {
        assert_eq!(data("50%\nnext"), "50%25%0Anext");
        assert_eq!(property("a:b,c"), "a%3Ab%2Cc");
    }
}
