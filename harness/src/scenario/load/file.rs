//! Reads the scenario file itself: YAML with spans, every error placed at
//! its line and column with a hint, and the files it names found beside it.

use std::path::{Path, PathBuf};

use super::ScenarioError;
use crate::error::{SourceError, did_you_mean};
use crate::scenario::format::ScenarioFile;
use crate::scenario::located::Located;
use crate::scenario::root::{ProjectRoot, Refusal};

/// The file being loaded.
pub(super) struct Ctx<'a> {
    pub(super) path: &'a Path,
    pub(super) text: &'a str,
    /// The folder its paths must stay in.
    pub(super) root: ProjectRoot,
    /// Every file the scenario reads, as written and as found (for bundles).
    pub(super) files: std::cell::RefCell<Vec<(String, PathBuf)>>,
}

impl Ctx<'_> {
    pub(super) fn err(&self, line: usize, column: usize, msg: impl Into<String>) -> ScenarioError {
        SourceError::at(self.path, self.text, line, column, msg)
    }

    pub(super) fn at<T>(&self, l: &Located<T>, msg: impl Into<String>) -> ScenarioError {
        self.err(l.line, l.column, msg)
    }

    /// Finds a path the scenario names, inside its project root (see
    /// [`ProjectRoot`]); a refusal is an error at the line that names it.
    pub(super) fn find(&self, rel: &Located<String>) -> Result<PathBuf, ScenarioError> {
        let found = self
            .root
            .find(self.path, &rel.value)
            .map_err(|r| self.refused(rel, r))?;
        if !found.is_dir {
            self.files
                .borrow_mut()
                .push((rel.value.clone(), found.path.clone()));
        }
        Ok(found.path)
    }

    /// Reads a file the scenario names at `rel` (found with [`Ctx::find`],
    /// or in a folder found so, as `written`): within the root and the size
    /// limit, a regular file; a failure is an error at the scenario's line,
    /// never showing the file.
    pub(super) fn read(
        &self,
        rel: &Located<String>,
        written: &str,
        path: &Path,
    ) -> Result<String, ScenarioError> {
        self.root
            .admit(path, written)
            .map_err(|r| self.refused(rel, r))?;
        let text = crate::files::read_to_string(path)
            .map_err(|e| self.at(rel, format!("cannot read {}: {e}", path.display())))?;
        let mut files = self.files.borrow_mut();
        if !files.iter().any(|(w, _)| w == written) {
            files.push((written.to_owned(), path.to_owned()));
        }
        Ok(text)
    }

    fn refused(&self, rel: &Located<String>, r: Refusal) -> ScenarioError {
        let hint = r.hint();
        self.at(rel, r.to_string()).with_hint(hint)
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
    let result = serde_saphyr::with_deserializer_from_str_with_options(
        cx.text,
        crate::yaml::options(),
        |de| {
            serde_path_to_error::deserialize::<_, ScenarioFile>(de).map_err(|e| {
                path = e.path().to_string();
                e.into_inner()
            })
        },
    );
    result.map_err(|e| {
        let (line, column) = crate::yaml::location(&e);
        let msg = crate::yaml::describe(&e);
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
            None if path.starts_with("controllers") => {
                let names: Vec<&str> = crate::controller::ControllerKind::ALL
                    .iter()
                    .map(|k| k.as_str())
                    .collect();
                err.with_hint(format!(
                    "`controllers` is a list of names, e.g. `controllers: [{}]`",
                    names.join(", ")
                ))
            }
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
