//! The write-ahead log: appending records, and replaying a file at open.
//!
//! Records written between two fsyncs share a batch number. A batch is written only
//! after the one before it was fsynced, so an unreadable stretch followed by a record
//! of a newer batch is damage to durable data (skipped, the rest is kept), while an
//! unreadable stretch inside the newest batch is a torn write (the file is cut there).
//! The limit: a record header damaged inside the newest batch after it was synced is
//! taken for a tear too, and that batch's records from it on are dropped.

use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use viewstamp_core::checksum::checksum64;
use viewstamp_core::message::Entry;
use viewstamp_core::message::{Body, Header};
use viewstamp_core::replica::StoredEntry;
use viewstamp_core::types::Op;

use super::disk::Disk;
use super::layout::{
    encode_wal_header, wal_file, RecordHeader, RecordKind, RECORD_HEADER_BYTES, RECORD_PAYLOAD_MAX_BYTES,
    WAL_HEADER_BYTES,
};
use super::StorageError;

/// Pending record bytes are handed to the OS past this size, to bound memory.
const PENDING_FLUSH_BYTES: usize = 1 << 20;

/// Where a live entry's record sits in the WAL file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Located {
    pub header: Header,
    pub kind: RecordKind,
    pub payload_offset: u64,
    pub payload_len: u32,
    pub payload_checksum: u64,
}

impl Located {
    pub fn record_bytes(&self) -> u64 {
        RECORD_HEADER_BYTES as u64 + self.payload_len as u64
    }

    /// Whether `payload` (read from this record) still holds the body its header names.
    pub fn read_back(&self, payload: &[u8]) -> StoredEntry {
        if self.kind == RecordKind::Entry && checksum64(payload) == self.payload_checksum {
            if let Ok(body) = postcard::from_bytes::<Body>(payload) {
                if body.checksum(self.header.op, self.header.view) == self.header.checksum {
                    return StoredEntry::Intact(Entry { header: self.header, body });
                }
            }
        }
        StoredEntry::Damaged(self.header)
    }
}

pub struct Wal {
    pub path: PathBuf,
    pub generation: u64,
    pub nonce: u64,
    file: File,
    /// Bytes in the file, pending ones included.
    len: u64,
    /// Bytes already handed to the OS.
    written: u64,
    pending: Vec<u8>,
    unsynced: bool,
    batch: u64,
    index_in_batch: u32,
    /// The live entries by op; later records supersede earlier ones.
    pub entries: BTreeMap<Op, Located>,
    live_bytes: u64,
}

impl Wal {
    /// A new, empty WAL file (header only; not yet synced).
    pub fn create(dir: &Path, generation: u64, nonce: u64, disk: &mut Disk) -> Result<Wal, StorageError> {
        let path = dir.join(wal_file(generation));
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(&path)
            .map_err(StorageError::io(&path, "create"))?;
        let header = encode_wal_header(generation, nonce);
        disk.write_at(&file, &path, 0, &header)?;
        Ok(Wal {
            path,
            generation,
            nonce,
            file,
            len: WAL_HEADER_BYTES,
            written: WAL_HEADER_BYTES,
            pending: Vec::new(),
            unsynced: true,
            batch: 0,
            index_in_batch: 0,
            entries: BTreeMap::new(),
            live_bytes: 0,
        })
    }

    /// An existing WAL whose valid prefix `replayed` describes (the file is already cut to it).
    pub fn reopen(path: PathBuf, generation: u64, nonce: u64, file: File, replayed: Replayed) -> Wal {
        Wal {
            path,
            generation,
            nonce,
            file,
            len: replayed.valid_len,
            written: replayed.valid_len,
            pending: Vec::new(),
            unsynced: false,
            batch: replayed.next_batch,
            index_in_batch: 0,
            entries: replayed.entries,
            live_bytes: replayed.live_bytes,
        }
    }

    pub fn len(&self) -> u64 {
        self.len
    }

    /// Bytes a compacted copy of this WAL would hold.
    pub fn live_bytes(&self) -> u64 {
        WAL_HEADER_BYTES + self.live_bytes
    }

    pub fn dead_bytes(&self) -> u64 {
        self.len.saturating_sub(self.live_bytes())
    }

    /// Stores an entry, or its header alone when `body` is `None` (it then reads back damaged).
    pub fn append_entry(&mut self, header: Header, body: Option<&Body>, disk: &mut Disk) -> Result<(), StorageError> {
        match body {
            Some(body) => {
                let payload = postcard::to_allocvec(body)
                    .map_err(|error| StorageError::Encode { what: "entry body", detail: error.to_string() })?;
                let payload_checksum = checksum64(&payload);
                self.append_located(header, RecordKind::Entry, &payload, payload_checksum, disk)
            }
            None => self.append_located(header, RecordKind::HeaderOnly, &[], checksum64(&[]), disk),
        }
    }

    /// Stores a record copied from another WAL, keeping its payload checksum so that a
    /// damaged body stays damaged.
    pub fn append_copy(&mut self, from: &Located, payload: &[u8], disk: &mut Disk) -> Result<(), StorageError> {
        self.append_located(from.header, from.kind, payload, from.payload_checksum, disk)
    }

    /// Drops every entry before `retain_from`. Durable through the checkpoint file,
    /// which records where in this WAL the trim happened.
    pub fn trim(&mut self, retain_from: Op) {
        self.live_bytes -= trim_entries(&mut self.entries, retain_from);
    }

    fn append_located(
        &mut self,
        header: Header,
        kind: RecordKind,
        payload: &[u8],
        payload_checksum: u64,
        disk: &mut Disk,
    ) -> Result<(), StorageError> {
        let payload_offset = self.append(kind, header, payload, payload_checksum, disk)?;
        let located = Located { header, kind, payload_offset, payload_len: payload.len() as u32, payload_checksum };
        self.live_bytes += located.record_bytes();
        if let Some(superseded) = self.entries.insert(header.op, located) {
            self.live_bytes -= superseded.record_bytes();
        }
        Ok(())
    }

    /// Queues one record; returns where its payload will sit.
    fn append(
        &mut self,
        kind: RecordKind,
        entry: Header,
        payload: &[u8],
        payload_checksum: u64,
        disk: &mut Disk,
    ) -> Result<u64, StorageError> {
        if payload.len() as u64 > RECORD_PAYLOAD_MAX_BYTES {
            return Err(StorageError::TooLarge { what: "log record", bytes: payload.len() as u64 });
        }
        let record = RecordHeader {
            kind,
            payload_len: payload.len() as u32,
            batch: self.batch,
            index_in_batch: self.index_in_batch,
            op: entry.op,
            view: entry.view,
            entry_checksum: entry.checksum,
            payload_checksum,
        };
        self.pending.extend_from_slice(&record.encode(self.nonce));
        self.pending.extend_from_slice(payload);
        self.index_in_batch = self.index_in_batch.saturating_add(1);
        let payload_offset = self.len + RECORD_HEADER_BYTES as u64;
        self.len += record.record_bytes();
        self.unsynced = true;
        if self.pending.len() >= PENDING_FLUSH_BYTES {
            self.flush(disk)?;
        }
        Ok(payload_offset)
    }

    /// Hands pending records to the OS (not yet durable), so reads see them.
    pub fn flush(&mut self, disk: &mut Disk) -> Result<(), StorageError> {
        if self.pending.is_empty() {
            return Ok(());
        }
        disk.write_at(&self.file, &self.path, self.written, &self.pending)?;
        self.written += self.pending.len() as u64;
        self.pending.clear();
        Ok(())
    }

    /// Writes and fsyncs everything appended; the next records start a new batch.
    pub fn sync(&mut self, disk: &mut Disk) -> Result<(), StorageError> {
        self.flush(disk)?;
        if self.unsynced {
            disk.sync_data(&self.file, &self.path)?;
            self.unsynced = false;
            self.batch += 1;
            self.index_in_batch = 0;
        }
        Ok(())
    }

    /// Reads an entry's payload back from the file (pending records must be flushed first).
    pub fn read_payload(&self, located: &Located) -> std::io::Result<Vec<u8>> {
        let mut payload = vec![0; located.payload_len as usize];
        self.file.read_exact_at(&mut payload, located.payload_offset)?;
        Ok(payload)
    }
}

/// What replaying a WAL file found.
#[derive(Debug, Default)]
pub struct Replayed {
    pub entries: BTreeMap<Op, Located>,
    pub live_bytes: u64,
    /// The file's length once a torn tail is cut.
    pub valid_len: u64,
    pub next_batch: u64,
    pub damaged_bytes: u64,
}

struct Found {
    offset: usize,
    header: RecordHeader,
}

/// An unreadable stretch, and the index in `found` of the first record after it.
struct Gap {
    start: usize,
    end: usize,
    next_found: usize,
}

fn record_at(bytes: &[u8], offset: usize, nonce: u64) -> Option<RecordHeader> {
    let header = RecordHeader::decode(&bytes[offset..], nonce)?;
    let end = offset as u64 + header.record_bytes();
    (end <= bytes.len() as u64).then_some(header)
}

/// Drops the entries before `retain_from`; returns the record bytes they held.
fn trim_entries(entries: &mut BTreeMap<Op, Located>, retain_from: Op) -> u64 {
    let kept = entries.split_off(&retain_from);
    let dropped_bytes = entries.values().map(Located::record_bytes).sum();
    *entries = kept;
    dropped_bytes
}

/// Replays a whole WAL file (header included): which entries are live, and where the
/// torn tail, if any, begins. `trim` is a checkpoint's `(wal_offset, retain_from)`: it
/// applies to the records before that offset.
pub fn replay(bytes: &[u8], nonce: u64, mut trim: Option<(u64, Op)>) -> Replayed {
    let mut found = Vec::new();
    let mut gaps = Vec::new();
    let mut offset = (WAL_HEADER_BYTES as usize).min(bytes.len());
    while offset < bytes.len() {
        if let Some(header) = record_at(bytes, offset, nonce) {
            found.push(Found { offset, header });
            offset += header.record_bytes() as usize;
        } else {
            // Records are self-delimiting only while readable: look for the next one.
            let next = (offset + 1..bytes.len())
                .find(|candidate| record_at(bytes, *candidate, nonce).is_some())
                .unwrap_or(bytes.len());
            gaps.push(Gap { start: offset, end: next, next_found: found.len() });
            offset = next;
        }
    }
    let tail_batch = found.last().map(|record| record.header.batch);
    let torn = gaps.iter().position(|gap| match found.get(gap.next_found) {
        None => true,
        // A record of the newest batch after the gap, but not its first: the gap holds
        // part of that batch, which may never have been synced.
        Some(next) => Some(next.header.batch) == tail_batch && next.header.index_in_batch > 0,
    });
    let (valid_len, kept_records, damaged_gaps) = match torn {
        Some(gap) => (gaps[gap].start, gaps[gap].next_found, &gaps[..gap]),
        None => (bytes.len(), found.len(), &gaps[..]),
    };
    let mut replayed = Replayed {
        valid_len: valid_len as u64,
        damaged_bytes: damaged_gaps.iter().map(|gap| (gap.end - gap.start) as u64).sum(),
        ..Replayed::default()
    };
    for record in &found[..kept_records] {
        if let Some((_, retain_from)) = trim.filter(|(offset, _)| record.offset as u64 >= *offset) {
            replayed.live_bytes -= trim_entries(&mut replayed.entries, retain_from);
            trim = None;
        }
        let header = record.header;
        let located = Located {
            header: header.entry_header(),
            kind: header.kind,
            payload_offset: (record.offset + RECORD_HEADER_BYTES) as u64,
            payload_len: header.payload_len,
            payload_checksum: header.payload_checksum,
        };
        replayed.live_bytes += located.record_bytes();
        if let Some(superseded) = replayed.entries.insert(header.op, located) {
            replayed.live_bytes -= superseded.record_bytes();
        }
    }
    if let Some((_, retain_from)) = trim {
        replayed.live_bytes -= trim_entries(&mut replayed.entries, retain_from);
    }
    replayed.next_batch = found[..kept_records].last().map_or(0, |record| record.header.batch + 1);
    replayed
}
