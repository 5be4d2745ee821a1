//! Reads users' files within a size limit and writes files atomically,
//! never through a symbolic link.
//!
//! Every input mcsdns reads (scenarios, manifests, Corefiles, bundles and
//! what they hold) goes through [`read_to_string`] or [`open`]: only regular
//! files, at most [`max_size`] bytes, so a path naming `/dev/zero`, a FIFO
//! or a huge file fails at once with a clear error instead of filling
//! memory or hanging. Every file mcsdns rewrites goes through
//! [`replace_file`] or [`write_private`]: a fresh temporary file beside the
//! target, synced, then renamed over it, so an interrupt leaves the old
//! file or the new one, never a mix.

use std::fs::{File, Permissions};
use std::io::{self, Read, Write};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// The size limit when neither `--max-file-size` nor
/// `MCSDNS_MAX_FILE_SIZE` says otherwise: far above any real world (a
/// 100,000-object world is about 40 MiB of YAML).
pub const DEFAULT_MAX_SIZE: u64 = 256 * 1024 * 1024;

/// The environment variable that sets the size limit.
pub const MAX_SIZE_VAR: &str = "MCSDNS_MAX_FILE_SIZE";

/// The limit set by [`set_max_size`]; 0 until then.
static MAX_SIZE: AtomicU64 = AtomicU64::new(0);

/// The largest input file mcsdns reads: the one set with [`set_max_size`],
/// else `MCSDNS_MAX_FILE_SIZE` (read once), else [`DEFAULT_MAX_SIZE`].
pub fn max_size() -> u64 {
    match MAX_SIZE.load(Ordering::Relaxed) {
        0 => {
            let from_env = std::env::var(MAX_SIZE_VAR)
                .ok()
                .and_then(|v| parse_size(&v).ok())
                .unwrap_or(DEFAULT_MAX_SIZE);
            let _ = MAX_SIZE.compare_exchange(0, from_env, Ordering::Relaxed, Ordering::Relaxed);
            MAX_SIZE.load(Ordering::Relaxed)
        }
        set => set,
    }
}

/// Sets the size limit for the rest of the process (the command line's
/// `--max-file-size`).
pub fn set_max_size(bytes: u64) {
    MAX_SIZE.store(bytes.max(1), Ordering::Relaxed);
}

/// A size as people write it: `1048576`, `512KiB`, `256MiB`, `1GiB` (also
/// `K`, `M`, `G`, `KB`, `MB`, `GB`, all powers of 1024).
pub fn parse_size(text: &str) -> Result<u64, String> {
    let t = text.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (digits, unit) = t.split_at(split);
    let n: u64 = digits
        .parse()
        .map_err(|_| format!("{text:?} is not a size (say 256MiB)"))?;
    let shift = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 0,
        "k" | "kb" | "kib" => 10,
        "m" | "mb" | "mib" => 20,
        "g" | "gb" | "gib" => 30,
        _ => return Err(format!("{text:?}: unknown unit (B, KiB, MiB or GiB)")),
    };
    n.checked_mul(1 << shift)
        .filter(|n| *n > 0)
        .ok_or_else(|| format!("{text:?} is not a usable size"))
}

/// Why mcsdns would not read or write a file.
#[derive(Debug, thiserror::Error)]
pub enum Refused {
    /// The file is larger than the size limit.
    #[error(
        "larger than the {} limit for input files (--max-file-size or {MAX_SIZE_VAR} raises it)",
        human(*limit)
    )]
    TooLarge {
        /// The limit, in bytes.
        limit: u64,
    },
    /// A device, FIFO, socket or folder where a file was expected.
    #[error("not a regular file but a {0}")]
    NotRegular(&'static str),
    /// The file to replace is a symbolic link: mcsdns neither writes through
    /// it nor silently replaces it.
    #[error(
        "it is a symbolic link (to {}); mcsdns does not write through links: use the file it points to",
        .0.display()
    )]
    Link(PathBuf),
    /// A folder meant for tokens and keys that others could change.
    #[error("{}", .0)]
    SharedFolder(String),
}

impl From<Refused> for io::Error {
    fn from(r: Refused) -> io::Error {
        let kind = match r {
            Refused::TooLarge { .. } => io::ErrorKind::FileTooLarge,
            Refused::NotRegular(_) | Refused::Link(_) => io::ErrorKind::InvalidInput,
            Refused::SharedFolder(_) => io::ErrorKind::PermissionDenied,
        };
        io::Error::new(kind, r)
    }
}

fn human(bytes: u64) -> String {
    match bytes {
        b if b >= 1 << 30 && b % (1 << 30) == 0 => format!("{} GiB", b >> 30),
        b if b >= 1 << 20 && b % (1 << 20) == 0 => format!("{} MiB", b >> 20),
        b if b >= 1 << 10 && b % (1 << 10) == 0 => format!("{} KiB", b >> 10),
        b => format!("{b} bytes"),
    }
}

/// What kind of file `t` is, for an error.
fn kind_name(t: std::fs::FileType) -> &'static str {
    use std::os::unix::fs::FileTypeExt;
    if t.is_dir() {
        "folder"
    } else if t.is_fifo() {
        "FIFO"
    } else if t.is_char_device() || t.is_block_device() {
        "device"
    } else if t.is_socket() {
        "socket"
    } else {
        "special file"
    }
}

/// A reader that fails once more than its limit has been read.
pub struct Capped<R> {
    inner: R,
    left: u64,
    limit: u64,
}

impl<R: Read> Capped<R> {
    /// `inner`, failing with [`Refused::TooLarge`] past `limit` bytes.
    pub fn new(inner: R, limit: u64) -> Self {
        Capped {
            inner,
            left: limit,
            limit,
        }
    }
}

impl<R: Read> Read for Capped<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        // One byte more than is left tells a file at the limit from one past it.
        let room = usize::try_from(self.left.saturating_add(1))
            .unwrap_or(usize::MAX)
            .min(buf.len());
        let n = self.inner.read(&mut buf[..room])?;
        if n as u64 > self.left {
            return Err(Refused::TooLarge { limit: self.limit }.into());
        }
        self.left -= n as u64;
        Ok(n)
    }
}

/// Opens a regular file for reading, capped at [`max_size`]. A FIFO is
/// never waited on (it is opened without blocking and refused), nor is a
/// device, socket or folder read.
pub fn open(path: &Path) -> io::Result<Capped<File>> {
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(rustix::fs::OFlags::NONBLOCK.bits() as i32)
        .open(path)?;
    let meta = file.metadata()?;
    if !meta.file_type().is_file() {
        return Err(Refused::NotRegular(kind_name(meta.file_type())).into());
    }
    let limit = max_size();
    if meta.len() > limit {
        return Err(Refused::TooLarge { limit }.into());
    }
    Ok(Capped::new(file, limit))
}

/// Reads a regular file of at most [`max_size`] bytes as UTF-8.
pub fn read_to_string(path: &Path) -> io::Result<String> {
    let mut reader = open(path)?;
    let hint = reader
        .inner
        .metadata()
        .map_or(0, |m| m.len())
        .min(max_size());
    let mut text = String::with_capacity(usize::try_from(hint).unwrap_or(0));
    reader.read_to_string(&mut text)?;
    Ok(text)
}

/// Who may read a file mcsdns writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Access {
    /// Reports, snapshots, scenarios: an existing file keeps its mode, a
    /// new one gets the umask's; a symbolic link is refused.
    Shared,
    /// Tokens and keys: always 0600, replacing whatever was at the path
    /// (a link is replaced, never followed).
    Private,
}

/// Replaces `path` with `text` in one step: a temporary file with a fresh
/// name in the same folder (created exclusively, so nothing planted there
/// is followed), synced, given the old file's mode, then renamed over
/// `path`; the folder is synced too. A reader never sees half a file and an
/// interrupt or a failed write leaves the old one. A symbolic link at
/// `path` is refused ([`Refused::Link`]): the link is neither written
/// through nor replaced.
pub fn replace_file(path: &Path, text: &str) -> io::Result<()> {
    replace(path, text.as_bytes(), Access::Shared)
}

/// Writes a file holding tokens or keys: as [`replace_file`], but the file
/// is 0600 whatever the umask and whatever was at `path` before (a link
/// there is replaced, never followed).
pub fn write_private(path: &Path, bytes: &[u8]) -> io::Result<()> {
    replace(path, bytes, Access::Private)
}

fn replace(path: &Path, bytes: &[u8], access: Access) -> io::Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let old = match std::fs::symlink_metadata(path) {
        Ok(m) => Some(m),
        Err(e) if e.kind() == io::ErrorKind::NotFound => None,
        Err(e) => return Err(e),
    };
    if access == Access::Shared {
        std::fs::create_dir_all(dir)?;
    }
    let mode = match (&old, access) {
        (_, Access::Private) => 0o600,
        (Some(m), Access::Shared) if m.file_type().is_symlink() => {
            let to = std::fs::read_link(path).unwrap_or_default();
            return Err(Refused::Link(to).into());
        }
        (Some(m), Access::Shared) if m.is_file() => m.mode() & 0o7777,
        (Some(m), Access::Shared) => {
            return Err(Refused::NotRegular(kind_name(m.file_type())).into());
        }
        (None, Access::Shared) => 0o666,
    };
    let name = path
        .file_name()
        .map_or("file".into(), |n| n.to_string_lossy());
    let mut temporary = tempfile::Builder::new()
        .prefix(&format!(".{name}."))
        .suffix(".tmp")
        .permissions(Permissions::from_mode(mode))
        .tempfile_in(dir)?;
    temporary.write_all(bytes)?;
    if access == Access::Private || old.is_some() {
        // Exactly the mode wanted, not the umask's share of it.
        temporary
            .as_file()
            .set_permissions(Permissions::from_mode(mode))?;
    }
    temporary.as_file().sync_all()?;
    temporary.persist(path).map_err(|e| e.error)?;
    // The rename itself survives a crash once the folder is synced.
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

/// Makes `dir` fit for tokens and keys: missing folders are created 0700
/// whatever the umask; an existing one must belong to this user and be
/// writable by no one else (otherwise another local user could swap the
/// files mcsdns writes there), else [`Refused::SharedFolder`].
pub fn private_dir(dir: &Path) -> io::Result<()> {
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)?;
    let meta = std::fs::metadata(dir)?;
    let me = rustix::process::geteuid().as_raw();
    if meta.uid() != me {
        return Err(Refused::SharedFolder(format!(
            "{} belongs to another user (uid {}); mcsdns keeps tokens and keys only in a folder of its own user: choose another folder",
            dir.display(),
            meta.uid()
        ))
        .into());
    }
    if meta.mode() & 0o022 != 0 {
        return Err(Refused::SharedFolder(format!(
            "{} can be changed by other users (mode {:o}); mcsdns keeps tokens and keys only in a folder no one else can write: `chmod go-w {}` or choose another folder",
            dir.display(),
            meta.mode() & 0o777,
            dir.display()
        ))
        .into());
    }
    Ok(())
}

/// A new folder only this user can open (0700), with a random name under
/// the system's temporary folder, created exclusively (an existing path,
/// link or not, is never reused); removed when dropped.
pub fn fresh_private_dir(prefix: &str) -> io::Result<tempfile::TempDir> {
    tempfile::Builder::new()
        .prefix(prefix)
        .permissions(Permissions::from_mode(0o700))
        .tempdir()
}

/// Creates a file that must not exist yet (no link is followed, nothing
/// existing is overwritten), readable by this user only.
pub fn create_new(path: &Path) -> io::Result<File> {
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
}

/// Opens a log file anew: whatever was at `path` (a file, or a link planted
/// there) is removed first, and the file is created exclusively, 0600.
pub fn create_log(path: &Path) -> io::Result<File> {
    match std::fs::remove_file(path) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
        _ => {}
    }
    create_new(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dir() -> tempfile::TempDir {
        tempfile::tempdir().unwrap()
    }

    #[test]
    fn sizes_parse_as_people_write_them() {
        assert_eq!(parse_size("1048576"), Ok(1 << 20));
        assert_eq!(parse_size("256MiB"), Ok(256 << 20));
        assert_eq!(parse_size("2 GiB"), Ok(2 << 30));
        assert_eq!(parse_size("64k"), Ok(64 << 10));
        assert!(parse_size("0").is_err());
        assert!(parse_size("12 parsecs").is_err());
        assert!(parse_size("99999999999999GiB").is_err());
    }

    #[test]
    fn the_capped_reader_stops_one_byte_past_the_limit() {
        let mut exact = Capped::new(&b"12345"[..], 5);
        let mut s = String::new();
        assert_eq!(exact.read_to_string(&mut s).unwrap(), 5);
        let mut over = Capped::new(&b"123456"[..], 5);
        let e = over.read_to_string(&mut String::new()).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::FileTooLarge);
        assert!(
            e.to_string().contains("larger than the 5 bytes limit"),
            "{e}"
        );
        // An endless source stops at the limit, not at the end of memory.
        let mut zero = Capped::new(io::repeat(0), 1 << 20);
        assert!(zero.read_to_end(&mut Vec::new()).is_err());
    }

    #[test]
    fn devices_fifos_and_folders_are_refused_at_once() {
        let d = dir();
        let fifo = d.path().join("fifo.yaml");
        let made = std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap();
        assert!(made.success());
        // Opening a FIFO for reading would wait for a writer forever.
        let e = read_to_string(&fifo).unwrap_err();
        assert!(
            e.to_string().contains("not a regular file but a FIFO"),
            "{e}"
        );
        let e = read_to_string(Path::new("/dev/zero")).unwrap_err();
        assert!(e.to_string().contains("but a device"), "{e}");
        let e = read_to_string(d.path()).unwrap_err();
        assert!(e.to_string().contains("but a folder"), "{e}");
    }

    #[test]
    fn a_replaced_file_keeps_its_mode_and_a_private_one_is_0600() {
        let d = dir();
        let p = d.path().join("scenario.yaml");
        std::fs::write(&p, "old").unwrap();
        std::fs::set_permissions(&p, Permissions::from_mode(0o640)).unwrap();
        replace_file(&p, "new").unwrap();
        assert_eq!(std::fs::read_to_string(&p).unwrap(), "new");
        assert_eq!(std::fs::metadata(&p).unwrap().mode() & 0o777, 0o640);
        let k = d.path().join("kubeconfig");
        std::fs::write(&k, "old").unwrap();
        std::fs::set_permissions(&k, Permissions::from_mode(0o666)).unwrap();
        write_private(&k, b"token").unwrap();
        assert_eq!(std::fs::metadata(&k).unwrap().mode() & 0o777, 0o600);
        // Nothing is left beside them.
        let names: Vec<_> = std::fs::read_dir(d.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names.len(), 2, "{names:?}");
    }

    #[test]
    fn a_link_is_never_written_through() {
        let d = dir();
        let victim = d.path().join("victim");
        std::fs::write(&victim, "precious").unwrap();
        // A link where the file goes: refused for shared files...
        let link = d.path().join("report.json");
        std::os::unix::fs::symlink(&victim, &link).unwrap();
        let e = replace_file(&link, "report").unwrap_err();
        assert!(e.to_string().contains("symbolic link"), "{e}");
        assert!(
            std::fs::symlink_metadata(&link)
                .unwrap()
                .file_type()
                .is_symlink()
        );
        // ...replaced, not followed, for private ones.
        let key = d.path().join("kubeconfig");
        std::os::unix::fs::symlink(&victim, &key).unwrap();
        write_private(&key, b"token").unwrap();
        assert!(std::fs::symlink_metadata(&key).unwrap().is_file());
        // Links planted under the temporary names an older writer used.
        for pid in [std::process::id()] {
            for name in ["out.yaml", "kubeconfig"] {
                std::os::unix::fs::symlink(&victim, d.path().join(format!(".{name}.{pid}.tmp")))
                    .unwrap();
            }
        }
        replace_file(&d.path().join("out.yaml"), "mine").unwrap();
        write_private(&d.path().join("kubeconfig"), b"mine").unwrap();
        assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious");
    }

    #[test]
    fn a_log_replaces_a_planted_link() {
        let d = dir();
        let victim = d.path().join("victim");
        std::fs::write(&victim, "precious").unwrap();
        let log = d.path().join("etcd.log");
        std::os::unix::fs::symlink(&victim, &log).unwrap();
        create_log(&log).unwrap().write_all(b"started").unwrap();
        assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious");
        assert_eq!(std::fs::metadata(&log).unwrap().mode() & 0o777, 0o600);
    }

    #[test]
    fn a_fresh_private_dir_is_0700_and_new() {
        let a = fresh_private_dir("mcsdns-test-").unwrap();
        let b = fresh_private_dir("mcsdns-test-").unwrap();
        assert_ne!(a.path(), b.path());
        assert_eq!(std::fs::metadata(a.path()).unwrap().mode() & 0o777, 0o700);
    }

    #[test]
    fn a_private_dir_is_made_0700_and_a_shared_one_refused() {
        let d = dir();
        let made = d.path().join("a/b");
        private_dir(&made).unwrap();
        assert_eq!(std::fs::metadata(&made).unwrap().mode() & 0o777, 0o700);
        let open = d.path().join("open");
        std::fs::create_dir(&open).unwrap();
        std::fs::set_permissions(&open, Permissions::from_mode(0o777)).unwrap();
        let e = private_dir(&open).unwrap_err();
        assert!(
            e.to_string()
                .contains("can be changed by other users (mode 777)"),
            "{e}"
        );
    }
}
