//! A member's simulated disk: writes become durable only when their completion event
//! runs; a crash loses unsynced writes or tears the first of them.
//!
//! It keeps what the native storage keeps (`host-native/src/node/storage`): an entry's
//! header, once durable, survives a torn rewrite of that entry (the native log appends
//! rewrites and keeps a second copy of every header), so a torn repair or scrub leaves
//! the old, damaged copy readable as damaged, never as missing.

use alloc::collections::{BTreeMap, VecDeque};
use alloc::vec::Vec;

use crate::checksum::Hasher64;
use crate::message::{Body, CheckpointData, Entry, Header};
use crate::replica::{Durable, Persist, StoredEntry, Superblock, Write};
use crate::types::Op;

#[derive(Clone, Debug, PartialEq, Eq)]
struct StoredSlot {
    /// `None` when the write was torn: the body bytes may be garbage.
    header: Option<Header>,
    body: Vec<u8>,
}

#[derive(Clone, Debug, Default)]
pub struct SimStorage {
    superblock: Option<Superblock>,
    checkpoint: Option<CheckpointData>,
    entries: BTreeMap<Op, StoredSlot>,
    unsynced: VecDeque<Persist>,
}

/// What a crash did to the writes that were not yet durable.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CrashLoss {
    Lost,
    /// The first unsynced entry write left a torn slot.
    Torn,
}

impl SimStorage {
    pub fn formatted(release: crate::release::Release) -> Self {
        Self { superblock: Some(Superblock { view: 0, log_view: 0, log_start: 0, release }), ..Self::default() }
    }

    pub fn submit(&mut self, persist: Persist) {
        self.unsynced.push_back(persist);
    }

    /// Make every write up to `id` durable. Returns the verifications among them,
    /// `(op, checksum, intact)`, and whether any write may have dropped a durable entry.
    pub fn complete(&mut self, id: u64) -> (Vec<(Op, u64, bool)>, bool) {
        let mut verified = Vec::new();
        let mut dropped = false;
        while self.unsynced.front().is_some_and(|persist| persist.id <= id) {
            let persist = self.unsynced.pop_front().expect("front exists");
            match persist.write {
                Write::Verify { op, checksum } => verified.push((op, checksum, self.verify(op, checksum))),
                Write::Entry(entry) => {
                    let replaced = self.entries.get(&entry.header.op).and_then(|slot| slot.header);
                    dropped |= replaced.is_some_and(|header| header != entry.header);
                    self.store_entry(entry);
                }
                write => {
                    dropped = true;
                    self.apply(write);
                }
            }
        }
        (verified, dropped)
    }

    pub fn superblock_release(&self) -> Option<crate::release::Release> {
        self.superblock.as_ref().map(|superblock| superblock.release)
    }

    /// The op the durable checkpoint covers (0 without one).
    pub fn checkpoint_op(&self) -> Op {
        self.checkpoint.as_ref().map_or(0, |checkpoint| checkpoint.op)
    }

    /// Whether the stored entry at `op` still matches `checksum`; an entry no longer
    /// stored (trimmed or replaced since) has nothing to repair.
    fn verify(&self, op: Op, checksum: u64) -> bool {
        let Some(slot) = self.entries.get(&op) else { return true };
        let Some(header) = slot.header else { return false };
        if header.checksum != checksum {
            return true;
        }
        let body: Option<Body> = postcard::from_bytes(&slot.body).ok();
        body.is_some_and(|body| header.covers(&body))
    }

    fn store_entry(&mut self, entry: Entry) {
        let body = postcard::to_allocvec(&entry.body).expect("a body always encodes");
        self.entries.insert(entry.header.op, StoredSlot { header: Some(entry.header), body });
    }

    fn apply(&mut self, write: Write) {
        match write {
            Write::Entry(entry) => self.store_entry(entry),
            Write::Superblock(superblock) => self.superblock = Some(superblock),
            Write::Install { superblock, truncate_after, slots } => {
                self.superblock = Some(superblock);
                let _ = self.entries.split_off(&(truncate_after + 1));
                for slot in slots {
                    match slot.body {
                        Some(body) => self.store_entry(Entry { header: slot.header, body }),
                        // The header alone: it reads back as damaged, to repair.
                        None => {
                            self.entries
                                .insert(slot.header.op, StoredSlot { header: Some(slot.header), body: Vec::new() });
                        }
                    }
                }
            }
            Write::Checkpoint { data, retain_from } => {
                self.entries = self.entries.split_off(&retain_from);
                self.checkpoint = Some(data);
            }
            Write::Verify { .. } => {}
        }
    }

    /// Drop what was not durable; returns how many writes were lost.
    pub fn crash(&mut self, loss: CrashLoss) -> usize {
        let lost = self.unsynced.len();
        if loss == CrashLoss::Torn {
            let torn = self.unsynced.iter().find_map(|persist| match &persist.write {
                Write::Entry(entry) => Some(entry.clone()),
                _ => None,
            });
            if let Some(entry) = torn {
                // A torn rewrite leaves the earlier copy as it was (its header durable);
                // a torn first write leaves bytes without a readable header.
                if self.entries.get(&entry.header.op).is_none_or(|slot| slot.header.is_none()) {
                    let mut body = postcard::to_allocvec(&entry.body).expect("a body always encodes");
                    body.truncate(body.len() / 2);
                    self.entries.insert(entry.header.op, StoredSlot { header: None, body });
                }
            }
        }
        self.unsynced.clear();
        lost
    }

    /// Whether `op` with this checksum is durable here: stored (even if its body was
    /// damaged since), or covered by the checkpoint.
    pub fn holds(&self, op: Op, checksum: u64) -> bool {
        self.checkpoint.as_ref().is_some_and(|checkpoint| checkpoint.op >= op)
            || self.entries.get(&op).is_some_and(|slot| slot.header.is_some_and(|h| h.checksum == checksum))
    }

    /// Damage the stored copy of `op`, as a bad sector would. False when none is stored.
    pub fn corrupt(&mut self, op: Op) -> bool {
        match self.entries.get_mut(&op) {
            Some(slot) => {
                match slot.body.first_mut() {
                    Some(byte) => *byte ^= 0x5a,
                    None => slot.body.push(0x5a),
                }
                true
            }
            None => false,
        }
    }

    /// Read everything back, verifying each entry, as a restart does.
    pub fn read(&self) -> Durable {
        let entries = self
            .entries
            .values()
            .filter_map(|slot| {
                let header = slot.header?;
                let body: Option<Body> = postcard::from_bytes(&slot.body).ok();
                Some(match body {
                    Some(body) if header.covers(&body) => StoredEntry::Intact(Entry { header, body }),
                    _ => StoredEntry::Damaged(header),
                })
            })
            .collect();
        Durable { superblock: self.superblock.clone(), checkpoint: self.checkpoint.clone(), entries }
    }

    pub fn unsynced_writes(&self) -> usize {
        self.unsynced.len()
    }

    pub fn hash_into(&self, hasher: &mut Hasher64) {
        match &self.superblock {
            Some(superblock) => {
                hasher.write_u64(superblock.view);
                hasher.write_u64(superblock.log_view);
                hasher.write_u64(superblock.log_start);
                hasher.write_u64(crate::message::release_word(superblock.release));
            }
            None => hasher.write_u64(u64::MAX),
        }
        if let Some(checkpoint) = &self.checkpoint {
            hasher.write_u64(checkpoint.op);
            hasher.write_u64(checkpoint.last_header.checksum);
            hasher.write_bytes(&checkpoint.state);
            hasher.write_bytes(&checkpoint.sessions);
        }
        hasher.write_u64(self.entries.len() as u64);
        for (op, slot) in &self.entries {
            hasher.write_u64(*op);
            hasher.write_u64(slot.header.map_or(0, |header| header.checksum));
            hasher.write_bytes(&slot.body);
        }
    }
}
