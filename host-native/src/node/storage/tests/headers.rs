//! The WAL's header file: a single fault after a sync, in the WAL or in its header file,
//! never loses a synced entry. It comes back intact, or damaged under its own header.

use std::fs;
use std::ops::Range;
use std::path::{Path, PathBuf};

use tempfile::TempDir;
use viewstamp_core::replica::{Durable, StoredEntry, Write};

use super::super::layout::{HEADERS_FILE_HEADER_BYTES, HEADER_SLOT_BYTES, RECORD_HEADER_BYTES, WAL_HEADER_BYTES};
use super::super::{open, Storage, StorageOptions};
use super::*;

/// Synced batches of ops 1..=4, 5..=8 and 9..=11, then op 12 alone.
fn twin_with_batches() -> Twin {
    twin_with(&[1..5, 5..9, 9..12, 12..13])
}

/// One batch per range of ops, each entry with its own size.
fn twin_with(batches: &[Range<Op>]) -> Twin {
    let mut twin = Twin::new(fast_options());
    for batch in batches {
        twin.apply(batch.clone().map(|op| Write::Entry(entry(op, 1, 30 + 7 * op as usize))).collect());
    }
    twin
}

/// A copy of the twin's data directory, with its WAL and header file paths.
struct Copy {
    dir: TempDir,
    wal: PathBuf,
    headers: PathBuf,
}

/// A fault to make in a file, or in a copy of a data directory.
type Damage<T> = Box<dyn Fn(&T)>;

fn copy_of(twin: &Twin) -> Copy {
    let dir = copy_dir(twin.dir.path());
    let wal = dir.path().join(twin.wal_path().file_name().expect("a file name"));
    let headers = dir.path().join(twin.headers_path().file_name().expect("a file name"));
    Copy { dir, wal, headers }
}

fn reopen(dir: &Path) -> (Storage, Durable) {
    open(dir, IDENTITY, fast_options()).expect("open after damage")
}

/// `read` holds exactly the entries of `expected`, each intact or damaged under the same
/// header, and the same superblock and checkpoint. Returns the ops that came back damaged.
fn assert_nothing_lost(read: &Durable, expected: &Durable, context: &str) -> Vec<Op> {
    assert_eq!(read.superblock, expected.superblock, "{context}");
    assert_eq!(read.checkpoint, expected.checkpoint, "{context}");
    let headers = |durable: &Durable| durable.entries.iter().map(StoredEntry::header).collect::<Vec<_>>();
    assert_eq!(headers(read), headers(expected), "{context}: every entry, under its header");
    let mut damaged = Vec::new();
    for (read, expected) in read.entries.iter().zip(&expected.entries) {
        match read {
            StoredEntry::Damaged(header) => damaged.push(header.op),
            intact => assert_eq!(intact, expected, "{context}"),
        }
    }
    damaged
}

/// The ops whose record lies (partly) in `range` of the WAL: those that must read back damaged.
fn records_within(twin: &Twin, range: &Range<u64>) -> Vec<Op> {
    twin.storage
        .wal
        .entries
        .keys()
        .copied()
        .filter(|op| twin.record_offsets(*op).0 < range.end && twin.record_end(*op) > range.start)
        .collect()
}

fn expected_with_damaged(twin: &Twin, damaged: &[Op]) -> Durable {
    let mut expected = twin.sim.read();
    for stored in &mut expected.entries {
        if damaged.contains(&stored.header().op) {
            *stored = StoredEntry::Damaged(stored.header());
        }
    }
    expected
}

#[test]
fn a_flipped_header_in_the_newest_batch_comes_back_damaged_from_its_slot() {
    // The last record of a newest batch of three, one in its middle, and a newest batch
    // of one entry.
    let three = twin_with(&[1..5, 5..9, 9..12]);
    let one = twin_with_batches();
    for (twin, op) in [(&three, 11), (&three, 10), (&one, 12)] {
        let (record, _) = twin.record_offsets(op);
        // Its magic, its op, its entry checksum, its own checksum.
        for byte in [0, 24, 40, 63] {
            let copy = copy_of(twin);
            flip_byte(&copy.wal, record + byte);
            let (storage, read) = reopen(copy.dir.path());
            // Damaged under the right header (the replica repairs it), nothing after it lost.
            assert_eq!(read, expected_with_damaged(twin, &[op]), "op {op}, byte {byte}");
            assert!(read.entries.contains(&StoredEntry::Damaged(entry(op, 1, 30 + 7 * op as usize).header)));
            assert_eq!(storage.metrics().damaged_records_restored, 1);
            assert_eq!(storage.metrics().torn_bytes_cut, 0);
        }
    }
}

#[test]
fn a_zeroed_block_under_the_newest_records_leaves_them_damaged_not_missing() {
    // About 7 KiB of log: the block holding the newest records, and one in the middle of
    // the newest batch of ten.
    let big = twin_with(&[1..11, 11..21, 21..31, 31..41, 41..42]);
    assert!(file_len(&big.wal_path()) > 2 * 4096);
    for op in [41, 35] {
        let copy = copy_of(&big);
        let zeroed = block_of(&copy.wal, big.record_offsets(op).0);
        zero_block(&copy.wal, zeroed.start);
        let (storage, read) = reopen(copy.dir.path());
        let damaged = records_within(&big, &zeroed);
        assert!(damaged.contains(&op), "{damaged:?}");
        assert_eq!(assert_nothing_lost(&read, &big.sim.read(), &format!("zeroed {zeroed:?}")), damaged);
        assert!(storage.metrics().damaged_records_restored > 0);
    }
    // A tiny log: one block holds it all, its header too.
    let tiny = twin_with(&[1..3, 3..4]);
    assert!(file_len(&tiny.wal_path()) < 4096);
    let copy = copy_of(&tiny);
    zero_block(&copy.wal, 0);
    let (_, read) = reopen(copy.dir.path());
    assert_eq!(read, expected_with_damaged(&tiny, &[1, 2, 3]));
}

#[test]
fn a_cut_wal_tail_leaves_the_cut_records_damaged_not_missing() {
    let twin = twin_with_batches();
    let len = file_len(&twin.wal_path());
    let (record_12, payload_12) = twin.record_offsets(12);
    let (record_11, payload_11) = twin.record_offsets(11);
    let (record_9, _) = twin.record_offsets(9);
    let (record_5, _) = twin.record_offsets(5);
    let cuts = [
        1,
        7,
        len - payload_12,           // op 12's whole payload
        len - payload_12 + 1,       // into op 12's header
        len - record_12,            // op 12 exactly
        len - record_12 + 10,       // into op 11's payload
        len - payload_11 + 20,      // into op 11's header
        len - record_11,            // ops 11 and 12 exactly
        len - record_9 + 5,         // the whole batch of 9..=11, and a bit of op 8
        len - record_5,             // everything after the first batch
        len - WAL_HEADER_BYTES,     // every record
        len - WAL_HEADER_BYTES + 3, // the log's header too
    ];
    for cut in cuts {
        let copy = copy_of(&twin);
        cut_tail(&copy.wal, cut);
        let (storage, read) = reopen(copy.dir.path());
        let damaged = records_within(&twin, &(len - cut..len));
        assert!(!damaged.is_empty());
        assert_eq!(assert_nothing_lost(&read, &twin.sim.read(), &format!("cut {cut}")), damaged, "cut {cut}");
        assert_eq!(storage.metrics().torn_bytes_cut, 0, "nothing synced is taken for a torn write");
        drop(storage);
        let (_, again) = reopen(copy.dir.path());
        assert_eq!(again, read, "cut {cut}: a second open reads the same");
    }
}

#[test]
fn a_torn_write_after_the_last_sync_is_cut_not_read() {
    let mut twin = twin_with(&[1..5, 5..9]);
    let synced_len = file_len(&twin.wal_path());
    let synced_headers_len = file_len(&twin.headers_path());
    // Op 9 written and handed to the OS, never synced.
    let torn = entry(9, 1, 200);
    let Storage { wal, disk, .. } = &mut twin.storage;
    wal.append_entry(torn.header, Some(&torn.body), disk).expect("append");
    wal.flush(disk).expect("flush");
    let record_end = file_len(&twin.wal_path());
    assert!(record_end > synced_len + RECORD_HEADER_BYTES as u64 + 100);
    // How much of the record reached the disk, and whether its slot did.
    for (wal_len, with_slot) in [
        (synced_len + 30, false),                              // part of its header
        (synced_len + RECORD_HEADER_BYTES as u64 + 50, false), // its header, part of its body
        (record_end - 1, false),                               // all but a byte
        (synced_len + RECORD_HEADER_BYTES as u64 + 50, true),  // the slot, but part of the body
        (synced_len + 30, true),                               // the slot, part of the header
    ] {
        let copy = copy_of(&twin);
        fs::OpenOptions::new().write(true).open(&copy.wal).expect("open").set_len(wal_len).expect("tear");
        let headers_len = if with_slot { synced_headers_len + HEADER_SLOT_BYTES as u64 } else { synced_headers_len };
        fs::OpenOptions::new().write(true).open(&copy.headers).expect("open").set_len(headers_len).expect("tear");
        let (storage, read) = reopen(copy.dir.path());
        let context = format!("{wal_len} bytes of the log, slot {with_slot}");
        if with_slot {
            // Never acknowledged, so either way is safe; it must not pass as intact.
            let mut expected = twin.sim.read();
            expected.entries.push(StoredEntry::Damaged(torn.header));
            assert_eq!(read, expected, "{context}");
        } else {
            assert_eq!(read, twin.sim.read(), "{context}");
            assert_eq!(file_len(&copy.wal), synced_len, "{context}: the torn record is cut");
            assert_eq!(storage.metrics().torn_bytes_cut, wal_len - synced_len, "{context}");
            assert_eq!(file_len(&copy.headers), synced_headers_len, "{context}");
        }
        // Writes go on after it, and read back.
        let mut storage = storage;
        let next = entry(10, 1, 20);
        storage.apply(&[Persist { id: 100, write: Write::Entry(next.clone()) }]).expect("append after a tear");
        drop(storage);
        let (_, again) = reopen(copy.dir.path());
        assert_eq!(again.entries[..read.entries.len()], read.entries[..], "{context}");
        assert_eq!(again.entries.last(), Some(&StoredEntry::Intact(next)), "{context}");
    }
}

#[test]
fn damage_to_the_header_file_alone_loses_nothing() {
    let twin = twin_with(&[1..11, 11..21, 21..31, 31..41, 41..51, 51..61, 61..71, 71..72]);
    let headers_len = file_len(&twin.headers_path());
    assert!(headers_len > 4096, "two blocks of slots");
    let last_slot = twin.slot_offset(71);
    let damages: Vec<(&str, Damage<Path>)> = vec![
        ("a flipped last slot", Box::new(move |path| flip_byte(path, last_slot + 20))),
        ("a flipped middle slot", Box::new(move |path| flip_byte(path, last_slot - 30 * HEADER_SLOT_BYTES as u64 + 8))),
        ("a flipped file header", Box::new(|path| flip_byte(path, 5))),
        ("the first block zeroed", Box::new(|path| zero_block(path, 0))),
        ("the last block zeroed", Box::new(move |path| zero_block(path, headers_len - 1))),
        ("a byte cut", Box::new(|path| cut_tail(path, 1))),
        ("a slot and a half cut", Box::new(|path| cut_tail(path, 96))),
        ("every slot cut", Box::new(move |path| cut_tail(path, headers_len - HEADERS_FILE_HEADER_BYTES))),
        ("the file emptied", Box::new(move |path| cut_tail(path, headers_len))),
        ("the file deleted", Box::new(|path| fs::remove_file(path).expect("delete"))),
    ];
    for (name, damage) in damages {
        let copy = copy_of(&twin);
        damage(&copy.headers);
        let (storage, read) = reopen(copy.dir.path());
        assert_eq!(read, twin.sim.read(), "{name}");
        assert_eq!(storage.metrics().damaged_records_restored, 0, "{name}");
        drop(storage);
        // Open rebuilt the header file: it now covers a fault in the WAL.
        assert_eq!(file_len(&copy.headers), headers_len, "{name}");
        let (record, payload) = twin.record_offsets(71);
        flip_byte(&copy.wal, record + 1);
        flip_byte(&copy.wal, payload + 1);
        let (_, read) = reopen(copy.dir.path());
        assert_eq!(read, expected_with_damaged(&twin, &[71]), "{name}, then the WAL");
    }
}

#[test]
fn an_install_and_then_damage_never_brings_back_truncated_ops() {
    let mut twin = twin_with(&[1..5, 5..9]);
    let old_headers = fs::read(twin.headers_path()).expect("read");
    let old_headers_name = twin.headers_path().file_name().expect("a name").to_owned();
    let adopted = [entry(6, 2, 44), entry(7, 2, 9)];
    twin.apply(vec![Write::Install {
        superblock: superblock(2, 2, 0),
        truncate_after: 5,
        slots: vec![slot(&adopted[0], true)],
    }]);
    twin.apply(vec![Write::Entry(adopted[1].clone())]);
    let expected = twin.sim.read();
    let ops: Vec<Op> = expected.entries.iter().map(|stored| stored.header().op).collect();
    assert_eq!(ops, [1, 2, 3, 4, 5, 6, 7], "op 8 of view 1 is gone");
    let len = file_len(&twin.wal_path());
    let (record_7, _) = twin.record_offsets(7);
    let damages: Vec<(&str, Damage<Copy>)> = vec![
        ("op 7's header flipped", Box::new(move |copy| flip_byte(&copy.wal, record_7 + 24))),
        ("the last block zeroed", Box::new(move |copy| zero_block(&copy.wal, len - 1))),
        ("every record cut", Box::new(move |copy| cut_tail(&copy.wal, len - WAL_HEADER_BYTES))),
        // As if removing the replaced generation had failed: its header file is ignored.
        ("the old header file left behind, and the tail cut", {
            let (old_headers, old_headers_name) = (old_headers.clone(), old_headers_name.clone());
            Box::new(move |copy| {
                fs::write(copy.dir.path().join(&old_headers_name), &old_headers).expect("write");
                cut_tail(&copy.wal, len - WAL_HEADER_BYTES);
            })
        }),
    ];
    for (name, damage) in damages {
        let copy = copy_of(&twin);
        damage(&copy);
        let (_, read) = reopen(copy.dir.path());
        assert_nothing_lost(&read, &expected, name);
        assert_eq!(read.entries[5].header(), adopted[0].header, "{name}: the adopted header");
        assert!(!copy.dir.path().join(&old_headers_name).exists(), "{name}");
        let (_, again) = reopen(copy.dir.path());
        assert_eq!(again, read, "{name}");
    }
}

#[test]
fn a_checkpoint_trim_and_then_damage_never_brings_back_trimmed_ops() {
    let mut twin = Twin::new(StorageOptions { compact_min_dead_bytes: u64::MAX, ..fast_options() });
    let entries: Vec<Entry> = (1..=8).map(|op| entry(op, 1, 30)).collect();
    twin.apply(entries[..4].iter().cloned().map(Write::Entry).collect());
    twin.apply(entries[4..].iter().cloned().map(Write::Entry).collect());
    let trimmed_records: Vec<u64> = (1..=4).map(|op| twin.record_offsets(op).0).collect();
    // Ops before 5 are trimmed; op 2 written again after the checkpoint is kept, as in
    // the simulator.
    twin.apply(vec![
        Write::Checkpoint { data: checkpoint(6, entries[5].header), retain_from: 5 },
        Write::Entry(entry(2, 3, 5)),
    ]);
    twin.apply(vec![Write::Entry(entry(9, 1, 30))]);
    twin.apply(vec![Write::Entry(entry(10, 1, 30))]);
    assert_eq!(twin.storage.metrics().compactions, 0, "the trimmed records are still in the log");
    let expected = twin.sim.read();
    let ops: Vec<Op> = expected.entries.iter().map(|stored| stored.header().op).collect();
    assert_eq!(ops, [2, 5, 6, 7, 8, 9, 10]);
    let len = file_len(&twin.wal_path());
    let (record_10, _) = twin.record_offsets(10);
    let damages: Vec<(&str, Damage<Copy>)> = vec![
        (
            "the trimmed records' headers and op 10's flipped",
            Box::new(move |copy| {
                for record in trimmed_records.iter().chain([&record_10]) {
                    flip_byte(&copy.wal, record + 33);
                }
            }),
        ),
        ("the whole log zeroed", Box::new(|copy| zero_block(&copy.wal, 0))),
        ("every record cut", Box::new(move |copy| cut_tail(&copy.wal, len - WAL_HEADER_BYTES))),
    ];
    assert!(len < 4096, "one block holds the whole log");
    for (name, damage) in damages {
        let copy = copy_of(&twin);
        damage(&copy);
        let (_, read) = reopen(copy.dir.path());
        assert_nothing_lost(&read, &expected, name);
        let (_, again) = reopen(copy.dir.path());
        assert_eq!(again, read, "{name}");
    }
}

#[test]
fn restored_headers_survive_a_second_open_and_a_rewrite_makes_them_intact() {
    let mut twin = twin_with_batches();
    let (_, payload_12) = twin.record_offsets(12);
    cut_tail(&twin.wal_path(), file_len(&twin.wal_path()) - payload_12 - 2);
    twin.sim.corrupt(12);
    let durable = twin.reopen();
    assert_eq!(durable, twin.sim.read());
    assert!(matches!(durable.entries[11], StoredEntry::Damaged(header) if header.op == 12));
    assert_eq!(twin.storage.metrics().damaged_records_restored, 1);
    // No writes in between: the same, now from a header-only record of a new generation.
    for _ in 0..2 {
        assert_eq!(twin.reopen(), durable);
        assert_eq!(twin.storage.metrics().damaged_records_restored, 0);
    }
    // Both files hold op 12's header again: a later fault in the header file is survived too.
    flip_byte(&twin.headers_path(), twin.slot_offset(12) + 30);
    assert_eq!(twin.reopen(), durable);
    // The replica repairs the entry from a peer and writes it again.
    twin.apply(vec![Write::Entry(entry(12, 1, 30 + 7 * 12))]);
    let durable = twin.reopen();
    assert_eq!(durable, twin.sim.read());
    assert!(durable.entries.iter().all(|stored| matches!(stored, StoredEntry::Intact(_))));
    // Appends go on in the new generation and read back.
    twin.apply(vec![Write::Entry(entry(13, 1, 10))]);
    twin.assert_reopens_as_sim();
}

/// Every flipped byte, zeroed block and cut tail, in either file, of a log with several
/// batches, a superseded entry, a superblock write and a single-entry newest batch.
#[test]
fn no_single_fault_in_either_file_loses_a_synced_entry() {
    let mut twin = twin_with(&[1..4, 4..7]);
    twin.apply(vec![Write::Entry(entry(5, 2, 11)), Write::Superblock(superblock(2, 2, 0))]);
    twin.apply(vec![Write::Entry(entry(7, 2, 50))]);
    let expected = twin.sim.read();
    let mut faults = 0;
    for path in [twin.wal_path(), twin.headers_path()] {
        let len = file_len(&path);
        let name = path.file_name().expect("a name").to_string_lossy().into_owned();
        let mut damages: Vec<(String, Damage<Path>)> = Vec::new();
        for offset in (0..len).step_by(3) {
            damages.push((format!("{name}: byte {offset} flipped"), Box::new(move |path| flip_byte(path, offset))));
        }
        for cut in (1..=len).step_by(2) {
            damages.push((format!("{name}: {cut} bytes cut"), Box::new(move |path| cut_tail(path, cut))));
        }
        damages.push((format!("{name}: zeroed"), Box::new(|path| zero_block(path, 0))));
        for (context, damage) in damages {
            let copy = copy_dir(twin.dir.path());
            damage(&copy.path().join(&name));
            let (storage, read) = reopen(copy.path());
            assert_nothing_lost(&read, &expected, &context);
            drop(storage);
            let (mut storage, again) = reopen(copy.path());
            assert_eq!(again, read, "{context}: a second open reads the same");
            // Writes go on after the repair: a new op, and op 2 replaced.
            let (new, replacement) = (entry(8, 2, 20), entry(2, 2, 20));
            let writes = [Write::Entry(new.clone()), Write::Entry(replacement.clone())];
            let batch: Vec<Persist> = writes.into_iter().map(|write| Persist { id: 1, write }).collect();
            storage.apply(&batch).expect("append after the repair");
            let other = if path == twin.wal_path() {
                storage.wal.headers_path().to_path_buf()
            } else {
                storage.wal.path.clone()
            };
            drop(storage);
            let mut expected_after = again.clone();
            expected_after.entries[1] = StoredEntry::Intact(replacement);
            expected_after.entries.push(StoredEntry::Intact(new));
            assert_eq!(reopen(copy.path()).1, expected_after, "{context}: then appends");
            // Open restored both copies: now the other file may fail, all of it.
            assert!(file_len(&other) < 4096);
            zero_block(&other, 0);
            let (_, last) = reopen(copy.path());
            assert_nothing_lost(&last, &expected_after, &format!("{context}, then {} zeroed", other.display()));
            faults += 1;
        }
    }
    assert!(faults > 500);
}
