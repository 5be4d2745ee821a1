//! Prints a parsed Corefile back as text that parses to the same blocks.
//!
//! Four-space indentation, one directive a line, words quoted only where the
//! tokenizer would otherwise split or drop them; comments are not kept (the
//! parser drops them). Whoever writes a Corefile for a peer prints through
//! here, so what a peer reads is what `parse` would read.

use std::borrow::Cow;

use super::{Corefile, Directive, ServerBlock};

/// The whole Corefile as text.
pub fn print(corefile: &Corefile) -> String {
    let mut out = String::new();
    for (i, block) in corefile.blocks.iter().enumerate() {
        if i > 0 {
            out.push('\n');
        }
        write_block(&mut out, block);
    }
    out
}

/// Appends one server block: its keys, then its directives in file order.
pub fn write_block(out: &mut String, block: &ServerBlock) {
    let keys: Vec<Cow<'_, str>> = block.keys.iter().map(|k| word(&k.text)).collect();
    out.push_str(&keys.join(" "));
    out.push_str(" {\n");
    for d in &block.directives {
        write_directive(out, d, 1);
    }
    out.push_str("}\n");
}

/// Appends `d` (and its nested block) indented `depth` levels.
pub fn write_directive(out: &mut String, d: &Directive, depth: usize) {
    let pad = "    ".repeat(depth);
    out.push_str(&pad);
    out.push_str(&word(&d.name.text));
    for a in &d.args {
        out.push(' ');
        out.push_str(&word(&a.text));
    }
    if d.block.is_empty() {
        out.push('\n');
        return;
    }
    out.push_str(" {\n");
    for inner in &d.block {
        write_directive(out, inner, depth + 1);
    }
    out.push_str(&pad);
    out.push_str("}\n");
}

/// A token as the tokenizer reads it back: bare when it can be, else quoted
/// with `"` and `\` escaped (a bare word ends at whitespace, a brace, `#`
/// or `"`, and an empty one would vanish).
pub fn word(text: &str) -> Cow<'_, str> {
    let bare = !text.is_empty()
        && !text
            .chars()
            .any(|c| c.is_whitespace() || matches!(c, '{' | '}' | '#' | '"'));
    if bare {
        return Cow::Borrowed(text);
    }
    let mut quoted = String::with_capacity(text.len() + 2);
    quoted.push('"');
    for c in text.chars() {
        if matches!(c, '"' | '\\') {
            quoted.push('\\');
        }
        quoted.push(c);
    }
    quoted.push('"');
    Cow::Owned(quoted)
}

#[cfg(test)]
mod tests {
    use std::path::{Path, PathBuf};

    use super::*;
    use crate::resolver::config::DEFAULT_COREFILE;

    /// A block's words without positions: what parsing must give back.
    #[derive(Debug, PartialEq, Eq)]
    enum Shape {
        Block(Vec<String>, Vec<Shape>),
        Directive(String, Vec<String>, Vec<Shape>),
    }

    fn shape(cf: &Corefile) -> Vec<Shape> {
        fn directive(d: &Directive) -> Shape {
            Shape::Directive(
                d.name.text.clone(),
                d.args.iter().map(|a| a.text.clone()).collect(),
                d.block.iter().map(directive).collect(),
            )
        }
        cf.blocks
            .iter()
            .map(|b| {
                Shape::Block(
                    b.keys.iter().map(|k| k.text.clone()).collect(),
                    b.directives.iter().map(directive).collect(),
                )
            })
            .collect()
    }

    fn round_trip(name: &str, text: &str) {
        let first = Corefile::parse(Path::new(name), text)
            .unwrap_or_else(|e| panic!("{name} does not parse: {e}"));
        let printed = print(&first);
        let second = Corefile::parse(Path::new(name), &printed)
            .unwrap_or_else(|e| panic!("{name} printed does not parse: {e}\n{printed}"));
        assert_eq!(shape(&first), shape(&second), "{name}:\n{printed}");
        assert_eq!(print(&second), printed, "{name}: printing is not stable");
    }

    fn repo() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
    }

    fn files(dir: &Path, keep: &dyn Fn(&Path) -> bool, out: &mut Vec<PathBuf>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for e in entries.flatten() {
            let path = e.path();
            if path.is_dir() {
                files(&path, keep, out);
            } else if keep(&path) {
                out.push(path);
            }
        }
    }

    /// The inline Corefiles of a scenario: `resolver.corefile_inline` and
    /// the `inline` of a `corefile` step.
    fn inline_corefiles(value: &serde_json::Value, out: &mut Vec<String>) {
        match value {
            serde_json::Value::Object(map) => {
                for (key, v) in map {
                    match (key.as_str(), v) {
                        ("corefile_inline", serde_json::Value::String(s)) => out.push(s.clone()),
                        ("corefile", serde_json::Value::Object(step)) => {
                            if let Some(serde_json::Value::String(s)) = step.get("inline") {
                                out.push(s.clone());
                            }
                        }
                        _ => inline_corefiles(v, out),
                    }
                }
            }
            serde_json::Value::Array(items) => {
                for v in items {
                    inline_corefiles(v, out);
                }
            }
            _ => {}
        }
    }

    #[test]
    fn every_corefile_of_the_repository_round_trips() {
        let mut corefiles = Vec::new();
        files(
            &repo().join("fixtures"),
            &|p| {
                p.file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n == "Corefile" || n.ends_with(".Corefile"))
            },
            &mut corefiles,
        );
        assert!(corefiles.len() >= 4, "fixtures not found: {corefiles:?}");
        for path in &corefiles {
            let text = std::fs::read_to_string(path).unwrap();
            round_trip(&path.display().to_string(), &text);
        }
        let mut scenarios = Vec::new();
        files(
            &repo().join("scenarios"),
            &|p| p.extension().is_some_and(|e| e == "yaml"),
            &mut scenarios,
        );
        let mut inline = 0;
        for path in &scenarios {
            let text = std::fs::read_to_string(path).unwrap();
            let Ok(value) = serde_saphyr::from_str::<serde_json::Value>(&text) else {
                continue;
            };
            let mut found = Vec::new();
            inline_corefiles(&value, &mut found);
            for (i, text) in found.iter().enumerate() {
                round_trip(&format!("{}#{i}", path.display()), text);
                inline += 1;
            }
        }
        assert!(inline >= 1, "no inline Corefile found under scenarios/");
        round_trip("DEFAULT_COREFILE", DEFAULT_COREFILE);
    }

    #[test]
    fn words_the_tokenizer_would_split_are_quoted() {
        let text = ".:53 {\n    hosts \"a b\" \"\" \"x#y\" \"q\\\"uote\" back\\slash \"a\\\\b c\" {\n        fallthrough\n    }\n}\n";
        round_trip("quoted", text);
        assert_eq!(
            print(&Corefile::parse(Path::new("quoted"), text).unwrap()),
            text
        );
    }
}
