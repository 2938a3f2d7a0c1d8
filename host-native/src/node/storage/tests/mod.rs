//! Tests against the simulator's storage (`core/src/sim/storage.rs`), which defines the
//! semantics every host must match.

mod damage;
mod faults;
mod headers;
mod semantics;
mod speed;

use std::fs::OpenOptions;
use std::os::unix::fs::FileExt;
use std::path::Path;

use tempfile::TempDir;
use viewstamp_core::message::{Body, CheckpointData, Entry, Header, Request, Slot};
use viewstamp_core::release::Release;
use viewstamp_core::replica::membership::ConfigState;
use viewstamp_core::replica::{format_durable, Durable, Persist, Superblock, Write};
use viewstamp_core::sim::storage::SimStorage;
use viewstamp_core::types::{Op, View};
use viewstamp_core::upgrade::UpgradeState;

use super::{format, open, Completion, Identity, Storage, StorageOptions};

pub const IDENTITY: Identity = Identity { cluster: 0xC1_05_7E_12, member: 2 };

pub fn release() -> Release {
    Release::new(1, 0, 0)
}

pub fn superblock(view: View, log_view: View, log_start: Op) -> Superblock {
    Superblock { view, log_view, log_start, release: release() }
}

pub fn entry(op: Op, view: View, operation_bytes: usize) -> Entry {
    let request = Request { client: 7, session: 0, request: op, operation: vec![(op % 251) as u8; operation_bytes] };
    // Storage does not check the chain: a parent that names the op is enough here.
    Entry::new(op, view, op.wrapping_sub(1), Body::Requests(vec![request]))
}

pub fn slot(entry: &Entry, with_body: bool) -> Slot {
    Slot { header: entry.header, body: with_body.then(|| entry.body.clone()) }
}

pub fn checkpoint(op: Op, last_header: Header) -> CheckpointData {
    CheckpointData {
        op,
        last_header,
        upgrade: UpgradeState::new(release()),
        config: ConfigState::initial(3, 0),
        state: vec![op as u8; 48],
        sessions: vec![1, 2, 3],
    }
}

pub fn fast_options() -> StorageOptions {
    StorageOptions { fsync: false, ..StorageOptions::default() }
}

pub fn formatted_dir() -> TempDir {
    let dir = tempfile::tempdir().expect("a temporary directory");
    format(dir.path(), IDENTITY, &format_durable(release())).expect("format");
    dir
}

/// XORs one byte of a file, as a bad sector or a cosmic ray would.
pub fn flip_byte(path: &Path, offset: u64) {
    let file = OpenOptions::new().read(true).write(true).open(path).expect("open for damage");
    let mut byte = [0u8; 1];
    file.read_exact_at(&mut byte, offset).expect("read the byte to flip");
    file.write_all_at(&[byte[0] ^ 0x5a], offset).expect("flip the byte");
}

/// The 4 KiB block of a file holding `offset`, up to the file's end.
pub fn block_of(path: &Path, offset: u64) -> std::ops::Range<u64> {
    let start = offset / 4096 * 4096;
    start..(start + 4096).min(file_len(path))
}

/// Zeroes the 4 KiB block holding `offset` (up to the file's end), as a lost sector would.
pub fn zero_block(path: &Path, offset: u64) {
    let block = block_of(path, offset);
    let file = OpenOptions::new().write(true).open(path).expect("open for damage");
    file.write_all_at(&vec![0; (block.end - block.start) as usize], block.start).expect("zero the block");
}

/// Cuts `bytes` off the end of a file, as a lost tail would.
pub fn cut_tail(path: &Path, bytes: u64) {
    let file = OpenOptions::new().write(true).open(path).expect("open for damage");
    let len = file.metadata().expect("stat").len();
    file.set_len(len.saturating_sub(bytes)).expect("cut the tail");
}

pub fn file_len(path: &Path) -> u64 {
    std::fs::metadata(path).expect("stat").len()
}

/// A copy of a data directory, to damage without touching the original.
pub fn copy_dir(from: &Path) -> TempDir {
    let to = tempfile::tempdir().expect("a temporary directory");
    for entry in std::fs::read_dir(from).expect("list") {
        let entry = entry.expect("an entry");
        std::fs::copy(entry.path(), to.path().join(entry.file_name())).expect("copy");
    }
    to
}

/// The node's storage and the simulator's, fed the same writes.
pub struct Twin {
    pub dir: TempDir,
    pub options: StorageOptions,
    pub storage: Storage,
    pub sim: SimStorage,
    next_id: u64,
}

impl Twin {
    pub fn new(options: StorageOptions) -> Twin {
        let dir = formatted_dir();
        let (storage, durable) = open(dir.path(), IDENTITY, options.clone()).expect("open");
        let sim = SimStorage::formatted(release());
        assert_eq!(durable, sim.read());
        Twin { dir, options, storage, sim, next_id: 1 }
    }

    pub fn persists(&mut self, writes: Vec<Write>) -> Vec<Persist> {
        writes
            .into_iter()
            .map(|write| {
                self.next_id += 1;
                Persist { id: self.next_id - 1, write }
            })
            .collect()
    }

    /// Applies one batch to both and checks the completions agree.
    pub fn apply(&mut self, writes: Vec<Write>) -> Vec<Completion> {
        let batch = self.persists(writes);
        let completions = self.storage.apply(&batch).expect("apply");
        let last = batch.last().expect("a non-empty batch").id;
        for persist in batch {
            self.sim.submit(persist);
        }
        let mut expected = vec![Completion::Persisted { id: last }];
        expected.extend(self.sim.complete(last).0.into_iter().map(|(op, checksum, intact)| Completion::Verified {
            op,
            checksum,
            intact,
        }));
        assert_eq!(completions, expected);
        completions
    }

    pub fn reopen(&mut self) -> Durable {
        let (storage, durable) = open(self.dir.path(), IDENTITY, self.options.clone()).expect("reopen");
        self.storage = storage;
        durable
    }

    pub fn assert_reopens_as_sim(&mut self) {
        let durable = self.reopen();
        assert_eq!(durable, self.sim.read());
    }

    pub fn wal_path(&self) -> std::path::PathBuf {
        self.storage.wal.path.clone()
    }

    pub fn headers_path(&self) -> std::path::PathBuf {
        self.storage.wal.headers_path().to_path_buf()
    }

    /// Where the record of the entry at `op` starts, and where its payload starts.
    pub fn record_offsets(&self, op: Op) -> (u64, u64) {
        let located = self.storage.wal.entries.get(&op).expect("the entry is stored");
        (located.payload_offset - super::layout::RECORD_HEADER_BYTES as u64, located.payload_offset)
    }

    /// Where the record of the entry at `op` ends.
    pub fn record_end(&self, op: Op) -> u64 {
        let located = self.storage.wal.entries.get(&op).expect("the entry is stored");
        located.payload_offset + located.payload_len as u64
    }

    /// Where the newest slot for `op` sits in the header file.
    pub fn slot_offset(&self, op: Op) -> u64 {
        use super::layout::{HeaderSlot, HEADERS_FILE_HEADER_BYTES, HEADER_SLOT_BYTES};
        let bytes = std::fs::read(self.headers_path()).expect("read the header file");
        let slots = bytes[HEADERS_FILE_HEADER_BYTES as usize..].chunks(HEADER_SLOT_BYTES);
        let (index, _) = slots
            .enumerate()
            .rev()
            .find(|(_, slot)| HeaderSlot::decode(slot, self.storage.wal.nonce).is_some_and(|slot| slot.record.op == op))
            .expect("a slot for the op");
        HEADERS_FILE_HEADER_BYTES + (index * HEADER_SLOT_BYTES) as u64
    }
}
