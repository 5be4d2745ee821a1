//! Finds the real control plane's programs and the mcs-api CRDs, built by
//! `peers/control-plane/build.sh` into a cache outside the repository.

use std::path::{Path, PathBuf};

/// The Kubernetes release the control plane is built from.
pub const KUBERNETES_VERSION: &str = "v1.34.3";

/// The command that builds what [`Binaries::find`] looks for.
pub const BUILD_COMMAND: &str = "just control-plane (or peers/control-plane/build.sh)";

/// Where the programs and CRDs are.
#[derive(Clone, Debug)]
pub struct Binaries {
    /// `etcd`.
    pub etcd: PathBuf,
    /// `kube-apiserver`.
    pub apiserver: PathBuf,
    /// `kube-controller-manager`.
    pub controller_manager: PathBuf,
    /// The folder of the mcs-api CRD manifests.
    pub crds: PathBuf,
}

/// The cache folder: `$MCSDNS_CONTROL_PLANE`, else
/// `${XDG_CACHE_HOME:-$HOME/.cache}/mcsdns/control-plane/<version>`, the
/// same rule as build.sh's.
pub fn cache_dir() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("MCSDNS_CONTROL_PLANE").filter(|d| !d.is_empty()) {
        return Some(PathBuf::from(dir));
    }
    let cache = std::env::var_os("XDG_CACHE_HOME")
        .filter(|d| !d.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| Path::new(&h).join(".cache")))?;
    Some(
        cache
            .join("mcsdns")
            .join("control-plane")
            .join(KUBERNETES_VERSION),
    )
}

/// Why the programs are not there.
#[derive(Debug, thiserror::Error)]
#[error(
    "the real control plane is not built: {missing} is missing (build it with {BUILD_COMMAND})"
)]
pub struct NotBuilt {
    /// The first file that is missing.
    pub missing: String,
}

impl Binaries {
    /// The programs in the cache, or which one is missing.
    pub fn find() -> Result<Binaries, NotBuilt> {
        let dir = cache_dir().ok_or_else(|| NotBuilt {
            missing: "the cache folder (no HOME)".into(),
        })?;
        Binaries::in_dir(&dir)
    }

    /// The programs in `dir/bin` and the CRDs in `dir/crds`.
    pub fn in_dir(dir: &Path) -> Result<Binaries, NotBuilt> {
        let b = Binaries {
            etcd: dir.join("bin/etcd"),
            apiserver: dir.join("bin/kube-apiserver"),
            controller_manager: dir.join("bin/kube-controller-manager"),
            crds: dir.join("crds"),
        };
        for p in [&b.etcd, &b.apiserver, &b.controller_manager] {
            if !p.is_file() {
                return Err(NotBuilt {
                    missing: p.display().to_string(),
                });
            }
        }
        if b.crd_files().is_empty() {
            return Err(NotBuilt {
                missing: format!("{}/*.yaml", b.crds.display()),
            });
        }
        Ok(b)
    }

    /// The CRD manifests, in name order.
    pub fn crd_files(&self) -> Vec<PathBuf> {
        let mut files: Vec<PathBuf> = std::fs::read_dir(&self.crds)
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == "yaml"))
            .collect();
        files.sort();
        files
    }
}
