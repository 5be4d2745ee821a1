//! Points an error in a user's file at its line and column, with a snippet
//! and a hint.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use miette::{Diagnostic, NamedSource, SourceSpan};

/// Something wrong at a place in a file: a manifest, a Corefile, a scenario.
#[derive(Debug, Clone, thiserror::Error, Diagnostic)]
#[error("{}:{line}:{column}: {message}", file.display())]
pub struct SourceError {
    /// The file.
    pub file: PathBuf,
    /// 1-based line.
    pub line: usize,
    /// 1-based column.
    pub column: usize,
    /// What is wrong, naming the object or field where known.
    pub message: String,
    /// How to fix it, where there is something to say.
    #[help]
    pub hint: Option<String>,
    #[source_code]
    src: Arc<NamedSource<String>>,
    #[label("here")]
    span: SourceSpan,
}

impl SourceError {
    /// An error at `line`:`column` of `text`, the contents of `file`.
    pub fn at(
        file: &Path,
        text: &str,
        line: usize,
        column: usize,
        message: impl Into<String>,
    ) -> Self {
        let (line, column) = (line.max(1), column.max(1));
        SourceError {
            file: file.to_owned(),
            line,
            column,
            message: message.into(),
            hint: None,
            src: Arc::new(NamedSource::new(
                file.display().to_string(),
                text.to_owned(),
            )),
            span: SourceSpan::from((byte_offset(text, line, column), 0)),
        }
    }

    /// An error about a whole file that could not be read.
    pub fn unreadable(file: &Path, error: &std::io::Error) -> Self {
        SourceError::at(file, "", 1, 1, format!("cannot read file: {error}"))
    }

    /// Adds a hint.
    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }
}

fn byte_offset(text: &str, line: usize, column: usize) -> usize {
    let mut offset = 0;
    for (i, l) in text.split_inclusive('\n').enumerate() {
        if i + 1 == line {
            let col = l
                .char_indices()
                .nth(column.saturating_sub(1))
                .map_or(l.len(), |(b, _)| b);
            return offset + col;
        }
        offset += l.len();
    }
    text.len()
}

/// The closest of `candidates` to `word`, if close enough to suggest.
pub fn did_you_mean<'a>(
    word: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    candidates
        .into_iter()
        .map(|c| (strsim::levenshtein(word, c), c))
        .filter(|(d, c)| *d <= 2.max(c.len() / 3))
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

/// Replaces `path` with `text` in one step (a temporary file in the same
/// folder, synced, then renamed), so a reader never sees half a file and a
/// failed write leaves the old one.
pub fn replace_file(path: &std::path::Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    let dir = path.parent().unwrap_or(std::path::Path::new("."));
    std::fs::create_dir_all(dir)?;
    let name = path
        .file_name()
        .map_or("file".into(), |n| n.to_string_lossy());
    let temporary = dir.join(format!(".{name}.{}.tmp", std::process::id()));
    let written = (|| {
        let mut f = std::fs::File::create(&temporary)?;
        f.write_all(text.as_bytes())?;
        f.sync_all()?;
        std::fs::rename(&temporary, path)
    })();
    if written.is_err() {
        let _ = std::fs::remove_file(&temporary);
    }
    written
}
