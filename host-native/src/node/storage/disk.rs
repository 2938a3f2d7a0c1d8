//! Every byte the storage writes and every fsync goes through here: fault injection,
//! the fsync switch and the metrics live in one place.

use std::fs::{self, File, OpenOptions};
use std::io;
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::time::{Duration, Instant};

use super::layout::TMP_SUFFIX;
use super::metrics::StorageMetrics;
use super::{StorageError, StorageOptions};

pub struct Disk {
    fsync: bool,
    #[cfg(test)]
    pair_sync: PairSync,
    fail_after_bytes: Option<u64>,
    /// Bytes handed to the OS so far, counted against `fail_after_bytes`.
    attempted_bytes: u64,
    pub metrics: StorageMetrics,
}

/// How [`Disk::sync_data_both`] syncs its two files: benchmarks compare the ways.
#[cfg(test)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PairSync {
    Parallel,
    Sequential,
    /// Not durable: the second file is left unsynced, as the WAL alone once was.
    FirstOnly,
}

impl Disk {
    pub fn new(options: &StorageOptions) -> Self {
        Self {
            fsync: options.fsync,
            #[cfg(test)]
            pair_sync: PairSync::Parallel,
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

    /// fdatasync of two files, the second on a helper thread so that the caller waits for
    /// the slower of the two rather than their sum. Both are recorded as fsyncs.
    pub fn sync_data_both(&mut self, first: (&File, &Path), second: (&File, &Path)) -> Result<(), StorageError> {
        if !self.fsync {
            return Ok(());
        }
        #[cfg(test)]
        match self.pair_sync {
            PairSync::Parallel => {}
            PairSync::Sequential => {
                self.sync_data(first.0, first.1)?;
                return self.sync_data(second.0, second.1);
            }
            PairSync::FirstOnly => return self.sync_data(first.0, first.1),
        }
        let (first_sync, second_sync) = std::thread::scope(|scope| {
            let helper = std::thread::Builder::new().spawn_scoped(scope, || timed(|| second.0.sync_data()));
            let first_sync = timed(|| first.0.sync_data());
            let second_sync = match helper {
                Ok(helper) => helper
                    .join()
                    .unwrap_or_else(|_| (Err(io::Error::other("the fsync thread panicked")), Duration::ZERO)),
                // No thread to be had: one after the other, then.
                Err(_) => timed(|| second.0.sync_data()),
            };
            (first_sync, second_sync)
        });
        for (_, took) in [&first_sync, &second_sync] {
            self.metrics.fsync_latency.record(*took);
            self.metrics.fsyncs += 1;
        }
        first_sync.0.map_err(StorageError::io(first.1, "fsync"))?;
        second_sync.0.map_err(StorageError::io(second.1, "fsync"))
    }

    #[cfg(test)]
    pub fn set_pair_sync(&mut self, pair_sync: PairSync) {
        self.pair_sync = pair_sync;
    }

    /// Makes creations, renames and removals in `dir` durable.
    pub fn sync_dir(&mut self, dir: &Path) -> Result<(), StorageError> {
        if !self.fsync {
            return Ok(());
        }
        let handle = File::open(dir).map_err(StorageError::io(dir, "open directory"))?;
        self.timed_sync(|| handle.sync_all()).map_err(StorageError::io(dir, "fsync directory"))
    }

    fn timed_sync(&mut self, sync: impl FnOnce() -> io::Result<()>) -> io::Result<()> {
        if !self.fsync {
            return Ok(());
        }
        let (result, took) = timed(sync);
        self.metrics.fsync_latency.record(took);
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

fn timed(sync: impl FnOnce() -> io::Result<()>) -> (io::Result<()>, Duration) {
    let started = Instant::now();
    let result = sync();
    (result, started.elapsed())
}
