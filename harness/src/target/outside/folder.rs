//! Chooses the folder an outside target writes its kubeconfig, Corefiles
//! and logs in: the user's, once per process, or a temporary one.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};

use crate::target::TargetError;

/// A target's folder; a temporary one is removed with it.
pub struct WorkDir {
    path: PathBuf,
    /// Holds a temporary folder until the target is dropped.
    _temporary: Option<tempfile::TempDir>,
}

impl WorkDir {
    /// The user's folder for the first target of the process; each further
    /// one (parallel workers, `diff`'s other targets) gets `DIR/target-N`,
    /// so that no two write the same kubeconfig and Corefile. Without a
    /// folder, a fresh private temporary one (random name, 0700). The
    /// folders hold tokens: see [`crate::files::private_dir`].
    pub fn claim(dir: Option<&Path>) -> Result<WorkDir, TargetError> {
        static CLAIMS: AtomicU32 = AtomicU32::new(0);
        let Some(dir) = dir else {
            let temporary = crate::files::fresh_private_dir("mcsdns-")
                .map_err(|e| TargetError::file("create", std::env::temp_dir(), e))?;
            return Ok(WorkDir {
                path: temporary.path().to_owned(),
                _temporary: Some(temporary),
            });
        };
        let path = match CLAIMS.fetch_add(1, Ordering::SeqCst) {
            0 => dir.to_owned(),
            n => dir.join(format!("target-{}", n + 1)),
        };
        crate::files::private_dir(&path).map_err(|e| TargetError::file("use", &path, e))?;
        Ok(WorkDir {
            path,
            _temporary: None,
        })
    }

    /// The folder.
    pub fn path(&self) -> &Path {
        &self.path
    }
}
