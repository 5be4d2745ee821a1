//! Holds the library to its layers: each top-level module imports only from
//! the modules below it, so there is no import circle between them.
//!
//! The order, lowest first, is the one `lib.rs` names and
//! `docs/architecture.md` explains. A path is read from the source text
//! (`crate::x`, and `super::` chains that climb out of a layer), with
//! comments left out.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// The layers, lowest first.
const LAYERS: &[&str] = &[
    "files",
    "yaml",
    "error",
    "model",
    "resolver",
    "cluster",
    "controller",
    "scenario",
    "client",
    "check",
    "target",
    "run",
    "report",
    "live",
];

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The module path of a source file: `src/target/peer/mod.rs` is
/// `["target", "peer"]`, `src/check/judge.rs` is `["check", "judge"]`.
fn module_of(file: &Path) -> Vec<String> {
    let rel = file.strip_prefix(src()).unwrap();
    let mut parts: Vec<String> = rel
        .iter()
        .map(|p| p.to_string_lossy().trim_end_matches(".rs").to_owned())
        .collect();
    if parts.last().is_some_and(|p| p == "mod") {
        parts.pop();
    }
    parts
}

/// The source without comments (doc text may name any module).
fn code(text: &str) -> String {
    text.lines()
        .map(|l| match l.find("//") {
            Some(i) if !l[..i].contains('"') => &l[..i],
            _ => l,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// The top-level modules a file's code names, by `crate::` or by `super::`.
fn layers_named(module: &[String], code: &str) -> BTreeSet<String> {
    let mut named = BTreeSet::new();
    let bytes = code.as_bytes();
    for (i, _) in code.match_indices("crate::") {
        if i > 0 && (bytes[i - 1].is_ascii_alphanumeric() || bytes[i - 1] == b'_') {
            continue;
        }
        let rest = &code[i + "crate::".len()..];
        let name: String = rest
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect();
        named.insert(name);
    }
    // `super::` from a file at depth d climbs one module per `super`; a
    // chain that reaches the crate root names the next segment's layer.
    let mut from = 0;
    while let Some(at) = code[from..].find("super::") {
        let start = from + at;
        from = start + 1;
        if start > 0 && code[..start].ends_with("super::") {
            continue; // inside a chain counted from its first `super`
        }
        let mut rest = &code[start..];
        let mut ups = 0;
        while let Some(r) = rest.strip_prefix("super::") {
            ups += 1;
            rest = r;
        }
        // `mod.rs` files are their module: `super` of `target` is the root.
        if ups >= module.len() {
            let name: String = rest
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            named.insert(name);
        }
    }
    named
}

#[test]
fn every_module_imports_only_from_the_layers_below_it() {
    let mut files = Vec::new();
    rust_files(&src(), &mut files);
    files.sort();
    let mut upward = Vec::new();
    for file in &files {
        let module = module_of(file);
        let Some(own) = module.first() else { continue };
        // The binary (main.rs and its cli/ modules) stands above every
        // layer; the library cannot reach it, as lib.rs does not declare it.
        if own == "lib" || own == "main" || own == "cli" {
            continue;
        }
        let own_rank = LAYERS
            .iter()
            .position(|l| l == own)
            .unwrap_or_else(|| panic!("{}: module {own} is in no layer", file.display()));
        let text = std::fs::read_to_string(file).unwrap();
        for name in layers_named(&module, &code(&text)) {
            let Some(rank) = LAYERS.iter().position(|l| *l == name) else {
                continue; // a macro's `crate::` or an item of the root
            };
            if rank > own_rank {
                upward.push(format!(
                    "{}: {own} imports {name}, a layer above it",
                    file.strip_prefix(src()).unwrap().display()
                ));
            }
        }
    }
    assert!(upward.is_empty(), "upward imports:\n{}", upward.join("\n"));
}

#[test]
fn every_module_of_the_library_is_a_layer() {
    let lib = std::fs::read_to_string(src().join("lib.rs")).unwrap();
    let mut declared: Vec<&str> = lib
        .lines()
        .filter_map(|l| l.strip_prefix("pub mod "))
        .map(|l| l.trim_end_matches(';'))
        .collect();
    declared.sort_unstable();
    let mut layers = LAYERS.to_vec();
    layers.sort_unstable();
    assert_eq!(declared, layers);
    assert!(
        !declared.contains(&"cli") && !lib.lines().any(|l| l.trim() == "mod cli;"),
        "the library must not declare the binary's cli"
    );
}

#[test]
fn the_scan_sees_an_upward_import_and_a_climbing_super() {
    let module = vec!["scenario".to_owned(), "load".to_owned()];
    let named = layers_named(&module, "use crate::run::diagnose::DIAGNOSES;");
    assert!(named.contains("run"));
    let named = layers_named(&module, "use super::super::target::Fault;");
    assert!(named.contains("target"));
    let named = layers_named(&module, &code("use super::Action; // crate::report"));
    assert!(named.is_empty(), "{named:?}");
    let nested = vec!["target".to_owned(), "peer".to_owned(), "coredns".to_owned()];
    let named = layers_named(&nested, "use super::super::TargetError;");
    assert!(named.is_empty(), "{named:?}");
}
