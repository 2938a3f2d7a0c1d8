//! A micro benchmark of group commit (run with `--ignored --nocapture`).

use std::time::Instant;

use viewstamp_core::replica::Write;

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
        println!(
            "batches of {batch_writes:>2}: {ENTRIES} entries in {:.3} s = {:.0} entries/s; {} fsyncs, mean fsync {} us, \
             median fsync <= {median_bucket:?} us, {} bytes written",
            elapsed.as_secs_f64(),
            ENTRIES as f64 / elapsed.as_secs_f64(),
            metrics.fsyncs,
            metrics.fsync_latency.sum_us() / metrics.fsync_latency.count().max(1),
            metrics.bytes_written,
        );
        assert_eq!(metrics.fsyncs, ENTRIES.div_ceil(batch_writes as u64));
    }
}
