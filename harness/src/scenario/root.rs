//! Decides which files a scenario may read: those inside its project root.
//!
//! Scenarios travel (attached to bug reports, bundled, replayed), so a
//! scenario must not make mcsdns read `/etc/shadow`, another user's
//! kubeconfig or `/proc/self/environ`. Its root is the folder named with
//! `--root` (or `MCSDNS_ROOT`), else the nearest folder at or above the
//! scenario that holds `scenarios/` or `fixtures/`, else the scenario's own
//! folder. A relative path is looked up from the scenario's folder and each
//! folder above it up to the root, never beyond; an absolute path, or a
//! symbolic link, whose real place is outside the root is refused.

use std::io;
use std::path::{Component, Path, PathBuf};
use std::sync::OnceLock;

/// The root named on the command line, for every scenario of the process.
static PINNED: OnceLock<PathBuf> = OnceLock::new();

/// The folder a scenario's paths must stay in.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProjectRoot {
    /// Its real path (absolute, links resolved).
    real: PathBuf,
}

/// A file a scenario names, found inside its root.
#[derive(Clone, Debug)]
pub struct Found {
    /// The path as found from the scenario's folder (for messages).
    pub path: PathBuf,
    /// Whether it is a folder.
    pub is_dir: bool,
}

/// Why a path a scenario names cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum Refusal {
    /// Its real place is outside the root.
    #[error("path {written:?} leaves the scenario's root {}{}", .root.display(), via(.link))]
    Leaves {
        /// The path as written.
        written: String,
        /// The root.
        root: PathBuf,
        /// Where a symbolic link on the way really leads.
        link: Option<PathBuf>,
    },
    /// Nothing of that name between the scenario's folder and the root.
    #[error("fixture {written:?} not found")]
    NotFound {
        /// The path as written.
        written: String,
        /// The scenario's folder, as given.
        from: PathBuf,
        /// The root.
        root: PathBuf,
    },
    /// Something is there but cannot be looked at.
    #[error("cannot read {}: {}", .path.display(), why(.source))]
    Unreadable {
        /// The path tried.
        path: PathBuf,
        /// Why not.
        source: io::Error,
    },
}

fn via(link: &Option<PathBuf>) -> String {
    link.as_ref()
        .map(|l| format!(" (a symbolic link to {})", l.display()))
        .unwrap_or_default()
}

/// An error's words, with a symbolic link loop said as such.
fn why(e: &io::Error) -> String {
    if e.raw_os_error() == Some(rustix::io::Errno::LOOP.raw_os_error()) {
        "a loop of symbolic links".into()
    } else {
        e.to_string()
    }
}

impl Refusal {
    /// What to do about it.
    pub fn hint(&self) -> String {
        match self {
            Refusal::Leaves { .. } => "a scenario reads only files inside its project root: the nearest folder at or above it holding scenarios/ or fixtures/, or the one named with --root (MCSDNS_ROOT); copy the file into the project".into(),
            Refusal::NotFound { from, root, .. } => format!(
                "paths are looked up from {} and every folder above it up to the scenario's root {}",
                from.display(),
                root.display()
            ),
            Refusal::Unreadable { .. } => "the path must name a readable file or folder".into(),
        }
    }
}

impl ProjectRoot {
    /// Names the root of every scenario loaded from now on in this process
    /// (the command line's `--root`); the first call wins.
    pub fn pin(dir: &Path) -> io::Result<()> {
        let real = dir.canonicalize()?;
        let _ = PINNED.set(real);
        Ok(())
    }

    /// The root of the scenario at `scenario`: the pinned one, else the
    /// nearest folder at or above the scenario's holding `scenarios/` or
    /// `fixtures/`, else the scenario's own folder.
    pub fn of(scenario: &Path) -> ProjectRoot {
        if let Some(real) = PINNED.get() {
            return ProjectRoot { real: real.clone() };
        }
        let dir = real(&folder_of(scenario));
        let real = dir
            .ancestors()
            .find(|d| d.join("scenarios").is_dir() || d.join("fixtures").is_dir())
            .map_or_else(|| dir.clone(), Path::to_owned);
        ProjectRoot { real }
    }

    /// `dir` as the root, whatever it holds (a replayed bundle's folder).
    pub fn at(dir: &Path) -> ProjectRoot {
        ProjectRoot { real: real(dir) }
    }

    /// The root's real path.
    pub fn path(&self) -> &Path {
        &self.real
    }

    /// Finds `written`, a path the scenario at `scenario` names: an
    /// absolute one as it is, a relative one from the scenario's folder and
    /// each folder above it up to the root. Whatever is found must really
    /// be inside the root, links resolved.
    pub fn find(&self, scenario: &Path, written: &str) -> Result<Found, Refusal> {
        let leaves = |link| Refusal::Leaves {
            written: written.to_owned(),
            root: self.real.clone(),
            link,
        };
        let rel = Path::new(written);
        let from = folder_of(scenario);
        if rel.is_absolute() {
            return match self.probe(rel, written)? {
                Some(found) => Ok(found),
                None if normalize(rel).starts_with(&self.real) => Err(Refusal::NotFound {
                    written: written.to_owned(),
                    from,
                    root: self.real.clone(),
                }),
                None => Err(leaves(None)),
            };
        }
        let mut real_dir = real(&from);
        if !normalize(&real_dir.join(rel)).starts_with(&self.real) {
            return Err(leaves(None));
        }
        let mut shown = from.clone();
        loop {
            let candidate = shown.join(rel);
            if normalize(&real_dir.join(rel)).starts_with(&self.real)
                && let Some(found) = self.probe(&candidate, written)?
            {
                return Ok(found);
            }
            if real_dir == self.real {
                break;
            }
            match real_dir.parent() {
                Some(up) => real_dir = up.to_owned(),
                None => break,
            }
            shown = up(&shown);
        }
        Err(Refusal::NotFound {
            written: written.to_owned(),
            from,
            root: self.real.clone(),
        })
    }

    /// What is at `candidate`: nothing, a file or folder inside the root,
    /// or a refusal (outside the root through a link, a link loop, a link
    /// to nothing, unreadable).
    fn probe(&self, candidate: &Path, written: &str) -> Result<Option<Found>, Refusal> {
        let unreadable = |source| Refusal::Unreadable {
            path: candidate.to_owned(),
            source,
        };
        match std::fs::metadata(candidate) {
            Ok(meta) => {
                let real = candidate.canonicalize().map_err(unreadable)?;
                if !real.starts_with(&self.real) {
                    let link = (real != normalize(candidate)).then_some(real);
                    return Err(Refusal::Leaves {
                        written: written.to_owned(),
                        root: self.real.clone(),
                        link,
                    });
                }
                Ok(Some(Found {
                    path: candidate.to_owned(),
                    is_dir: meta.is_dir(),
                }))
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                match std::fs::symlink_metadata(candidate) {
                    // A link whose target is missing is worth saying.
                    Ok(_) => Err(unreadable(io::Error::new(
                        io::ErrorKind::NotFound,
                        "a symbolic link to a missing file",
                    ))),
                    Err(_) => Ok(None),
                }
            }
            Err(e) if e.kind() == io::ErrorKind::NotADirectory => Ok(None),
            Err(e) => Err(unreadable(e)),
        }
    }

    /// Checks that `file`, found inside a folder the scenario names, is
    /// really inside the root (it may be a link leading out).
    pub fn admit(&self, file: &Path, written: &str) -> Result<(), Refusal> {
        match self.probe(file, written)? {
            Some(_) => Ok(()),
            None => Err(Refusal::Unreadable {
                path: file.to_owned(),
                source: io::ErrorKind::NotFound.into(),
            }),
        }
    }
}

/// The folder of a file, `.` for a bare file name.
fn folder_of(file: &Path) -> PathBuf {
    match file.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_owned(),
        _ => PathBuf::from("."),
    }
}

/// The folder above `dir` as the user would write it.
fn up(dir: &Path) -> PathBuf {
    match dir.components().next_back() {
        Some(Component::Normal(_)) => folder_of(dir),
        Some(Component::CurDir) | None => PathBuf::from(".."),
        _ => dir.join(".."),
    }
}

/// `p` without `.` and `..` (read as the folder above), made absolute.
fn normalize(p: &Path) -> PathBuf {
    let abs = std::path::absolute(p).unwrap_or_else(|_| p.to_owned());
    let mut out = PathBuf::new();
    for c in abs.components() {
        match c {
            Component::ParentDir => {
                out.pop();
            }
            Component::CurDir => {}
            c => out.push(c),
        }
    }
    out
}

/// The real path of `p`: links resolved as far as it exists, the rest
/// appended as written (a scenario parsed from text may have no file yet).
fn real(p: &Path) -> PathBuf {
    if let Ok(r) = p.canonicalize() {
        return r;
    }
    let norm = normalize(p);
    let mut rest = Vec::new();
    let mut at = norm.as_path();
    loop {
        if let Ok(mut r) = at.canonicalize() {
            r.extend(rest.iter().rev());
            return r;
        }
        match (at.parent(), at.file_name()) {
            (Some(parent), Some(name)) => {
                rest.push(name.to_owned());
                at = parent;
            }
            _ => return norm,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_root_is_the_nearest_folder_with_scenarios_or_fixtures() {
        let d = tempfile::tempdir().unwrap();
        let proj = d.path().join("proj");
        std::fs::create_dir_all(proj.join("fixtures")).unwrap();
        std::fs::create_dir_all(proj.join("scenarios/seed")).unwrap();
        let root = ProjectRoot::of(&proj.join("scenarios/seed/x.yaml"));
        assert_eq!(root.path(), proj.canonicalize().unwrap());
        // Nothing marks a project: the scenario's own folder.
        let lone = d.path().join("lone");
        std::fs::create_dir_all(&lone).unwrap();
        assert_eq!(
            ProjectRoot::of(&lone.join("x.yaml")).path(),
            lone.canonicalize().unwrap()
        );
    }

    #[test]
    fn up_climbs_as_a_user_writes_it() {
        assert_eq!(up(Path::new("scenarios/seed")), Path::new("scenarios"));
        assert_eq!(up(Path::new("scenarios")), Path::new("."));
        assert_eq!(up(Path::new(".")), Path::new(".."));
        assert_eq!(up(Path::new("..")), Path::new("../.."));
        assert_eq!(folder_of(Path::new("x.yaml")), Path::new("."));
    }
}
