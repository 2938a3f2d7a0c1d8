//! The simulated network's faults: partitions, one-way blocks, loss, duplication and
//! delay (reordering follows from random delays).

use crate::prng::PPM_ONE;
use crate::types::{MemberId, Tick, MEMBERS_MAX};

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NetworkFaults {
    /// The partition group of each member; `None` is cut off from everyone.
    group: [Option<u8>; MEMBERS_MAX],
    /// `blocked[from]` has bit `to` set when messages from `from` to `to` are dropped.
    blocked: [u32; MEMBERS_MAX],
    pub loss_ppm: u32,
    pub dup_ppm: u32,
    pub delay_min_ticks: Tick,
    pub delay_max_ticks: Tick,
    /// The longest delay any message sent so far may have had.
    pub delay_max_seen_ticks: Tick,
}

impl Default for NetworkFaults {
    fn default() -> Self {
        Self {
            group: [Some(0); MEMBERS_MAX],
            blocked: [0; MEMBERS_MAX],
            loss_ppm: 0,
            dup_ppm: 0,
            delay_min_ticks: 1,
            delay_max_ticks: 3,
            delay_max_seen_ticks: 3,
        }
    }
}

impl NetworkFaults {
    /// Whether a message from one member reaches another right now.
    pub fn link_open(&self, from: MemberId, to: MemberId) -> bool {
        let (from, to) = (from as usize, to as usize);
        if self.blocked[from] & (1 << to) != 0 {
            return false;
        }
        matches!((self.group[from], self.group[to]), (Some(a), Some(b)) if a == b)
    }

    pub fn partition(&mut self, groups: &[alloc::vec::Vec<MemberId>]) {
        self.group = [None; MEMBERS_MAX];
        for (index, group) in groups.iter().enumerate() {
            for member in group {
                self.group[*member as usize] = Some(index as u8);
            }
        }
    }

    pub fn isolate(&mut self, member: MemberId) {
        // A fresh group number no one else has.
        self.group[member as usize] = None;
    }

    pub fn block(&mut self, from: MemberId, to: MemberId) {
        self.blocked[from as usize] |= 1 << to;
    }

    pub fn unblock(&mut self, from: MemberId, to: MemberId) {
        self.blocked[from as usize] &= !(1 << to);
    }

    pub fn heal(&mut self) {
        self.group = [Some(0); MEMBERS_MAX];
        self.blocked = [0; MEMBERS_MAX];
    }

    pub fn is_partitioned(&self) -> bool {
        self.group.iter().any(|group| *group != Some(0)) || self.blocked.iter().any(|bits| *bits != 0)
    }

    pub fn set(&mut self, loss_ppm: Option<u32>, dup_ppm: Option<u32>, delay_ticks: Option<(Tick, Tick)>) {
        if let Some(loss) = loss_ppm {
            self.loss_ppm = loss.min(PPM_ONE);
        }
        if let Some(dup) = dup_ppm {
            self.dup_ppm = dup.min(PPM_ONE);
        }
        if let Some((low, high)) = delay_ticks {
            assert!(low <= high);
            self.delay_min_ticks = low;
            self.delay_max_ticks = high;
            self.delay_max_seen_ticks = self.delay_max_seen_ticks.max(high);
        }
    }

    pub fn group_of(&self, member: MemberId) -> Option<u8> {
        self.group[member as usize]
    }

    pub fn blocked_from(&self, member: MemberId) -> u32 {
        self.blocked[member as usize]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;

    #[test]
    fn partitions_blocks_and_heal() {
        let mut net = NetworkFaults::default();
        assert!(net.link_open(0, 1));
        net.partition(&[vec![0, 1], vec![2]]);
        assert!(net.link_open(0, 1));
        assert!(!net.link_open(0, 2));
        assert!(!net.link_open(3, 3) || net.group_of(3).is_none());
        net.heal();
        net.block(0, 2);
        assert!(!net.link_open(0, 2));
        assert!(net.link_open(2, 0), "a block is one way");
        net.isolate(1);
        assert!(!net.link_open(1, 0) && !net.link_open(0, 1));
        net.heal();
        assert!(!net.is_partitioned());
    }
}
