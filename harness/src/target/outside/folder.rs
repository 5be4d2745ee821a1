//! Chooses the folder an outside target writes its kubeconfig, Corefiles
//! and logs in: the user's, once per process, or a temporary one.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};

use crate::target::TargetError;

/// A target's folder; a temporary one is removed with it.
pub struct WorkDir {
    path: PathBuf,
    temporary: bool,
}

impl WorkDir {
    /// The user's folder for the first target of the process; each further
    /// one (parallel workers, `diff`'s other targets) gets `DIR/target-N`,
    /// so that no two write the same kubeconfig and Corefile. Without a
    /// folder, a fresh temporary one.
    pub fn claim(dir: Option<&Path>) -> Result<WorkDir, TargetError> {
        static CLAIMS: AtomicU32 = AtomicU32::new(0);
        static TEMPORARY: AtomicU32 = AtomicU32::new(0);
        let (path, temporary) = match dir {
            Some(dir) => match CLAIMS.fetch_add(1, Ordering::SeqCst) {
                0 => (dir.to_owned(), false),
                n => (dir.join(format!("target-{}", n + 1)), false),
            },
            None => {
                let n = TEMPORARY.fetch_add(1, Ordering::SeqCst);
                let name = format!("mcsdns-{}-{n}", std::process::id());
                (std::env::temp_dir().join(name), true)
            }
        };
        std::fs::create_dir_all(&path).map_err(|e| TargetError::file("create", &path, e))?;
        Ok(WorkDir { path, temporary })
    }

    /// The folder.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for WorkDir {
    fn drop(&mut self) {
        if self.temporary {
            let _ = std::fs::remove_dir_all(&self.path);
        }
    }
}
