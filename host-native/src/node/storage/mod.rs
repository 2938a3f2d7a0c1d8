//! Durable, checksummed storage for a production node: what the core asks of a host in
//! `viewstamp_core::replica::io`, with the simulator's semantics (`core/src/sim/storage.rs`).
//! Synchronous `std::fs` code; the node runs it on a dedicated thread ([`spawn`]).
//!
//! # Data directory
//! - `identity`: text naming the cluster id and member id, checksummed. Opening a
//!   directory of another cluster or member fails. Written last by [`format`], so a
//!   directory without it is an interrupted format (or not a data directory).
//! - `superblock.0` .. `superblock.2`: identical copies of the root record (the replica's
//!   [`Superblock`], a sequence number, and which WAL file is live with its nonce), one
//!   512-byte checksummed block each. Every update writes and fsyncs the copies one after
//!   the other, so a torn write spoils at most one; open takes the newest valid copy and
//!   rewrites the others. Copies exist but none is valid: [`StorageError::NoValidSuperblock`].
//! - `wal.<generation>`: the write-ahead log. A header, then records: a 64-byte header
//!   (kind, payload length, batch, entry op/view/checksum, payload checksum; its own
//!   checksum keyed by the file's nonce) and a payload (the postcard-encoded body). A
//!   damaged body under a readable header reads back as `StoredEntry::Damaged`. Later
//!   records supersede earlier ones for the same op. See `wal.rs` for how torn tails are
//!   told from damage.
//! - `wal-headers.<generation>`: a redundant copy of every record header of that WAL. A
//!   64-byte file header, then one 64-byte slot per record, in append order: the record's
//!   header fields and its offset in the WAL, checksummed (keyed by the same nonce). It
//!   is written and fdatasynced with every batch, so a single fault in either file after
//!   a sync never loses a synced entry: one whose WAL header is unreadable or cut off
//!   comes back from its slot as `StoredEntry::Damaged`. Open rebuilds a missing or
//!   damaged header file from the WAL (so a directory written before it existed opens
//!   too).
//! - `checkpoint`: the latest checkpoint, replaced atomically (tmp, fsync, rename, fsync
//!   dir). It also records its `retain_from` and the WAL position it was taken at, so the
//!   checkpoint and the trim of the log take effect together; replay drops the entries
//!   written before that position and below `retain_from`.
//!
//! # Writes
//! [`Storage::apply`] takes a batch: WAL records and their slots are appended and both
//! files fdatasynced once at the end, in parallel (group commit). A superblock or
//! checkpoint write first syncs the records before it, so a crash keeps writes in order.
//! `Install` and compaction write a new WAL generation (with its header file) holding
//! only live records and switch to it through the superblock copies: atomic, and the
//! disk stays within about twice the live log (compaction runs once dead records outweigh
//! live ones). Any failure stops the storage for good (fail-stop); reopening gives the
//! state of the last successful sync, or that plus records written after (intact, or
//! damaged when only part of them reached the disk). An open that restored entries from
//! the header file writes a new generation too, so that the two files agree again
//! before anything is appended.
//!
//! # Lost data
//! An identity with no superblock copy at all, or whose live WAL is gone, is a member
//! that lost its data: open moves what remains aside (`*.lost`), starts an empty log and
//! returns `Durable { superblock: None, .. }`, so the replica recovers from its peers.

mod disk;
mod error;
mod layout;
mod metrics;
mod open;
mod wal;
mod worker;

#[cfg(test)]
mod tests;

use std::collections::BTreeSet;
use std::fmt;
use std::path::{Path, PathBuf};

use viewstamp_core::message::Slot;
use viewstamp_core::replica::{Persist, StoredEntry, Superblock, Write};
use viewstamp_core::types::{MemberId, Op};

use disk::Disk;
use layout::{CheckpointTrim, SuperblockRecord};
use wal::Wal;

pub use error::StorageError;
// The node loop, not yet wired, is what uses these.
#[allow(unused_imports)]
pub use metrics::{LatencyHistogram, StorageMetrics, FSYNC_BUCKET_BOUNDS_US};
#[allow(unused_imports)]
pub use open::{format, open};
#[allow(unused_imports)]
pub use worker::{spawn, StorageWorker, WorkerReport, WORKER_BATCH_MAX_WRITES, WORKER_QUEUE_WRITES};

/// Which member of which cluster a data directory belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Identity {
    pub cluster: u64,
    pub member: MemberId,
}

impl fmt::Display for Identity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "cluster {} member {}", self.cluster, self.member)
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StorageOptions {
    /// Fault injection: the write that crosses this many bytes (counted from open) is
    /// cut there and fails as a full disk would.
    pub fail_after_bytes: Option<u64>,
    /// Off only for benchmarks: nothing is durable then.
    pub fsync: bool,
    /// Compaction waits until dead WAL bytes reach this, as well as outweighing live ones.
    pub compact_min_dead_bytes: u64,
}

impl Default for StorageOptions {
    fn default() -> Self {
        Self { fail_after_bytes: None, fsync: true, compact_min_dead_bytes: 1 << 20 }
    }
}

/// The outcome of a batch, fed to the replica in this order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Completion {
    /// Every write of the batch, up to and including `id`, is durable:
    /// `Replica::handle_persisted(id)`.
    Persisted { id: u64 },
    /// `Replica::handle_verified(op, checksum, intact)`.
    Verified { op: Op, checksum: u64, intact: bool },
}

pub struct Storage {
    dir: PathBuf,
    identity: Identity,
    options: StorageOptions,
    disk: Disk,
    /// The sequence of the superblock copies on disk.
    sequence: u64,
    superblock: Option<Superblock>,
    wal: Wal,
    /// Why the storage stopped, once a write failed.
    failure: Option<String>,
}

impl Storage {
    /// Applies a batch in order with one WAL fsync at its end. On error the storage stops:
    /// this and every later call fail, and nothing of the batch may be reported durable.
    pub fn apply(&mut self, batch: &[Persist]) -> Result<Vec<Completion>, StorageError> {
        if let Some(cause) = &self.failure {
            return Err(StorageError::Stopped { cause: cause.clone() });
        }
        let result = self.apply_batch(batch);
        if let Err(error) = &result {
            tracing::error!(dir = %self.dir.display(), "storage stopped: {error}");
            self.failure = Some(error.to_string());
        }
        result
    }

    pub fn metrics(&self) -> StorageMetrics {
        StorageMetrics { wal_bytes: self.wal.len(), live_bytes: self.wal.live_bytes(), ..self.disk.metrics.clone() }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn apply_batch(&mut self, batch: &[Persist]) -> Result<Vec<Completion>, StorageError> {
        let Some(last) = batch.last() else { return Ok(Vec::new()) };
        let mut verified = Vec::new();
        for persist in batch {
            match &persist.write {
                Write::Entry(entry) => self.wal.append_entry(entry.header, Some(&entry.body), &mut self.disk)?,
                Write::Superblock(superblock) => {
                    self.wal.sync(&mut self.disk)?;
                    self.write_superblock(Some(superblock.clone()))?;
                }
                Write::Install { superblock, truncate_after, slots } => {
                    self.rewrite_wal(Some(superblock.clone()), Some(*truncate_after), slots)?;
                }
                Write::Checkpoint { data, retain_from } => {
                    // The trim names a WAL position, so everything before it must be durable.
                    self.wal.sync(&mut self.disk)?;
                    let trim = CheckpointTrim {
                        wal_generation: self.wal.generation,
                        wal_offset: self.wal.len(),
                        retain_from: *retain_from,
                    };
                    let file = layout::encode_checkpoint(data, Some(trim))?;
                    self.disk.replace_file(&self.dir, layout::CHECKPOINT_FILE, &file)?;
                    self.wal.trim(*retain_from);
                }
                Write::Verify { op, checksum } => {
                    self.wal.flush(&mut self.disk)?;
                    let intact = self.verify(*op, *checksum);
                    verified.push(Completion::Verified { op: *op, checksum: *checksum, intact });
                }
            }
        }
        self.wal.sync(&mut self.disk)?;
        let dead_bytes = self.wal.dead_bytes();
        if dead_bytes >= self.options.compact_min_dead_bytes && dead_bytes > self.wal.live_bytes() {
            self.rewrite_wal(None, None, &[])?;
            self.disk.metrics.compactions += 1;
        }
        self.disk.metrics.batches += 1;
        let mut completions = vec![Completion::Persisted { id: last.id }];
        completions.append(&mut verified);
        Ok(completions)
    }

    /// Whether the stored entry at `op` still matches `checksum`, read from the disk. An
    /// entry no longer stored, or replaced since, has nothing to repair.
    fn verify(&self, op: Op, checksum: u64) -> bool {
        let Some(located) = self.wal.entries.get(&op) else { return true };
        if located.header.checksum != checksum {
            return true;
        }
        // A read error is a bad sector: report damage so the replica rewrites the entry.
        self.wal
            .read_payload(located)
            .is_ok_and(|payload| matches!(located.read_back(&payload), StoredEntry::Intact(_)))
    }

    fn write_superblock(&mut self, superblock: Option<Superblock>) -> Result<(), StorageError> {
        self.write_superblock_naming(superblock, self.wal.generation, self.wal.nonce)
    }

    fn write_superblock_naming(
        &mut self,
        superblock: Option<Superblock>,
        wal_generation: u64,
        wal_nonce: u64,
    ) -> Result<(), StorageError> {
        let record = SuperblockRecord {
            cluster: self.identity.cluster,
            member: self.identity.member,
            sequence: self.sequence + 1,
            superblock: superblock.clone(),
            wal_generation,
            wal_nonce,
        };
        open::write_superblock_copies(&self.dir, &record, &mut self.disk)?;
        self.sequence = record.sequence;
        self.superblock = superblock;
        Ok(())
    }

    /// Writes a new WAL generation with the live entries (those up to `truncate_after`,
    /// when given) and `slots`, then switches to it through the superblock copies. A
    /// crash before the switch leaves the old generation in force.
    fn rewrite_wal(
        &mut self,
        superblock: Option<Superblock>,
        truncate_after: Option<Op>,
        slots: &[Slot],
    ) -> Result<(), StorageError> {
        // The old file is read below, so pending records must reach it first.
        self.wal.flush(&mut self.disk)?;
        let mut next = Wal::create(&self.dir, self.wal.generation + 1, open::fresh_nonce(), &mut self.disk)?;
        let replaced: BTreeSet<Op> = slots.iter().map(|slot| slot.header.op).collect();
        for (op, located) in &self.wal.entries {
            if truncate_after.is_some_and(|last| *op > last) || replaced.contains(op) {
                continue;
            }
            // An unreadable body: keep the header so the entry is repaired, not forgotten.
            let payload = self.wal.read_payload(located).ok();
            next.append_copy(located, payload.as_deref(), &mut self.disk)?;
        }
        for slot in slots {
            next.append_entry(slot.header, slot.body.as_ref(), &mut self.disk)?;
        }
        next.sync(&mut self.disk)?;
        self.disk.sync_dir(&self.dir)?;
        // On failure both generations stay on disk: open follows whichever the newest
        // valid copy names.
        let superblock = superblock.or_else(|| self.superblock.clone());
        self.write_superblock_naming(superblock, next.generation, next.nonce)?;
        let old = std::mem::replace(&mut self.wal, next);
        old.remove_files();
        Ok(())
    }
}
