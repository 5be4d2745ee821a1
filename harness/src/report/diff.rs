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
