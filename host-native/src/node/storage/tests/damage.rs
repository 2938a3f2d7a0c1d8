//! Torn tails, flipped bytes and damaged copies, made on disk and read back.

use std::fs;

use viewstamp_core::replica::{StoredEntry, Write};

use super::super::layout::{superblock_file, CHECKPOINT_FILE, HEADER_SLOT_BYTES, IDENTITY_FILE};
use super::super::{open, Completion, StorageError};
use super::*;

/// Ops 1..=5, each in its own batch (its own fsync).
fn twin_with_five_synced_entries() -> (Twin, Vec<Entry>) {
    let mut twin = Twin::new(fast_options());
    let entries: Vec<Entry> = (1..=5).map(|op| entry(op, 1, 60)).collect();
    for entry in &entries {
        twin.apply(vec![Write::Entry(entry.clone())]);
    }
    (twin, entries)
}

fn ops(entries: &[StoredEntry]) -> Vec<Op> {
    entries.iter().map(|stored| stored.header().op).collect()
}

#[test]
fn a_torn_tail_is_cut_and_never_read() {
    let (mut twin, entries) = twin_with_five_synced_entries();
    let (record_start, payload_start) = twin.record_offsets(5);
    let wal = twin.wal_path();
    // Mid-header, then mid-payload; op 5's slot never reached the header file either
    // (a torn write: with its slot, a cut record would come back damaged instead).
    for torn_len in [record_start + 10, payload_start + 7] {
        let slot = twin.slot_offset(5);
        fs::OpenOptions::new().write(true).open(twin.headers_path()).expect("open").set_len(slot).expect("truncate");
        fs::OpenOptions::new().write(true).open(&wal).expect("open").set_len(torn_len).expect("truncate");
        let durable = twin.reopen();
        assert_eq!(ops(&durable.entries), [1, 2, 3, 4]);
        assert_eq!(fs::metadata(&wal).expect("stat").len(), record_start, "the tail is cut from the file");
        assert_eq!(twin.storage.metrics().torn_bytes_cut, torn_len - record_start);
        assert_eq!(twin.storage.metrics().damaged_records_restored, 0);
        // Write op 5 again, so the next round tears it again.
        let persist = Persist { id: 100, write: Write::Entry(entries[4].clone()) };
        twin.storage.apply(&[persist]).expect("append after a cut");
    }
    let durable = twin.reopen();
    assert_eq!(durable, twin.sim.read(), "the re-appended entry reads back");
}

#[test]
fn a_flipped_body_reads_back_damaged_and_the_rest_intact() {
    let (mut twin, entries) = twin_with_five_synced_entries();
    let (_, payload_3) = twin.record_offsets(3);
    let (_, payload_5) = twin.record_offsets(5);
    flip_byte(&twin.wal_path(), payload_3 + 4);
    // The last record too: a whole record with a readable header is damage, not a tear.
    flip_byte(&twin.wal_path(), payload_5 + 1);
    twin.sim.corrupt(3);
    twin.sim.corrupt(5);
    let durable = twin.reopen();
    assert_eq!(durable, twin.sim.read());
    assert_eq!(durable.entries[2], StoredEntry::Damaged(entries[2].header));
    assert_eq!(durable.entries[3], StoredEntry::Intact(entries[3].clone()));
    assert_eq!(durable.entries[4], StoredEntry::Damaged(entries[4].header));
}

#[test]
fn a_record_with_a_damaged_header_comes_back_from_its_slot() {
    let (mut twin, entries) = twin_with_five_synced_entries();
    let (record_3, _) = twin.record_offsets(3);
    let (record_4, _) = twin.record_offsets(4);
    flip_byte(&twin.wal_path(), record_3 + 30);
    let durable = twin.reopen();
    // Op 3's header is unreadable in the WAL, but its slot is not: op 3 comes back damaged
    // (to repair), not missing, and the later batches are kept.
    twin.sim.corrupt(3);
    assert_eq!(durable, twin.sim.read());
    assert_eq!(durable.entries[2], StoredEntry::Damaged(entries[2].header));
    assert_eq!(ops(&durable.entries), [1, 2, 3, 4, 5]);
    let metrics = twin.storage.metrics();
    assert_eq!(metrics.damaged_bytes_skipped, record_4 - record_3);
    assert_eq!(metrics.damaged_records_restored, 1);
    assert_eq!(metrics.torn_bytes_cut, 0);
}

#[test]
fn a_gap_inside_the_newest_batch_is_a_torn_write() {
    let mut twin = Twin::new(fast_options());
    twin.apply((1..=2).map(|op| Write::Entry(entry(op, 1, 60))).collect());
    twin.apply((3..=5).map(|op| Write::Entry(entry(op, 1, 60))).collect());
    let (record_4, _) = twin.record_offsets(4);
    let slot_3 = twin.slot_offset(3);
    // Op 4 is unreadable in both files: as if neither write reached the disk.
    flip_byte(&twin.wal_path(), record_4 + 2);
    flip_byte(&twin.headers_path(), twin.slot_offset(4) + 9);
    let durable = twin.reopen();
    // Op 5 may have reached the disk without op 4: the batch keeps only its prefix.
    assert_eq!(ops(&durable.entries), [1, 2, 3]);
    assert_eq!(fs::metadata(twin.wal_path()).expect("stat").len(), record_4);
    // The header file is cut to match: op 5's slot is gone too.
    assert_eq!(file_len(&twin.headers_path()), slot_3 + HEADER_SLOT_BYTES as u64);
}

#[test]
fn a_flipped_or_torn_superblock_copy_is_survived_and_rewritten() {
    let mut twin = Twin::new(fast_options());
    twin.apply(vec![Write::Superblock(superblock(7, 6, 0))]);
    let dir = twin.dir.path().to_path_buf();
    flip_byte(&dir.join(superblock_file(0)), 20);
    fs::OpenOptions::new().write(true).open(dir.join(superblock_file(1))).expect("open").set_len(9).expect("tear");
    let durable = twin.reopen();
    assert_eq!(durable.superblock, Some(superblock(7, 6, 0)));
    // Open restored the copies: losing the good one now is survived too.
    flip_byte(&dir.join(superblock_file(2)), 20);
    assert_eq!(twin.reopen().superblock, Some(superblock(7, 6, 0)));
}

#[test]
fn the_newest_valid_superblock_copy_wins() {
    let mut twin = Twin::new(fast_options());
    twin.apply(vec![Write::Superblock(superblock(7, 6, 0))]);
    let dir = twin.dir.path().to_path_buf();
    let older = fs::read(dir.join(superblock_file(1))).expect("read a copy");
    twin.apply(vec![Write::Superblock(superblock(8, 6, 0))]);
    // As if the write of copies 1 and 2 never happened.
    fs::write(dir.join(superblock_file(1)), &older).expect("write");
    assert_eq!(twin.reopen().superblock, Some(superblock(8, 6, 0)));
}

#[test]
fn no_valid_superblock_copy_is_a_clear_error() {
    let twin = Twin::new(fast_options());
    let dir = twin.dir.path().to_path_buf();
    for copy in 0..3 {
        flip_byte(&dir.join(superblock_file(copy)), 5);
    }
    let error = open(&dir, IDENTITY, fast_options()).err().expect("no valid copy");
    assert!(matches!(error, StorageError::NoValidSuperblock { .. }), "{error}");
    assert!(error.to_string().contains(&dir.display().to_string()));
}

#[test]
fn a_damaged_checkpoint_or_identity_is_a_clear_error() {
    let mut twin = Twin::new(fast_options());
    twin.apply(vec![Write::Checkpoint {
        data: checkpoint(0, Header { op: 0, view: 0, parent: 0, checksum: 0 }),
        retain_from: 0,
    }]);
    let dir = twin.dir.path().to_path_buf();
    for file in [CHECKPOINT_FILE, IDENTITY_FILE] {
        let path = dir.join(file);
        let pristine = fs::read(&path).expect("read");
        flip_byte(&path, 30);
        let error = open(&dir, IDENTITY, fast_options()).err().expect("damage is refused");
        assert!(matches!(&error, StorageError::Corrupt { path: at, .. } if *at == path), "{error}");
        fs::write(&path, pristine).expect("restore");
    }
    open(&dir, IDENTITY, fast_options()).expect("opens once restored");
}

#[test]
fn verify_reads_the_disk_and_reports_damage() {
    let (mut twin, entries) = twin_with_five_synced_entries();
    let checksum = entries[2].header.checksum;
    let verify = |op, checksum| Write::Verify { op, checksum };
    let intact = |op, checksum, intact| Completion::Verified { op, checksum, intact };
    let completions = twin.apply(vec![verify(3, checksum)]);
    assert_eq!(completions[1], intact(3, checksum, true));
    let (_, payload_3) = twin.record_offsets(3);
    flip_byte(&twin.wal_path(), payload_3 + 2);
    twin.sim.corrupt(3);
    // Damaged; replaced since (another checksum); not stored: only the first needs repair.
    let completions = twin.apply(vec![verify(3, checksum), verify(3, checksum ^ 1), verify(99, checksum)]);
    assert_eq!(
        completions[1..],
        [intact(3, checksum, false), intact(3, checksum ^ 1, true), intact(99, checksum, true)]
    );
    // Repair rewrites the entry; it verifies again, in the same batch.
    let completions = twin.apply(vec![Write::Entry(entries[2].clone()), verify(3, checksum)]);
    assert_eq!(completions[1], intact(3, checksum, true));
    twin.assert_reopens_as_sim();
}
