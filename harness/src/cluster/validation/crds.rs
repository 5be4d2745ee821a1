//! Finds and reads the CustomResourceDefinitions whose schemas the
//! emulator validates custom resources against.
//!
//! The mcs-api CRDs are third-party files and are not committed: they come
//! from the Go module `sigs.k8s.io/mcs-api@v0.5.2` (`config/crd/`), which
//! `just control-plane` puts in the control-plane cache. Without them the
//! emulator stores ServiceImports and ServiceExports unchecked, and says so
//! once.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use serde_json::Value;

use super::schema::{Schema, SchemaError};
use crate::cluster::control_plane::binaries::{BUILD_COMMAND, cache_dir};

/// The schemas of every served version of the CRDs read.
#[derive(Debug, Default)]
pub struct Crds {
    /// By (group, kind, version).
    schemas: BTreeMap<(String, String, String), Schema>,
    /// The files read.
    pub files: Vec<PathBuf>,
}

/// Why the CRDs could not be read.
#[derive(Debug, thiserror::Error)]
pub enum CrdError {
    /// The folder or a file could not be read.
    #[error("cannot read {}: {source}", path.display())]
    Read {
        /// The folder or file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// A file is not YAML.
    #[error("{}: invalid YAML: {message}", path.display())]
    Yaml {
        /// The file.
        path: PathBuf,
        /// The parser's message.
        message: String,
    },
    /// A schema could not be read.
    #[error("{}: {kind} {version}: {source}", path.display())]
    Schema {
        /// The file.
        path: PathBuf,
        /// The CRD's kind.
        kind: String,
        /// The version.
        version: String,
        /// The cause.
        source: Box<SchemaError>,
    },
    /// The folder holds no CRD.
    #[error("{} holds no CustomResourceDefinition", path.display())]
    Empty {
        /// The folder.
        path: PathBuf,
    },
}

impl Crds {
    /// Reads every `*.yaml`, `*.yml` and `*.json` file of `dir`, keeping
    /// the CustomResourceDefinitions among their documents.
    pub fn load(dir: &Path) -> Result<Crds, CrdError> {
        let read = |path: &Path, source| CrdError::Read {
            path: path.to_owned(),
            source,
        };
        let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
            .map_err(|e| read(dir, e))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| {
                p.extension()
                    .is_some_and(|x| x == "yaml" || x == "yml" || x == "json")
            })
            .collect();
        files.sort();
        let mut crds = Crds::default();
        for file in files {
            let text = crate::files::read_to_string(&file).map_err(|e| read(&file, e))?;
            let docs: Vec<Value> =
                crate::yaml::from_multiple(&text).map_err(|e| CrdError::Yaml {
                    path: file.clone(),
                    message: e.to_string(),
                })?;
            let before = crds.schemas.len();
            for doc in docs
                .iter()
                .filter(|d| d["kind"] == "CustomResourceDefinition")
            {
                crds.add(&file, doc)?;
            }
            if crds.schemas.len() > before {
                crds.files.push(file);
            }
        }
        if crds.schemas.is_empty() {
            return Err(CrdError::Empty {
                path: dir.to_owned(),
            });
        }
        Ok(crds)
    }

    fn add(&mut self, file: &Path, crd: &Value) -> Result<(), CrdError> {
        let spec = &crd["spec"];
        let group = spec["group"].as_str().unwrap_or_default();
        let kind = spec["names"]["kind"].as_str().unwrap_or_default();
        for v in spec["versions"].as_array().into_iter().flatten() {
            let version = v["name"].as_str().unwrap_or_default();
            let schema = &v["schema"]["openAPIV3Schema"];
            if schema.is_null() || v["served"] == false {
                continue;
            }
            let parsed = Schema::parse(schema).map_err(|source| CrdError::Schema {
                path: file.to_owned(),
                kind: kind.to_owned(),
                version: version.to_owned(),
                source: Box::new(source),
            })?;
            self.schemas.insert(
                (group.to_owned(), kind.to_owned(), version.to_owned()),
                parsed,
            );
        }
        Ok(())
    }

    /// The schema of a kind at a version, if its CRD was read.
    pub fn schema(&self, group: &str, kind: &str, version: &str) -> Option<&Schema> {
        self.schemas
            .get(&(group.to_owned(), kind.to_owned(), version.to_owned()))
    }

    /// Whether the CRD of a group's kind was read (at any version).
    pub fn has(&self, group: &str, kind: &str) -> bool {
        self.schemas.keys().any(|(g, k, _)| g == group && k == kind)
    }

    /// Every rule the schemas use that is not checked, once each.
    pub fn unchecked(&self) -> Vec<String> {
        let mut out: Vec<String> = self
            .schemas
            .iter()
            .flat_map(|((_, kind, version), s)| {
                s.unchecked().map(move |u| format!("{kind} {version}: {u}"))
            })
            .collect();
        out.sort();
        out.dedup();
        out
    }

    /// The folder the CRDs are looked for in: `$MCSDNS_CRDS`, else the
    /// control-plane cache's `crds/`
    /// (`${MCSDNS_CONTROL_PLANE:-${XDG_CACHE_HOME:-$HOME/.cache}/mcsdns/control-plane/v1.34.3}/crds`,
    /// where `peers/control-plane/build.sh` puts them).
    pub fn dir() -> Option<PathBuf> {
        if let Some(dir) = std::env::var_os("MCSDNS_CRDS").filter(|d| !d.is_empty()) {
            return Some(PathBuf::from(dir));
        }
        Some(cache_dir()?.join("crds"))
    }

    /// The CRDs of [`Crds::dir`], read once per process. When there are
    /// none, CRD objects are not validated, and that is logged once.
    pub fn discovered() -> Option<Arc<Crds>> {
        static FOUND: OnceLock<Option<Arc<Crds>>> = OnceLock::new();
        FOUND
            .get_or_init(|| {
                let Some(dir) = Crds::dir() else {
                    tracing::info!("{}", not_validated("no folder to look in (HOME is unset)"));
                    return None;
                };
                match Crds::load(&dir) {
                    Ok(crds) => {
                        for u in crds.unchecked() {
                            tracing::info!("CRD rule not checked by the emulator: {u}");
                        }
                        Some(Arc::new(crds))
                    }
                    Err(e) => {
                        tracing::info!("{}", not_validated(&e.to_string()));
                        None
                    }
                }
            })
            .clone()
    }
}

fn not_validated(why: &str) -> String {
    format!(
        "ServiceImports and ServiceExports are not validated against the mcs-api CRDs ({why}): \
         run {BUILD_COMMAND}, or set MCSDNS_CRDS to a folder holding them \
         (config/crd/ of the Go module sigs.k8s.io/mcs-api@v0.5.2)"
    )
}
