//! The storage thread: takes writes from the async node loop, applies everything queued
//! with one fsync, and hands the completions back.

use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use tokio::sync::mpsc;
use viewstamp_core::replica::Persist;

use super::{Completion, Storage, StorageError, StorageMetrics};

/// Writes queued for the thread before `submit` waits.
pub const WORKER_QUEUE_WRITES: usize = 4096;
/// At most this many writes share one fsync, bounding a batch's latency and memory.
pub const WORKER_BATCH_MAX_WRITES: usize = 1024;
/// Batch outcomes waiting for the node loop before the thread waits.
const WORKER_REPORTS_MAX: usize = 64;

/// One batch's completions, or the error that stopped the storage (the last report).
pub type WorkerReport = Result<Vec<Completion>, StorageError>;

pub struct StorageWorker {
    writes: mpsc::Sender<Persist>,
    reports: mpsc::Receiver<WorkerReport>,
    metrics: Arc<Mutex<StorageMetrics>>,
    thread: Option<JoinHandle<()>>,
}

/// Moves `storage` onto its own thread.
pub fn spawn(storage: Storage) -> Result<StorageWorker, StorageError> {
    let (writes, queued) = mpsc::channel(WORKER_QUEUE_WRITES);
    let (report, reports) = mpsc::channel(WORKER_REPORTS_MAX);
    let metrics = Arc::new(Mutex::new(storage.metrics()));
    let shared = Arc::clone(&metrics);
    let dir = storage.dir().to_path_buf();
    let thread = std::thread::Builder::new()
        .name("viewstamp-storage".into())
        .spawn(move || run(storage, queued, report, shared))
        .map_err(StorageError::io(&dir, "start the storage thread for"))?;
    Ok(StorageWorker { writes, reports, metrics, thread: Some(thread) })
}

fn run(
    mut storage: Storage,
    mut queued: mpsc::Receiver<Persist>,
    report: mpsc::Sender<WorkerReport>,
    metrics: Arc<Mutex<StorageMetrics>>,
) {
    while let Some(first) = queued.blocking_recv() {
        let batch = drain_batch(first, &mut queued);
        let outcome = storage.apply(&batch);
        if let Ok(mut shared) = metrics.lock() {
            *shared = storage.metrics();
        }
        let stopped = outcome.is_err();
        if report.blocking_send(outcome).is_err() || stopped {
            return;
        }
    }
}

/// `first` and whatever else is already queued, up to the batch bound.
fn drain_batch(first: Persist, queued: &mut mpsc::Receiver<Persist>) -> Vec<Persist> {
    let mut batch = vec![first];
    while batch.len() < WORKER_BATCH_MAX_WRITES {
        match queued.try_recv() {
            Ok(persist) => batch.push(persist),
            Err(_) => break,
        }
    }
    batch
}

impl StorageWorker {
    /// Queues a write, waiting while the queue is full. Fails once the storage stopped.
    pub async fn submit(&self, persist: Persist) -> Result<(), StorageError> {
        self.writes.send(persist).await.map_err(|_| StorageError::Stopped { cause: "the storage thread ended".into() })
    }

    /// The next batch's outcome; `None` once the thread ended and every report was read.
    pub async fn next_report(&mut self) -> Option<WorkerReport> {
        self.reports.recv().await
    }

    /// As of the last batch.
    pub fn metrics(&self) -> StorageMetrics {
        self.metrics.lock().map(|metrics| metrics.clone()).unwrap_or_default()
    }

    /// Stops taking writes and waits for the thread to end. Writes still queued may be
    /// dropped: none of them was reported durable.
    pub fn shutdown(mut self) {
        let StorageWorker { writes, reports, thread, .. } = &mut self;
        drop(std::mem::replace(writes, mpsc::channel(1).0));
        reports.close();
        if let Some(thread) = thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for StorageWorker {
    fn drop(&mut self) {
        // Without `shutdown`, the thread still ends once the channels close; it is not joined.
        self.reports.close();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use viewstamp_core::release::Release;
    use viewstamp_core::replica::{Superblock, Write};

    fn superblock_write(id: u64) -> Persist {
        let release = Release::new(1, 0, 0);
        Persist { id, write: Write::Superblock(Superblock { view: id, log_view: 0, log_start: 0, release }) }
    }

    #[test]
    fn drains_everything_queued_into_one_batch() {
        let (sender, mut queued) = mpsc::channel(16);
        for id in 2..=10 {
            sender.try_send(superblock_write(id)).expect("room in the queue");
        }
        let batch = drain_batch(superblock_write(1), &mut queued);
        let ids: Vec<u64> = batch.iter().map(|persist| persist.id).collect();
        assert_eq!(ids, (1..=10).collect::<Vec<_>>());
        assert!(queued.try_recv().is_err(), "nothing is left behind");
    }
}
