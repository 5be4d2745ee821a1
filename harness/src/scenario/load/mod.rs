//! Loads a scenario file: YAML with spans, then every cross-check (clusters
//! exist, fixtures exist, expectations follow a step that has a result).
//! Errors name the file, line and column and suggest a fix.

mod expect;
mod file;
mod resolver;
mod steps;
mod world;

use std::path::Path;

pub use resolver::default_search;
pub use steps::{MAX_ADVANCE, duration};

use self::file::{Ctx, decode};
use self::world::Clusters;
use super::Scenario;
use crate::error::SourceError;
use crate::scenario::root::ProjectRoot;

/// A scenario that cannot be loaded.
pub type ScenarioError = SourceError;

/// The identity CoreDNS runs as.
pub const DEFAULT_IDENTITY: &str = "system:serviceaccount:kube-system:coredns";

/// Loads the scenario at `path`; `root` is the suite folder its id is
/// relative to. The files it names must be inside its project root
/// ([`ProjectRoot::of`]).
pub fn load_scenario(path: &Path, root: &Path) -> Result<Scenario, ScenarioError> {
    load_scenario_in(path, root, &ProjectRoot::of(path))
}

/// Loads the scenario at `path` with `project` as its project root (a
/// replayed bundle's folder).
pub fn load_scenario_in(
    path: &Path,
    root: &Path,
    project: &ProjectRoot,
) -> Result<Scenario, ScenarioError> {
    let text = crate::files::read_to_string(path).map_err(|e| SourceError::unreadable(path, &e))?;
    parse(path, root, project, &text)
}

/// Parses scenario text read from `path` (its project root is
/// [`ProjectRoot::of`] the path).
pub fn parse_scenario(path: &Path, root: &Path, text: &str) -> Result<Scenario, ScenarioError> {
    parse(path, root, &ProjectRoot::of(path), text)
}

fn parse(
    path: &Path,
    root: &Path,
    project: &ProjectRoot,
    text: &str,
) -> Result<Scenario, ScenarioError> {
    let cx = Ctx {
        path,
        text,
        root: project.clone(),
        files: Default::default(),
    };
    let file = decode(&cx)?;
    let id = path
        .strip_prefix(root)
        .unwrap_or(path)
        .with_extension("")
        .to_string_lossy()
        .replace('\\', "/");
    let name = file.name.clone().unwrap_or_else(|| id.clone());
    let world = world::world(&cx, &file)?;
    let clusters = Clusters::of(&world);
    let controllers = world::controllers(&cx, &file, &clusters)?;
    let resolver = resolver::setup(&cx, &file, &clusters)?;
    let client = resolver::client(&cx, &file, &resolver, &clusters)?;
    let steps = steps::steps(&cx, &file, &clusters, &resolver)?;
    Ok(Scenario {
        path: path.to_owned(),
        id,
        name,
        description: file.description.clone().unwrap_or_default(),
        tags: file.tags.clone(),
        clause: file.clause.clone(),
        level: file.level,
        controllers,
        world,
        resolver,
        client,
        steps,
        text: text.to_owned(),
        files: cx.files.take(),
    })
}
