//! Every byte the storage writes and every fsync goes through here: fault injection,
//! the fsync switch and the metrics live in one place.

use std::fs::{self, File, OpenOptions};
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::time::Instant;

use super::layout::TMP_SUFFIX;
use super::metrics::StorageMetrics;
use super::{StorageError, StorageOptions};

pub struct Disk {
    fsync: bool,
    fail_after_bytes: Option<u64>,
    /// Bytes handed to the OS so far, counted against `fail_after_bytes`.
    attempted_bytes: u64,
    pub metrics: StorageMetrics,
}

impl Disk {
    pub fn new(options: &StorageOptions) -> Self {
        Self {
            fsync: options.fsync,
            fail_after_bytes: options.fail_after_bytes,
            attempted_bytes: 0,
            metrics: StorageMetrics::default(),
        }
    }

    /// Writes `bytes` at `offset`. With an injected limit, writes what still fits and
    /// then fails as a full disk would, leaving a torn write behind.
    pub fn write_at(&mut self, file: &File, path: &Path, offset: u64, bytes: &[u8]) -> Result<(), StorageError> {
        let allowed = match self.fail_after_bytes {
            Some(limit) => bytes.len().min(usize::try_from(limit.saturating_sub(self.attempted_bytes)).unwrap_or(0)),
            None => bytes.len(),
        };
        self.attempted_bytes += allowed as u64;
        file.write_all_at(&bytes[..allowed], offset).map_err(StorageError::io(path, "write"))?;
        self.metrics.bytes_written += allowed as u64;
        if allowed < bytes.len() {
            return Err(StorageError::DiskFull { path: path.to_path_buf() });
        }
        Ok(())
    }

    /// fdatasync: the data and the size, not the timestamps.
    pub fn sync_data(&mut self, file: &File, path: &Path) -> Result<(), StorageError> {
        self.timed_sync(|| file.sync_data()).map_err(StorageError::io(path, "fsync"))
    }

    /// Makes creations, renames and removals in `dir` durable.
    pub fn sync_dir(&mut self, dir: &Path) -> Result<(), StorageError> {
        if !self.fsync {
            return Ok(());
        }
        let handle = File::open(dir).map_err(StorageError::io(dir, "open directory"))?;
        self.timed_sync(|| handle.sync_all()).map_err(StorageError::io(dir, "fsync directory"))
    }

    fn timed_sync(&mut self, sync: impl FnOnce() -> std::io::Result<()>) -> std::io::Result<()> {
        if !self.fsync {
            return Ok(());
        }
        let started = Instant::now();
        let result = sync();
        self.metrics.fsync_latency.record(started.elapsed());
        self.metrics.fsyncs += 1;
        result
    }

    /// Replaces `dir/name` so that a crash leaves the old file or the new one, never a
    /// mix: write a temporary file, fsync it, rename it over, fsync the directory.
    pub fn replace_file(&mut self, dir: &Path, name: &str, bytes: &[u8]) -> Result<(), StorageError> {
        let tmp_path = dir.join(format!("{name}{TMP_SUFFIX}"));
        let final_path = dir.join(name);
        let file = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .open(&tmp_path)
            .map_err(StorageError::io(&tmp_path, "create"))?;
        self.write_at(&file, &tmp_path, 0, bytes)?;
        self.sync_data(&file, &tmp_path)?;
        drop(file);
        fs::rename(&tmp_path, &final_path).map_err(StorageError::io(&final_path, "rename a new file over"))?;
        self.sync_dir(dir)
    }

    /// Overwrites a small file in place (a superblock copy: one sector) and syncs it.
    pub fn overwrite_file(&mut self, path: &Path, bytes: &[u8]) -> Result<(), StorageError> {
        let file = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)
            .map_err(StorageError::io(path, "open"))?;
        self.write_at(&file, path, 0, bytes)?;
        file.set_len(bytes.len() as u64).map_err(StorageError::io(path, "resize"))?;
        self.sync_data(&file, path)
    }
}
