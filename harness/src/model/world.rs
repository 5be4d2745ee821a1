//! Holds a cluster set: named clusters, each a set of Kubernetes objects.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use k8s_openapi::api::core::v1::Namespace;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use miette::Diagnostic;

use super::load::{Loaded, ManifestError, Origin, load_file_parts, parse_manifests};
use super::resource::{Kind, ObjectKey, OtherObject, Resource};

/// Namespaces every real cluster has, present unless a manifest declares them.
pub const BUILTIN_NAMESPACES: [&str; 4] =
    ["default", "kube-system", "kube-public", "kube-node-lease"];

/// One object and where it came from.
#[derive(Clone, Debug, PartialEq)]
pub struct Stored {
    /// The object.
    pub resource: Resource,
    /// Its manifest, or `None` for built-in objects.
    pub origin: Option<Origin>,
}

/// The objects of one cluster.
#[derive(Clone, Debug, PartialEq)]
pub struct ClusterState {
    /// The cluster's name (its folder's name on disk).
    pub name: String,
    /// Every object the model uses, by key.
    pub objects: BTreeMap<ObjectKey, Stored>,
    /// Objects of other kinds, kept in load order to be listed.
    pub others: Vec<(OtherObject, Origin)>,
}

impl ClusterState {
    /// An empty cluster with the built-in namespaces.
    pub fn new(name: impl Into<String>) -> Self {
        let mut objects = BTreeMap::new();
        for ns in BUILTIN_NAMESPACES {
            let r = Resource::Namespace(Arc::new(Namespace {
                metadata: ObjectMeta {
                    name: Some(ns.into()),
                    ..Default::default()
                },
                ..Default::default()
            }));
            objects.insert(
                r.key(),
                Stored {
                    resource: r,
                    origin: None,
                },
            );
        }
        ClusterState {
            name: name.into(),
            objects,
            others: Vec::new(),
        }
    }

    /// Adds or replaces an object.
    pub fn apply(&mut self, resource: Resource, origin: Option<Origin>) {
        self.objects
            .insert(resource.key(), Stored { resource, origin });
    }

    /// The objects of one kind, in key order, without walking the others:
    /// the store is ordered by kind first, and an authorization check
    /// (ClusterRoles and their bindings) must not cost a pass over 100,000
    /// imports.
    pub fn of_kind(&self, kind: Kind) -> impl Iterator<Item = &Resource> {
        self.keyed_of_kind(kind).map(|(_, r)| r)
    }

    /// [`of_kind`](Self::of_kind) with each object's key.
    pub fn keyed_of_kind(&self, kind: Kind) -> impl Iterator<Item = (&ObjectKey, &Resource)> {
        self.objects
            .range(ObjectKey::first_of(kind)..)
            .take_while(move |(k, _)| k.kind == kind)
            .map(|(k, s)| (k, &s.resource))
    }

    /// Removes an object, returning it.
    pub fn delete(&mut self, key: &ObjectKey) -> Option<Stored> {
        self.objects.remove(key)
    }

    /// The objects of the model's kinds, in key order.
    pub fn resources(&self) -> impl Iterator<Item = &Resource> {
        self.objects.values().map(|s| &s.resource)
    }

    /// Adds the documents of one manifest, refusing a second object with the
    /// same kind, namespace and name. Nothing is added if any document fails.
    pub fn add_loaded(&mut self, docs: Vec<Loaded>) -> Result<(), ManifestError> {
        self.add_parts(vec![docs])
    }

    /// [`add_loaded`](Self::add_loaded) for documents given in runs (one
    /// per parsing thread), in order.
    pub(crate) fn add_parts(&mut self, parts: Vec<Vec<Loaded>>) -> Result<(), ManifestError> {
        // Check every key first (against the cluster and within the batch),
        // so that nothing is added when one fails and the cluster is never
        // copied: adding a file costs its own size, not the cluster's.
        let mut batch: std::collections::HashMap<ObjectKey, &Origin> =
            std::collections::HashMap::with_capacity(parts.iter().map(Vec::len).sum());
        for doc in parts.iter().flatten() {
            let Loaded::Resource(resource, origin) = doc else {
                continue;
            };
            let key = resource.key();
            let first = match self.objects.get(&key) {
                Some(Stored {
                    origin: Some(first),
                    ..
                }) => Some(first),
                _ => batch.get(&key).copied(),
            };
            if let Some(first) = first {
                let text = crate::files::read_to_string(&origin.file).unwrap_or_default();
                return Err(ManifestError::at(
                    &origin.file,
                    &text,
                    origin.line,
                    1,
                    format!("duplicate {key} in cluster {}", self.name),
                )
                .with_hint(format!("first declared at {first}")));
            }
            batch.insert(key, origin);
        }
        drop(batch);
        for doc in parts.into_iter().flatten() {
            match doc {
                Loaded::Resource(resource, origin) => self.apply(resource, Some(origin)),
                Loaded::Other(other, origin) => self.others.push((other, origin)),
            }
        }
        Ok(())
    }
}

/// A cluster set: clusters by name.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct World {
    /// The clusters, by name.
    pub clusters: BTreeMap<String, ClusterState>,
}

/// Why a world folder could not be loaded.
#[derive(Debug, thiserror::Error, Diagnostic)]
pub enum WorldError {
    /// The folder is missing or unreadable.
    #[error("cannot read manifests folder {}: {source}", path.display())]
    #[diagnostic(help(
        "a world is a folder with one subfolder per cluster, e.g. fixtures/seed/member1/"
    ))]
    Folder {
        /// The folder.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The folder has no cluster subfolders.
    #[error("{} has no cluster folders", path.display())]
    #[diagnostic(help("put each cluster's manifests in a subfolder named after the cluster"))]
    NoClusters {
        /// The folder.
        path: PathBuf,
    },
    /// One or more manifests are invalid; nothing was loaded.
    #[error("{} invalid manifest(s) in {}; nothing was loaded", errors.len(), path.display())]
    Manifests {
        /// The folder.
        path: PathBuf,
        /// Every error found.
        #[related]
        errors: Vec<ManifestError>,
    },
    /// The requested cluster is not in the world.
    #[error("no cluster {name:?} in {}; clusters: {}", path.display(), known.join(", "))]
    UnknownCluster {
        /// The folder.
        path: PathBuf,
        /// The requested name.
        name: String,
        /// The clusters that exist.
        known: Vec<String>,
    },
}

fn yaml_files(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.is_file()
                && matches!(
                    p.extension().and_then(|e| e.to_str()),
                    Some("yaml" | "yml" | "json")
                )
        })
        .collect();
    files.sort();
    Ok(files)
}

/// One file's documents, in runs as its parsing threads read them.
type Parsed = Result<Vec<Vec<Loaded>>, ManifestError>;

/// Parses files on every core (each file's documents in order), giving
/// the results in the order of `files`.
fn load_files(files: &[&Path]) -> Vec<Parsed> {
    let workers = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(files.len());
    if workers <= 1 {
        return files.iter().map(|f| load_file_parts(f)).collect();
    }
    let next = std::sync::atomic::AtomicUsize::new(0);
    let mut results: Vec<(usize, Parsed)> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..workers)
            .map(|_| {
                scope.spawn(|| {
                    let mut mine = Vec::new();
                    loop {
                        let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        let Some(file) = files.get(i) else { break };
                        mine.push((i, load_file_parts(file)));
                    }
                    mine
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap_or_else(|p| std::panic::resume_unwind(p)))
            .collect()
    });
    results.sort_by_key(|(i, _)| *i);
    results.into_iter().map(|(_, r)| r).collect()
}

impl World {
    /// Loads a world folder: one subfolder per cluster, each holding plain
    /// multi-document Kubernetes YAML. All files are checked before anything
    /// is returned; every error found is reported.
    pub fn load(dir: &Path) -> Result<World, WorldError> {
        let folder_err = |source| WorldError::Folder {
            path: dir.to_owned(),
            source,
        };
        let mut subdirs: Vec<PathBuf> = std::fs::read_dir(dir)
            .map_err(folder_err)?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.is_dir())
            .collect();
        subdirs.sort();
        if subdirs.is_empty() {
            return Err(WorldError::NoClusters {
                path: dir.to_owned(),
            });
        }
        let mut clusters = Vec::new();
        for sub in subdirs {
            let name = sub
                .file_name()
                .unwrap_or_default()
                .to_string_lossy()
                .into_owned();
            let files = yaml_files(&sub).map_err(|source| WorldError::Folder {
                path: sub.clone(),
                source,
            })?;
            clusters.push((name, files));
        }
        let all: Vec<&Path> = clusters
            .iter()
            .flat_map(|(_, files)| files.iter().map(PathBuf::as_path))
            .collect();
        let mut parsed = load_files(&all).into_iter();
        let mut world = World::default();
        let mut errors = Vec::new();
        for (name, files) in clusters {
            let mut cluster = ClusterState::new(name.clone());
            for _ in files {
                let docs = parsed.next().unwrap_or_else(|| Ok(Vec::new()));
                match docs.and_then(|parts| cluster.add_parts(parts)) {
                    Ok(()) => {}
                    Err(e) => errors.push(e),
                }
            }
            world.clusters.insert(name, cluster);
        }
        if !errors.is_empty() {
            return Err(WorldError::Manifests {
                path: dir.to_owned(),
                errors,
            });
        }
        Ok(world)
    }

    /// Loads one cluster's manifests from text (inline manifests of a scenario).
    pub fn parse_cluster(
        name: &str,
        file: &Path,
        text: &str,
        first_line: usize,
    ) -> Result<ClusterState, ManifestError> {
        let mut cluster = ClusterState::new(name);
        cluster.add_loaded(parse_manifests(file, text, first_line)?)?;
        Ok(cluster)
    }

    /// Picks one cluster by name.
    pub fn cluster(&self, dir: &Path, name: &str) -> Result<&ClusterState, WorldError> {
        self.clusters
            .get(name)
            .ok_or_else(|| WorldError::UnknownCluster {
                path: dir.to_owned(),
                name: name.to_owned(),
                known: self.clusters.keys().cloned().collect(),
            })
    }
}
