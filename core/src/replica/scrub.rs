//! Log scrubbing (`log_scrubbing`, from 1.1.0): stored entries are re-read and
//! verified in the background, one every `scrub_interval_ticks`, cycling over the log
//! window. A damaged one becomes a hole that repair fills from peers, so it is never
//! served or applied from bad bytes.

use super::timers::Timer;
use super::{Replica, Status, Write};
use crate::release::Feature;
use crate::state_machine::StateMachine;
use crate::types::{Op, Tick};

impl<S: StateMachine> Replica<S> {
    pub(super) fn arm_scrub(&mut self) {
        if !self.timers.is_armed(Timer::Scrub)
            && self.status() == Status::Normal
            && self.feature_enabled(Feature::LogScrubbing)
        {
            self.timers.set(Timer::Scrub, self.now + self.options.scrub_interval_ticks);
        }
    }

    pub(super) fn on_scrub_timeout(&mut self) {
        if self.status() != Status::Normal || !self.feature_enabled(Feature::LogScrubbing) {
            return;
        }
        if self.scrub_cursor <= self.log.base() || self.scrub_cursor > self.log.op() {
            self.scrub_cursor = self.log.base() + 1;
        }
        if let Some(slot) = self.log.get(self.scrub_cursor) {
            // Only what the host reported durable has a stored copy to check.
            if slot.durable && slot.body.is_some() {
                let (op, checksum) = (slot.header.op, slot.header.checksum);
                self.persist(Write::Verify { op, checksum });
                self.counters.entries_scrubbed += 1;
            }
        }
        self.scrub_cursor += 1;
    }

    /// The host read back the stored entry at `op`: `intact` is false when it no
    /// longer matches its checksum. The window's bodies were verified against their
    /// checksums when they arrived and are kept in memory, so the stored copy is
    /// rewritten from there: the damage is gone before a restart could read it, and
    /// no acknowledged entry is ever missing from the protocol's point of view.
    pub fn handle_verified(&mut self, now: Tick, op: Op, checksum: u64, intact: bool) {
        self.now = now;
        if intact || self.status() == Status::Halted {
            return;
        }
        let Some(slot) = self.log.get(op) else { return };
        if slot.header.checksum != checksum {
            return;
        }
        self.counters.scrub_damage_found += 1;
        if let Some(entry) = slot.entry() {
            debug_assert!(entry.is_intact());
            self.persist(Write::Entry(entry));
        }
    }
}
