//! Holds a scenario's answers to its reviewed snapshot as insta users
//! expect: files in insta's format naming the scenario's own file, only
//! the answers compared (never line numbers or metadata), a changed answer
//! written as a pending `.snap.new` beside the old snapshot, and review
//! that accepts or rejects each pending snapshot.

use std::path::{Path, PathBuf};

/// Where a scenario's snapshot lives: `<suite root>/snapshots/<id with __>.snap`.
pub fn path(root: &Path, id: &str) -> PathBuf {
    root.join("snapshots")
        .join(format!("{}.snap", id.replace('/', "__")))
}

/// The pending snapshot beside `snapshot` (`.snap.new`, as insta names it,
/// so `cargo insta review` reviews it too).
pub fn pending_path(snapshot: &Path) -> PathBuf {
    let mut name = snapshot.as_os_str().to_owned();
    name.push(".new");
    PathBuf::from(name)
}

/// A snapshot file: its metadata and the answers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Snapshot {
    /// The scenario file, relative to the folder above the suite root
    /// (`scenarios/seed/rbac-denied.yaml`).
    pub source: String,
    /// The transcript of every step's answers.
    pub contents: String,
}

impl Snapshot {
    /// The snapshot of `transcript` for the scenario file `file` of the
    /// suite at `root`.
    pub fn new(root: &Path, file: &Path, transcript: &str) -> Snapshot {
        let base = root.parent().unwrap_or(root);
        let source = file
            .strip_prefix(base)
            .unwrap_or(file)
            .to_string_lossy()
            .replace('\\', "/");
        Snapshot {
            source,
            contents: transcript.to_owned(),
        }
    }

    /// The file's text, as insta writes it.
    pub fn render(&self) -> String {
        format!(
            "---\nsource: {}\nexpression: transcript\n---\n{}",
            self.source, self.contents
        )
    }

    /// Reads a snapshot file (insta's header, then the answers).
    pub fn parse(text: &str) -> Option<Snapshot> {
        let rest = text.strip_prefix("---\n")?;
        let end = rest.find("\n---\n")?;
        let source = rest[..end]
            .lines()
            .find_map(|l| l.strip_prefix("source: "))
            .unwrap_or_default()
            .to_owned();
        Some(Snapshot {
            source,
            contents: rest[end + 5..].to_owned(),
        })
    }

    /// Whether two snapshots hold the same answers: metadata, step line
    /// numbers (older files wrote `### step 1 (line 44)`) and trailing
    /// blank lines do not count.
    pub fn same_answers(&self, other: &Snapshot) -> bool {
        comparable(&self.contents) == comparable(&other.contents)
    }
}

/// The answers of a transcript, without what may change when only the
/// scenario file's layout does.
pub fn comparable(transcript: &str) -> String {
    let lines: Vec<String> = transcript
        .lines()
        .map(|l| match (l.strip_prefix("### step "), l.find(" (line ")) {
            (Some(_), Some(at)) => match l[at..].find("):") {
                Some(close) => format!("{}{}", &l[..at], &l[at + close + 1..]),
                None => l.to_owned(),
            },
            _ => l.to_owned(),
        })
        .collect();
    lines.join("\n").trim_end().to_owned()
}

/// A transcript with every SOA serial as `SERIAL`: a serial is the
/// implementation's own clock (the reference's is the API's
/// resourceVersion), so answers from two targets are compared without it.
pub fn without_serials(transcript: &str) -> String {
    let lines: Vec<String> = transcript
        .lines()
        .map(|l| {
            let fields: Vec<&str> = l.split('\t').collect();
            match fields.as_slice() {
                [owner, ttl, class, "SOA", data] => {
                    let mut words: Vec<&str> = data.split(' ').collect();
                    if words.len() == 7 {
                        words[2] = "SERIAL";
                    }
                    format!("{owner}\t{ttl}\t{class}\tSOA\t{}", words.join(" "))
                }
                _ => l.to_owned(),
            }
        })
        .collect();
    lines.join("\n")
}

/// A unified diff of two texts.
pub fn unified_diff(old: &str, new: &str) -> String {
    similar::TextDiff::from_lines(old, new)
        .unified_diff()
        .context_radius(2)
        .header("recorded", "now")
        .to_string()
}

/// Holds `now` to the snapshot at `snap`: `None` when the answers agree
/// (or there is no snapshot yet, which record mode writes), else a diff of
/// the answers (recorded -> now). With `write_pending`, a difference is
/// also written to the pending file for review, and an agreement removes
/// a pending file left from before.
pub fn check(snap: &Path, now: &Snapshot, write_pending: bool) -> std::io::Result<Option<String>> {
    let pending = pending_path(snap);
    let Some(recorded) = crate::files::read_to_string(snap)
        .ok()
        .and_then(|t| Snapshot::parse(&t))
    else {
        return Ok(None);
    };
    if recorded.same_answers(now) {
        if write_pending && pending.exists() {
            std::fs::remove_file(&pending)?;
        }
        return Ok(None);
    }
    if write_pending {
        crate::error::replace_file(&pending, &now.render())?;
    }
    Ok(Some(unified_diff(
        &comparable(&recorded.contents),
        &comparable(&now.contents),
    )))
}

/// Every pending snapshot under the suite roots' `snapshots` folders, sorted.
pub fn pending(roots: &[PathBuf]) -> std::io::Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    for root in roots {
        let dir = root.join("snapshots");
        if !dir.is_dir() {
            continue;
        }
        for entry in std::fs::read_dir(&dir)? {
            let p = entry?.path();
            if p.to_string_lossy().ends_with(".snap.new") {
                out.push(p);
            }
        }
    }
    out.sort();
    out.dedup();
    Ok(out)
}

/// The snapshot a pending file would replace.
pub fn accepted_path(pending: &Path) -> PathBuf {
    let s = pending.to_string_lossy();
    PathBuf::from(s.strip_suffix(".new").unwrap_or(&s).to_owned())
}

/// What review shows for a pending snapshot: the diff of its answers
/// against the snapshot it would replace (all new when there is none).
pub fn review_diff(pending: &Path) -> std::io::Result<String> {
    let new = crate::files::read_to_string(pending)?;
    let new = Snapshot::parse(&new).map_or(new.clone(), |s| comparable(&s.contents));
    let old = crate::files::read_to_string(&accepted_path(pending))
        .ok()
        .map(|t| Snapshot::parse(&t).map_or(t.clone(), |s| comparable(&s.contents)))
        .unwrap_or_default();
    Ok(unified_diff(&old, &new))
}

/// Accepts a pending snapshot: it replaces the old one, in one step.
pub fn accept(pending: &Path) -> std::io::Result<()> {
    std::fs::rename(pending, accepted_path(pending))
}

/// Rejects a pending snapshot: it is removed, the old one stays.
pub fn reject(pending: &Path) -> std::io::Result<()> {
    std::fs::remove_file(pending)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_numbers_and_metadata_are_not_answers() {
        let old = Snapshot {
            source: "harness/tests/scenarios.rs".into(),
            contents: "### step 1 (line 89): query a. A\n;; x\n\n".into(),
        };
        let new = Snapshot {
            source: "scenarios/seed/a.yaml".into(),
            contents: "### step 1: query a. A\n;; x\n".into(),
        };
        assert!(old.same_answers(&new));
        let changed = Snapshot {
            contents: "### step 1: query a. A\n;; y\n".into(),
            ..new.clone()
        };
        assert!(!changed.same_answers(&new));
    }

    #[test]
    fn serials_are_masked_and_nothing_else() {
        let soa = "clusterset.local.\t5\tIN\tSOA\tns.dns.clusterset.local. hostmaster.clusterset.local. 11 7200 1800 86400 5";
        assert_eq!(
            without_serials(&format!("{soa}\n;; x 11")),
            "clusterset.local.\t5\tIN\tSOA\tns.dns.clusterset.local. hostmaster.clusterset.local. SERIAL 7200 1800 86400 5\n;; x 11"
        );
    }

    #[test]
    fn a_file_reads_back_as_written() {
        let s = Snapshot {
            source: "scenarios/seed/a.yaml".into(),
            contents: "### step 1: query a. A\n".into(),
        };
        assert_eq!(Snapshot::parse(&s.render()), Some(s));
    }
}
