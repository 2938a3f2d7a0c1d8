//! Every write kind against the simulator, batching, compaction, and the directory rules.

use viewstamp_core::replica::{Durable, StoredEntry, Write};

use super::super::{format, open, spawn, Completion, StorageError, StorageOptions};
use super::*;

#[test]
fn every_write_kind_reads_back_as_the_simulator_does() {
    let mut twin = Twin::new(fast_options());
    let entries: Vec<Entry> = (1..=12).map(|op| entry(op, 1, 40 + op as usize)).collect();
    twin.apply(entries[..6].iter().cloned().map(Write::Entry).collect());
    twin.apply(vec![Write::Superblock(superblock(2, 1, 0))]);
    twin.apply(entries[6..].iter().cloned().map(Write::Entry).collect());
    // Overwrite an op with another view's entry, and scrub two ops.
    let replacement = entry(5, 2, 9);
    twin.apply(vec![
        Write::Entry(replacement.clone()),
        Write::Verify { op: 5, checksum: replacement.header.checksum },
        Write::Verify { op: 4, checksum: entries[3].header.checksum },
    ]);
    twin.assert_reopens_as_sim();

    // Install: keep up to op 8, adopt 9..=11 from view 3, one of them without a body.
    let adopted: Vec<Entry> = (9..=11).map(|op| entry(op, 3, 20)).collect();
    twin.apply(vec![Write::Install {
        superblock: superblock(3, 3, 0),
        truncate_after: 8,
        slots: vec![slot(&adopted[0], true), slot(&adopted[1], false), slot(&adopted[2], true)],
    }]);
    let durable = twin.reopen();
    assert_eq!(durable, twin.sim.read());
    assert_eq!(durable.entries.len(), 11, "op 12 of the old view is gone");
    assert_eq!(durable.entries[9], StoredEntry::Damaged(adopted[1].header));
    assert_eq!(durable.superblock, Some(superblock(3, 3, 0)));

    // Scrubbing the header-only slot reports damage; repair rewrites it.
    twin.apply(vec![Write::Verify { op: 10, checksum: adopted[1].header.checksum }]);
    twin.apply(vec![Write::Entry(adopted[1].clone())]);

    // A checkpoint drops entries before `retain_from`; an entry written after it below
    // `retain_from` is kept, as in the simulator.
    let data = checkpoint(6, entries[5].header);
    twin.apply(vec![Write::Checkpoint { data: data.clone(), retain_from: 4 }, Write::Entry(entry(2, 3, 5))]);
    let durable = twin.reopen();
    assert_eq!(durable, twin.sim.read());
    assert_eq!(durable.checkpoint, Some(data));
    let ops: Vec<Op> = durable.entries.iter().map(|stored| stored.header().op).collect();
    assert_eq!(ops, [2, 4, 5, 6, 7, 8, 9, 10, 11]);
}

#[test]
fn mixed_batches_match_the_simulator_after_every_batch() {
    let mut twin = Twin::new(StorageOptions { compact_min_dead_bytes: 256, ..fast_options() });
    let mut compactions = 0;
    for round in 0..30u64 {
        let base = round * 4;
        let mut writes: Vec<Write> = (1..=4).map(|op| Write::Entry(entry(base + op, round, 30))).collect();
        match round % 5 {
            1 => writes.push(Write::Superblock(superblock(round, round, 0))),
            2 => writes.push(Write::Checkpoint {
                data: checkpoint(base, Header { op: base, view: round, parent: 0, checksum: round }),
                retain_from: base.saturating_sub(3),
            }),
            3 => writes.insert(
                2,
                Write::Install {
                    superblock: superblock(round + 1, round + 1, 0),
                    truncate_after: base + 1,
                    slots: vec![slot(&entry(base + 2, round + 1, 12), round % 2 == 0)],
                },
            ),
            4 => writes.push(Write::Verify { op: base + 2, checksum: entry(base + 2, round, 30).header.checksum }),
            _ => {}
        }
        twin.apply(writes);
        compactions += twin.storage.metrics().compactions;
        twin.assert_reopens_as_sim();
    }
    assert!(compactions > 0, "the dead records were compacted away");
}

#[test]
fn many_writes_in_one_batch_share_one_sync_of_each_file() {
    let mut twin = Twin::new(StorageOptions::default());
    let before = twin.storage.metrics();
    twin.apply((1..=100).map(|op| Write::Entry(entry(op, 1, 16))).collect());
    let after = twin.storage.metrics();
    // The WAL and its header file.
    assert_eq!(after.fsyncs - before.fsyncs, 2);
    assert_eq!(after.fsync_latency.count() - before.fsync_latency.count(), 2);
    assert!(after.bytes_written - before.bytes_written > 100 * 64);
    twin.assert_reopens_as_sim();
}

#[test]
fn checkpoint_and_compaction_keep_the_state_and_shrink_the_log() {
    let mut twin = Twin::new(StorageOptions { compact_min_dead_bytes: 4096, ..fast_options() });
    let entries: Vec<Entry> = (1..=200).map(|op| entry(op, 1, 100)).collect();
    for chunk in entries.chunks(10) {
        twin.apply(chunk.iter().cloned().map(Write::Entry).collect());
    }
    let wal_path = twin.wal_path();
    let size_before = std::fs::metadata(&wal_path).expect("the log exists").len();
    assert_eq!(twin.storage.metrics().compactions, 0);

    let data = checkpoint(190, entries[189].header);
    twin.apply(vec![Write::Checkpoint { data, retain_from: 181 }]);
    let metrics = twin.storage.metrics();
    assert_eq!(metrics.compactions, 1);
    assert!(!wal_path.exists(), "the old generation is removed");
    let size_after = std::fs::metadata(twin.wal_path()).expect("the new log exists").len();
    assert_eq!(size_after, metrics.wal_bytes);
    assert!(size_after * 5 < size_before, "{size_after} bytes after, {size_before} before");
    twin.assert_reopens_as_sim();
    // Appends continue in the compacted generation.
    twin.apply(vec![Write::Entry(entry(201, 1, 100))]);
    twin.assert_reopens_as_sim();
}

#[test]
fn a_missing_or_empty_directory_is_not_formatted() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let missing = dir.path().join("absent");
    assert!(matches!(open(&missing, IDENTITY, fast_options()), Err(StorageError::NotFormatted { .. })));
    assert!(matches!(open(dir.path(), IDENTITY, fast_options()), Err(StorageError::NotFormatted { .. })));
    // `format` creates a missing directory.
    format(&missing, IDENTITY, &format_durable(release())).expect("format a missing directory");
    let (_, durable) = open(&missing, IDENTITY, fast_options()).expect("open");
    assert_eq!(durable, format_durable(release()));
}

#[test]
fn format_refuses_a_directory_with_files() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    std::fs::write(dir.path().join("notes.txt"), b"keep me").expect("write a file");
    let error = format(dir.path(), IDENTITY, &format_durable(release())).expect_err("not empty");
    assert!(matches!(error, StorageError::NotEmpty { .. }));
    assert!(error.to_string().contains(&dir.path().display().to_string()));
    // Files without an identity: not ours, or an interrupted format.
    assert!(matches!(open(dir.path(), IDENTITY, fast_options()), Err(StorageError::NoIdentity { .. })));
}

#[test]
fn another_cluster_or_member_is_refused() {
    let dir = formatted_dir();
    for wrong in [Identity { cluster: IDENTITY.cluster + 1, ..IDENTITY }, Identity { member: 3, ..IDENTITY }] {
        let error = open(dir.path(), wrong, fast_options()).err().expect("a mismatch");
        assert!(matches!(error, StorageError::IdentityMismatch { found, .. } if found == IDENTITY));
        let message = error.to_string();
        assert!(message.contains(&format!("{IDENTITY}")) && message.contains(&format!("{wrong}")), "{message}");
    }
    open(dir.path(), IDENTITY, fast_options()).expect("the right identity opens");
}

#[test]
fn a_formatted_state_with_checkpoint_and_damaged_entries_round_trips() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let kept = entry(5, 1, 10);
    let durable = Durable {
        superblock: Some(superblock(1, 1, 3)),
        checkpoint: Some(checkpoint(3, entry(3, 1, 1).header)),
        entries: vec![StoredEntry::Intact(entry(4, 1, 10)), StoredEntry::Damaged(kept.header)],
    };
    format(dir.path(), IDENTITY, &durable).expect("format");
    let (_, read) = open(dir.path(), IDENTITY, fast_options()).expect("open");
    assert_eq!(read, durable);
}

#[test]
fn lost_data_with_the_identity_left_opens_for_recovery() {
    let mut twin = Twin::new(fast_options());
    twin.apply((1..=5).map(|op| Write::Entry(entry(op, 1, 10))).collect());
    twin.apply(vec![Write::Checkpoint { data: checkpoint(2, entry(2, 1, 10).header), retain_from: 1 }]);
    let dir = twin.dir.path().to_path_buf();
    for name in std::fs::read_dir(&dir).expect("list").map(|e| e.expect("entry").file_name()) {
        let name = name.to_string_lossy().into_owned();
        if name.starts_with("superblock.") || name.starts_with("wal.") {
            std::fs::remove_file(dir.join(&name)).expect("delete");
        }
    }
    let (mut storage, durable) = open(&dir, IDENTITY, fast_options()).expect("open after lost data");
    assert_eq!(durable, Durable { superblock: None, checkpoint: None, entries: Vec::new() });
    assert!(dir.join("checkpoint.lost").exists(), "what remained is moved aside, not deleted");
    // Recovery then installs a log as usual.
    let adopted = entry(7, 4, 3);
    let install =
        Write::Install { superblock: superblock(4, 4, 6), truncate_after: 6, slots: vec![slot(&adopted, true)] };
    storage.apply(&[Persist { id: 1, write: install }]).expect("apply");
    drop(storage);
    let (_, durable) = open(&dir, IDENTITY, fast_options()).expect("reopen");
    assert_eq!(durable.superblock, Some(superblock(4, 4, 6)));
    assert_eq!(durable.entries, vec![StoredEntry::Intact(adopted)]);
}

#[tokio::test]
async fn the_worker_batches_queued_writes_and_reports_in_order() {
    let dir = formatted_dir();
    let (storage, _) = open(dir.path(), IDENTITY, StorageOptions::default()).expect("open");
    let mut worker = spawn(storage).expect("spawn");
    let writes = 300u64;
    for id in 1..=writes {
        worker.submit(Persist { id, write: Write::Entry(entry(id, 1, 32)) }).await.expect("submit");
    }
    let mut reports = 0;
    let mut last_id = 0;
    while last_id < writes {
        let completions = worker.next_report().await.expect("a report").expect("no storage error");
        reports += 1;
        let [Completion::Persisted { id }] = completions[..] else { panic!("unexpected {completions:?}") };
        assert!(id > last_id, "completions come in order");
        last_id = id;
    }
    assert_eq!(worker.metrics().fsyncs, 2 * reports, "one fsync of the WAL and of its header file per batch");
    worker.shutdown();
    let (_, durable) = open(dir.path(), IDENTITY, fast_options()).expect("reopen");
    assert_eq!(durable.entries.len(), writes as usize);
}
