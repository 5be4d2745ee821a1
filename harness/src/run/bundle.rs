//! Packs a scenario, every file it refers to, and its recorded answers into
//! one file for a bug report; replays such a file and shows what changed.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::record::unified_diff;
use super::result::ScenarioResult;
use super::runner::run_scenario;
use crate::scenario::{Scenario, load_scenario};
use crate::target::ReferenceTarget;

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

/// Bundles a scenario with the result of a run.
pub fn make(scenario: &Scenario, result: &ScenarioResult) -> std::io::Result<Bundle> {
    let mut files = BTreeMap::new();
    let mut text = scenario.text.clone();
    for (written, found) in &scenario.files {
        // Absolute paths become relative ones inside the bundle.
        let rel = if Path::new(written).is_absolute() {
            let inside = format!("absolute{written}");
            text = text.replace(written.as_str(), &inside);
            inside
        } else {
            written.clone()
        };
        let rel = &rel;
        if found.is_dir() {
            for entry in std::fs::read_dir(found)? {
                let p = entry?.path();
                if p.is_file() {
                    let name = p
                        .file_name()
                        .unwrap_or_default()
                        .to_string_lossy()
                        .into_owned();
                    files.insert(
                        format!("{}/{name}", rel.trim_end_matches('/')),
                        std::fs::read_to_string(&p)?,
                    );
                }
            }
        } else {
            files.insert(rel.clone(), std::fs::read_to_string(found)?);
        }
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

/// What a replay found.
pub struct Replay {
    /// The fresh result.
    pub result: ScenarioResult,
    /// A unified diff from the recorded answers, if anything changed.
    pub diff: Option<String>,
}

/// Unpacks a bundle into `dir`, runs it on the reference target and compares.
pub fn replay(bundle: &Bundle, dir: &Path) -> Result<Replay, String> {
    if bundle.format != FORMAT {
        return Err(format!(
            "not an mcsdns bundle (format {:?}, expected {FORMAT:?})",
            bundle.format
        ));
    }
    for (rel, text) in &bundle.files {
        let p = safe_join(dir, rel)?;
        if let Some(parent) = p.parent() {
            std::fs::create_dir_all(parent).map_err(|e| e.to_string())?;
        }
        std::fs::write(&p, text).map_err(|e| e.to_string())?;
    }
    let scenario_path = safe_join(dir, &bundle.scenario_name)?;
    std::fs::write(&scenario_path, &bundle.scenario).map_err(|e| e.to_string())?;
    let scenario = load_scenario(&scenario_path, dir).map_err(|e| format!("{e:?}"))?;
    let result = run_scenario(&scenario, &mut ReferenceTarget::new());
    let now = result.transcript();
    let diff = (now.trim_end() != bundle.transcript.trim_end())
        .then(|| unified_diff(&bundle.transcript, &now));
    Ok(Replay { result, diff })
}

/// `dir/rel`, refusing paths that would leave `dir`.
fn safe_join(dir: &Path, rel: &str) -> Result<PathBuf, String> {
    let p = Path::new(rel);
    if p.is_absolute()
        || p.components()
            .any(|c| matches!(c, std::path::Component::ParentDir))
    {
        return Err(format!("bundle path {rel:?} leaves the replay folder"));
    }
    Ok(dir.join(p))
}
