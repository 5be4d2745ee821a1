//! Points an error in a user's file at its line and column, with a snippet
//! and a hint.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use miette::{Diagnostic, NamedSource, SourceSpan};

/// Files are replaced atomically by one writer; see [`crate::files`].
pub use crate::files::replace_file;

/// The longest line an error shows, in characters: a longer one (a
/// minified manifest, a binary file) is cut around the error's column.
const SHOWN_LINE: usize = 160;

/// The lines shown either side of the error's line.
const CONTEXT: usize = 2;

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
        let (shown, offset) = excerpt(text, line, column);
        SourceError {
            file: file.to_owned(),
            line,
            column,
            message: message.into(),
            hint: None,
            src: Arc::new(NamedSource::new(file.display().to_string(), shown)),
            span: SourceSpan::from((offset, 0)),
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

/// The part of `text` an error shows: the lines around `line`, each cut to
/// [`SHOWN_LINE`] characters (the error's own line around `column`), after
/// blank lines that keep every line at its number; and the byte offset of
/// `column` in it. The error holds this, not the whole file.
fn excerpt(text: &str, line: usize, column: usize) -> (String, usize) {
    let first = line.saturating_sub(CONTEXT).max(1);
    let mut shown = "\n".repeat(first - 1);
    let mut offset = None;
    for (i, l) in text.split_inclusive('\n').enumerate().skip(first - 1) {
        let number = i + 1;
        if number > line + CONTEXT {
            break;
        }
        let (body, end) = match l.strip_suffix('\n') {
            Some(b) => (b, "\n"),
            None => (l, ""),
        };
        let chars = body.chars().count();
        // The window of characters shown: around the column on the error's
        // line, from the start on the others.
        let from = if number == line && chars > SHOWN_LINE {
            (column - 1)
                .saturating_sub(SHOWN_LINE / 2)
                .min(chars - SHOWN_LINE)
        } else {
            0
        };
        let cut: String = body.chars().skip(from).take(SHOWN_LINE).collect();
        let start = shown.len();
        if from > 0 {
            shown.push('…');
        }
        if number == line {
            let col = (column - 1).saturating_sub(from).min(cut.chars().count());
            let prefix = shown.len() - start;
            offset =
                Some(start + prefix + cut.char_indices().nth(col).map_or(cut.len(), |(b, _)| b));
        }
        shown.push_str(&cut);
        if from + SHOWN_LINE < chars {
            shown.push('…');
        }
        shown.push_str(end);
    }
    let offset = offset.unwrap_or(shown.len());
    (shown, offset)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_long_line_is_cut_around_the_column() {
        let long = format!("key: {}X{}\n", "a".repeat(5_000_000), "b".repeat(4_000_000));
        let text = format!("first\n{long}third\n");
        let e = SourceError::at(Path::new("big.yaml"), &text, 2, 5_000_006, "here");
        let shown = e.src.inner().as_str();
        assert!(shown.len() < 3 * SHOWN_LINE, "{} bytes shown", shown.len());
        assert!(shown.starts_with("first\n…"), "{shown}");
        assert!(shown.ends_with("…\nthird\n"), "{shown}");
        assert_eq!(&shown[e.span.offset()..e.span.offset() + 1], "X");
    }

    #[test]
    fn the_snippet_keeps_line_numbers_and_short_lines_whole() {
        let text = "a: 1\nb: 2\nc: 3\nd: 4\ne: 5\nf: 6\n";
        let e = SourceError::at(Path::new("f.yaml"), text, 5, 4, "here");
        let shown = e.src.inner().as_str();
        assert_eq!(shown, "\n\nc: 3\nd: 4\ne: 5\nf: 6\n");
        assert_eq!(&shown[e.span.offset()..], "5\nf: 6\n");
        // A place past the end of the text points at its end.
        let e = SourceError::at(Path::new("f.yaml"), "x", 9, 9, "here");
        assert_eq!(e.span.offset(), e.src.inner().len());
    }
}
