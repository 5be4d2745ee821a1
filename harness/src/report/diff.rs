//! Writes a differential run's report as Markdown for a CI job summary:
//! disagreements by field, each with every target's value and whether a
//! known difference explains it.

use crate::run::diff::DiffReport;

/// The report as Markdown (a CI job summary).
pub fn markdown(r: &DiffReport) -> String {
    let mut out = format!(
        "# mcsdns diff: {}\n\n{} scenarios, {} steps compared, {} disagreements ({} unexplained, {} unstable).\n\n",
        r.targets.join(" vs "),
        r.scenarios,
        r.compared,
        r.disagreements.len(),
        r.unexplained().count(),
        r.disagreements.iter().filter(|d| d.unstable).count()
    );
    if r.interrupted {
        out.push_str(&format!(
            "**INTERRUPTED** (Ctrl-C): {} scenario(s) not run; a scenario cut short is compared up to where it stopped.\n\n",
            r.not_run.len()
        ));
    } else if !r.not_run.is_empty() {
        out.push_str(&format!(
            "Stopped at the first unexplained disagreement: {} scenario(s) not run.\n\n",
            r.not_run.len()
        ));
    }
    out.push_str("| field | disagreements | explained | unstable |\n|---|---:|---:|---:|\n");
    for (f, (n, e, u)) in r.by_field() {
        out.push_str(&format!("| {f} | {n} | {e} | {u} |\n"));
    }
    out.push_str(&format!(
        "\n| scenario | step | field | {} | status |\n|---|---|---|{}---|\n",
        r.targets.join(" | "),
        "---|".repeat(r.targets.len())
    ));
    for d in &r.disagreements {
        let cells: Vec<String> = r
            .targets
            .iter()
            .map(|t| {
                d.values
                    .get(t)
                    .map_or("–".into(), |v| format!("`{}`", v.replace('|', "\\|")))
            })
            .collect();
        let status = if d.unstable {
            "unstable".to_owned()
        } else {
            match &d.explained {
                Some(why) => format!("known: {why}"),
                None => "**unexplained**".into(),
            }
        };
        out.push_str(&format!(
            "| {}:{} | `{}` | {} | {} | {} |\n",
            d.scenario,
            d.line,
            d.step,
            d.field,
            cells.join(" | "),
            status.replace('|', "\\|")
        ));
    }
    if !r.known_not_seen.is_empty() {
        out.push_str("\n## Known differences not seen in this run\n\n| scenario | field | why | status |\n|---|---|---|---|\n");
        for k in &r.known_not_seen {
            let place = match k.line {
                Some(l) => format!("{}:{l}", k.scenario),
                None => k.scenario.clone(),
            };
            let status = if k.intermittent {
                "intermittent (a random delay decides)"
            } else {
                "**stale**: the entry would hide a difference that comes back"
            };
            out.push_str(&format!(
                "| {place} | {} | {} | {status} |\n",
                k.field,
                k.why.replace('|', "\\|")
            ));
        }
    }
    out
}

/// As JUnit XML: one test case per unexplained disagreement, failing at its
/// scenario file (`file_of` maps an id to its file) and line.
pub fn junit(r: &DiffReport, file_of: &dyn Fn(&str) -> String) -> String {
    use quick_junit::{NonSuccessKind, Property, Report, TestCase, TestCaseStatus, TestSuite};
    let mut report = Report::new("mcsdns diff");
    let mut ts = TestSuite::new(format!("diff ({})", r.targets.join(" vs ")));
    if r.interrupted {
        ts.add_property(Property::new("interrupted", "true"));
        ts.add_property(Property::new("not-run", r.not_run.len().to_string()));
    }
    for d in &r.disagreements {
        let status = if d.unstable || d.explained.is_some() {
            TestCaseStatus::success()
        } else {
            let mut st = TestCaseStatus::non_success(NonSuccessKind::Failure);
            st.set_message(format!("{} differs: {}", d.field, values(d)));
            st
        };
        let mut tc = TestCase::new(format!("{}:{} {}", d.scenario, d.line, d.field), status);
        tc.set_classname("mcsdns.diff");
        tc.extra.insert("file".into(), file_of(&d.scenario).into());
        tc.extra.insert("line".into(), d.line.to_string().into());
        ts.add_test_case(tc);
    }
    for id in &r.not_run {
        let mut st = TestCaseStatus::skipped();
        st.set_message("not run");
        let mut tc = TestCase::new(id.clone(), st);
        tc.set_classname("mcsdns.diff");
        ts.add_test_case(tc);
    }
    report.add_test_suite(ts);
    report.to_string().unwrap_or_default()
}

/// As GitHub Actions annotations: each unexplained disagreement on its line.
pub fn github(r: &DiffReport, file_of: &dyn Fn(&str) -> String) -> String {
    let mut out = String::new();
    for d in r.unexplained() {
        out.push_str(&format!(
            "::error file={},line={},title={}::{} differs: {}\n",
            file_of(&d.scenario).replace(',', "%2C").replace(':', "%3A"),
            d.line,
            format!("{} {}", d.scenario, d.field)
                .replace(',', "%2C")
                .replace(':', "%3A"),
            d.field,
            values(d).replace('%', "%25").replace('\n', "%0A")
        ));
    }
    out
}

fn values(d: &crate::run::diff::Disagreement) -> String {
    d.values
        .iter()
        .map(|(t, v)| format!("{t}: {v}"))
        .collect::<Vec<_>>()
        .join("; ")
}
