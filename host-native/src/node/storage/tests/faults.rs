//! A full disk at every point of a workload: a clear error, fail-stop, and a reopen that
//! holds everything reported durable.

use viewstamp_core::replica::{Durable, StoredEntry, Write};

use super::super::{open, Completion, StorageError, StorageOptions};
use super::*;

/// Batches touching every write kind, with compaction and a WAL rewrite on the way.
fn workload() -> Vec<Vec<Write>> {
    let mut batches = Vec::new();
    for round in 0..8u64 {
        let base = round * 5;
        let mut batch: Vec<Write> = (1..=5).map(|op| Write::Entry(entry(base + op, round, 20 + op as usize))).collect();
        match round % 4 {
            0 => batch.insert(3, Write::Superblock(superblock(round + 1, round, 0))),
            1 => batch.push(Write::Checkpoint {
                data: checkpoint(base, Header { op: base, view: round, parent: 0, checksum: base }),
                retain_from: base.saturating_sub(2),
            }),
            2 => batch.insert(
                2,
                Write::Install {
                    superblock: superblock(round + 2, round + 2, 0),
                    truncate_after: base + 1,
                    slots: vec![
                        slot(&entry(base + 2, round + 2, 8), false),
                        slot(&entry(base + 3, round + 2, 8), true),
                    ],
                },
            ),
            _ => batch.push(Write::Verify { op: base + 1, checksum: entry(base + 1, round, 21).header.checksum }),
        }
        batches.push(batch);
    }
    batches
}

fn options(fail_after_bytes: Option<u64>) -> StorageOptions {
    StorageOptions { fail_after_bytes, compact_min_dead_bytes: 512, ..fast_options() }
}

/// The simulator's state after every prefix of `batch`, starting from `sim`.
fn states_within(sim: &SimStorage, batch: &[Persist]) -> Vec<Durable> {
    let mut sim = sim.clone();
    let mut states = vec![sim.read()];
    for persist in batch {
        sim.submit(persist.clone());
        sim.complete(persist.id);
        states.push(sim.read());
    }
    states
}

/// `read` is one of `states`, or one of them plus intact entries seen in an earlier one.
fn is_state_or_superset(read: &Durable, states: &[Durable]) -> bool {
    states.iter().enumerate().any(|(k, state)| {
        read.superblock == state.superblock
            && read.checkpoint == state.checkpoint
            && state.entries.iter().all(|stored| read.entries.contains(stored))
            && read.entries.iter().all(|stored| {
                state.entries.contains(stored)
                    || (matches!(stored, StoredEntry::Intact(_))
                        && states[..k].iter().any(|s| s.entries.contains(stored)))
            })
    })
}

/// Superblock view, checkpoint op and `op/view` of each entry (`!` when damaged).
fn summary(durable: &Durable) -> String {
    let entries: Vec<String> = durable
        .entries
        .iter()
        .map(|stored| {
            let mark = if matches!(stored, StoredEntry::Intact(_)) { "" } else { "!" };
            format!("{}/{}{mark}", stored.header().op, stored.header().view)
        })
        .collect();
    format!(
        "view {:?} checkpoint {:?} entries {}",
        durable.superblock.as_ref().map(|superblock| superblock.view),
        durable.checkpoint.as_ref().map(|checkpoint| checkpoint.op),
        entries.join(" ")
    )
}

#[test]
fn a_full_disk_stops_writes_and_reopens_with_everything_reported() {
    let total_bytes = {
        let mut twin = Twin::new(options(None));
        for batch in workload() {
            twin.apply(batch);
        }
        assert!(twin.storage.metrics().compactions > 0, "the workload compacts");
        twin.storage.metrics().bytes_written
    };
    let mut failures = 0;
    for fail_after_bytes in (0..total_bytes).step_by(53).chain([total_bytes - 1]) {
        let mut twin = Twin::new(options(Some(fail_after_bytes)));
        let mut failed = false;
        for writes in workload() {
            let batch = twin.persists(writes);
            match twin.storage.apply(&batch) {
                Ok(completions) => {
                    assert_eq!(completions[0], Completion::Persisted { id: batch.last().expect("non-empty").id });
                    for persist in batch {
                        twin.sim.submit(persist.clone());
                        twin.sim.complete(persist.id);
                    }
                }
                Err(error) => {
                    assert!(matches!(error, StorageError::DiskFull { .. }), "at {fail_after_bytes}: {error}");
                    assert!(error.to_string().contains("no space left"), "{error}");
                    let later = twin.storage.apply(&batch).expect_err("fail-stop");
                    assert!(matches!(later, StorageError::Stopped { .. }), "{later}");
                    let states = states_within(&twin.sim, &batch);
                    let (_, read) = open(twin.dir.path(), IDENTITY, fast_options()).expect("reopen after a full disk");
                    assert!(
                        is_state_or_superset(&read, &states),
                        "at {fail_after_bytes} bytes: read back {}\nnot one of\n{}",
                        summary(&read),
                        states.iter().map(summary).collect::<Vec<_>>().join("\n")
                    );
                    failed = true;
                    failures += 1;
                    break;
                }
            }
        }
        assert!(failed, "a limit of {fail_after_bytes} below {total_bytes} bytes fails");
    }
    assert!(failures > 20);
}

#[test]
fn the_injected_limit_leaves_a_torn_record_that_reopen_cuts() {
    let dir = formatted_dir();
    let (mut storage, _) = open(dir.path(), IDENTITY, options(Some(2000))).expect("open");
    let batch: Vec<Persist> = (1..=20).map(|op| Persist { id: op, write: Write::Entry(entry(op, 1, 40)) }).collect();
    assert!(storage.apply(&batch[..5]).is_ok());
    assert!(matches!(storage.apply(&batch[5..]), Err(StorageError::DiskFull { .. })));
    drop(storage);
    let (storage, durable) = open(dir.path(), IDENTITY, fast_options()).expect("reopen");
    assert!(storage.metrics().torn_bytes_cut > 0, "the write stopped mid-record");
    let ops: Vec<Op> = durable.entries.iter().map(|stored| stored.header().op).collect();
    assert!(ops.len() >= 5 && ops.len() < 20 && ops == (1..=ops.len() as u64).collect::<Vec<_>>(), "{ops:?}");
    assert!(durable.entries.iter().all(|stored| matches!(stored, StoredEntry::Intact(_))));
}
