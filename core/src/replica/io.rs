//! What a replica asks its host to make durable, and what it gets back on restart.

use alloc::vec::Vec;
use serde::{Deserialize, Serialize};

use crate::message::{CheckpointData, Entry, Header, Slot};
use crate::release::Release;
use crate::types::{Op, View};

/// The replica's small durable record. Hosts keep several checksummed copies.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Superblock {
    pub view: View,
    /// The last view in which this replica was in normal status.
    pub log_view: View,
    /// The log window starts after this op: everything up to it is committed, and a
    /// restart that finds no checkpoint that far waits for state transfer rather than
    /// treating an older, shorter log as this view's.
    pub log_start: Op,
    /// The newest cluster release this member applied: a binary older than it must
    /// not run, and must learn so before it writes anything.
    pub release: Release,
}

/// One durable write. Hosts complete writes in the order they were polled and report
/// each completion with `Replica::handle_persisted(id)`; a completion of `id` implies
/// every earlier write is durable too.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Persist {
    pub id: u64,
    pub write: Write,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[allow(clippy::large_enum_variant)] // Writes are queued a few at a time.
pub enum Write {
    /// Store (or overwrite) the entry at its op.
    Entry(Entry),
    Superblock(Superblock),
    /// Atomically: set the superblock, drop every stored entry after `truncate_after`,
    /// and store `entries`. Used to adopt a view's log, so a crash never leaves a log
    /// that mixes two views under one superblock.
    Install {
        superblock: Superblock,
        truncate_after: Op,
        /// Slots without a body are stored as headers whose body reads back damaged:
        /// the op is known, and repair fills it.
        slots: Vec<Slot>,
    },
    /// Store a checkpoint and drop stored entries before `retain_from`.
    Checkpoint {
        data: CheckpointData,
        retain_from: Op,
    },
    /// Not a write: read the stored entry at `op` back and report whether it still
    /// matches `checksum`, with `Replica::handle_verified`. Queued with the writes so
    /// that it sees every earlier one. Issued by log scrubbing.
    Verify {
        op: Op,
        checksum: u64,
    },
}

/// A stored entry as read back: torn writes (no header) are already dropped by the host.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum StoredEntry {
    Intact(Entry),
    /// The header is readable but the body fails its checksum (a bad sector).
    Damaged(Header),
}

impl StoredEntry {
    pub fn header(&self) -> Header {
        match self {
            StoredEntry::Intact(entry) => entry.header,
            StoredEntry::Damaged(header) => *header,
        }
    }
}

/// Everything a replica made durable, as a host reads it back at restart.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Durable {
    /// `None` when the data is lost: the replica then recovers through the protocol.
    pub superblock: Option<Superblock>,
    pub checkpoint: Option<CheckpointData>,
    /// Sorted by op.
    pub entries: Vec<StoredEntry>,
}
