//! Counters and an fsync latency histogram, read as a snapshot.

use std::time::Duration;

/// Upper bounds of the fsync latency buckets, in microseconds; one more bucket is +Inf.
pub const FSYNC_BUCKET_BOUNDS_US: [u64; 14] =
    [50, 100, 250, 500, 1_000, 2_500, 5_000, 10_000, 25_000, 50_000, 100_000, 250_000, 500_000, 1_000_000];

/// Fixed buckets, read Prometheus-style as cumulative counts.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LatencyHistogram {
    /// Per bucket (not cumulative); the last is +Inf.
    counts: [u64; FSYNC_BUCKET_BOUNDS_US.len() + 1],
    sum_us: u64,
}

impl LatencyHistogram {
    pub fn record(&mut self, latency: Duration) {
        let latency_us = u64::try_from(latency.as_micros()).unwrap_or(u64::MAX);
        let bucket = FSYNC_BUCKET_BOUNDS_US
            .iter()
            .position(|bound| latency_us <= *bound)
            .unwrap_or(FSYNC_BUCKET_BOUNDS_US.len());
        self.counts[bucket] += 1;
        self.sum_us = self.sum_us.saturating_add(latency_us);
    }

    /// `(le bound in µs, or None for +Inf; observations at or below it)`.
    pub fn cumulative(&self) -> Vec<(Option<u64>, u64)> {
        let bounds = FSYNC_BUCKET_BOUNDS_US.iter().map(|bound| Some(*bound)).chain([None]);
        let mut running = 0;
        bounds
            .zip(self.counts)
            .map(|(bound, count)| {
                running += count;
                (bound, running)
            })
            .collect()
    }

    #[cfg(test)]
    pub fn count(&self) -> u64 {
        self.counts.iter().sum()
    }

    pub fn sum_us(&self) -> u64 {
        self.sum_us
    }
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StorageMetrics {
    /// fsync and fdatasync calls, files and directories alike (a batch syncs two files:
    /// the WAL and its header file).
    pub fsyncs: u64,
    pub bytes_written: u64,
    pub fsync_latency: LatencyHistogram,
    /// Calls to `apply` that wrote or verified something.
    pub batches: u64,
    pub compactions: u64,
    /// The live WAL file's size, and the part of it still needed.
    pub wal_bytes: u64,
    pub live_bytes: u64,
    /// Cut from the WAL's tail at open (a torn, never acknowledged write).
    pub torn_bytes_cut: u64,
    /// Unreadable records skipped at open (damage in the WAL; their headers may still
    /// have been restored from the header file).
    pub damaged_bytes_skipped: u64,
    /// Live entries whose WAL header was unreadable or cut off at open, restored from the
    /// WAL's header file (they read back damaged, for the replica to repair).
    pub damaged_records_restored: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_cumulative_and_end_with_everything() {
        let mut histogram = LatencyHistogram::default();
        for latency_us in [10, 50, 51, 700, 2_000_000] {
            histogram.record(Duration::from_micros(latency_us));
        }
        let cumulative = histogram.cumulative();
        assert_eq!(cumulative[0], (Some(50), 2));
        assert_eq!(cumulative[1], (Some(100), 3));
        assert_eq!(cumulative[4], (Some(1_000), 4));
        assert_eq!(cumulative.last(), Some(&(None, 5)));
        assert_eq!(histogram.count(), 5);
        assert_eq!(histogram.sum_us(), 10 + 50 + 51 + 700 + 2_000_000);
    }
}
