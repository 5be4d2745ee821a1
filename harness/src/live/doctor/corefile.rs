//! Checks what the Corefile and the CoreDNS build decide: the version can
//! serve the zone, the zone is served and not shadowed, answers carry RA.

use hickory_proto::rr::Name;

use super::{Finding, Inputs, Severity};
use crate::resolver::config::{Flag, Plugin, PluginKind, ServerConfig};
use crate::resolver::corefile::Corefile;

/// The first CoreDNS release whose kubernetes plugin has the `multicluster` option.
pub const IN_TREE_SINCE: (u32, u32, u32) = (1, 12, 2);

/// A zone as a Corefile spells it (`clusterset.local`).
fn bare(zone: &Name) -> String {
    zone.to_string().trim_end_matches('.').to_owned()
}

fn version_text((a, b, c): (u32, u32, u32)) -> String {
    format!("{a}.{b}.{c}")
}

/// A unified diff of the Corefile before and after `edit`, with the
/// command that opens it.
pub(super) fn corefile_fix(
    inputs: &Inputs<'_>,
    cf: &Corefile,
    edit: impl FnOnce(&mut Vec<String>),
) -> String {
    let mut lines: Vec<String> = cf.text.lines().map(str::to_owned).collect();
    edit(&mut lines);
    let mut new = lines.join("\n");
    new.push('\n');
    let label = format!(
        "ConfigMap {}/{}",
        inputs.dns.namespace, inputs.dns.configmap
    );
    let diff = similar::TextDiff::from_lines(cf.text.as_str(), new.as_str())
        .unified_diff()
        .context_radius(2)
        .header(
            &format!("{label} (Corefile)"),
            &format!("{label} (Corefile, fixed)"),
        )
        .to_string();
    format!(
        "kubectl -n {} edit configmap {} # change the Corefile:\n{diff}",
        inputs.dns.namespace, inputs.dns.configmap
    )
}

/// The server block (config and parsed) answering `zone`.
fn server_of<'a>(inputs: &'a Inputs<'_>, zone: &Name) -> Option<(usize, &'a ServerConfig)> {
    let config = inputs.config?;
    let chosen = config.server_for(zone)?;
    let index = config
        .servers
        .iter()
        .position(|s| std::ptr::eq(s, chosen))?;
    Some((index, chosen))
}

/// Moves the standalone `multicluster ZONE` line into the kubernetes
/// block as the in-tree option (and adds the zone to its zones).
fn to_in_tree(cf: &Corefile, lines: &mut Vec<String>, zone: &str) {
    let directives = || cf.blocks.iter().flat_map(|b| b.directives.iter());
    let standalone = directives().find(|d| d.name.text == "multicluster");
    // Edits by original line index, applied from the bottom up.
    let mut edits: Vec<(usize, Option<String>, Vec<String>)> = Vec::new();
    if let Some(d) = standalone {
        edits.push((d.name.line - 1, None, Vec::new()));
    }
    if let Some(k) = directives().find(|d| d.name.text == "kubernetes") {
        let at = k.name.line - 1;
        let Some(old) = lines.get(at) else { return };
        let indent: String = old.chars().take_while(|c| c.is_whitespace()).collect();
        let mut line = old.clone();
        if !k.args.iter().any(|a| a.text.trim_end_matches('.') == zone) {
            match line.rfind('{') {
                Some(i) => line.insert_str(i, &format!("{zone} ")),
                None => line.push_str(&format!(" {zone}")),
            }
        }
        let mut after = vec![format!("{indent}    multicluster {zone}")];
        if !line.contains('{') {
            line.push_str(" {");
            after.push(format!("{indent}}}"));
        }
        edits.push((at, Some(line), after));
    }
    edits.sort_by_key(|e| std::cmp::Reverse(e.0));
    for (at, replace, after) in edits {
        if at >= lines.len() {
            continue;
        }
        match replace {
            None => {
                lines.remove(at);
            }
            Some(line) => {
                lines[at] = line;
                for (i, l) in after.into_iter().enumerate() {
                    lines.insert(at + 1 + i, l);
                }
            }
        }
    }
}

/// The build can serve the zone: the in-tree option needs CoreDNS >= 1.12.2;
/// the standalone plugin is not in a stock build.
pub(super) fn version(inputs: &Inputs<'_>) -> Vec<Finding> {
    let (Some(config), Some(cf)) = (inputs.config, inputs.corefile) else {
        return Vec::new();
    };
    let dns = inputs.dns;
    let deployment = format!(
        "Deployment {}/{}",
        dns.namespace,
        dns.deployment.as_deref().unwrap_or("coredns")
    );
    let image = dns
        .image
        .clone()
        .unwrap_or_else(|| "(unknown image)".into());
    let set_image = format!(
        "kubectl -n {} set image deployment/{} {}=registry.k8s.io/coredns/coredns:v{}",
        dns.namespace,
        dns.deployment.as_deref().unwrap_or("coredns"),
        dns.container.as_deref().unwrap_or("coredns"),
        version_text(IN_TREE_SINCE)
    );
    let mut out = Vec::new();
    let in_tree = config
        .zone_plugins()
        .find(|z| z.kind == PluginKind::Kubernetes && !z.mcs_zones.is_empty());
    let too_old = dns.version.is_some_and(|v| v < IN_TREE_SINCE);
    if let (Some(z), true) = (in_tree, too_old) {
        out.push(Finding {
            id: "coredns-too-old".into(),
            severity: Severity::Error,
            context: inputs.options.consumer.clone(),
            object: deployment.clone(),
            title: format!(
                "CoreDNS {} cannot serve {}: the kubernetes plugin's multicluster option needs {} or later",
                version_text(dns.version.unwrap_or_default()),
                z.mcs_zones.iter().map(bare).collect::<Vec<_>>().join(", "),
                version_text(IN_TREE_SINCE)
            ),
            rule: format!(
                "{}:{}: `kubernetes ... {{ multicluster ... }}`; image {image} predates the option (CoreDNS PR #7266), so CoreDNS refuses the Corefile",
                cf.path.display(),
                z.line
            ),
            fix: set_image.clone(),
        });
    }
    if config.has_standalone_multicluster() && dns.is_stock() {
        let line = config
            .zone_plugins()
            .find(|z| z.kind == PluginKind::Multicluster)
            .map_or(0, |z| z.line);
        let zone = bare(&inputs.options.zone);
        let mut fix = corefile_fix(inputs, cf, |lines| to_in_tree(cf, lines, &zone));
        if dns.version.is_none_or(|v| v < IN_TREE_SINCE) {
            fix = format!("{set_image}\n{fix}");
        }
        out.push(Finding {
            id: "multicluster-not-in-build".into(),
            severity: Severity::Error,
            context: inputs.options.consumer.clone(),
            object: deployment,
            title: format!("image {image} is a stock CoreDNS build without the standalone multicluster plugin"),
            rule: format!(
                "{}:{line}: `multicluster` is the external plugin github.com/coredns/multicluster, compiled in only by a custom build (plugin.cfg); a stock CoreDNS stops with \"Unknown directive 'multicluster'\"",
                cf.path.display()
            ),
            fix,
        });
    }
    out
}

/// The MCS zone is served, and no kubernetes plugin answers it first.
pub(super) fn zone(inputs: &Inputs<'_>) -> Vec<Finding> {
    let (Some(config), Some(cf)) = (inputs.config, inputs.corefile) else {
        return Vec::new();
    };
    let zone = &inputs.options.zone;
    let served = config.zone_plugins().any(|z| z.mcs_zones.contains(zone));
    if !served {
        let text = bare(zone);
        return vec![Finding {
            id: "zone-not-served".into(),
            severity: Severity::Error,
            context: inputs.options.consumer.clone(),
            object: format!(
                "ConfigMap {}/{}",
                inputs.dns.namespace, inputs.dns.configmap
            ),
            title: format!("the Corefile does not serve {text} from ServiceImports"),
            rule: format!(
                "{}: no `multicluster {text}` (option of kubernetes, or the standalone plugin)",
                cf.path.display()
            ),
            fix: corefile_fix(inputs, cf, |lines| to_in_tree(cf, lines, &text)),
        }];
    }
    let Some((_, server)) = server_of(inputs, zone) else {
        return Vec::new();
    };
    let zones: Vec<_> = server
        .chain
        .iter()
        .filter_map(|p| match p {
            Plugin::Zone(z) => Some(z),
            _ => None,
        })
        .collect();
    let probe = crate::resolver::zone::child(zone, &["svc"]);
    let k8s = zones.iter().position(|z| {
        z.kind == PluginKind::Kubernetes
            && !z.mcs_zones.contains(zone)
            && z.zone_for(&probe).is_some()
    });
    let mc = zones.iter().position(|z| z.mcs_zones.contains(zone));
    match (k8s, mc) {
        (Some(k), Some(m)) if k < m && !zones[k].fallthrough.covers(&probe) => vec![Finding {
            id: "mcs-zone-shadowed".into(),
            severity: Severity::Error,
            context: inputs.options.consumer.clone(),
            object: format!("ConfigMap {}/{}", inputs.dns.namespace, inputs.dns.configmap),
            title: format!("the kubernetes plugin answers {} before multicluster can", bare(zone)),
            rule: format!(
                "{cf}:{kl}: kubernetes serves {z} and runs first (plugin.cfg order) without fallthrough; {cf}:{ml}: multicluster {z} never sees the query",
                cf = cf.path.display(),
                kl = zones[k].line,
                ml = zones[m].line,
                z = bare(zone)
            ),
            fix: "serve the imports from clusterset.local (`multicluster clusterset.local` as the kubernetes plugin's option), or add `fallthrough` to the kubernetes block".into(),
        }],
        _ => Vec::new(),
    }
}

/// Answers carry RA: `header { response set ra }` in the zone's server block.
pub(super) fn ra(inputs: &Inputs<'_>) -> Vec<Finding> {
    let (Some(_), Some(cf)) = (inputs.config, inputs.corefile) else {
        return Vec::new();
    };
    let zone = &inputs.options.zone;
    let Some((index, server)) = server_of(inputs, zone) else {
        return Vec::new();
    };
    let sets_ra = server.chain.iter().any(|p| match p {
        Plugin::Header { actions, .. } => actions.iter().any(|a| a.set && a.flag == Flag::Ra),
        _ => false,
    });
    if sets_ra {
        return Vec::new();
    }
    let Some(block) = cf.blocks.get(index) else {
        return Vec::new();
    };
    let header_line = server.chain.iter().find_map(|p| match p {
        Plugin::Header { line, .. } => Some(*line),
        _ => None,
    });
    let open = block.keys.first().map_or(1, |k| k.line);
    vec![Finding {
        id: "ra-flag-off".into(),
        severity: Severity::Warning,
        context: inputs.options.consumer.clone(),
        object: format!("ConfigMap {}/{}", inputs.dns.namespace, inputs.dns.configmap),
        title: "answers have no RA flag, so dig warns \"recursion requested but not available\" and some clients give up".into(),
        rule: match header_line {
            Some(l) => format!("{}:{l}: the header plugin does not `response set ra`", cf.path.display()),
            None => format!(
                "{}:{open}: the server block has no `header {{ response set ra }}`; CoreDNS's authoritative plugins never set RA",
                cf.path.display()
            ),
        },
        fix: corefile_fix(inputs, cf, |lines| {
            let at = open.min(lines.len());
            for (i, l) in ["    header {", "        response set ra", "    }"].iter().enumerate() {
                lines.insert(at + i, (*l).to_owned());
            }
        }),
    }]
}
