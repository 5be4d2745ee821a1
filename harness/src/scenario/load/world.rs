//! Loads a scenario's world: each cluster's manifests, from files, folders
//! or inline blocks, and the cluster names every other part refers to.

use std::path::PathBuf;

use super::ScenarioError;
use super::file::Ctx;
use crate::controller::ControllerKind;
use crate::error::did_you_mean;
use crate::model::load::parse_manifests;
use crate::model::{ClusterState, Loaded, World};
use crate::scenario::format::{ManifestSource, ScenarioFile};
use crate::scenario::located::Located;

/// Builds every cluster of the file's world.
pub(super) fn world(cx: &Ctx<'_>, file: &ScenarioFile) -> Result<World, ScenarioError> {
    let mut world = World::default();
    for (cluster, sources) in &file.world {
        let mut state = ClusterState::new(cluster.clone());
        for source in sources {
            state.add_loaded(manifests(cx, source)?)?;
        }
        world.clusters.insert(cluster.clone(), state);
    }
    Ok(world)
}

/// The controllers the file names, each known, once, with the cluster it needs.
pub(super) fn controllers(
    cx: &Ctx<'_>,
    file: &ScenarioFile,
    clusters: &Clusters,
) -> Result<Vec<ControllerKind>, ScenarioError> {
    let mut out = Vec::new();
    for l in &file.controllers {
        let Some(kind) = ControllerKind::parse(&l.value) else {
            let known: Vec<&str> = ControllerKind::ALL.iter().map(|k| k.as_str()).collect();
            let e = cx.at(l, format!("unknown controller {:?}", l.value));
            return Err(match did_you_mean(&l.value, known.iter().copied()) {
                Some(s) => e.with_hint(format!("did you mean {s:?}?")),
                None => e.with_hint(format!("controllers: {}", known.join(", "))),
            });
        };
        if out.contains(&kind) {
            return Err(cx
                .at(l, format!("controller {kind} is named twice"))
                .with_hint("a controller runs once over the whole world: drop the second"));
        }
        if let Some(needed) = kind.needs_cluster()
            && !clusters.names.iter().any(|n| n == needed)
        {
            return Err(cx
                .at(l, format!("controller {kind} needs a cluster named {needed:?} in the world"))
                .with_hint(match kind {
                    ControllerKind::Karmada16 => "add `karmada:` to the world with the manifests applied to Karmada's control plane",
                    _ => "add `broker: []` to the world: the Submariner broker's cluster",
                }));
        }
        out.push(kind);
    }
    Ok(out)
}

/// The world's cluster names, to check every other mention against.
pub(super) struct Clusters {
    names: Vec<String>,
}

impl Clusters {
    /// The clusters of `world`.
    pub(super) fn of(world: &World) -> Clusters {
        Clusters {
            names: world.clusters.keys().cloned().collect(),
        }
    }

    /// `l` when it names a cluster of the world, else an error with the
    /// nearest name.
    pub(super) fn check(&self, cx: &Ctx<'_>, l: &Located<String>) -> Result<String, ScenarioError> {
        if self.names.contains(&l.value) {
            return Ok(l.value.clone());
        }
        let mut e = cx.at(l, format!("no cluster {:?} in the world", l.value));
        e = match did_you_mean(&l.value, self.names.iter().map(String::as_str)) {
            Some(s) => e.with_hint(format!("did you mean {s:?}?")),
            None => e.with_hint(format!("clusters: {}", self.names.join(", "))),
        };
        Err(e)
    }
}

pub(super) fn manifests(
    cx: &Ctx<'_>,
    source: &ManifestSource,
) -> Result<Vec<Loaded>, ScenarioError> {
    match (&source.path, &source.inline) {
        (Some(p), None) => load_path(cx, p),
        (None, Some(inline)) => inline_manifests(cx, inline),
        (Some(p), Some(_)) => Err(cx.at(p, "give either path or inline, not both")),
        (None, None) => Err(cx.err(1, 1, "a world entry needs path or inline")),
    }
}

/// Parses manifests embedded in the scenario; errors point into the scenario file.
pub(super) fn inline_manifests(
    cx: &Ctx<'_>,
    inline: &Located<String>,
) -> Result<Vec<Loaded>, ScenarioError> {
    let start = cx.block_start(inline);
    parse_manifests(cx.path, &inline.value, start).map_err(|e| cx.relocate(e, start))
}

pub(super) fn load_path(cx: &Ctx<'_>, rel: &Located<String>) -> Result<Vec<Loaded>, ScenarioError> {
    let path = cx.find(rel)?;
    if !path.is_dir() {
        let text = cx.read(rel, &rel.value, &path)?;
        return parse_manifests(&path, &text, 1);
    }
    let mut files: Vec<PathBuf> = std::fs::read_dir(&path)
        .map_err(|e| cx.at(rel, format!("cannot read {}: {e}", path.display())))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            matches!(
                p.extension().and_then(|e| e.to_str()),
                Some("yaml" | "yml" | "json")
            )
        })
        .collect();
    files.sort();
    let mut docs = Vec::new();
    for f in files {
        let name = f.file_name().unwrap_or_default().to_string_lossy();
        let written = format!("{}/{name}", rel.value.trim_end_matches('/'));
        let text = cx.read(rel, &written, &f)?;
        docs.extend(parse_manifests(&f, &text, 1)?);
    }
    Ok(docs)
}
