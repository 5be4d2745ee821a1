//! Reads the scenario file itself: YAML with spans, every error placed at
//! its line and column with a hint, and the files it names found beside it.

use std::path::{Path, PathBuf};

use super::ScenarioError;
use crate::error::{SourceError, did_you_mean};
use crate::scenario::format::ScenarioFile;
use crate::scenario::located::Located;

/// The file being loaded.
pub(super) struct Ctx<'a> {
    pub(super) path: &'a Path,
    pub(super) text: &'a str,
    /// Every file the scenario refers to, as written and as found (for bundles).
    pub(super) files: std::cell::RefCell<Vec<(String, PathBuf)>>,
}

impl Ctx<'_> {
    pub(super) fn err(&self, line: usize, column: usize, msg: impl Into<String>) -> ScenarioError {
        SourceError::at(self.path, self.text, line, column, msg)
    }

    pub(super) fn at<T>(&self, l: &Located<T>, msg: impl Into<String>) -> ScenarioError {
        self.err(l.line, l.column, msg)
    }

    /// Finds a path relative to the scenario's folder or any folder above it.
    pub(super) fn find(&self, rel: &Located<String>) -> Result<PathBuf, ScenarioError> {
        let p = Path::new(&rel.value);
        if p.is_absolute() {
            return if p.exists() {
                self.files
                    .borrow_mut()
                    .push((rel.value.clone(), p.to_owned()));
                Ok(p.to_owned())
            } else {
                Err(self.at(rel, format!("{} does not exist", rel.value)))
            };
        }
        let mut dir = self.path.parent();
        while let Some(d) = dir {
            let candidate = d.join(p);
            if candidate.exists() {
                self.files
                    .borrow_mut()
                    .push((rel.value.clone(), candidate.clone()));
                return Ok(candidate);
            }
            dir = d.parent();
        }
        Err(self
            .at(rel, format!("fixture {:?} not found", rel.value))
            .with_hint(format!(
                "paths are looked up from {} and every folder above it",
                self.path
                    .parent()
                    .map_or(".".into(), |p| p.display().to_string())
            )))
    }

    /// Moves an error found in a block scalar starting at `start` to the
    /// scenario's own columns (the block's indentation was stripped).
    pub(super) fn relocate(&self, e: SourceError, start: usize) -> SourceError {
        if e.file != self.path || e.line < start {
            return e;
        }
        let indent = self
            .text
            .lines()
            .nth(e.line - 1)
            .map_or(0, |l| l.len() - l.trim_start().len());
        let first_indent = self
            .text
            .lines()
            .nth(start - 1)
            .map_or(0, |l| l.len() - l.trim_start().len());
        let shift = indent.min(first_indent);
        let mut moved = SourceError::at(
            self.path,
            self.text,
            e.line,
            e.column + shift,
            e.message.clone(),
        );
        moved.hint = e.hint;
        moved
    }

    /// The first line of a block scalar's content (`|` puts it on the next line).
    pub(super) fn block_start(&self, l: &Located<String>) -> usize {
        let line = self
            .text
            .lines()
            .nth(l.line.saturating_sub(1))
            .unwrap_or_default();
        let rest = line
            .get(l.column.saturating_sub(1)..)
            .unwrap_or_default()
            .trim_start();
        if rest.starts_with('|') || rest.starts_with('>') {
            l.line + 1
        } else {
            l.line
        }
    }
}

/// Decodes the YAML, with every error placed at its line and column.
pub(super) fn decode(cx: &Ctx<'_>) -> Result<ScenarioFile, ScenarioError> {
    let mut path = String::new();
    let result = serde_saphyr::with_deserializer_from_str(cx.text, |de| {
        serde_path_to_error::deserialize::<_, ScenarioFile>(de).map_err(|e| {
            path = e.path().to_string();
            e.into_inner()
        })
    });
    result.map_err(|e| {
        let (line, column) = e
            .location()
            .map_or((1, 1), |l| (l.line() as usize, l.column() as usize));
        let raw = e.to_string();
        let first = raw.lines().next().unwrap_or_default();
        let first = first.strip_prefix("error: ").unwrap_or(first);
        let msg = match first.find(": ") {
            Some(i) if first.starts_with("line ") => &first[i + 2..],
            _ => first,
        };
        let path = path.replace(".value", "");
        // serde says "variant" and "field"; a scenario's author wrote a
        // step, a value or a key. Only an entry of `steps` is a step.
        let is_step = path
            .strip_prefix("steps[")
            .is_some_and(|rest| rest.ends_with(']') && !rest.contains('.'));
        let msg = msg
            .replace(
                "unknown variant",
                if is_step { "unknown step" } else { "unknown value" },
            )
            .replace("unknown field", "unknown key");
        let what = if path.is_empty() || path == "." || path == "?" {
            String::new()
        } else {
            format!("{path}: ")
        };
        let mut err = cx.err(line, column, format!("{what}{msg}"));
        err = match suggestion(&msg) {
            Some(hint) => err.with_hint(hint),
            None if msg.starts_with("missing field") => err.with_hint("a scenario needs world, resolver and steps (docs/scenarios.md)"),
            None => err.with_hint("the format is in docs/scenarios.md; with `# yaml-language-server: $schema=../scenario.schema.json` editors check it as you type"),
        };
        err
    })
}

/// "did you mean" for serde's `unknown key `x`, expected one of `a`, `b``.
fn suggestion(msg: &str) -> Option<String> {
    let word = msg.split('`').nth(1)?;
    let list = msg
        .split("expected one of")
        .nth(1)
        .or_else(|| msg.split("expected").nth(1))?;
    let expected: Vec<&str> = list
        .split(',')
        .map(|w| w.trim().trim_matches('`'))
        .filter(|w| !w.is_empty())
        .collect();
    match did_you_mean(word, expected.iter().copied()) {
        Some(s) => Some(format!("did you mean `{s}`?")),
        None if !expected.is_empty() => Some(format!("expected one of: {}", expected.join(", "))),
        None => None,
    }
}
