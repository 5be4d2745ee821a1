//! Packs a scenario, every file it reads, and its recorded answers into one
//! file for a bug report; replays such a file and shows what changed.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::result::ScenarioResult;
use super::runner::run_scenario;
use super::snapshot::{comparable, unified_diff, without_serials};
use crate::scenario::Scenario;
use crate::scenario::load::load_scenario_in;
use crate::scenario::root::ProjectRoot;
use crate::target::Target;

/// The format name written into bundles.
pub const FORMAT: &str = "mcsdns-bundle/1";

/// A self-contained scenario replay.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Bundle {
    /// Always [`FORMAT`].
    pub format: String,
    /// The mcsdns version that recorded it.
    pub mcsdns_version: String,
    /// The target it was recorded on.
    pub target: String,
    /// The resolver profile.
    pub profile: String,
    /// The scenario file's name.
    pub scenario_name: String,
    /// The scenario file's text.
    pub scenario: String,
    /// Every file the scenario refers to, by the path it uses.
    pub files: BTreeMap<String, String>,
    /// The status it ended with.
    pub status: String,
    /// Every answer, as dig prints them.
    pub transcript: String,
}

/// Whether a bundle may hold files that look like credentials.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Credentials {
    /// Refuse them: bundles are attached to bug reports.
    #[default]
    Refuse,
    /// Pack them anyway (the user said so).
    Include,
}

/// Why a bundle could not be made, read or replayed.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum BundleError {
    /// A file could not be read or written.
    #[error("cannot {what} {}: {source}", .path.display())]
    Io {
        /// Read, write or create.
        what: &'static str,
        /// The file.
        path: PathBuf,
        /// Why not.
        source: std::io::Error,
    },
    /// The file is not a bundle.
    #[error("{}: not an mcsdns bundle: {why}", .path.display())]
    NotABundle {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        why: String,
    },
    /// A file the scenario reads looks like credentials.
    #[error("{file} looks like {what}; a bundle goes into bug reports, so it is not packed")]
    #[diagnostic(help(
        "take the credentials out of the scenario's files, or pass --include-credentials to pack them anyway"
    ))]
    Credentials {
        /// The file, as the scenario names it.
        file: String,
        /// What it looks like.
        what: &'static str,
    },
    /// A path in the bundle would leave the folder it is unpacked in.
    #[error("bundle path {0:?} leaves the replay folder")]
    Escapes(String),
    /// The bundled scenario does not load.
    #[error(transparent)]
    #[diagnostic(transparent)]
    Scenario(#[from] crate::error::SourceError),
}

/// Bundles a scenario with the result of a run: the scenario's text and
/// every file it read, each within the size limit, none that looks like
/// credentials unless `credentials` says so.
pub fn make(
    scenario: &Scenario,
    result: &ScenarioResult,
    credentials: Credentials,
) -> Result<Bundle, BundleError> {
    let mut files = BTreeMap::new();
    let mut text = scenario.text.clone();
    let mut moved = BTreeSet::new();
    let read = |path: &Path| {
        crate::files::read_to_string(path).map_err(|source| BundleError::Io {
            what: "read",
            path: path.to_owned(),
            source,
        })
    };
    check_credentials(&scenario.path.display().to_string(), &text, credentials)?;
    for (written, found) in &scenario.files {
        // Absolute paths become relative ones inside the bundle; a folder's
        // file is named by the folder as the scenario writes it.
        let rel = if Path::new(written).is_absolute() {
            let named = [written.as_str(), parent_of(written)]
                .into_iter()
                .find(|w| !w.is_empty() && text.contains(w));
            if let Some(named) = named
                && moved.insert(named.to_owned())
            {
                text = text.replace(named, &format!("absolute{named}"));
            }
            format!("absolute{written}")
        } else {
            written.clone()
        };
        let content = read(found)?;
        check_credentials(&rel, &content, credentials)?;
        files.insert(rel, content);
    }
    Ok(Bundle {
        format: FORMAT.into(),
        mcsdns_version: env!("CARGO_PKG_VERSION").into(),
        target: result.target.clone(),
        profile: result.profile.clone(),
        scenario_name: scenario
            .path
            .file_name()
            .unwrap_or_default()
            .to_string_lossy()
            .into_owned(),
        scenario: text,
        files,
        status: format!("{:?}", result.status).to_lowercase(),
        transcript: result.transcript(),
    })
}

fn parent_of(written: &str) -> &str {
    written.rsplit_once('/').map_or("", |(p, _)| p)
}

fn check_credentials(file: &str, text: &str, c: Credentials) -> Result<(), BundleError> {
    match (c, looks_like_credentials(text)) {
        (Credentials::Refuse, Some(what)) => Err(BundleError::Credentials {
            file: file.to_owned(),
            what,
        }),
        _ => Ok(()),
    }
}

/// What `text` holds that should not go into a bug report, if anything:
/// a private key, a kubeconfig with tokens, keys or passwords, a Secret.
pub fn looks_like_credentials(text: &str) -> Option<&'static str> {
    use std::sync::LazyLock;
    static KUBECONFIG: LazyLock<regex::Regex> = LazyLock::new(|| {
        regex::Regex::new(r#"(?m)^\s*"?kind"?\s*:\s*"?Config"?\s*,?\s*$"#).expect("valid regex")
    });
    static SECRET_FIELD: LazyLock<regex::Regex> = LazyLock::new(|| {
        regex::Regex::new(
            r#"(?m)^\s*-?\s*"?(token|client-key-data|client-key|password|id-token|refresh-token)"?\s*:\s*"?[^\s"]"#,
        )
        .expect("valid regex")
    });
    static SECRET: LazyLock<regex::Regex> = LazyLock::new(|| {
        regex::Regex::new(r#"(?m)^\s*"?kind"?\s*:\s*"?Secret"?\s*,?\s*$"#).expect("valid regex")
    });
    if text.contains("PRIVATE KEY-----") {
        Some("a private key")
    } else if KUBECONFIG.is_match(text) && SECRET_FIELD.is_match(text) {
        Some("a kubeconfig with credentials")
    } else if SECRET.is_match(text) {
        Some("a Kubernetes Secret")
    } else {
        None
    }
}

/// Reads a bundle file: within the size limit, parsed as it is read (the
/// text is not held beside the parsed bundle).
pub fn read(path: &Path) -> Result<Bundle, BundleError> {
    let file = crate::files::open(path).map_err(|source| BundleError::Io {
        what: "read",
        path: path.to_owned(),
        source,
    })?;
    let bundle: Bundle =
        serde_json::from_reader(std::io::BufReader::new(file)).map_err(|e| {
            match e.io_error_kind() {
                Some(_) => BundleError::Io {
                    what: "read",
                    path: path.to_owned(),
                    source: e.into(),
                },
                None => BundleError::NotABundle {
                    path: path.to_owned(),
                    why: e.to_string(),
                },
            }
        })?;
    if bundle.format != FORMAT {
        return Err(BundleError::NotABundle {
            path: path.to_owned(),
            why: format!("format {:?}, expected {FORMAT:?}", bundle.format),
        });
    }
    Ok(bundle)
}

/// A bundle unpacked into a fresh private folder, removed when dropped.
pub struct Unpacked {
    dir: tempfile::TempDir,
    /// The scenario file.
    pub scenario: PathBuf,
}

impl Unpacked {
    /// The folder: the scenario's project root.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }
}

/// Unpacks a bundle into a new folder only this user can open (random
/// name, 0700, created exclusively). Every file is created anew, never
/// through a link, and a path that would leave the folder or name a file
/// twice is refused.
pub fn unpack(bundle: &Bundle) -> Result<Unpacked, BundleError> {
    let dir =
        crate::files::fresh_private_dir("mcsdns-replay-").map_err(|source| BundleError::Io {
            what: "create",
            path: std::env::temp_dir(),
            source,
        })?;
    for (rel, text) in &bundle.files {
        put(dir.path(), rel, text)?;
    }
    if Path::new(&bundle.scenario_name).components().count() != 1 {
        return Err(BundleError::Escapes(bundle.scenario_name.clone()));
    }
    let scenario = put(dir.path(), &bundle.scenario_name, &bundle.scenario)?;
    Ok(Unpacked { dir, scenario })
}

/// Writes `text` to `dir/rel`, creating the folders on the way.
fn put(dir: &Path, rel: &str, text: &str) -> Result<PathBuf, BundleError> {
    use std::io::Write;
    let io = |what, path: &Path| {
        let path = path.to_owned();
        move |source| BundleError::Io { what, path, source }
    };
    let path = safe_join(dir, rel)?;
    let mut at = dir.to_owned();
    let parents: Vec<_> = Path::new(rel)
        .parent()
        .into_iter()
        .flat_map(Path::components)
        .collect();
    for c in parents {
        at.push(c);
        match std::fs::symlink_metadata(&at) {
            Ok(m) if m.is_dir() => {}
            Ok(_) => return Err(BundleError::Escapes(rel.to_owned())),
            Err(_) => std::fs::create_dir(&at).map_err(io("create", &at))?,
        }
    }
    let mut f = crate::files::create_new(&path).map_err(io("create", &path))?;
    f.write_all(text.as_bytes()).map_err(io("write", &path))?;
    Ok(path)
}

/// What a replay found.
pub struct Replay {
    /// The fresh result.
    pub result: ScenarioResult,
    /// A unified diff from the recorded answers, if anything changed.
    pub diff: Option<String>,
}

/// Unpacks a bundle (see [`unpack`]), loads it with the folder as its
/// project root, runs it on `target` and compares.
pub fn replay(bundle: &Bundle, target: &mut dyn Target) -> Result<Replay, BundleError> {
    let unpacked = unpack(bundle)?;
    let root = ProjectRoot::at(unpacked.dir());
    let scenario = load_scenario_in(&unpacked.scenario, unpacked.dir(), &root)?;
    let result = run_scenario(&scenario, target);
    let mut now = comparable(&result.transcript());
    let mut then = comparable(&bundle.transcript);
    // Another target keeps another clock: its SOA serials say nothing.
    if result.target != bundle.target {
        (now, then) = (without_serials(&now), without_serials(&then));
    }
    let diff = (now != then).then(|| unified_diff(&then, &now));
    Ok(Replay { result, diff })
}

/// `dir/rel`, refusing paths that would leave `dir` (absolute, `..`) or
/// name nothing.
fn safe_join(dir: &Path, rel: &str) -> Result<PathBuf, BundleError> {
    let p = Path::new(rel);
    let plain = p.components().all(|c| {
        matches!(
            c,
            std::path::Component::Normal(_) | std::path::Component::CurDir
        )
    });
    if !plain || p.components().all(|c| c == std::path::Component::CurDir) {
        return Err(BundleError::Escapes(rel.to_owned()));
    }
    Ok(dir.join(p))
}
