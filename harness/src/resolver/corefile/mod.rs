//! Reads, interprets and prints Corefiles: the resolver's configuration.
//!
//! `parse` turns text into server blocks and directives (every token keeps
//! its line and column for error messages), `config` interprets them as a
//! [`ResolverConfig`](config::ResolverConfig), `print` writes them back.

use std::path::{Path, PathBuf};

use crate::error::SourceError;

pub mod config;
pub mod directives;
mod parse;
mod plugins;
pub mod print;

/// A word of the Corefile and where it stands.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Token {
    /// The text, unquoted.
    pub text: String,
    /// 1-based line.
    pub line: usize,
    /// 1-based column.
    pub column: usize,
}

/// One directive (`kubernetes cluster.local { ... }`) with its nested lines.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Directive {
    /// The directive's name.
    pub name: Token,
    /// The words after the name on its line.
    pub args: Vec<Token>,
    /// Nested directives, from a `{ ... }` block.
    pub block: Vec<Directive>,
}

/// A server block: its keys (`.:53`) and its directives in file order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServerBlock {
    /// The keys before `{`.
    pub keys: Vec<Token>,
    /// The directives, in file order (not chain order).
    pub directives: Vec<Directive>,
}

/// A parsed Corefile.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Corefile {
    /// Where it was read from.
    pub path: PathBuf,
    /// Its text.
    pub text: String,
    /// Its server blocks.
    pub blocks: Vec<ServerBlock>,
}

/// A Corefile error, pointing at the offending token.
pub type CorefileError = SourceError;

impl Corefile {
    /// Reads and parses a Corefile.
    pub fn read(path: &Path) -> Result<Corefile, CorefileError> {
        let text =
            crate::files::read_to_string(path).map_err(|e| SourceError::unreadable(path, &e))?;
        Corefile::parse(path, &text)
    }

    /// An error at a token of this file.
    pub fn error_at(&self, token: &Token, message: impl Into<String>) -> CorefileError {
        parse::error(
            &self.path,
            &self.text,
            token.line,
            token.column,
            message.into(),
        )
    }
}
