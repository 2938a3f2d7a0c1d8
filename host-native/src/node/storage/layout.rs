//! The byte layout of every file in a data directory (all integers little-endian).

use serde::{Deserialize, Serialize};
use viewstamp_core::checksum::{checksum64, Hasher64};
use viewstamp_core::message::{CheckpointData, Header};
use viewstamp_core::replica::Superblock;
use viewstamp_core::types::Op;

use super::{Identity, StorageError};

pub const IDENTITY_FILE: &str = "identity";
pub const CHECKPOINT_FILE: &str = "checkpoint";
pub const TMP_SUFFIX: &str = ".tmp";
/// Appended to the files a lost-data restart moves aside.
pub const LOST_SUFFIX: &str = ".lost";
pub const SUPERBLOCK_COPIES: usize = 3;
const FORMAT_VERSION: u32 = 1;

pub fn superblock_file(copy: usize) -> String {
    format!("superblock.{copy}")
}

pub fn wal_file(generation: u64) -> String {
    format!("wal.{generation}")
}

/// The redundant copy of the record headers of WAL `generation`. Not named `wal.*`, so
/// that whatever takes `wal.*` for the log (an operator's glob, a test) still finds it.
pub fn wal_headers_file(generation: u64) -> String {
    format!("{HEADERS_PREFIX}{generation}")
}

const HEADERS_PREFIX: &str = "wal-headers.";

pub fn parse_wal_file(name: &str) -> Option<u64> {
    parse_generation(name.strip_prefix("wal.")?)
}

pub fn parse_wal_headers_file(name: &str) -> Option<u64> {
    parse_generation(name.strip_prefix(HEADERS_PREFIX)?)
}

fn parse_generation(digits: &str) -> Option<u64> {
    if digits.is_empty() || !digits.bytes().all(|byte| byte.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

// ----- identity: a small text file, so an operator can read it -----

const IDENTITY_TITLE: &str = "viewstamp data directory";

pub fn encode_identity(identity: Identity) -> Vec<u8> {
    let body = format!(
        "{IDENTITY_TITLE}\nformat {FORMAT_VERSION}\ncluster {}\nmember {}\n",
        identity.cluster, identity.member
    );
    format!("{body}checksum {:016x}\n", checksum64(body.as_bytes())).into_bytes()
}

pub fn decode_identity(bytes: &[u8]) -> Result<Identity, String> {
    let text = std::str::from_utf8(bytes).map_err(|_| "not UTF-8 text".to_string())?;
    let split = text.rfind("checksum ").ok_or("no checksum line")?;
    let (body, checksum_line) = text.split_at(split);
    let stored = u64::from_str_radix(checksum_line.trim_start_matches("checksum ").trim_end(), 16)
        .map_err(|_| "unreadable checksum line".to_string())?;
    if stored != checksum64(body.as_bytes()) {
        return Err("checksum mismatch".into());
    }
    let mut lines = body.lines();
    let mut field = |name: &str| -> Result<String, String> {
        let line = lines.next().ok_or_else(|| format!("no `{name}` line"))?;
        let value = line.strip_prefix(name).ok_or_else(|| format!("expected `{name}`, got `{line}`"))?;
        Ok(value.trim().to_string())
    };
    if !field(IDENTITY_TITLE)?.is_empty() {
        return Err("unexpected title".into());
    }
    let version = field("format")?;
    if version != FORMAT_VERSION.to_string() {
        return Err(format!("format version {version}, this binary reads {FORMAT_VERSION}"));
    }
    let cluster = field("cluster")?.parse().map_err(|_| "unreadable cluster id".to_string())?;
    let member = field("member")?.parse().map_err(|_| "unreadable member id".to_string())?;
    Ok(Identity { cluster, member })
}

// ----- superblock copies: one 512-byte block per file, so a write is a single sector -----

/// The root of a data directory: the replica's superblock and which WAL file is live.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SuperblockRecord {
    pub cluster: u64,
    pub member: u8,
    /// Grows with every superblock write; the newest valid copy wins.
    pub sequence: u64,
    /// `None` after lost data: the replica recovers through the protocol.
    pub superblock: Option<Superblock>,
    pub wal_generation: u64,
    /// Keys the WAL's record checksums, so bytes copied from elsewhere never pass as records.
    pub wal_nonce: u64,
}

pub const SUPERBLOCK_BLOCK_BYTES: usize = 512;
const SUPERBLOCK_MAGIC: &[u8; 4] = b"VSSB";
/// magic, version, copy index, payload length.
const SUPERBLOCK_PREFIX_BYTES: usize = 16;

pub fn encode_superblock(copy: usize, record: &SuperblockRecord) -> Result<Vec<u8>, StorageError> {
    let payload = postcard::to_allocvec(record)
        .map_err(|error| StorageError::Encode { what: "superblock", detail: error.to_string() })?;
    let mut block = Vec::with_capacity(SUPERBLOCK_BLOCK_BYTES);
    block.extend_from_slice(SUPERBLOCK_MAGIC);
    block.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
    block.extend_from_slice(&(copy as u32).to_le_bytes());
    block.extend_from_slice(&(payload.len() as u32).to_le_bytes());
    block.extend_from_slice(&payload);
    let checksum = checksum64(&block);
    block.extend_from_slice(&checksum.to_le_bytes());
    if block.len() > SUPERBLOCK_BLOCK_BYTES {
        return Err(StorageError::TooLarge { what: "superblock", bytes: block.len() as u64 });
    }
    block.resize(SUPERBLOCK_BLOCK_BYTES, 0);
    Ok(block)
}

/// The record of a copy, or `None` when it is torn, flipped or not a copy of index `copy`.
pub fn decode_superblock(copy: usize, block: &[u8]) -> Option<SuperblockRecord> {
    if block.len() < SUPERBLOCK_PREFIX_BYTES || &block[..4] != SUPERBLOCK_MAGIC {
        return None;
    }
    if read_u32(block, 4) != FORMAT_VERSION || read_u32(block, 8) as usize != copy {
        return None;
    }
    let end = SUPERBLOCK_PREFIX_BYTES + read_u32(block, 12) as usize;
    if end + 8 > block.len() || read_u64(block, end) != checksum64(&block[..end]) {
        return None;
    }
    postcard::from_bytes(&block[SUPERBLOCK_PREFIX_BYTES..end]).ok()
}

// ----- checkpoint: magic, version, payload length, payload checksum, payload -----

const CHECKPOINT_MAGIC: &[u8; 4] = b"VSCP";
const CHECKPOINT_PREFIX_BYTES: usize = 24;

/// A checkpoint's `retain_from`, carried by the checkpoint file itself so that the new
/// checkpoint and the trim of the log take effect together: at open, entries of WAL
/// `wal_generation` written before `wal_offset` are dropped below `retain_from`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckpointTrim {
    pub wal_generation: u64,
    pub wal_offset: u64,
    pub retain_from: Op,
}

#[derive(Serialize)]
struct CheckpointFileRef<'a> {
    data: &'a CheckpointData,
    trim: Option<CheckpointTrim>,
}

#[derive(Deserialize)]
struct CheckpointFile {
    data: CheckpointData,
    trim: Option<CheckpointTrim>,
}

pub fn encode_checkpoint(data: &CheckpointData, trim: Option<CheckpointTrim>) -> Result<Vec<u8>, StorageError> {
    let payload = postcard::to_allocvec(&CheckpointFileRef { data, trim })
        .map_err(|error| StorageError::Encode { what: "checkpoint", detail: error.to_string() })?;
    let mut file = Vec::with_capacity(CHECKPOINT_PREFIX_BYTES + payload.len());
    file.extend_from_slice(CHECKPOINT_MAGIC);
    file.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
    file.extend_from_slice(&(payload.len() as u64).to_le_bytes());
    file.extend_from_slice(&checksum64(&payload).to_le_bytes());
    file.extend_from_slice(&payload);
    Ok(file)
}

pub fn decode_checkpoint(file: &[u8]) -> Result<(CheckpointData, Option<CheckpointTrim>), String> {
    if file.len() < CHECKPOINT_PREFIX_BYTES || &file[..4] != CHECKPOINT_MAGIC {
        return Err("not a checkpoint file".into());
    }
    if read_u32(file, 4) != FORMAT_VERSION {
        return Err(format!("format version {}, this binary reads {FORMAT_VERSION}", read_u32(file, 4)));
    }
    let payload = &file[CHECKPOINT_PREFIX_BYTES..];
    if read_u64(file, 8) != payload.len() as u64 {
        return Err("length mismatch (a torn or truncated file)".into());
    }
    if read_u64(file, 16) != checksum64(payload) {
        return Err("checksum mismatch".into());
    }
    let decoded: CheckpointFile = postcard::from_bytes(payload).map_err(|error| format!("undecodable: {error}"))?;
    Ok((decoded.data, decoded.trim))
}

// ----- WAL: a header, then self-delimiting records -----

pub const WAL_HEADER_BYTES: u64 = 32;
const WAL_MAGIC: &[u8; 4] = b"VSWL";

pub fn encode_wal_header(generation: u64, nonce: u64) -> Vec<u8> {
    let mut header = Vec::with_capacity(WAL_HEADER_BYTES as usize);
    header.extend_from_slice(WAL_MAGIC);
    header.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
    header.extend_from_slice(&generation.to_le_bytes());
    header.extend_from_slice(&nonce.to_le_bytes());
    let checksum = checksum64(&header);
    header.extend_from_slice(&checksum.to_le_bytes());
    header
}

/// `(generation, nonce)`, or `None` when the header is damaged.
pub fn decode_wal_header(bytes: &[u8]) -> Option<(u64, u64)> {
    let header = bytes.get(..WAL_HEADER_BYTES as usize)?;
    let valid = &header[..4] == WAL_MAGIC
        && read_u32(header, 4) == FORMAT_VERSION
        && read_u64(header, 24) == checksum64(&header[..24]);
    valid.then(|| (read_u64(header, 8), read_u64(header, 16)))
}

pub const RECORD_HEADER_BYTES: usize = 72;
const RECORD_MAGIC: &[u8; 4] = b"VSRC";
/// A sanity bound on one record, so a damaged length never makes a reader allocate wildly.
pub const RECORD_PAYLOAD_MAX_BYTES: u64 = u32::MAX as u64;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RecordKind {
    /// An entry: the payload is its postcard-encoded body.
    Entry,
    /// A slot installed without a body: it reads back damaged, to repair.
    HeaderOnly,
}

impl RecordKind {
    fn code(self) -> u8 {
        match self {
            RecordKind::Entry => 1,
            RecordKind::HeaderOnly => 2,
        }
    }

    fn from_code(code: u8) -> Option<Self> {
        match code {
            1 => Some(RecordKind::Entry),
            2 => Some(RecordKind::HeaderOnly),
            _ => None,
        }
    }
}

/// A record's header. It is checksummed on its own (keyed by the WAL's nonce), so a
/// damaged payload still leaves the entry's header readable.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RecordHeader {
    pub kind: RecordKind,
    pub payload_len: u32,
    /// Records written between two fsyncs form a batch: a gap inside the newest batch
    /// is a torn write, a gap in an older one is damage.
    pub batch: u64,
    pub index_in_batch: u32,
    pub op: Op,
    pub view: u64,
    /// The checksum of the entry before this one, which this entry's checksum covers.
    pub entry_parent: u64,
    pub entry_checksum: u64,
    pub payload_checksum: u64,
}

impl RecordHeader {
    pub fn record_bytes(&self) -> u64 {
        RECORD_HEADER_BYTES as u64 + self.payload_len as u64
    }

    pub fn entry_header(&self) -> Header {
        Header { op: self.op, view: self.view, parent: self.entry_parent, checksum: self.entry_checksum }
    }

    pub fn encode(&self, nonce: u64) -> [u8; RECORD_HEADER_BYTES] {
        let mut bytes = [0u8; RECORD_HEADER_BYTES];
        bytes[..4].copy_from_slice(RECORD_MAGIC);
        bytes[4] = self.kind.code();
        bytes[8..12].copy_from_slice(&self.payload_len.to_le_bytes());
        bytes[12..16].copy_from_slice(&self.index_in_batch.to_le_bytes());
        bytes[16..24].copy_from_slice(&self.batch.to_le_bytes());
        bytes[24..32].copy_from_slice(&self.op.to_le_bytes());
        bytes[32..40].copy_from_slice(&self.view.to_le_bytes());
        bytes[40..48].copy_from_slice(&self.entry_checksum.to_le_bytes());
        bytes[48..56].copy_from_slice(&self.payload_checksum.to_le_bytes());
        bytes[56..64].copy_from_slice(&self.entry_parent.to_le_bytes());
        let checksum = header_checksum(&bytes[..64], nonce);
        bytes[64..72].copy_from_slice(&checksum.to_le_bytes());
        bytes
    }

    /// The header at the start of `bytes`, or `None` unless it is whole and passes its checksum.
    pub fn decode(bytes: &[u8], nonce: u64) -> Option<Self> {
        let bytes = bytes.get(..RECORD_HEADER_BYTES)?;
        if &bytes[..4] != RECORD_MAGIC || read_u64(bytes, 64) != header_checksum(&bytes[..64], nonce) {
            return None;
        }
        Some(RecordHeader {
            kind: RecordKind::from_code(bytes[4])?,
            payload_len: read_u32(bytes, 8),
            index_in_batch: read_u32(bytes, 12),
            batch: read_u64(bytes, 16),
            op: read_u64(bytes, 24),
            view: read_u64(bytes, 32),
            entry_checksum: read_u64(bytes, 40),
            payload_checksum: read_u64(bytes, 48),
            entry_parent: read_u64(bytes, 56),
        })
    }
}

fn header_checksum(bytes: &[u8], nonce: u64) -> u64 {
    let mut hasher = Hasher64::new();
    hasher.write_u64(nonce);
    hasher.write_bytes(bytes);
    hasher.finish()
}

// ----- WAL header file: a header, then one fixed-size slot per WAL record -----
//
// `wal-headers.<generation>` repeats every record header of `wal.<generation>`, with
// where the record starts, in a separate file: a single fault in the WAL (a flipped
// or zeroed header, a cut tail) leaves the header readable here, and a fault here
// leaves the WAL's own header. Slots are 128 bytes, so one never straddles a sector.

pub const HEADERS_FILE_HEADER_BYTES: u64 = 64;
const HEADERS_MAGIC: &[u8; 4] = b"VSHF";
pub const HEADER_SLOT_BYTES: usize = 128;
const SLOT_CHECKSUM_AT: usize = HEADER_SLOT_BYTES - 8;
/// Keys slot checksums apart from record header checksums under the same nonce.
const HEADER_SLOT_DOMAIN: u64 = u64::from_le_bytes(*b"VSHSLOT1");
/// `index_in_batch` has 3 bytes in a slot; only "first of its batch or not" matters there.
const SLOT_INDEX_MAX: u32 = (1 << 24) - 1;

/// magic, version, generation, nonce, zeros, checksum of the 56 bytes before it.
pub fn encode_headers_file_header(generation: u64, nonce: u64) -> Vec<u8> {
    let mut header = vec![0u8; HEADERS_FILE_HEADER_BYTES as usize];
    header[..4].copy_from_slice(HEADERS_MAGIC);
    header[4..8].copy_from_slice(&FORMAT_VERSION.to_le_bytes());
    header[8..16].copy_from_slice(&generation.to_le_bytes());
    header[16..24].copy_from_slice(&nonce.to_le_bytes());
    let checksum = checksum64(&header[..56]);
    header[56..64].copy_from_slice(&checksum.to_le_bytes());
    header
}

/// `(generation, nonce)`, or `None` when the header is damaged.
pub fn decode_headers_file_header(bytes: &[u8]) -> Option<(u64, u64)> {
    let header = bytes.get(..HEADERS_FILE_HEADER_BYTES as usize)?;
    let valid = &header[..4] == HEADERS_MAGIC
        && read_u32(header, 4) == FORMAT_VERSION
        && read_u64(header, 56) == checksum64(&header[..56]);
    valid.then(|| (read_u64(header, 8), read_u64(header, 16)))
}

/// One slot: a WAL record's header and the offset of the record in the WAL.
///
/// kind (1 byte), index in batch (3 bytes, saturating), payload length (4), batch,
/// record offset, op, view, entry checksum, payload checksum, entry parent (8 each),
/// zeros up to the slot checksum in the last 8 bytes (keyed by the WAL's nonce).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HeaderSlot {
    pub offset: u64,
    pub record: RecordHeader,
}

impl HeaderSlot {
    pub fn new(offset: u64, mut record: RecordHeader) -> Self {
        record.index_in_batch = record.index_in_batch.min(SLOT_INDEX_MAX);
        HeaderSlot { offset, record }
    }

    pub fn encode(&self, nonce: u64) -> [u8; HEADER_SLOT_BYTES] {
        let record = &self.record;
        let mut bytes = [0u8; HEADER_SLOT_BYTES];
        bytes[0] = record.kind.code();
        bytes[1..4].copy_from_slice(&record.index_in_batch.min(SLOT_INDEX_MAX).to_le_bytes()[..3]);
        bytes[4..8].copy_from_slice(&record.payload_len.to_le_bytes());
        bytes[8..16].copy_from_slice(&record.batch.to_le_bytes());
        bytes[16..24].copy_from_slice(&self.offset.to_le_bytes());
        bytes[24..32].copy_from_slice(&record.op.to_le_bytes());
        bytes[32..40].copy_from_slice(&record.view.to_le_bytes());
        bytes[40..48].copy_from_slice(&record.entry_checksum.to_le_bytes());
        bytes[48..56].copy_from_slice(&record.payload_checksum.to_le_bytes());
        bytes[56..64].copy_from_slice(&record.entry_parent.to_le_bytes());
        let checksum = slot_checksum(&bytes[..SLOT_CHECKSUM_AT], nonce);
        bytes[SLOT_CHECKSUM_AT..].copy_from_slice(&checksum.to_le_bytes());
        bytes
    }

    /// The slot at the start of `bytes`, or `None` unless it is whole and passes its checksum.
    pub fn decode(bytes: &[u8], nonce: u64) -> Option<Self> {
        let bytes = bytes.get(..HEADER_SLOT_BYTES)?;
        if read_u64(bytes, SLOT_CHECKSUM_AT) != slot_checksum(&bytes[..SLOT_CHECKSUM_AT], nonce) {
            return None;
        }
        let mut index = [0u8; 4];
        index[..3].copy_from_slice(&bytes[1..4]);
        let record = RecordHeader {
            kind: RecordKind::from_code(bytes[0])?,
            payload_len: read_u32(bytes, 4),
            index_in_batch: u32::from_le_bytes(index),
            batch: read_u64(bytes, 8),
            op: read_u64(bytes, 24),
            view: read_u64(bytes, 32),
            entry_checksum: read_u64(bytes, 40),
            payload_checksum: read_u64(bytes, 48),
            entry_parent: read_u64(bytes, 56),
        };
        Some(HeaderSlot { offset: read_u64(bytes, 16), record })
    }
}

fn slot_checksum(bytes: &[u8], nonce: u64) -> u64 {
    let mut hasher = Hasher64::new();
    hasher.write_u64(HEADER_SLOT_DOMAIN);
    hasher.write_u64(nonce);
    hasher.write_bytes(bytes);
    hasher.finish()
}

fn read_u32(bytes: &[u8], at: usize) -> u32 {
    let mut word = [0u8; 4];
    word.copy_from_slice(&bytes[at..at + 4]);
    u32::from_le_bytes(word)
}

fn read_u64(bytes: &[u8], at: usize) -> u64 {
    let mut word = [0u8; 8];
    word.copy_from_slice(&bytes[at..at + 8]);
    u64::from_le_bytes(word)
}
