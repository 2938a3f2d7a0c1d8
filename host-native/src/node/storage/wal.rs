//! The write-ahead log: appending records, and replaying a file at open.
//!
//! Every record is written twice over: the record itself in `wal.<generation>`, and its
//! header with its offset as a slot in `wal-headers.<generation>`. Both files are
//! fdatasynced before a batch is reported durable, so a single fault after a sync (a
//! flipped or zeroed header, a zeroed block, a cut tail, in either file) leaves every
//! synced record's header readable in one of them. Replay merges the two by WAL offset:
//! a record whose WAL header is gone or unreadable but whose slot is readable comes back
//! `Damaged(header)`, never missing (the replica repairs it from its peers and never
//! counts it as a nack).
//!
//! Records written between two fsyncs share a batch number. A batch is written only
//! after the one before it was fsynced, so a stretch that neither file explains followed
//! by a record of a newer batch is damage to durable data (skipped, the rest is kept),
//! while such a stretch inside the newest batch is a torn write (both files are cut
//! there). The limits: a torn write can leave a slot whose record never reached the WAL
//! whole, and that never-acknowledged record then comes back `Damaged` rather than being
//! dropped (safe either way); and a synced record is lost only when both of its copies
//! are (two faults).
//!
//! Open leaves the two files agreeing before anything is appended. When every kept
//! record is whole in the WAL, it cuts the torn tails in place and appends the slots the
//! header file lacks (or writes that file anew). Otherwise (a record known only from its
//! slot) it writes the live entries to a new generation, as compaction does: a restored
//! entry becomes a header-only record there, in both files again, so that the next
//! single fault is survived too.

use std::collections::{BTreeMap, BTreeSet};
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
    decode_headers_file_header, encode_headers_file_header, encode_wal_header, wal_file, wal_headers_file, HeaderSlot,
    RecordHeader, RecordKind, HEADERS_FILE_HEADER_BYTES, HEADER_SLOT_BYTES, RECORD_HEADER_BYTES,
    RECORD_PAYLOAD_MAX_BYTES, WAL_HEADER_BYTES,
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
                if self.header.covers(&body) {
                    return StoredEntry::Intact(Entry { header: self.header, body });
                }
            }
        }
        StoredEntry::Damaged(self.header)
    }

    /// This record's payload within a whole WAL file, unless the file ends before it.
    pub fn payload_in<'a>(&self, wal_bytes: &'a [u8]) -> Option<&'a [u8]> {
        let start = usize::try_from(self.payload_offset).ok()?;
        wal_bytes.get(start..start.checked_add(self.payload_len as usize)?)
    }

    /// [`Located::read_back`] from a whole WAL file; a payload cut off reads back damaged.
    pub fn read_back_in(&self, wal_bytes: &[u8]) -> StoredEntry {
        match self.payload_in(wal_bytes) {
            Some(payload) => self.read_back(payload),
            None => StoredEntry::Damaged(self.header),
        }
    }
}

/// The header file beside a WAL: one [`HeaderSlot`] per record, in append order.
struct HeadersFile {
    path: PathBuf,
    file: File,
    /// Bytes already handed to the OS.
    written: u64,
    pending: Vec<u8>,
}

impl HeadersFile {
    fn create(dir: &Path, generation: u64, nonce: u64, disk: &mut Disk) -> Result<HeadersFile, StorageError> {
        let path = dir.join(wal_headers_file(generation));
        let file = create_file(&path)?;
        disk.write_at(&file, &path, 0, &encode_headers_file_header(generation, nonce))?;
        Ok(HeadersFile { path, file, written: HEADERS_FILE_HEADER_BYTES, pending: Vec::new() })
    }

    fn flush(&mut self, disk: &mut Disk) -> Result<(), StorageError> {
        if self.pending.is_empty() {
            return Ok(());
        }
        disk.write_at(&self.file, &self.path, self.written, &self.pending)?;
        self.written += self.pending.len() as u64;
        self.pending.clear();
        Ok(())
    }
}

fn create_file(path: &Path) -> Result<File, StorageError> {
    OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(true)
        .open(path)
        .map_err(StorageError::io(path, "create"))
}

pub struct Wal {
    pub path: PathBuf,
    pub generation: u64,
    pub nonce: u64,
    file: File,
    headers: HeadersFile,
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
    /// A new, empty WAL and header file (file headers only; not yet synced).
    pub fn create(dir: &Path, generation: u64, nonce: u64, disk: &mut Disk) -> Result<Wal, StorageError> {
        let path = dir.join(wal_file(generation));
        let file = create_file(&path)?;
        let header = encode_wal_header(generation, nonce);
        disk.write_at(&file, &path, 0, &header)?;
        let headers = HeadersFile::create(dir, generation, nonce, disk)?;
        Ok(Wal {
            path,
            generation,
            nonce,
            file,
            headers,
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

    /// An existing WAL whose every kept record `replayed` found whole in it (the file is
    /// already cut to `replayed.valid_len`). Brings the header file in line first: cuts
    /// what it holds past the kept records and appends the slots it lacks (or writes it
    /// anew when its own header is unreadable or it is missing), then syncs it.
    pub fn reopen(
        dir: &Path,
        generation: u64,
        nonce: u64,
        file: File,
        replayed: Replayed,
        disk: &mut Disk,
    ) -> Result<Wal, StorageError> {
        let path = dir.join(wal_file(generation));
        let headers_path = dir.join(wal_headers_file(generation));
        let kept_slots = replayed.headers.kept_slots;
        let slots_end = HEADERS_FILE_HEADER_BYTES + (kept_slots.unwrap_or(0) * HEADER_SLOT_BYTES) as u64;
        let missing = &replayed.kept[kept_slots.unwrap_or(0)..];
        let headers = match kept_slots {
            Some(_) if missing.is_empty() && replayed.headers.file_len == slots_end => {
                let file = OpenOptions::new()
                    .read(true)
                    .write(true)
                    .open(&headers_path)
                    .map_err(StorageError::io(&headers_path, "open"))?;
                HeadersFile { path: headers_path, file, written: slots_end, pending: Vec::new() }
            }
            Some(_) => {
                let file = OpenOptions::new()
                    .read(true)
                    .write(true)
                    .open(&headers_path)
                    .map_err(StorageError::io(&headers_path, "open"))?;
                file.set_len(slots_end).map_err(StorageError::io(&headers_path, "truncate"))?;
                let mut headers = HeadersFile { path: headers_path, file, written: slots_end, pending: Vec::new() };
                for slot in missing {
                    headers.pending.extend_from_slice(&slot.encode(nonce));
                }
                headers.flush(disk)?;
                disk.sync_data(&headers.file, &headers.path)?;
                headers
            }
            None => {
                // Missing, unreadable or with a damaged header: the WAL holds every kept
                // record, so the file is written anew from it.
                let mut headers = HeadersFile::create(dir, generation, nonce, disk)?;
                for slot in missing {
                    headers.pending.extend_from_slice(&slot.encode(nonce));
                }
                headers.flush(disk)?;
                disk.sync_data(&headers.file, &headers.path)?;
                disk.sync_dir(dir)?;
                headers
            }
        };
        Ok(Wal {
            path,
            generation,
            nonce,
            file,
            headers,
            len: replayed.valid_len,
            written: replayed.valid_len,
            pending: Vec::new(),
            unsynced: false,
            batch: replayed.next_batch,
            index_in_batch: 0,
            entries: replayed.entries,
            live_bytes: replayed.live_bytes,
        })
    }

    #[cfg(test)]
    pub fn headers_path(&self) -> &Path {
        &self.headers.path
    }

    /// Removes this generation's files (it was replaced); a leftover is removed at the next open.
    pub fn remove_files(&self) {
        for path in [&self.path, &self.headers.path] {
            if let Err(error) = std::fs::remove_file(path) {
                tracing::warn!(path = %path.display(), "could not remove a replaced log file: {error}");
            }
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
    /// damaged body stays damaged; without a payload (it could not be read), the header alone.
    pub fn append_copy(&mut self, from: &Located, payload: Option<&[u8]>, disk: &mut Disk) -> Result<(), StorageError> {
        match payload {
            Some(payload) => self.append_located(from.header, from.kind, payload, from.payload_checksum, disk),
            None => self.append_entry(from.header, None, disk),
        }
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

    /// Queues one record and its slot; returns where its payload will sit.
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
            entry_parent: entry.parent,
            payload_checksum,
        };
        self.pending.extend_from_slice(&record.encode(self.nonce));
        self.pending.extend_from_slice(payload);
        self.headers.pending.extend_from_slice(&HeaderSlot::new(self.len, record).encode(self.nonce));
        self.index_in_batch = self.index_in_batch.saturating_add(1);
        let payload_offset = self.len + RECORD_HEADER_BYTES as u64;
        self.len += record.record_bytes();
        self.unsynced = true;
        if self.pending.len() >= PENDING_FLUSH_BYTES {
            self.flush(disk)?;
        }
        Ok(payload_offset)
    }

    /// Hands pending records to the OS (not yet durable), so reads see them. The WAL is
    /// written before the header file: a write cut short (a full disk) then leaves no
    /// slot for a record that is not whole in the WAL.
    pub fn flush(&mut self, disk: &mut Disk) -> Result<(), StorageError> {
        if !self.pending.is_empty() {
            disk.write_at(&self.file, &self.path, self.written, &self.pending)?;
            self.written += self.pending.len() as u64;
            self.pending.clear();
        }
        self.headers.flush(disk)
    }

    /// Writes and fsyncs everything appended, in both files; the next records start a new batch.
    pub fn sync(&mut self, disk: &mut Disk) -> Result<(), StorageError> {
        self.flush(disk)?;
        if self.unsynced {
            disk.sync_data_both((&self.file, &self.path), (&self.headers.file, &self.headers.path))?;
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

/// What replaying a WAL file and its header file found.
#[derive(Debug, Default)]
pub struct Replayed {
    pub entries: BTreeMap<Op, Located>,
    pub live_bytes: u64,
    /// Where the kept records end once a torn tail is cut. Past the file's end when
    /// records known only from their slots were cut off the WAL.
    pub valid_len: u64,
    pub next_batch: u64,
    /// WAL bytes before `valid_len` that did not read as records.
    pub damaged_bytes: u64,
    /// Every kept record (superseded ones too), in WAL order.
    pub kept: Vec<HeaderSlot>,
    /// Live entries whose WAL header was unreadable or cut off: known from their slots.
    pub restored: usize,
    /// Some kept record is known only from its slot, or the log lost bytes a checkpoint's
    /// trim points past: open must write a new generation rather than append to this one.
    pub needs_rewrite: bool,
    pub headers: HeadersReplayed,
}

#[derive(Debug, Default)]
pub struct HeadersReplayed {
    /// The header file's length (0 when missing or unreadable).
    pub file_len: u64,
    /// How many leading slots describe `kept` exactly; `None` when the file's header is
    /// unreadable (or the file missing), so it must be written anew.
    pub kept_slots: Option<usize>,
    /// Kept records that no readable slot describes (the header file lost or never got them).
    pub missing_slots: usize,
}

/// A record the WAL or the header file knows of.
struct Candidate {
    offset: u64,
    record: RecordHeader,
    /// Its header is readable in the WAL (and the record whole).
    in_wal: bool,
    /// A readable slot describes it.
    in_headers: bool,
}

impl Candidate {
    fn end(&self) -> u64 {
        self.offset.saturating_add(self.record.record_bytes())
    }

    /// Known from its slot alone, the entry is its header: it reads back damaged (the
    /// replica repairs it from its peers), whatever bytes now sit where its body was.
    fn located(&self) -> Located {
        let payload_offset = self.offset + RECORD_HEADER_BYTES as u64;
        let header = self.record.entry_header();
        if !self.in_wal {
            return Located {
                header,
                kind: RecordKind::HeaderOnly,
                payload_offset,
                payload_len: 0,
                payload_checksum: checksum64(&[]),
            };
        }
        Located {
            header,
            kind: self.record.kind,
            payload_offset,
            payload_len: self.record.payload_len,
            payload_checksum: self.record.payload_checksum,
        }
    }
}

/// A stretch of the WAL no known record covers, and the index of the first record after it.
struct Gap {
    start: u64,
    next: usize,
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

/// A record found at an offset of the WAL.
type Found = (u64, RecordHeader);

/// The records readable in a whole WAL file, and the unreadable stretches `(start, end)`.
fn scan_wal(bytes: &[u8], nonce: u64) -> (Vec<Found>, Vec<(u64, u64)>) {
    let mut found = Vec::new();
    let mut gaps = Vec::new();
    let mut offset = (WAL_HEADER_BYTES as usize).min(bytes.len());
    while offset < bytes.len() {
        if let Some(header) = record_at(bytes, offset, nonce) {
            found.push((offset as u64, header));
            offset += header.record_bytes() as usize;
        } else {
            // Records are self-delimiting only while readable: look for the next one.
            let next = (offset + 1..bytes.len())
                .find(|candidate| record_at(bytes, *candidate, nonce).is_some())
                .unwrap_or(bytes.len());
            gaps.push((offset as u64, next as u64));
            offset = next;
        }
    }
    (found, gaps)
}

/// The slots of a whole header file (`None` for an unreadable one), and whether its own
/// header names this WAL.
fn scan_headers(bytes: &[u8], nonce: u64) -> (Vec<Option<HeaderSlot>>, bool) {
    let header_valid = decode_headers_file_header(bytes).is_some_and(|(_, found)| found == nonce);
    let slots = bytes
        .get(HEADERS_FILE_HEADER_BYTES as usize..)
        .unwrap_or_default()
        .chunks(HEADER_SLOT_BYTES)
        .map(|slot| HeaderSlot::decode(slot, nonce))
        .collect();
    (slots, header_valid)
}

/// Replays a whole WAL file (header included) with its whole header file, if it could be
/// read: which entries are live, and where the torn tail, if any, begins. `trim` is a
/// checkpoint's `(wal_offset, retain_from)`: it applies to the records before that offset.
pub fn replay(bytes: &[u8], headers: Option<&[u8]>, nonce: u64, mut trim: Option<(u64, Op)>) -> Replayed {
    let (found, wal_gaps) = scan_wal(bytes, nonce);
    let (slots, headers_valid) = headers.map_or((Vec::new(), false), |headers| scan_headers(headers, nonce));

    // Every record either file knows of, by WAL offset. The WAL's own header wins; a slot
    // that disagrees with it, or overlaps a known record, describes nothing live.
    let mut known: BTreeMap<u64, Candidate> = found
        .iter()
        .map(|(offset, record)| {
            (*offset, Candidate { offset: *offset, record: *record, in_wal: true, in_headers: false })
        })
        .collect();
    for slot in slots.iter().flatten() {
        if let Some(known) = known.get_mut(&slot.offset) {
            known.in_headers |= HeaderSlot::new(known.offset, known.record) == *slot;
            continue;
        }
        let candidate = Candidate { offset: slot.offset, record: slot.record, in_wal: false, in_headers: true };
        let overlaps = candidate.offset < WAL_HEADER_BYTES
            || known.range(..=candidate.offset).next_back().is_some_and(|(_, before)| before.end() > candidate.offset)
            || known.range(candidate.offset..).next().is_some_and(|(offset, _)| *offset < candidate.end());
        if !overlaps {
            known.insert(candidate.offset, candidate);
        }
    }
    let candidates: Vec<Candidate> = known.into_values().collect();

    let mut gaps = Vec::new();
    let mut covered = WAL_HEADER_BYTES.min(bytes.len() as u64);
    for (index, candidate) in candidates.iter().enumerate() {
        if candidate.offset > covered {
            gaps.push(Gap { start: covered, next: index });
        }
        covered = candidate.end();
    }
    if covered < bytes.len() as u64 {
        gaps.push(Gap { start: covered, next: candidates.len() });
    }
    let tail_batch = candidates.last().map(|candidate| candidate.record.batch);
    let torn = gaps.iter().find(|gap| match candidates.get(gap.next) {
        None => true,
        // A record of the newest batch after the gap, but not its first: the gap holds
        // part of that batch, which may never have been synced.
        Some(next) => Some(next.record.batch) == tail_batch && next.record.index_in_batch > 0,
    });
    let (valid_len, kept_records) = match torn {
        Some(gap) => (gap.start, gap.next),
        None => (covered, candidates.len()),
    };
    let kept = &candidates[..kept_records];

    let mut replayed = Replayed {
        valid_len,
        damaged_bytes: wal_gaps
            .iter()
            .filter(|(start, _)| *start < valid_len)
            .map(|(start, end)| end.min(&valid_len) - start)
            .sum(),
        kept: kept.iter().map(|candidate| HeaderSlot::new(candidate.offset, candidate.record)).collect(),
        needs_rewrite: kept.iter().any(|candidate| !candidate.in_wal)
            || trim.is_some_and(|(offset, _)| offset > valid_len),
        ..Replayed::default()
    };
    let mut restored = BTreeSet::new();
    for candidate in kept {
        if let Some((_, retain_from)) = trim.filter(|(offset, _)| candidate.offset >= *offset) {
            replayed.live_bytes -= trim_entries(&mut replayed.entries, retain_from);
            trim = None;
        }
        let located = candidate.located();
        replayed.live_bytes += located.record_bytes();
        if let Some(superseded) = replayed.entries.insert(located.header.op, located) {
            replayed.live_bytes -= superseded.record_bytes();
        }
        if candidate.in_wal {
            restored.remove(&located.header.op);
        } else {
            restored.insert(located.header.op);
        }
    }
    if let Some((_, retain_from)) = trim {
        replayed.live_bytes -= trim_entries(&mut replayed.entries, retain_from);
    }
    replayed.restored = restored.iter().filter(|op| replayed.entries.contains_key(op)).count();
    replayed.next_batch = kept.last().map_or(0, |candidate| candidate.record.batch + 1);
    replayed.headers = HeadersReplayed {
        file_len: headers.map_or(0, |headers| headers.len() as u64),
        kept_slots: headers_valid.then(|| {
            slots.iter().zip(&replayed.kept).take_while(|(slot, kept)| slot.is_some_and(|slot| slot == **kept)).count()
        }),
        missing_slots: kept.iter().filter(|candidate| !candidate.in_headers).count(),
    };
    replayed
}
