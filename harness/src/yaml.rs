//! Reads YAML with limits sized for real worlds and tells parse errors in
//! the user's words.
//!
//! Every YAML input mcsdns parses goes through [`options`]: the size of a
//! file is already capped by [`crate::files`]'s reader, so the document,
//! node and event counts that serde-saphyr limits by default (1,024
//! documents, 250,000 nodes) are lifted to what that size can hold, while
//! what makes a small file expensive stays refused: alias expansion (a
//! "billion laughs" file) and nesting depth. Manifests are parsed one
//! document at a time ([`documents`]), so these limits hold per document
//! and a file's cost grows with its size, not faster.
//!
//! [`describe`] turns serde-saphyr's messages (`budget breached: ...`,
//! `set DuplicateKeyPolicy in Options`, `use from_str_multiple`) into what
//! happened in the file.

use serde_saphyr::budget::BudgetBreach;

/// How many alias expansions one document may replay: far more than any
/// hand-written manifest uses, far less than a "billion laughs" file needs.
pub const MAX_REPLAYED_EVENTS: usize = 100_000;

/// How many aliases (`*name`) a whole file may hold.
pub const MAX_ALIASES: usize = 50_000;

/// How deep mappings and lists may nest.
pub const MAX_DEPTH: usize = 64;

/// The parser options every YAML input is read with.
pub fn options() -> serde_saphyr::Options {
    let mut budget = serde_saphyr::Budget::default();
    // The file's size is capped by the reader (files::max_size): counts of
    // documents, nodes, events and scalar bytes follow from it.
    budget.max_documents = usize::MAX;
    budget.max_nodes = usize::MAX;
    budget.max_events = usize::MAX;
    budget.max_total_scalar_bytes = usize::MAX;
    budget.max_reader_input_bytes = None;
    // What makes a small file expensive stays limited.
    budget.max_aliases = MAX_ALIASES;
    budget.max_depth = MAX_DEPTH;
    let mut options = serde_saphyr::Options::default();
    options.budget = Some(budget);
    options.alias_limits.max_total_replayed_events = MAX_REPLAYED_EVENTS;
    options
}

/// One YAML document's text within a larger text.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Region {
    /// Byte offset of its first line.
    pub start: usize,
    /// Byte offset just past its last line.
    pub end: usize,
    /// The 1-based line of the text it starts on.
    pub line: usize,
}

/// Cuts a multi-document text into its documents by their markers, in one
/// pass, without parsing: a line starting with `---` or `...` (followed by
/// a space, a tab or the end of the line) ends a document, as YAML forbids
/// such a line inside content. A `---` that follows only blank lines,
/// comments and directives opens the same region, so no region is empty
/// of content unless the text is. A region may still hold more than one
/// document (for instance `--- a` on one line then `--- b`), which the
/// caller's parser reads as it always would.
pub fn documents(text: &str) -> Vec<Region> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut line = 1;
    let mut start_line = 1;
    let mut has_content = false;
    let mut offset = 0;
    for l in text.split_inclusive('\n') {
        let marker = is_marker(l, "---");
        let end_marker = is_marker(l, "...");
        if marker && has_content {
            out.push(Region {
                start,
                end: offset,
                line: start_line,
            });
            start = offset;
            start_line = line;
            has_content = false;
        }
        offset += l.len();
        line += 1;
        if end_marker {
            out.push(Region {
                start,
                end: offset,
                line: start_line,
            });
            start = offset;
            start_line = line;
            has_content = false;
            continue;
        }
        if marker {
            // `--- value` holds content on the marker's own line.
            has_content |= !l[3..].trim().is_empty() && !l[3..].trim_start().starts_with('#');
        } else {
            let t = l.trim();
            has_content |= !(t.is_empty() || t.starts_with('#') || t.starts_with('%'));
        }
    }
    if start < text.len() || out.is_empty() {
        out.push(Region {
            start,
            end: text.len(),
            line: start_line,
        });
    }
    out
}

fn is_marker(line: &str, marker: &str) -> bool {
    line.strip_prefix(marker)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with([' ', '\t', '\n', '\r']))
}

/// Counts the aliases (`*name`) of a text, over-estimating rather than
/// missing one: a `*` that starts a token and is followed by a name.
pub fn alias_count(text: &str) -> usize {
    let bytes = text.as_bytes();
    let mut n = 0;
    for (i, _) in text.match_indices('*') {
        let before = if i == 0 { b' ' } else { bytes[i - 1] };
        let after = bytes.get(i + 1).copied().unwrap_or(b' ');
        if matches!(
            before,
            b' ' | b'\t' | b'\n' | b'[' | b'{' | b',' | b':' | b'-'
        ) && (after.is_ascii_alphanumeric() || after == b'_')
        {
            n += 1;
        }
    }
    n
}

/// A YAML input that could not be read, in the user's words.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("line {line} column {column}: {message}")]
pub struct YamlError {
    /// The 1-based line.
    pub line: usize,
    /// The 1-based column.
    pub column: usize,
    /// What went wrong ([`describe`]).
    pub message: String,
}

impl YamlError {
    /// The error as `file:line:column: message`.
    pub fn in_file(&self, file: &std::path::Path) -> String {
        format!(
            "{}:{}:{}: {}",
            file.display(),
            self.line,
            self.column,
            self.message
        )
    }
}

impl From<serde_saphyr::Error> for YamlError {
    fn from(e: serde_saphyr::Error) -> Self {
        let (line, column) = location(&e);
        YamlError {
            line,
            column,
            message: describe(&e),
        }
    }
}

/// Parses one YAML document with [`options`].
pub fn from_str<T: serde::de::DeserializeOwned>(text: &str) -> Result<T, YamlError> {
    serde_saphyr::from_str_with_options(text, options()).map_err(YamlError::from)
}

/// Parses every document of a YAML stream with [`options`].
pub fn from_multiple<T: serde::de::DeserializeOwned>(text: &str) -> Result<Vec<T>, YamlError> {
    serde_saphyr::from_multiple_with_options(text, options()).map_err(YamlError::from)
}

/// The 1-based line and column a parse error points at.
pub fn location(e: &serde_saphyr::Error) -> (usize, usize) {
    e.location().map_or((1, 1), |l| {
        (l.line().max(1) as usize, l.column().max(1) as usize)
    })
}

/// What went wrong, in the file's terms: no library advice, no location
/// prefix (the caller shows file:line:column).
pub fn describe(e: &serde_saphyr::Error) -> String {
    use serde_saphyr::Error as E;
    match e {
        E::WithSnippet { error, .. } | E::AliasError { error, .. } => describe(error),
        E::Budget { breach, .. } => breach_text(breach),
        E::DuplicateMappingKey { key, .. } => match key {
            Some(k) => {
                format!("duplicate mapping key: `{k}` appears twice in the same mapping; keep one")
            }
            None => {
                "duplicate mapping key: a key appears twice in the same mapping; keep one".into()
            }
        },
        E::MultipleDocuments { .. } => {
            "this file holds more than one YAML document (a second `---`); it must hold one".into()
        }
        E::AliasReplayLimitExceeded { .. }
        | E::AliasExpansionLimitExceeded { .. }
        | E::AliasReplayCounterOverflow { .. } => alias_bomb(),
        E::AliasReplayStackDepthExceeded { .. } => {
            format!("aliases (`*name`) nest more than {MAX_DEPTH} deep; write the values out")
        }
        _ => short(e),
    }
}

fn alias_bomb() -> String {
    format!(
        "aliases (`*name`) expand to more than {MAX_REPLAYED_EVENTS} values: refused, as a file that multiplies itself (a \"billion laughs\" file) would exhaust memory; write the values out instead of aliasing them"
    )
}

fn breach_text(breach: &BudgetBreach) -> String {
    match breach {
        BudgetBreach::Depth { .. } => format!(
            "mappings and lists nest more than {MAX_DEPTH} deep; no Kubernetes object nests this far"
        ),
        BudgetBreach::Aliases { aliases } => format!(
            "{aliases} aliases (`*name`): more than the {MAX_ALIASES} a file may hold; write the values out"
        ),
        BudgetBreach::AliasAnchorRatio { .. }
        | BudgetBreach::RecordedAnchorEvents { .. }
        | BudgetBreach::RecordedAnchorBytes { .. }
        | BudgetBreach::Anchors { .. }
        | BudgetBreach::MergeKeys { .. } => alias_bomb(),
        BudgetBreach::SequenceUnbalanced => "a list or mapping ends that never started".into(),
        BudgetBreach::InclusionDepth { .. } => "`!include` is not supported".into(),
        BudgetBreach::Documents { documents } => format!("too many documents ({documents})"),
        BudgetBreach::Nodes { nodes } => format!("too many values ({nodes})"),
        BudgetBreach::Events { events } => format!("too many values ({events})"),
        BudgetBreach::ScalarBytes { total_scalar_bytes } => {
            format!("too much text in values ({total_scalar_bytes} bytes)")
        }
        BudgetBreach::InputBytes { input_bytes } => {
            format!("the input is too large ({input_bytes} bytes)")
        }
        _ => "the input is too large or too deeply nested to read".into(),
    }
}

/// The first line of a serde-saphyr message, without its `line N column M:`
/// prefix and without advice addressed to a programmer.
fn short(e: &serde_saphyr::Error) -> String {
    use serde_saphyr::MessageFormatter;
    let text = serde_saphyr::DefaultMessageFormatter.format_message(e);
    let first = text.lines().next().unwrap_or_default();
    for advice in [
        ", set DuplicateKeyPolicy in Options if acceptable",
        "; use String or Cow<str> instead",
    ] {
        if let Some(cut) = first.find(advice) {
            return printable(&first[..cut]);
        }
    }
    printable(first)
}

/// `text` with control characters (which a file may put in a message) shown as spaces.
fn printable(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(text: &str) -> Vec<&str> {
        documents(text)
            .iter()
            .map(|r| &text[r.start..r.end])
            .collect()
    }

    #[test]
    fn documents_are_cut_at_their_markers() {
        assert_eq!(texts("a: 1\n---\nb: 2\n"), ["a: 1\n", "---\nb: 2\n"]);
        assert_eq!(texts("---\na: 1\n---\nb: 2"), ["---\na: 1\n", "---\nb: 2"]);
        // Comments and directives before a marker stay with its document.
        assert_eq!(
            texts("# c\n%YAML 1.2\n---\na: 1\n...\n---\nb: 2\n"),
            ["# c\n%YAML 1.2\n---\na: 1\n...\n", "---\nb: 2\n"]
        );
        // A marker inside an indented block scalar is content.
        assert_eq!(texts("a: |\n  ---\n  x\n"), ["a: |\n  ---\n  x\n"]);
        assert_eq!(texts("----\n"), ["----\n"]);
        assert_eq!(texts(""), [""]);
        let regions = documents("a: 1\n---\nb: 2\n");
        assert_eq!((regions[0].line, regions[1].line), (1, 2));
    }

    #[test]
    fn aliases_are_counted_not_globs() {
        assert_eq!(
            alias_count("a: &x 1\nb: *x\nc: [*x, *x]\nd: \"*.example\""),
            3
        );
    }

    #[test]
    fn a_billion_laughs_is_refused_in_plain_words() {
        let mut bomb = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
        for i in 1..9 {
            let p = i - 1;
            bomb.push_str(&format!(
                "a{i}: &a{i} [*a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}]\n"
            ));
        }
        let e =
            serde_saphyr::from_str_with_options::<serde_json::Value>(&bomb, options()).unwrap_err();
        let text = describe(&e);
        assert!(text.contains("billion laughs"), "{text}");
        assert!(!text.contains("budget"), "{text}");
    }

    #[test]
    fn a_duplicate_key_is_said_plainly() {
        let e = serde_saphyr::from_str_with_options::<serde_json::Value>("a: 1\na: 2\n", options())
            .unwrap_err();
        let text = describe(&e);
        assert!(text.contains("`a` appears twice"), "{text}");
        assert!(!text.contains("DuplicateKeyPolicy"), "{text}");
    }

    #[test]
    fn many_documents_pass_the_budget() {
        let text = "a: 1\n---\n".repeat(5000);
        let docs: Vec<serde_json::Value> =
            serde_saphyr::from_multiple_with_options(&text, options()).unwrap();
        assert_eq!(docs.len(), 5000);
    }
}
