//! Prints a doctor report: for a person at a terminal, or as JSON.

use super::{Report, Severity};

/// The report for a terminal.
pub fn human(r: &Report) -> String {
    let mut s = String::new();
    let dns = &r.dns;
    s.push_str(&format!(
        "cluster DNS of {}: {} in {} (image {}, service account {}, Corefile from ConfigMap {}/{}){}\n",
        r.consumer,
        dns.deployment.as_deref().map_or("no Deployment found".into(), |d| format!("Deployment {d}")),
        dns.namespace,
        dns.image.as_deref().unwrap_or("unknown"),
        dns.identity(),
        dns.namespace,
        dns.configmap,
        dns.service_ip.as_deref().map_or(String::new(), |ip| format!(", Service kube-dns {ip}")),
    ));
    s.push_str(&format!(
        "checked {} ServiceImport(s), asked {} question(s) of the live DNS, {} API call(s) (get, list, access reviews only), {} ms\n\n",
        r.imports, r.asked, r.api_calls, r.millis
    ));
    for f in &r.findings {
        let sev = match f.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        s.push_str(&format!("{sev}[{}] {}: {}\n", f.id, f.context, f.title));
        s.push_str(&format!("  object: {}\n", f.object));
        s.push_str(&format!("  rule:   {}\n", f.rule));
        for (i, line) in f.fix.lines().enumerate() {
            s.push_str(if i == 0 { "  fix:    " } else { "          " });
            s.push_str(line);
            s.push('\n');
        }
        s.push('\n');
    }
    if !r.differences.is_empty() {
        s.push_str("live answers that differ from the reference resolver (profile coredns):\n");
        for d in &r.differences {
            s.push_str(&format!(
                "  {} {}: live {}, reference {}; {}\n",
                d.name,
                d.qtype,
                d.live,
                d.reference,
                if d.explained_by.is_empty() {
                    "unexplained".to_owned()
                } else {
                    format!("explained by {}", d.explained_by.join(", "))
                }
            ));
        }
        s.push('\n');
    }
    for u in &r.unchecked {
        s.push_str(&format!("not checked: {u}\n"));
    }
    let errors = r
        .findings
        .iter()
        .filter(|f| f.severity == Severity::Error)
        .count();
    let warnings = r.findings.len() - errors;
    if r.findings.is_empty() && r.unchecked.is_empty() {
        s.push_str("healthy: no finding\n");
    } else {
        s.push_str(&format!(
            "{errors} error(s), {warnings} warning(s), {} thing(s) not checked\n",
            r.unchecked.len()
        ));
    }
    s
}

/// The report as JSON.
pub fn json(r: &Report) -> String {
    serde_json::to_string_pretty(r).unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"))
}
