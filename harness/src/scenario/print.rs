//! Prints scenario files in the house style (block mappings, flow lists of
//! scalars, literal blocks for manifests and Corefiles), so that what
//! record mode writes reads as if written by hand. Parsing what this
//! prints gives back the same file (tested over the built-in suite).

use super::format::{
    ApplySpec, ClientSpec, CorefileSpec, ExpectSpec, FaultSpec, ManifestSource, ObjectRef,
    PatchSpec, ResolverSpec, ScenarioFile, Step,
};

/// One scenario file, whole. Comments are not part of the parsed file, so
/// they are not printed.
pub fn print(file: &ScenarioFile) -> String {
    let mut out = Vec::new();
    if let Some(n) = &file.name {
        out.push(format!("name: {}", scalar(n)));
    }
    if let Some(d) = &file.description {
        push_text(&mut out, 0, "description", d);
    }
    if !file.tags.is_empty() {
        out.push(format!("tags: {}", flow(&file.tags)));
    }
    if let Some(c) = &file.clause {
        out.push(format!("clause: {}", scalar(c)));
    }
    if let Some(l) = &file.level {
        out.push(format!("level: {}", scalar(&l.to_string())));
    }
    if !file.controllers.is_empty() {
        let names: Vec<String> = file.controllers.iter().map(|c| c.value.clone()).collect();
        out.push(format!("controllers: {}", flow(&names)));
    }
    out.push("world:".into());
    for (cluster, sources) in &file.world {
        // A cluster with no manifests (the Submariner broker) is `[]`.
        if sources.is_empty() {
            out.push(format!("  {}: []", scalar(cluster)));
            continue;
        }
        out.push(format!("  {}:", scalar(cluster)));
        for s in sources {
            out.extend(item(4, manifest_source(s)));
        }
    }
    out.push("resolver:".into());
    out.extend(indent(2, resolver(&file.resolver)));
    if let Some(c) = &file.client {
        out.push("client:".into());
        out.extend(indent(2, client(c)));
    }
    out.push("steps:".into());
    for s in &file.steps {
        out.extend(item(2, step(&s.value)));
    }
    let mut text = out.join("\n");
    text.push('\n');
    text
}

/// The lines of one step, as the entry of a step list (`query: NAME A`, or
/// `expect:` and its checks below it).
pub fn step(step: &Step) -> Vec<String> {
    match step {
        Step::Query(s) => vec![format!("query: {}", scalar(s))],
        Step::Resolve(s) => vec![format!("resolve: {}", scalar(s))],
        Step::Connect(s) => vec![format!("connect: {}", scalar(s))],
        Step::Advance(s) => vec![format!("advance: {}", scalar(s))],
        Step::Apply(a) => nested("apply", apply(a)),
        Step::Delete(o) => nested("delete", object_ref(o)),
        Step::Patch(p) => nested("patch", patch(p)),
        Step::Corefile(c) => nested("corefile", corefile(c)),
        Step::Fault(f) => nested("fault", fault(f)),
        Step::Expect(e) => nested("expect", expect(e)),
    }
}

/// The checks of an expectation, one key a line, in the format's order.
pub fn expect(e: &ExpectSpec) -> Vec<String> {
    let mut out = Vec::new();
    if let Some(r) = &e.rcode {
        out.push(format!("rcode: {}", scalar(&r.value)));
    }
    if let Some(a) = &e.answer {
        out.push(format!("answer: {}", flow(a)));
    }
    if let Some(sets) = &e.answer_any_of {
        out.extend(nested(
            "answer_any_of",
            sets.iter().map(|s| format!("- {}", flow(s))).collect(),
        ));
    }
    if let Some(r) = &e.rotates_over {
        let mut inner = vec![format!("queries: {}", r.queries)];
        inner.extend(nested(
            "answers",
            r.answers.iter().map(|s| format!("- {}", flow(s))).collect(),
        ));
        out.extend(nested("rotates_over", inner));
    }
    push_bool(&mut out, "nodata", e.nodata);
    push_bool(&mut out, "no_response", e.no_response);
    if let Some(f) = &e.flags {
        out.push(format!("flags: {}", scalar(&f.value)));
    }
    push_bool(&mut out, "authority_soa", e.authority_soa);
    if let Some(a) = &e.additional {
        out.push(format!("additional: {}", flow(a)));
    }
    if let Some(c) = &e.count {
        let mut inner = Vec::new();
        push_num(&mut inner, "answer", c.answer);
        push_num(&mut inner, "authority", c.authority);
        push_num(&mut inner, "additional", c.additional);
        out.extend(nested("count", inner));
    }
    if let Some(t) = &e.ttl {
        let mut inner = Vec::new();
        push_num(&mut inner, "min", t.min);
        push_num(&mut inner, "max", t.max);
        out.extend(nested("ttl", inner));
    }
    if let Some(c) = &e.candidate {
        out.push(format!("candidate: {}", scalar(c)));
    }
    push_bool(&mut out, "reachable", e.reachable);
    if let Some(d) = &e.diagnosis {
        out.push(format!("diagnosis: {}", scalar(&d.value)));
    }
    out
}

fn manifest_source(s: &ManifestSource) -> Vec<String> {
    let mut out = Vec::new();
    if let Some(p) = &s.path {
        out.push(format!("path: {}", scalar(&p.value)));
    }
    if let Some(i) = &s.inline {
        push_text(&mut out, 0, "inline", &i.value);
    }
    out
}

fn resolver(r: &ResolverSpec) -> Vec<String> {
    let mut out = vec![format!("cluster: {}", scalar(&r.cluster.value))];
    if let Some(c) = &r.corefile {
        out.push(format!("corefile: {}", scalar(&c.value)));
    }
    if let Some(c) = &r.corefile_inline {
        push_text(&mut out, 0, "corefile_inline", &c.value);
    }
    if let Some(p) = &r.profile {
        out.push(format!("profile: {}", scalar(&p.to_string())));
    }
    if let Some(o) = &r.plugin_order {
        out.push(format!("plugin_order: {}", flow(&o.value)));
    }
    if let Some(i) = &r.identity {
        out.push(format!("identity: {}", scalar(i)));
    }
    out
}

fn client(c: &ClientSpec) -> Vec<String> {
    let mut out = Vec::new();
    if let Some(v) = &c.cluster {
        out.push(format!("cluster: {}", scalar(&v.value)));
    }
    if let Some(v) = &c.namespace {
        out.push(format!("namespace: {}", scalar(&v.value)));
    }
    if let Some(v) = &c.search {
        out.push(format!("search: {}", flow(&v.value)));
    }
    push_num(&mut out, "ndots", c.ndots);
    if let Some(l) = &c.libc {
        let word = match l {
            super::Libc::Glibc => "glibc",
            super::Libc::Musl => "musl",
        };
        out.push(format!("libc: {word}"));
    }
    out
}

fn apply(a: &ApplySpec) -> Vec<String> {
    let mut out = vec![format!("cluster: {}", scalar(&a.cluster.value))];
    if let Some(m) = &a.manifest {
        push_text(&mut out, 0, "manifest", &m.value);
    }
    if let Some(p) = &a.path {
        out.push(format!("path: {}", scalar(&p.value)));
    }
    out
}

fn object_ref(o: &ObjectRef) -> Vec<String> {
    let mut out = vec![
        format!("cluster: {}", scalar(&o.cluster.value)),
        format!("kind: {}", scalar(&o.kind.value)),
    ];
    if let Some(n) = &o.namespace {
        out.push(format!("namespace: {}", scalar(n)));
    }
    out.push(format!("name: {}", scalar(&o.name)));
    out
}

fn patch(p: &PatchSpec) -> Vec<String> {
    let mut out = vec![
        format!("cluster: {}", scalar(&p.cluster.value)),
        format!("kind: {}", scalar(&p.kind.value)),
    ];
    if let Some(n) = &p.namespace {
        out.push(format!("namespace: {}", scalar(n)));
    }
    out.push(format!("name: {}", scalar(&p.name)));
    // JSON is YAML's flow style: the patch prints as it will be sent.
    out.push(format!("merge: {}", p.merge));
    out
}

fn corefile(c: &CorefileSpec) -> Vec<String> {
    let mut out = Vec::new();
    if let Some(p) = &c.path {
        out.push(format!("path: {}", scalar(&p.value)));
    }
    if let Some(i) = &c.inline {
        push_text(&mut out, 0, "inline", &i.value);
    }
    out
}

fn fault(f: &FaultSpec) -> Vec<String> {
    let mut out = vec![format!("cluster: {}", scalar(&f.cluster.value))];
    push_bool(&mut out, "drop_watches", f.drop_watches);
    push_bool(&mut out, "expire_history", f.expire_history);
    if let Some(u) = &f.unavailable {
        out.push(format!("unavailable: {}", scalar(u)));
    }
    push_bool(&mut out, "crds_missing", f.crds_missing);
    out
}

fn push_bool(out: &mut Vec<String>, key: &str, v: Option<bool>) {
    if let Some(v) = v {
        out.push(format!("{key}: {v}"));
    }
}

fn push_num(out: &mut Vec<String>, key: &str, v: Option<impl std::fmt::Display>) {
    if let Some(v) = v {
        out.push(format!("{key}: {v}"));
    }
}

/// `key:` with `lines` indented below it.
fn nested(key: &str, lines: Vec<String>) -> Vec<String> {
    let mut out = vec![format!("{key}:")];
    out.extend(indent(4, lines));
    out
}

/// A list entry: `- ` before the first line, the rest aligned with it.
fn item(depth: usize, lines: Vec<String>) -> Vec<String> {
    let pad = " ".repeat(depth);
    lines
        .into_iter()
        .enumerate()
        .map(|(i, l)| match i {
            0 => format!("{pad}- {l}"),
            _ if l.is_empty() => l,
            _ => format!("{pad}  {l}"),
        })
        .collect()
}

fn indent(depth: usize, lines: Vec<String>) -> Vec<String> {
    let pad = " ".repeat(depth);
    lines
        .into_iter()
        .map(|l| if l.is_empty() { l } else { format!("{pad}{l}") })
        .collect()
}

/// `key: value`, or a literal block for text of several lines.
fn push_text(out: &mut Vec<String>, depth: usize, key: &str, text: &str) {
    let pad = " ".repeat(depth);
    let literal = text.contains('\n')
        && !text.starts_with([' ', '\t'])
        && !text.contains(['\r', '\t'])
        && !text.trim().is_empty();
    if !literal {
        out.push(format!("{pad}{key}: {}", scalar(text)));
        return;
    }
    let body = text.trim_end_matches('\n');
    let chomp = match text.len() - body.len() {
        0 => "|-",
        1 => "|",
        _ => "|+",
    };
    out.push(format!("{pad}{key}: {chomp}"));
    for line in body.split('\n') {
        match line {
            "" => out.push(String::new()),
            l => out.push(format!("{pad}  {l}")),
        }
    }
    // `|+` keeps the extra newlines as empty lines.
    for _ in 1..text.len() - body.len() {
        out.push(String::new());
    }
}

/// A flow list of scalars: `[a, b]`; an item with spaces (SRV or SOA
/// rdata) is quoted, to read as one item at a glance.
fn flow(items: &[String]) -> String {
    let items: Vec<String> = items
        .iter()
        .map(|s| match s.contains(' ') {
            true => quoted(s),
            false => scalar(s),
        })
        .collect();
    format!("[{}]", items.join(", "))
}

/// A scalar, plain where YAML reads it back as the same string (also
/// inside a flow list), else double-quoted.
pub fn scalar(s: &str) -> String {
    let plain = s.chars().next().is_some_and(|c| c.is_ascii_alphanumeric())
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || " ._:/@-".contains(c))
        && !s.ends_with([':', ' '])
        && !s.contains(": ")
        && !s.contains(" #")
        && !reads_as_other_type(s);
    if plain { s.to_owned() } else { quoted(s) }
}

/// A double-quoted scalar (JSON's escapes are YAML's).
fn quoted(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_else(|_| format!("{s:?}"))
}

/// Whether YAML 1.2's core schema (and 1.1 readers' booleans) would read a
/// plain `s` as something other than a string.
fn reads_as_other_type(s: &str) -> bool {
    let lower = s.to_ascii_lowercase();
    matches!(
        lower.as_str(),
        "true" | "false" | "yes" | "no" | "on" | "off" | "y" | "n" | "null" | "~"
    ) || s.parse::<f64>().is_ok()
        || (s.starts_with("0x") || s.starts_with("0o"))
        || s.chars()
            .all(|c| c.is_ascii_digit() || c == '_' || c == ':')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scenario_files(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                scenario_files(&path, out);
            } else if path.extension().is_some_and(|e| e == "yaml") {
                out.push(path);
            }
        }
    }

    fn parse(text: &str) -> ScenarioFile {
        serde_saphyr::from_str(text).unwrap()
    }

    #[test]
    fn every_built_in_scenario_parses_prints_and_parses_the_same() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios");
        let mut files = Vec::new();
        scenario_files(&root, &mut files);
        assert!(files.len() >= 40, "only {} scenario files", files.len());
        for path in files {
            let text = std::fs::read_to_string(&path).unwrap();
            let first = parse(&text);
            let printed = print(&first);
            let second: ScenarioFile = serde_saphyr::from_str(&printed).unwrap_or_else(|e| {
                panic!(
                    "{}: the printed file does not parse: {e}\n{printed}",
                    path.display()
                )
            });
            assert_eq!(
                serde_json::to_value(&first).unwrap(),
                serde_json::to_value(&second).unwrap(),
                "{}: printing changed the file:\n{printed}",
                path.display()
            );
            assert_eq!(
                print(&second),
                printed,
                "{}: printing is not stable",
                path.display()
            );
        }
    }

    #[test]
    fn text_blocks_keep_their_line_ends_and_odd_text_is_quoted() {
        for text in [
            "a\nb\n",
            "a\nb",
            "a\n\nb\n\n",
            "  indented\nx\n",
            "tab\there\n",
            "one line",
        ] {
            let mut lines = Vec::new();
            push_text(&mut lines, 0, "inline", text);
            let doc = format!("{}\n", lines.join("\n"));
            let back: std::collections::BTreeMap<String, String> =
                serde_saphyr::from_str(&doc).unwrap();
            assert_eq!(back["inline"], text, "{doc}");
        }
    }

    #[test]
    fn scalars_are_plain_only_where_they_read_back_as_strings() {
        assert_eq!(scalar("10.10.0.5"), "10.10.0.5");
        assert_eq!(
            scalar("web.team.svc.clusterset.local A"),
            "web.team.svc.clusterset.local A"
        );
        assert_eq!(scalar("NXDOMAIN"), "NXDOMAIN");
        assert_eq!(scalar("0 50 80 web."), "0 50 80 web.");
        for quoted in [
            "true", "no", "53", "1.5", "", "a: b", "x #y", "-rd", "[x]", "\"q\"", "a,b", "1:2",
        ] {
            let printed = scalar(quoted);
            assert!(printed.starts_with('"'), "{quoted:?} printed as {printed}");
            let back: String = serde_json::from_str(&printed).unwrap();
            assert_eq!(back, quoted);
        }
    }
}
