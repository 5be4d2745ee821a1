//! Reads label and field selectors as apimachinery's parsers do
//! (equality and set-based label terms, `=`/`==`/`!=` field terms, their
//! errors) and matches objects with them.

use std::collections::BTreeMap;

/// A parsed `labelSelector`: every requirement must hold.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Selector(Vec<Requirement>);

#[derive(Clone, Debug, PartialEq, Eq)]
struct Requirement {
    key: String,
    op: Op,
    values: Vec<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Op {
    In,
    NotIn,
    Exists,
    Absent,
    Greater,
    Less,
}

/// The lexer's tokens.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Token {
    End,
    Ident(String),
    In,
    NotIn,
    Not,
    Equals,
    DoubleEquals,
    NotEquals,
    Greater,
    Less,
    Open,
    Close,
    Comma,
    /// A run of symbols that is no operator.
    Error(String),
}

impl Token {
    /// The text the parser's errors quote.
    fn literal(&self) -> String {
        match self {
            Token::End => String::new(),
            Token::Ident(s) | Token::Error(s) => s.clone(),
            Token::In => "in".into(),
            Token::NotIn => "notin".into(),
            Token::Not => "!".into(),
            Token::Equals => "=".into(),
            Token::DoubleEquals => "==".into(),
            Token::NotEquals => "!=".into(),
            Token::Greater => ">".into(),
            Token::Less => "<".into(),
            Token::Open => "(".into(),
            Token::Close => ")".into(),
            Token::Comma => ",".into(),
        }
    }
}

fn special(c: char) -> bool {
    matches!(c, '=' | '!' | '(' | ')' | ',' | '>' | '<')
}

fn symbol(s: &str) -> Option<Token> {
    Some(match s {
        "!" => Token::Not,
        "=" => Token::Equals,
        "==" => Token::DoubleEquals,
        "!=" => Token::NotEquals,
        ">" => Token::Greater,
        "<" => Token::Less,
        "(" => Token::Open,
        ")" => Token::Close,
        "," => Token::Comma,
        _ => return None,
    })
}

/// Splits a selector into tokens: identifiers end at whitespace or a
/// symbol; a run of symbols is the longest operator it starts with.
fn lex(s: &str) -> Vec<Token> {
    let chars: Vec<char> = s.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    loop {
        while i < chars.len() && matches!(chars[i], ' ' | '\t' | '\r' | '\n') {
            i += 1;
        }
        let Some(&c) = chars.get(i) else {
            out.push(Token::End);
            return out;
        };
        if special(c) {
            let mut buf = String::new();
            let mut last = None;
            while let Some(&c) = chars.get(i).filter(|c| special(**c)) {
                buf.push(c);
                match symbol(&buf) {
                    Some(t) => {
                        last = Some(t);
                        i += 1;
                    }
                    None if last.is_some() => break,
                    None => i += 1,
                }
            }
            out.push(
                last.unwrap_or_else(|| {
                    Token::Error(format!("error expected: keyword found '{buf}'"))
                }),
            );
        } else {
            let mut buf = String::new();
            while let Some(&c) = chars
                .get(i)
                .filter(|c| !special(**c) && !c.is_ascii_whitespace())
            {
                buf.push(c);
                i += 1;
            }
            out.push(match buf.as_str() {
                "in" => Token::In,
                "notin" => Token::NotIn,
                _ => Token::Ident(buf),
            });
        }
    }
}

struct Parser {
    tokens: Vec<Token>,
    at: usize,
}

impl Parser {
    /// The next token; in value position `in` and `notin` are identifiers.
    fn peek(&self, values: bool) -> Token {
        let t = self.tokens.get(self.at).cloned().unwrap_or(Token::End);
        match t {
            Token::In | Token::NotIn if values => Token::Ident(t.literal()),
            t => t,
        }
    }

    fn next(&mut self, values: bool) -> Token {
        let t = self.peek(values);
        self.at += 1;
        t
    }

    fn selector(&mut self) -> Result<Vec<Requirement>, String> {
        let mut out = Vec::new();
        loop {
            match self.peek(true) {
                Token::Ident(_) | Token::Not => {
                    let r = self
                        .requirement()
                        .map_err(|e| format!("unable to parse requirement: {e}"))?;
                    out.push(r);
                    match self.next(true) {
                        Token::End => return Ok(out),
                        Token::Comma => {
                            let t = self.peek(true);
                            if !matches!(t, Token::Ident(_) | Token::Not) {
                                return Err(format!(
                                    "found '{}', expected: identifier after ','",
                                    t.literal()
                                ));
                            }
                        }
                        t => {
                            return Err(format!(
                                "found '{}', expected: ',' or 'end of string'",
                                t.literal()
                            ));
                        }
                    }
                }
                Token::End => return Ok(out),
                t => {
                    return Err(format!(
                        "found '{}', expected: !, identifier, or 'end of string'",
                        t.literal()
                    ));
                }
            }
        }
    }

    fn requirement(&mut self) -> Result<Requirement, String> {
        let mut negated = false;
        let mut t = self.next(true);
        if t == Token::Not {
            negated = true;
            t = self.next(true);
        }
        let Token::Ident(key) = t else {
            return Err(format!("found '{}', expected: identifier", t.literal()));
        };
        if matches!(self.peek(true), Token::End | Token::Comma) {
            let op = if negated { Op::Absent } else { Op::Exists };
            return Ok(Requirement {
                key,
                op,
                values: Vec::new(),
            });
        }
        let op = match self.next(false) {
            Token::In => Op::In,
            Token::NotIn => Op::NotIn,
            Token::Equals | Token::DoubleEquals => Op::In,
            Token::NotEquals => Op::NotIn,
            Token::Greater => Op::Greater,
            Token::Less => Op::Less,
            t => {
                return Err(format!(
                    "found '{}', expected: in, notin, =, ==, !=, gt, lt",
                    t.literal()
                ));
            }
        };
        let set = matches!(self.tokens.get(self.at - 1), Some(Token::In | Token::NotIn));
        let values = if set { self.set()? } else { self.exact()? };
        if set && values.is_empty() {
            return Err("for 'in', 'notin' operators, values set can't be empty".into());
        }
        if matches!(op, Op::Greater | Op::Less)
            && values.first().is_none_or(|v| v.parse::<i64>().is_err())
        {
            return Err("for 'Gt', 'Lt' operators, the value must be an integer".into());
        }
        Ok(Requirement { key, op, values })
    }

    fn set(&mut self) -> Result<Vec<String>, String> {
        let t = self.next(true);
        if t != Token::Open {
            return Err(format!("found '{}' expected: '('", t.literal()));
        }
        let mut values = std::collections::BTreeSet::new();
        if self.peek(true) == Token::Close {
            self.next(true);
            return Ok(vec![String::new()]);
        }
        loop {
            match self.next(true) {
                Token::Ident(v) => {
                    values.insert(v);
                    match self.peek(true) {
                        Token::Comma => continue,
                        Token::Close => {
                            self.next(true);
                            return Ok(values.into_iter().collect());
                        }
                        t => return Err(format!("found '{}', expected: ',' or ')'", t.literal())),
                    }
                }
                Token::Comma => {
                    values.insert(String::new());
                    if self.peek(true) == Token::Close {
                        self.next(true);
                        return Ok(values.into_iter().collect());
                    }
                }
                t => {
                    return Err(format!(
                        "found '{}', expected: ',', or identifier",
                        t.literal()
                    ));
                }
            }
        }
    }

    fn exact(&mut self) -> Result<Vec<String>, String> {
        match self.peek(true) {
            Token::End | Token::Comma => Ok(vec![String::new()]),
            _ => match self.next(true) {
                Token::Ident(v) => Ok(vec![v]),
                t => Err(format!("found '{}', expected: identifier", t.literal())),
            },
        }
    }
}

impl Selector {
    /// Parses a `labelSelector` query value; the error is worded as
    /// apimachinery's parser words it.
    pub fn parse(s: &str) -> Result<Selector, String> {
        let mut p = Parser {
            tokens: lex(s),
            at: 0,
        };
        p.selector().map(Selector)
    }

    /// The selector of `key=value` terms (never fails).
    pub fn equals(terms: &[(&str, &str)]) -> Selector {
        Selector(
            terms
                .iter()
                .map(|(k, v)| Requirement {
                    key: (*k).to_owned(),
                    op: Op::In,
                    values: vec![(*v).to_owned()],
                })
                .collect(),
        )
    }

    /// Whether an object's labels match.
    pub fn matches(&self, labels: Option<&BTreeMap<String, String>>) -> bool {
        self.0.iter().all(|r| {
            let v = labels.and_then(|l| l.get(&r.key));
            let number = || v.and_then(|v| v.parse::<i64>().ok());
            let bound = || r.values.first().and_then(|b| b.parse::<i64>().ok());
            match r.op {
                Op::In => v.is_some_and(|v| r.values.contains(v)),
                Op::NotIn => v.is_none_or(|v| !r.values.contains(v)),
                Op::Exists => v.is_some(),
                Op::Absent => v.is_none(),
                Op::Greater => matches!((number(), bound()), (Some(n), Some(b)) if n > b),
                Op::Less => matches!((number(), bound()), (Some(n), Some(b)) if n < b),
            }
        })
    }
}

/// What a list or a watch selects by: labels and fields.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Filter {
    /// The label selector.
    pub labels: Selector,
    /// The field selector.
    pub fields: FieldSelector,
}

impl Filter {
    /// Whether an object (as served, JSON) matches both.
    pub fn matches(&self, object: &serde_json::Value) -> bool {
        let meta = &object["metadata"];
        let labels: Option<BTreeMap<String, String>> =
            serde_json::from_value(meta["labels"].clone()).ok();
        self.labels.matches(labels.as_ref())
            && self.fields.matches(
                meta["namespace"].as_str().unwrap_or_default(),
                meta["name"].as_str().unwrap_or_default(),
            )
    }
}

/// A parsed `fieldSelector` over the fields every type serves
/// (`metadata.name`, `metadata.namespace`): every term must hold.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FieldSelector(Vec<FieldTerm>);

/// One `field=value` or `field!=value` term.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FieldTerm {
    /// The field, as given.
    pub field: String,
    /// `=` or `==` (true), `!=` (false).
    pub equals: bool,
    /// The value, unescaped.
    pub value: String,
}

impl FieldSelector {
    /// Parses a `fieldSelector` query value into its terms (the fields are
    /// checked by [`FieldSelector::supported`]); a term without an
    /// operator is an error in apimachinery's words.
    pub fn parse(s: &str) -> Result<FieldSelector, String> {
        let mut terms = Vec::new();
        for term in split_unescaped(s, ',') {
            if term.is_empty() {
                continue;
            }
            let (field, equals, value) = if let Some((f, v)) = split_op(&term, "!=") {
                (f, false, v)
            } else if let Some((f, v)) = split_op(&term, "==") {
                (f, true, v)
            } else if let Some((f, v)) = split_op(&term, "=") {
                (f, true, v)
            } else {
                return Err(format!(
                    "invalid selector: '{s}'; can't understand '{term}'"
                ));
            };
            terms.push(FieldTerm {
                field,
                equals,
                value: unescape(&value),
            });
        }
        Ok(FieldSelector(terms))
    }

    /// The first term on a field other than `metadata.name` and
    /// `metadata.namespace`.
    pub fn unsupported(&self) -> Option<&FieldTerm> {
        self.0
            .iter()
            .find(|t| t.field != "metadata.name" && t.field != "metadata.namespace")
    }

    /// The terms.
    pub fn terms(&self) -> &[FieldTerm] {
        &self.0
    }

    /// Whether an object in `namespace` named `name` matches.
    pub fn matches(&self, namespace: &str, name: &str) -> bool {
        self.0.iter().all(|t| {
            let have = match t.field.as_str() {
                "metadata.name" => name,
                "metadata.namespace" => namespace,
                _ => return false,
            };
            (have == t.value) == t.equals
        })
    }
}

/// Splits at `sep` where it is not escaped with `\`.
fn split_unescaped(s: &str, sep: char) -> Vec<String> {
    let mut out = vec![String::new()];
    let mut escaped = false;
    for c in s.chars() {
        if escaped {
            if let Some(t) = out.last_mut() {
                t.push('\\');
                t.push(c);
            }
            escaped = false;
        } else if c == '\\' {
            escaped = true;
        } else if c == sep {
            out.push(String::new());
        } else if let Some(t) = out.last_mut() {
            t.push(c);
        }
    }
    out
}

/// `field<op>value` split at the first unescaped `op`.
fn split_op(term: &str, op: &str) -> Option<(String, String)> {
    let mut escaped = false;
    for (i, c) in term.char_indices() {
        if escaped {
            escaped = false;
            continue;
        }
        if c == '\\' {
            escaped = true;
            continue;
        }
        if term[i..].starts_with(op) {
            return Some((term[..i].to_owned(), term[i + op.len()..].to_owned()));
        }
    }
    None
}

fn unescape(v: &str) -> String {
    let mut out = String::new();
    let mut escaped = false;
    for c in v.chars() {
        if escaped || c != '\\' {
            out.push(c);
            escaped = false;
        } else {
            escaped = true;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn equality_and_set_terms_match_as_the_api_server_matches() {
        let l = labels(&[("app", "web"), ("tier", "front"), ("n", "5")]);
        for (selector, want) in [
            ("app=web", true),
            ("app==web", true),
            ("app!=web", false),
            ("app!=db", true),
            ("missing!=x", true),
            ("app", true),
            ("!app", false),
            ("!missing", true),
            ("app in (web,db)", true),
            ("app in (db)", false),
            ("app notin (db)", true),
            ("missing notin (db)", true),
            ("missing in (db)", false),
            ("app=web,tier in (front, back)", true),
            ("app=web,tier=back", false),
            ("n>4", true),
            ("n<5", false),
            ("", true),
        ] {
            let s = Selector::parse(selector).unwrap_or_else(|e| panic!("{selector}: {e}"));
            assert_eq!(s.matches(Some(&l)), want, "{selector}");
        }
    }

    #[test]
    fn bad_selectors_are_refused_in_the_parsers_words() {
        for (selector, message) in [
            (
                "a in b",
                "unable to parse requirement: found 'b' expected: '('",
            ),
            ("a in ()", ""),
            ("a=b c", "found 'c', expected: ',' or 'end of string'"),
            ("a=b,", "found '', expected: identifier after ','"),
            (
                "=b",
                "found '=', expected: !, identifier, or 'end of string'",
            ),
            (
                "a in (b",
                "unable to parse requirement: found '', expected: ',' or ')'",
            ),
            (
                "n>x",
                "unable to parse requirement: for 'Gt', 'Lt' operators, the value must be an integer",
            ),
        ] {
            match Selector::parse(selector) {
                Ok(_) => assert!(message.is_empty(), "{selector} parsed"),
                Err(e) => assert_eq!(e, message, "{selector}"),
            }
        }
    }
}
