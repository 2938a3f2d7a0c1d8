//! A size-limited filesystem (tmpfs) to hold a member's data directory, for the
//! full-disk fault: fill it until writes fail with ENOSPC, free it again, and keep its
//! contents once a failed run unmounts it.

use std::ffi::OsStr;
use std::fs::{self, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicU64, Ordering};

const BALLAST_FILE: &str = ".ballast";
const FILL_CHUNK_MAX_BYTES: usize = 1024 * 1024;
/// A page: tmpfs allocates whole pages, so once this does not fit nothing does.
const FILL_CHUNK_MIN_BYTES: usize = 4096;
const PROBE_SIZE_BYTES: u64 = 1024 * 1024;
/// ENOSPC on Linux. `io::ErrorKind::StorageFull` is newer than the workspace's MSRV.
const NO_SPACE_OS_ERROR: i32 = 28;

/// A tmpfs mounted at a directory, unmounted (lazily, `umount -l`) when dropped. The
/// directory itself is left in place.
pub struct Tmpfs {
    mount_point: PathBuf,
}

impl Tmpfs {
    /// Mounts a tmpfs of `size_bytes` at `at` (created if missing). Errors say what to
    /// do (e.g. needs root / CAP_SYS_ADMIN).
    pub fn mount(at: &Path, size_bytes: u64) -> io::Result<Tmpfs> {
        if size_bytes == 0 {
            // tmpfs reads `size=0` as "no limit", the opposite of what was asked for.
            let detail = format!("cannot mount a tmpfs of 0 bytes at {}: ask for at least 4096", at.display());
            return Err(io::Error::new(io::ErrorKind::InvalidInput, detail));
        }
        fs::create_dir_all(at).map_err(with_path("create the mount point", at))?;
        // /proc/mounts and umount name the resolved path, so that is the one kept.
        let mount_point = fs::canonicalize(at).map_err(with_path("resolve the mount point", at))?;
        let size_option = format!("size={size_bytes}");
        let args = [
            "-t".as_ref(),
            "tmpfs".as_ref(),
            "-o".as_ref(),
            size_option.as_ref(),
            "tmpfs".as_ref(),
            mount_point.as_os_str(),
        ];
        run("mount", &args).map_err(|error| {
            let hint = if error.kind() == io::ErrorKind::PermissionDenied {
                " (mounting needs root or CAP_SYS_ADMIN: run the chaos test as root, or leave out the full-disk fault)"
            } else {
                ""
            };
            io::Error::new(error.kind(), format!("{error}{hint}"))
        })?;
        Ok(Tmpfs { mount_point })
    }

    pub fn path(&self) -> &Path {
        &self.mount_point
    }

    /// Fills the free space with a ballast file (`.ballast` in the mount) until the
    /// filesystem reports ENOSPC; returns the bytes written. Leaves the filesystem full.
    pub fn fill(&self) -> io::Result<u64> {
        let path = self.ballast_path();
        let mut ballast =
            OpenOptions::new().create(true).append(true).open(&path).map_err(with_path("create the ballast", &path))?;
        let chunk = vec![0xbau8; FILL_CHUNK_MAX_BYTES];
        let mut chunk_bytes = FILL_CHUNK_MAX_BYTES;
        let mut written_bytes = 0u64;
        loop {
            match ballast.write(&chunk[..chunk_bytes]) {
                Ok(0) => {}
                Ok(bytes) => {
                    written_bytes += bytes as u64;
                    continue;
                }
                Err(error) if is_no_space(&error) => {}
                Err(error) if error.kind() == io::ErrorKind::Interrupted => continue,
                Err(error) => return Err(with_path("write the ballast", &path)(error)),
            }
            // Full for this size: smaller chunks take what is left.
            if chunk_bytes <= FILL_CHUNK_MIN_BYTES {
                break;
            }
            chunk_bytes /= 2;
        }
        match ballast.sync_all() {
            Err(error) if !is_no_space(&error) => Err(with_path("sync the ballast", &path)(error)),
            _ => Ok(written_bytes),
        }
    }

    /// Deletes the ballast: space returns.
    pub fn free(&self) -> io::Result<()> {
        let path = self.ballast_path();
        match fs::remove_file(&path) {
            Err(error) if error.kind() != io::ErrorKind::NotFound => Err(with_path("remove the ballast", &path)(error)),
            _ => Ok(()),
        }
    }

    /// Copies the mount's contents (recursively, without the ballast) to `to`, so a
    /// failed run keeps the data directory after the unmount.
    pub fn copy_out(&self, to: &Path) -> io::Result<()> {
        copy_tree(&self.mount_point, to, Some(BALLAST_FILE))
    }

    fn ballast_path(&self) -> PathBuf {
        self.mount_point.join(BALLAST_FILE)
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        // Lazy, so that a member process not yet reaped cannot keep it mounted.
        if let Err(error) = run("umount", &["-l".as_ref(), self.mount_point.as_os_str()]) {
            eprintln!("warning: tmpfs left mounted: {error}");
        }
    }
}

/// Whether this process can mount a tmpfs (tries one in a temp dir and unmounts it).
pub fn can_mount() -> bool {
    let Ok(probe) = unique_temp_dir("can-mount") else {
        return false;
    };
    // The Tmpfs is dropped, so unmounted, before its directory goes.
    let mounted = Tmpfs::mount(&probe, PROBE_SIZE_BYTES).is_ok();
    let _ = fs::remove_dir(&probe);
    mounted
}

fn unique_temp_dir(label: &str) -> io::Result<PathBuf> {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    loop {
        let unique = NEXT.fetch_add(1, Ordering::Relaxed);
        let path = std::env::temp_dir().join(format!("viewstamp-{label}-{}-{unique}", std::process::id()));
        match fs::create_dir(&path) {
            // Left over from an earlier process with the same id.
            Err(error) if error.kind() == io::ErrorKind::AlreadyExists => continue,
            Err(error) => return Err(with_path("create", &path)(error)),
            Ok(()) => return Ok(path),
        }
    }
}

fn copy_tree(from: &Path, to: &Path, skip_name: Option<&str>) -> io::Result<()> {
    fs::create_dir_all(to).map_err(with_path("create", to))?;
    for entry in fs::read_dir(from).map_err(with_path("read the directory", from))? {
        let entry = entry.map_err(with_path("read the directory", from))?;
        if skip_name.is_some_and(|skip| entry.file_name() == skip) {
            continue;
        }
        let (source, target) = (entry.path(), to.join(entry.file_name()));
        let kind = entry.file_type().map_err(with_path("read the type of", &source))?;
        if kind.is_dir() {
            copy_tree(&source, &target, None)?;
        } else if kind.is_symlink() {
            let link = fs::read_link(&source).map_err(with_path("read the link", &source))?;
            std::os::unix::fs::symlink(link, &target).map_err(with_path("create the link", &target))?;
        } else {
            fs::copy(&source, &target).map_err(|error| {
                let detail = format!("cannot copy {} to {}: {error}", source.display(), target.display());
                io::Error::new(error.kind(), detail)
            })?;
        }
    }
    Ok(())
}

/// Runs a command to its end; a failure carries the command line and its stderr.
fn run(program: &str, args: &[&OsStr]) -> io::Result<()> {
    let shown = std::iter::once(program.into())
        .chain(args.iter().map(|arg| arg.to_string_lossy()))
        .collect::<Vec<_>>()
        .join(" ");
    let output = Command::new(program).args(args).output().map_err(|error| {
        io::Error::new(error.kind(), format!("cannot run `{shown}`: {error} (is util-linux installed?)"))
    })?;
    if output.status.success() {
        return Ok(());
    }
    let stderr = String::from_utf8_lossy(&output.stderr);
    let kind = if stderr.contains("superuser") || stderr.contains("ermission denied") {
        io::ErrorKind::PermissionDenied
    } else {
        io::ErrorKind::Other
    };
    Err(io::Error::new(kind, format!("`{shown}` failed ({}): {}", output.status, stderr.trim())))
}

fn is_no_space(error: &io::Error) -> bool {
    error.raw_os_error() == Some(NO_SPACE_OS_ERROR)
}

fn with_path<'a>(action: &'a str, path: &'a Path) -> impl FnOnce(io::Error) -> io::Error + 'a {
    move |error| io::Error::new(error.kind(), format!("cannot {action} {}: {error}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    const MOUNT_SIZE_BYTES: u64 = 4 * 1024 * 1024;

    /// Removed when dropped; declared before a Tmpfs in it, so dropped after the unmount.
    struct ScratchDir(PathBuf);

    impl Drop for ScratchDir {
        fn drop(&mut self) {
            let _ = fs::remove_dir_all(&self.0);
        }
    }

    /// Whether /proc/mounts lists `path` as a mount point.
    fn is_mounted(path: &Path) -> bool {
        let mounts = fs::read_to_string("/proc/mounts").unwrap();
        mounts.lines().filter_map(|line| line.split(' ').nth(1)).any(|listed| unescape(listed) == path)
    }

    /// /proc/mounts writes space, tab, newline and backslash as octal escapes (`\040`).
    fn unescape(listed: &str) -> PathBuf {
        use std::os::unix::ffi::OsStringExt;
        let bytes = listed.as_bytes();
        let mut path = Vec::with_capacity(bytes.len());
        let mut at = 0;
        while at < bytes.len() {
            let octal = bytes.get(at + 1..at + 4).and_then(|digits| std::str::from_utf8(digits).ok());
            match octal.and_then(|digits| u8::from_str_radix(digits, 8).ok()) {
                Some(byte) if bytes[at] == b'\\' => {
                    path.push(byte);
                    at += 4;
                }
                _ => {
                    path.push(bytes[at]);
                    at += 1;
                }
            }
        }
        PathBuf::from(std::ffi::OsString::from_vec(path))
    }

    fn skip_without_mount() -> bool {
        let skip = !can_mount();
        if skip {
            eprintln!("note: cannot mount a tmpfs here (needs root or CAP_SYS_ADMIN); skipping");
        }
        skip
    }

    #[test]
    fn fill_free_copy_out_and_unmount() {
        if skip_without_mount() {
            return;
        }
        let scratch = ScratchDir(unique_temp_dir("fullfs-test").unwrap());
        let tmpfs = Tmpfs::mount(&scratch.0.join("mount"), MOUNT_SIZE_BYTES).unwrap();
        let mount_point = tmpfs.path().to_path_buf();
        assert!(is_mounted(&mount_point));
        fs::create_dir(mount_point.join("member")).unwrap();
        fs::write(mount_point.join("member/identity"), b"small").unwrap();

        let filled_bytes = tmpfs.fill().unwrap();
        assert!(filled_bytes > MOUNT_SIZE_BYTES - 64 * 1024 && filled_bytes <= MOUNT_SIZE_BYTES, "{filled_bytes}");
        let extra = mount_point.join("member/extra");
        let error = fs::write(&extra, vec![1u8; 64 * 1024]).unwrap_err();
        assert!(is_no_space(&error), "{error}");

        tmpfs.free().unwrap();
        fs::write(&extra, vec![1u8; 64 * 1024]).unwrap();
        tmpfs.free().unwrap();

        let copy = scratch.0.join("copy");
        tmpfs.fill().unwrap();
        tmpfs.copy_out(&copy).unwrap();
        assert_eq!(fs::read(copy.join("member/identity")).unwrap(), b"small");
        assert_eq!(fs::read(copy.join("member/extra")).unwrap().len(), 64 * 1024);
        assert!(!copy.join(BALLAST_FILE).exists());

        drop(tmpfs);
        assert!(!is_mounted(&mount_point));
        assert!(!mount_point.join("member").exists(), "the contents went with the unmount");
    }

    #[test]
    fn mount_errors_name_the_path() {
        let scratch = ScratchDir(unique_temp_dir("fullfs-errors").unwrap());
        let file = scratch.0.join("a-file");
        fs::write(&file, b"").unwrap();
        let under_a_file = file.join("mount");
        let error = Tmpfs::mount(&under_a_file, MOUNT_SIZE_BYTES).err().unwrap();
        assert!(error.to_string().contains(&under_a_file.display().to_string()), "{error}");
        let error = Tmpfs::mount(&scratch.0, 0).err().unwrap();
        assert_eq!(error.kind(), io::ErrorKind::InvalidInput);
        assert!(error.to_string().contains(&scratch.0.display().to_string()), "{error}");
    }

    #[test]
    fn mount_points_with_spaces_are_found_in_proc_mounts() {
        assert_eq!(unescape(r"/tmp/a\040b\134c"), Path::new(r"/tmp/a b\c"));
        assert_eq!(unescape(r"/tmp/plain\"), Path::new(r"/tmp/plain\"));
        if skip_without_mount() {
            return;
        }
        let scratch = ScratchDir(unique_temp_dir("fullfs-space").unwrap());
        let tmpfs = Tmpfs::mount(&scratch.0.join("with space"), MOUNT_SIZE_BYTES).unwrap();
        let mount_point = tmpfs.path().to_path_buf();
        assert!(is_mounted(&mount_point));
        drop(tmpfs);
        assert!(!is_mounted(&mount_point));
    }
}
