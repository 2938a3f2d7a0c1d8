//! Formatting a data directory and opening one: identity, superblock copies, WAL replay.

use std::collections::hash_map::RandomState;
use std::fs::{self, OpenOptions};
use std::hash::{BuildHasher, Hasher};
use std::io::ErrorKind;
use std::path::Path;
use std::time::SystemTime;

use viewstamp_core::message::CheckpointData;
use viewstamp_core::replica::{Durable, StoredEntry};

use super::disk::Disk;
use super::layout::{
    decode_checkpoint, decode_headers_file_header, decode_identity, decode_superblock, decode_wal_header,
    encode_checkpoint, encode_identity, encode_superblock, parse_wal_file, parse_wal_headers_file, superblock_file,
    wal_file, wal_headers_file, CheckpointTrim, SuperblockRecord, CHECKPOINT_FILE, IDENTITY_FILE, LOST_SUFFIX,
    SUPERBLOCK_COPIES, TMP_SUFFIX, WAL_HEADER_BYTES,
};
use super::wal::{replay, Wal};
use super::{Identity, Storage, StorageError, StorageOptions};

/// Creates a data directory holding `durable` (a missing directory is created; one
/// with files in it is refused). The identity file is written last, so an interrupted
/// format is recognised rather than opened.
pub fn format(dir: &Path, identity: Identity, durable: &Durable) -> Result<(), StorageError> {
    match fs::read_dir(dir) {
        Ok(mut entries) => {
            if entries.next().is_some() {
                return Err(StorageError::NotEmpty { dir: dir.to_path_buf() });
            }
        }
        Err(error) if error.kind() == ErrorKind::NotFound => {
            fs::create_dir_all(dir).map_err(StorageError::io(dir, "create directory"))?;
        }
        Err(error) => return Err(StorageError::io(dir, "read directory")(error)),
    }
    let mut disk = Disk::new(&StorageOptions::default());
    write_fresh(dir, identity, durable, &mut disk)?;
    disk.replace_file(dir, IDENTITY_FILE, &encode_identity(identity))
}

/// Opens a formatted data directory and reads back everything made durable in it.
pub fn open(dir: &Path, identity: Identity, options: StorageOptions) -> Result<(Storage, Durable), StorageError> {
    let names = match list_dir(dir) {
        Ok(names) => names,
        Err(error) if error.kind() == ErrorKind::NotFound => {
            return Err(StorageError::NotFormatted { dir: dir.to_path_buf() })
        }
        Err(error) => return Err(StorageError::io(dir, "read directory")(error)),
    };
    if names.is_empty() {
        return Err(StorageError::NotFormatted { dir: dir.to_path_buf() });
    }
    if !names.iter().any(|name| name == IDENTITY_FILE) {
        return Err(StorageError::NoIdentity { dir: dir.to_path_buf() });
    }
    let identity_path = dir.join(IDENTITY_FILE);
    let bytes = fs::read(&identity_path).map_err(StorageError::io(&identity_path, "read"))?;
    let found = decode_identity(&bytes).map_err(|detail| StorageError::corrupt(&identity_path, detail))?;
    if found != identity {
        return Err(StorageError::IdentityMismatch { dir: dir.to_path_buf(), expected: identity, found });
    }
    let disk = Disk::new(&options);
    for name in names.iter().filter(|name| name.ends_with(TMP_SUFFIX)) {
        // A replacement interrupted before its rename: the old file is still in force.
        remove_if_present(&dir.join(name))?;
    }
    open_formatted(dir, identity, options, disk, &names, true)
}

fn open_formatted(
    dir: &Path,
    identity: Identity,
    options: StorageOptions,
    mut disk: Disk,
    names: &[String],
    lost_data_allowed: bool,
) -> Result<(Storage, Durable), StorageError> {
    let copies = read_superblock_copies(dir)?;
    if copies.iter().all(|copy| copy.is_none()) && lost_data_allowed {
        return open_after_lost_data(dir, identity, options, disk, names, "no superblock copy is left");
    }
    let best = copies
        .iter()
        .flatten()
        .flatten()
        .filter(|record| record.cluster == identity.cluster && record.member == identity.member)
        .max_by_key(|record| record.sequence)
        .cloned()
        .ok_or_else(|| StorageError::NoValidSuperblock { dir: dir.to_path_buf() })?;
    let wal_path = dir.join(wal_file(best.wal_generation));
    let bytes = match fs::read(&wal_path) {
        Ok(bytes) => bytes,
        Err(error) if error.kind() == ErrorKind::NotFound && lost_data_allowed => {
            return open_after_lost_data(dir, identity, options, disk, names, "the live log file is missing");
        }
        Err(error) => return Err(StorageError::io(&wal_path, "read")(error)),
    };
    let headers_path = dir.join(wal_headers_file(best.wal_generation));
    let headers = match fs::read(&headers_path) {
        Ok(headers) => Some(headers),
        // Written anew from the log: a data directory of an older binary has none, and
        // a single fault here is what the log's own headers are for.
        Err(error) if error.kind() == ErrorKind::NotFound => {
            tracing::warn!(path = %headers_path.display(), "the log's header file is missing; rebuilding it");
            None
        }
        Err(error) => {
            tracing::warn!(path = %headers_path.display(), "cannot read the log's header file ({error}); rebuilding it");
            None
        }
    };
    let wal_header_intact = match decode_wal_header(&bytes) {
        Some(header) if header != (best.wal_generation, best.wal_nonce) => {
            return Err(StorageError::corrupt(&wal_path, "its header names another log generation"));
        }
        Some(_) => true,
        // The records carry their own checksums, keyed by the nonce the superblock holds.
        None if bytes.len() as u64 >= WAL_HEADER_BYTES => {
            tracing::warn!(path = %wal_path.display(), "the log header is damaged; reading its records anyway");
            false
        }
        // Cut inside its header: the header file still tells which records it held.
        None if headers
            .as_deref()
            .and_then(decode_headers_file_header)
            .is_some_and(|(_, nonce)| nonce == best.wal_nonce) =>
        {
            tracing::warn!(path = %wal_path.display(), "the log is shorter than its header; reading its header file");
            false
        }
        None => return Err(StorageError::corrupt(&wal_path, "shorter than its header")),
    };
    let (checkpoint, trim) = read_checkpoint(dir)?.unzip();
    // A trim in an older generation was already applied when the log was rewritten.
    let trim = trim.flatten().filter(|trim| trim.wal_generation == best.wal_generation);
    let replayed =
        replay(&bytes, headers.as_deref(), best.wal_nonce, trim.map(|trim| (trim.wal_offset, trim.retain_from)));
    if replayed.valid_len < bytes.len() as u64 {
        let cut_bytes = bytes.len() as u64 - replayed.valid_len;
        tracing::warn!(path = %wal_path.display(), cut_bytes, "cutting a torn write from the end of the log");
        disk.metrics.torn_bytes_cut = cut_bytes;
    }
    if replayed.damaged_bytes > 0 {
        tracing::warn!(path = %wal_path.display(), bytes = replayed.damaged_bytes, "skipped unreadable log records");
        disk.metrics.damaged_bytes_skipped = replayed.damaged_bytes;
    }
    if replayed.headers.missing_slots > 0 {
        let records = replayed.headers.missing_slots;
        tracing::warn!(path = %headers_path.display(), records, "the log's header file lacks records; restoring them");
    }
    if replayed.restored > 0 {
        let entries = replayed.restored;
        tracing::warn!(path = %wal_path.display(), entries, "entries known only from the log's header file");
        disk.metrics.damaged_records_restored = entries as u64;
    }
    let entries: Vec<StoredEntry> = replayed.entries.values().map(|located| located.read_back_in(&bytes)).collect();
    for name in names {
        let generation = parse_wal_file(name).or_else(|| parse_wal_headers_file(name));
        if generation.is_some_and(|generation| generation != best.wal_generation) {
            // A generation replaced, or one whose switch never completed.
            remove_if_present(&dir.join(name))?;
        }
    }
    let (wal, sequence) = if replayed.needs_rewrite || !wal_header_intact {
        // Some record survives only in the header file (or the log's own header is
        // damaged), so this log cannot be appended to as it is, and one more fault could
        // lose that record: the live entries move to a new generation, as compaction
        // does, held by both of its files. A restored entry becomes a header-only record
        // (it reads back damaged, as now).
        let mut next = Wal::create(dir, best.wal_generation + 1, fresh_nonce(), &mut disk)?;
        for located in replayed.entries.values() {
            next.append_copy(located, located.payload_in(&bytes), &mut disk)?;
        }
        next.sync(&mut disk)?;
        disk.sync_dir(dir)?;
        let record = SuperblockRecord {
            sequence: best.sequence + 1,
            wal_generation: next.generation,
            wal_nonce: next.nonce,
            ..best.clone()
        };
        write_superblock_copies(dir, &record, &mut disk)?;
        tracing::warn!(path = %next.path.display(), "rewrote the damaged log into a new generation");
        for path in [&wal_path, &headers_path] {
            if let Err(error) = fs::remove_file(path) {
                tracing::warn!(path = %path.display(), "could not remove a replaced log file: {error}");
            }
        }
        (next, record.sequence)
    } else {
        let file =
            OpenOptions::new().read(true).write(true).open(&wal_path).map_err(StorageError::io(&wal_path, "open"))?;
        if replayed.valid_len < bytes.len() as u64 {
            file.set_len(replayed.valid_len).map_err(StorageError::io(&wal_path, "truncate"))?;
            disk.sync_data(&file, &wal_path)?;
        }
        if copies.iter().any(|copy| copy.as_ref().and_then(|record| record.as_ref()) != Some(&best)) {
            write_superblock_copies(dir, &best, &mut disk)?;
        }
        let wal = Wal::reopen(dir, best.wal_generation, best.wal_nonce, file, replayed, &mut disk)?;
        (wal, best.sequence)
    };
    let durable = Durable { superblock: best.superblock.clone(), checkpoint, entries };
    let storage = Storage {
        dir: dir.to_path_buf(),
        identity,
        options,
        disk,
        sequence,
        superblock: best.superblock,
        wal,
        failure: None,
    };
    Ok((storage, durable))
}

/// The member lost its data: move what remains aside and start empty, without a
/// superblock, so the replica recovers from its peers.
fn open_after_lost_data(
    dir: &Path,
    identity: Identity,
    options: StorageOptions,
    mut disk: Disk,
    names: &[String],
    reason: &str,
) -> Result<(Storage, Durable), StorageError> {
    tracing::warn!(dir = %dir.display(), "{reason}: this member lost its data and will recover from its peers");
    let superblocks: Vec<String> = (0..SUPERBLOCK_COPIES).map(superblock_file).collect();
    for name in names {
        let log = parse_wal_file(name).or_else(|| parse_wal_headers_file(name)).is_some();
        if name == CHECKPOINT_FILE || log || superblocks.contains(name) {
            let from = dir.join(name);
            let to = dir.join(format!("{name}{LOST_SUFFIX}"));
            fs::rename(&from, &to).map_err(StorageError::io(&from, "move aside"))?;
        }
    }
    let lost = Durable { superblock: None, checkpoint: None, entries: Vec::new() };
    write_fresh(dir, identity, &lost, &mut disk)?;
    let names = list_dir(dir).map_err(StorageError::io(dir, "read directory"))?;
    open_formatted(dir, identity, options, disk, &names, false)
}

/// Writes checkpoint, log and superblock copies for `durable` (not the identity).
fn write_fresh(dir: &Path, identity: Identity, durable: &Durable, disk: &mut Disk) -> Result<(), StorageError> {
    if let Some(checkpoint) = &durable.checkpoint {
        disk.replace_file(dir, CHECKPOINT_FILE, &encode_checkpoint(checkpoint, None)?)?;
    }
    let mut wal = Wal::create(dir, 1, fresh_nonce(), disk)?;
    for stored in &durable.entries {
        match stored {
            StoredEntry::Intact(entry) => wal.append_entry(entry.header, Some(&entry.body), disk)?,
            StoredEntry::Damaged(header) => wal.append_entry(*header, None, disk)?,
        }
    }
    wal.sync(disk)?;
    let record = SuperblockRecord {
        cluster: identity.cluster,
        member: identity.member,
        sequence: 1,
        superblock: durable.superblock.clone(),
        wal_generation: wal.generation,
        wal_nonce: wal.nonce,
    };
    write_superblock_copies(dir, &record, disk)?;
    disk.sync_dir(dir)
}

/// Writes the copies one after the other, each synced, so a crash spoils at most one.
pub fn write_superblock_copies(dir: &Path, record: &SuperblockRecord, disk: &mut Disk) -> Result<(), StorageError> {
    for copy in 0..SUPERBLOCK_COPIES {
        let block = encode_superblock(copy, record)?;
        disk.overwrite_file(&dir.join(superblock_file(copy)), &block)?;
    }
    Ok(())
}

/// Per copy: `None` when the file is missing, `Some(None)` when it is torn or flipped.
fn read_superblock_copies(dir: &Path) -> Result<Vec<Option<Option<SuperblockRecord>>>, StorageError> {
    (0..SUPERBLOCK_COPIES)
        .map(|copy| {
            let path = dir.join(superblock_file(copy));
            match fs::read(&path) {
                Ok(block) => Ok(Some(decode_superblock(copy, &block))),
                Err(error) if error.kind() == ErrorKind::NotFound => Ok(None),
                // A bad sector under one copy is what the other copies are for.
                Err(error) => {
                    tracing::warn!(path = %path.display(), "cannot read a superblock copy: {error}");
                    Ok(Some(None))
                }
            }
        })
        .collect()
}

fn read_checkpoint(dir: &Path) -> Result<Option<(CheckpointData, Option<CheckpointTrim>)>, StorageError> {
    let path = dir.join(CHECKPOINT_FILE);
    match fs::read(&path) {
        Ok(file) => decode_checkpoint(&file).map(Some).map_err(|detail| StorageError::corrupt(&path, detail)),
        Err(error) if error.kind() == ErrorKind::NotFound => Ok(None),
        Err(error) => Err(StorageError::io(&path, "read")(error)),
    }
}

fn list_dir(dir: &Path) -> std::io::Result<Vec<String>> {
    let mut names = Vec::new();
    for entry in fs::read_dir(dir)? {
        names.push(entry?.file_name().to_string_lossy().into_owned());
    }
    names.sort();
    Ok(names)
}

fn remove_if_present(path: &Path) -> Result<(), StorageError> {
    match fs::remove_file(path) {
        Err(error) if error.kind() != ErrorKind::NotFound => Err(StorageError::io(path, "remove")(error)),
        _ => Ok(()),
    }
}

/// A key for a new WAL's record checksums: random per process and per call.
pub fn fresh_nonce() -> u64 {
    let mut hasher = RandomState::new().build_hasher();
    let now_ns = SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).map_or(0, |since| since.as_nanos());
    hasher.write_u128(now_ns);
    hasher.write_u32(std::process::id());
    hasher.finish()
}
