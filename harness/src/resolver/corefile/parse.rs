//! Parses a Corefile (Caddyfile syntax) into server blocks and directives.

use std::path::Path;

use super::{Corefile, CorefileError, Directive, ServerBlock, Token};
use crate::error::SourceError;

impl Corefile {
    /// Parses Corefile text.
    pub fn parse(path: &Path, text: &str) -> Result<Corefile, CorefileError> {
        let lines = tokenize(path, text)?;
        let mut parser = Parser {
            path,
            text,
            lines,
            pos: 0,
        };
        let mut blocks = Vec::new();
        while parser.pos < parser.lines.len() {
            blocks.push(parser.server_block()?);
        }
        Ok(Corefile {
            path: path.to_owned(),
            text: text.to_owned(),
            blocks,
        })
    }
}

pub(super) fn error(
    path: &Path,
    text: &str,
    line: usize,
    column: usize,
    message: String,
) -> CorefileError {
    SourceError::at(path, text, line, column, message)
}

/// Splits text into lines of tokens; `{` and `}` are tokens of their own.
fn tokenize(path: &Path, text: &str) -> Result<Vec<Vec<Token>>, CorefileError> {
    let mut lines: Vec<Vec<Token>> = Vec::new();
    let mut current: Vec<Token> = Vec::new();
    let mut chars = text.char_indices().peekable();
    let (mut line, mut col) = (1usize, 1usize);
    while let Some((_, c)) = chars.next() {
        match c {
            '\n' => {
                if !current.is_empty() {
                    lines.push(std::mem::take(&mut current));
                }
                line += 1;
                col = 1;
                continue;
            }
            '#' => {
                while let Some(&(_, c)) = chars.peek() {
                    if c == '\n' {
                        break;
                    }
                    chars.next();
                }
                continue;
            }
            c if c.is_whitespace() => {}
            '{' | '}' => current.push(Token {
                text: c.to_string(),
                line,
                column: col,
            }),
            '"' => {
                let (start_line, start_col) = (line, col);
                let mut s = String::new();
                let mut closed = false;
                while let Some((_, c)) = chars.next() {
                    col += 1;
                    match c {
                        '"' => {
                            closed = true;
                            break;
                        }
                        '\\' => {
                            if let Some((_, n)) = chars.next() {
                                col += 1;
                                s.push(n);
                            }
                        }
                        '\n' => {
                            line += 1;
                            col = 1;
                            s.push(c);
                        }
                        c => s.push(c),
                    }
                }
                if !closed {
                    return Err(error(
                        path,
                        text,
                        start_line,
                        start_col,
                        "unterminated quote".into(),
                    ));
                }
                current.push(Token {
                    text: s,
                    line: start_line,
                    column: start_col,
                });
            }
            _ => {
                let mut s = String::from(c);
                let start_col = col;
                while let Some(&(_, n)) = chars.peek() {
                    if n.is_whitespace() || n == '{' || n == '}' || n == '#' || n == '"' {
                        break;
                    }
                    s.push(n);
                    chars.next();
                    col += 1;
                }
                current.push(Token {
                    text: s,
                    line,
                    column: start_col,
                });
            }
        }
        col += 1;
    }
    if !current.is_empty() {
        lines.push(current);
    }
    Ok(lines)
}

struct Parser<'a> {
    path: &'a Path,
    text: &'a str,
    lines: Vec<Vec<Token>>,
    pos: usize,
}

impl Parser<'_> {
    fn err(&self, t: &Token, msg: impl Into<String>) -> CorefileError {
        error(self.path, self.text, t.line, t.column, msg.into())
    }

    fn server_block(&mut self) -> Result<ServerBlock, CorefileError> {
        let mut line = self.lines[self.pos].clone();
        self.pos += 1;
        let Some(last) = line.pop() else {
            unreachable!("tokenize never yields empty lines")
        };
        if last.text != "{" {
            return Err(self
                .err(
                    &last,
                    format!(
                        "expected `{{` to open the server block, found {:?}",
                        last.text
                    ),
                )
                .with_hint("a server block looks like `.:53 { ... }`"));
        }
        if let Some(t) = line.iter().find(|t| t.text == "{" || t.text == "}") {
            return Err(self.err(t, "unexpected brace in server block keys"));
        }
        if line.is_empty() {
            return Err(self
                .err(&last, "server block has no address")
                .with_hint("write `.:53 {`"));
        }
        let directives = self.directives(&last)?;
        Ok(ServerBlock {
            keys: line,
            directives,
        })
    }

    /// Reads directives until the `}` closing `open`.
    fn directives(&mut self, open: &Token) -> Result<Vec<Directive>, CorefileError> {
        let mut out = Vec::new();
        loop {
            let Some(line) = self.lines.get(self.pos).cloned() else {
                return Err(self
                    .err(open, "unclosed `{`")
                    .with_hint("add the matching `}`"));
            };
            self.pos += 1;
            let mut tokens = line.into_iter().peekable();
            while let Some(t) = tokens.next() {
                if t.text == "}" {
                    if let Some(extra) = tokens.next() {
                        return Err(self.err(&extra, "unexpected text after `}`"));
                    }
                    return Ok(out);
                }
                if t.text == "{" {
                    return Err(self.err(&t, "`{` without a directive"));
                }
                let mut args = Vec::new();
                let mut block = Vec::new();
                while let Some(a) = tokens.next() {
                    match a.text.as_str() {
                        "{" => {
                            if let Some(extra) = tokens.next() {
                                return Err(
                                    self.err(&extra, "a block's content starts on the next line")
                                );
                            }
                            block = self.directives(&a)?;
                            break;
                        }
                        "}" => {
                            return Err(self.err(&a, "`}` must stand on its own line"));
                        }
                        _ => args.push(a),
                    }
                }
                out.push(Directive {
                    name: t,
                    args,
                    block,
                });
            }
        }
    }
}
