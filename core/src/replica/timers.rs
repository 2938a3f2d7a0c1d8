//! The replica's timers: one deadline per kind, in a table.
//!
//! A timer is a tick at which `handle_timeout` has work to do, or nothing. The kinds
//! fire in the order of [`Timer::ALL`] when several are due at once; that order is part
//! of the simulator's determinism, so it never changes silently.

use crate::types::Tick;

/// What a deadline is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(super) enum Timer {
    /// The primary's next heartbeat (Commit) to its followers.
    Heartbeat,
    /// The primary resends prepares not yet acknowledged by a quorum.
    Prepare,
    /// A backup that heard nothing from its primary starts a view change.
    PrimaryTimeout,
    /// A view change not finished moves on to the next view.
    ViewChange,
    /// Ask peers again for missing entries, or for a checkpoint.
    Repair,
    /// A recovering member asks again for the state of the cluster.
    Recovery,
    /// Re-read one stored entry (`log_scrubbing`).
    Scrub,
}

impl Timer {
    /// Every kind, in firing order.
    pub(super) const ALL: [Timer; 7] = [
        Timer::Heartbeat,
        Timer::Prepare,
        Timer::PrimaryTimeout,
        Timer::ViewChange,
        Timer::Repair,
        Timer::Recovery,
        Timer::Scrub,
    ];

    fn index(self) -> usize {
        self as usize
    }
}

#[derive(Clone, Debug, Default)]
pub(super) struct Timers {
    deadlines: [Option<Tick>; Timer::ALL.len()],
}

impl Timers {
    pub(super) fn deadline(&self, timer: Timer) -> Option<Tick> {
        self.deadlines[timer.index()]
    }

    pub(super) fn is_armed(&self, timer: Timer) -> bool {
        self.deadline(timer).is_some()
    }

    /// Set the deadline, earlier or later than before.
    pub(super) fn set(&mut self, timer: Timer, at: Tick) {
        self.deadlines[timer.index()] = Some(at);
    }

    /// Set the deadline only if that makes it sooner (or it was off).
    pub(super) fn arm(&mut self, timer: Timer, at: Tick) {
        let deadline = &mut self.deadlines[timer.index()];
        if deadline.is_none_or(|current| current > at) {
            *deadline = Some(at);
        }
    }

    pub(super) fn cancel(&mut self, timer: Timer) {
        self.deadlines[timer.index()] = None;
    }

    /// Whether `timer` is due at `now`; a due timer is disarmed as it is taken.
    pub(super) fn take_due(&mut self, timer: Timer, now: Tick) -> bool {
        let due = self.deadline(timer).is_some_and(|at| at <= now);
        if due {
            self.cancel(timer);
        }
        due
    }

    /// The earliest deadline of any timer.
    pub(super) fn next(&self) -> Option<Tick> {
        self.deadlines.iter().flatten().copied().min()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arm_only_brings_a_deadline_forward() {
        let mut timers = Timers::default();
        timers.arm(Timer::Repair, 10);
        timers.arm(Timer::Repair, 20);
        assert_eq!(timers.deadline(Timer::Repair), Some(10));
        timers.arm(Timer::Repair, 5);
        assert_eq!(timers.deadline(Timer::Repair), Some(5));
        timers.set(Timer::Repair, 30);
        assert_eq!(timers.deadline(Timer::Repair), Some(30));
    }

    #[test]
    fn due_timers_are_taken_once_and_next_is_the_earliest() {
        let mut timers = Timers::default();
        assert_eq!(timers.next(), None);
        timers.set(Timer::Scrub, 7);
        timers.set(Timer::Heartbeat, 3);
        assert_eq!(timers.next(), Some(3));
        assert!(!timers.take_due(Timer::Scrub, 6));
        assert!(timers.take_due(Timer::Heartbeat, 6));
        assert!(!timers.take_due(Timer::Heartbeat, 6));
        assert!(!timers.is_armed(Timer::Heartbeat));
        assert_eq!(timers.next(), Some(7));
        timers.cancel(Timer::Scrub);
        assert_eq!(timers.next(), None);
    }

    #[test]
    fn every_kind_has_its_own_slot_in_firing_order() {
        for (index, timer) in Timer::ALL.iter().enumerate() {
            assert_eq!(timer.index(), index);
        }
    }
}
