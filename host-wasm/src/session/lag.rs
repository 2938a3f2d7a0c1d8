//! Each standby's lag over simulated time, as the primary tracks it, sampled while
//! commands run (a long `tick` or `until` would otherwise show only its end).

use alloc::vec::Vec;

use serde::Serialize;
use viewstamp_core::sim::Simulator;

/// Ticks between samples at first; doubled each time the history fills.
const SAMPLE_EVERY_TICKS: u64 = 10;
/// The most samples kept: past it every other older one goes.
pub const LAG_SAMPLES_MAX: usize = 4096;

/// One standby's lag at one moment.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "browser", derive(tsify::Tsify))]
pub struct LagSample {
    /// Simulated time in ticks.
    pub time: u64,
    pub member: u8,
    pub lag_ops: u64,
    pub healthy: bool,
}

#[derive(Clone, Debug)]
pub(super) struct LagHistory {
    samples: Vec<LagSample>,
    every_ticks: u64,
    last_time: Option<u64>,
}

impl Default for LagHistory {
    fn default() -> Self {
        LagHistory { samples: Vec::new(), every_ticks: SAMPLE_EVERY_TICKS, last_time: None }
    }
}

impl LagHistory {
    /// Sample every standby the primary tracks, unless one was taken recently.
    pub(super) fn record(&mut self, sim: &Simulator) {
        let now = sim.now();
        if self.last_time.is_some_and(|last| now < last.saturating_add(self.every_ticks)) {
            return;
        }
        let Some(primary) = sim.primary() else { return };
        for member in 0..sim.member_count() {
            let Some(view) = sim.standby_view(primary, member) else { continue };
            let Some(lag_ops) = view.lag_ops else { continue };
            self.samples.push(LagSample { time: now, member, lag_ops, healthy: view.healthy });
            // Throttle only once there is something to sample.
            self.last_time = Some(now);
        }
        if self.samples.len() > LAG_SAMPLES_MAX {
            // Keep the times of every other sampling moment.
            let mut times: Vec<u64> = self.samples.iter().map(|sample| sample.time).collect();
            times.dedup();
            let kept: Vec<u64> = times.into_iter().step_by(2).collect();
            self.samples.retain(|sample| kept.binary_search(&sample.time).is_ok());
            self.every_ticks = self.every_ticks.saturating_mul(2);
        }
    }

    /// Forget samples after `time` (a travel back to then).
    pub(super) fn forget_after(&mut self, time: u64) {
        self.samples.retain(|sample| sample.time <= time);
        self.last_time = self.samples.last().map(|sample| sample.time);
    }

    pub(super) fn samples(&self) -> &[LagSample] {
        &self.samples
    }
}
