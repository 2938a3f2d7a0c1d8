//! Micro benchmarks of group commit (run with `--ignored --nocapture`). They print
//! figures and assert nothing about time.

use std::time::{Duration, Instant};

use viewstamp_core::replica::Write;

use super::super::disk::PairSync;
use super::super::{open, StorageOptions};
use super::*;

#[test]
#[ignore = "a benchmark: prints figures"]
fn ten_thousand_small_entries_in_batches_of_1_and_64() {
    const ENTRIES: u64 = 10_000;
    for batch_writes in [1usize, 64] {
        let dir = formatted_dir();
        let (mut storage, _) = open(dir.path(), IDENTITY, StorageOptions::default()).expect("open");
        let persists: Vec<Persist> =
            (1..=ENTRIES).map(|op| Persist { id: op, write: Write::Entry(entry(op, 1, 64)) }).collect();
        let started = Instant::now();
        for batch in persists.chunks(batch_writes) {
            storage.apply(batch).expect("apply");
        }
        let elapsed = started.elapsed();
        let metrics = storage.metrics();
        let median_bucket = metrics
            .fsync_latency
            .cumulative()
            .into_iter()
            .find(|(_, count)| *count * 2 >= metrics.fsync_latency.count())
            .and_then(|(bound, _)| bound);
        let batches = ENTRIES.div_ceil(batch_writes as u64);
        println!(
            "batches of {batch_writes:>2}: {ENTRIES} entries in {:.3} s = {:.0} entries/s, {:.0} us per batch; {} fsyncs, \
             mean fsync {} us, median fsync <= {median_bucket:?} us, {} bytes written",
            elapsed.as_secs_f64(),
            ENTRIES as f64 / elapsed.as_secs_f64(),
            elapsed.as_secs_f64() * 1e6 / batches as f64,
            metrics.fsyncs,
            metrics.fsync_latency.sum_us() / metrics.fsync_latency.count().max(1),
            metrics.bytes_written,
        );
        // Each batch syncs the WAL and its header file.
        assert_eq!(metrics.fsyncs, 2 * batches);
    }
}

/// The cost of the header file: the WAL synced alone (as before it existed, not durable
/// now), then with its header file synced after it, then both at once. The ways take
/// turns in short rounds, so that load from elsewhere on the machine spreads over all.
#[test]
#[ignore = "a benchmark: prints figures"]
fn the_header_file_sync_alone_after_and_in_parallel() {
    const ROUNDS: usize = 30;
    const BATCHES_PER_ROUND: usize = 100;
    let ways = [
        ("WAL alone (before)", PairSync::FirstOnly),
        ("sequential", PairSync::Sequential),
        ("parallel", PairSync::Parallel),
    ];
    let spawns = 1000;
    let started = Instant::now();
    for _ in 0..spawns {
        std::thread::scope(|scope| scope.spawn(|| ()).join().expect("join"));
    }
    println!("a scoped thread's spawn and join: {:.1} us", started.elapsed().as_secs_f64() * 1e6 / spawns as f64);
    for batch_writes in [1usize, 64] {
        let writes = ROUNDS * BATCHES_PER_ROUND * batch_writes;
        let persists: Vec<Persist> =
            (1..=writes as u64).map(|op| Persist { id: op, write: Write::Entry(entry(op, 1, 64)) }).collect();
        let mut stores: Vec<_> = ways
            .iter()
            .map(|(_, way)| {
                let dir = formatted_dir();
                let (mut storage, _) = open(dir.path(), IDENTITY, StorageOptions::default()).expect("open");
                storage.disk.set_pair_sync(*way);
                (dir, storage, Vec::new())
            })
            .collect();
        for round in persists.chunks(BATCHES_PER_ROUND * batch_writes) {
            for (_, storage, per_batch) in &mut stores {
                let started = Instant::now();
                for batch in round.chunks(batch_writes) {
                    storage.apply(batch).expect("apply");
                }
                per_batch.push(started.elapsed() / BATCHES_PER_ROUND as u32);
            }
        }
        for ((name, _), (_, storage, per_batch)) in ways.iter().zip(&mut stores) {
            per_batch.sort();
            let mean = per_batch.iter().sum::<Duration>() / per_batch.len() as u32;
            let metrics = storage.metrics();
            println!(
                "batches of {batch_writes:>2}, {name:>18}: {:>5} us per batch (median of {ROUNDS} rounds; mean {:>5}, best \
                 {:>5}); {} fsyncs, mean fsync {} us",
                per_batch[per_batch.len() / 2].as_micros(),
                mean.as_micros(),
                per_batch[0].as_micros(),
                metrics.fsyncs,
                metrics.fsync_latency.sum_us() / metrics.fsync_latency.count().max(1),
            );
        }
    }
}
