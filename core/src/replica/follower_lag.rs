//! How far behind each follower is, as its primary knows it: in ops, and in time.
//!
//! Ops alone mislead an operator: 500 ops behind is nothing under heavy load and a
//! long outage when the cluster is quiet (Kafka added time lag, KIP-836, for that
//! reason). A follower's time lag is how long ago the oldest committed op it lacks
//! was committed: it has every op committed before then. It is 0 when it lacks
//! nothing, and it keeps growing while the follower is unreachable, from what the
//! primary last heard of it.
//!
//! Volatile state of the primary, like the standby manager: a new primary starts
//! afresh, and an op committed before its view counts as committed when it began
//! serving (so the time lag of a follower that lacks such an op is a lower bound).

use alloc::collections::VecDeque;
use serde::Serialize;

use super::Role;
use crate::types::{MemberId, Op, Tick, MEMBERS_MAX};

/// Commit times kept: one per rise of the commit, so at least the last this many
/// batches. A follower further behind shows the oldest time kept (a lower bound).
pub const COMMIT_TIMES_MAX: usize = 1024;

/// When the primary's commit rose, oldest first, bounded.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CommitTimes {
    samples: VecDeque<(Op, Tick)>,
}

impl CommitTimes {
    /// Start afresh at `commit`, as a primary beginning its view.
    pub fn restart(&mut self, commit: Op, now: Tick) {
        self.samples.clear();
        self.samples.push_back((commit, now));
    }

    pub fn record(&mut self, commit: Op, now: Tick) {
        if self.samples.back().is_some_and(|(newest, _)| commit <= *newest) {
            return;
        }
        if self.samples.len() == COMMIT_TIMES_MAX {
            self.samples.pop_front();
        }
        self.samples.push_back((commit, now));
    }

    /// When `op` was committed: the first rise that reached it. `None` when it is not
    /// committed; the oldest time kept for an op older than every sample.
    pub fn committed_at(&self, op: Op) -> Option<Tick> {
        let first_reaching = self.samples.partition_point(|(commit, _)| *commit < op);
        self.samples.get(first_reaching).map(|(_, at)| *at)
    }

    /// `(lag_ops, lag_ticks)` of a follower holding every op up to `reached`.
    pub fn lag_of(&self, reached: Op, commit: Op, now: Tick) -> (Op, Tick) {
        if reached >= commit {
            return (0, 0);
        }
        let since = self.committed_at(reached + 1).unwrap_or(now);
        (commit - reached, now.saturating_sub(since))
    }
}

/// One follower, as the serving primary sees it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct FollowerLag {
    pub member: MemberId,
    /// `active` for a backup, `standby` for a standby.
    pub role: Role,
    /// The op it holds up to: a backup's durable acknowledgement, a standby's applied
    /// op. `None` until it was heard in this view.
    pub reached_op: Option<Op>,
    /// Committed ops it lacks.
    pub lag_ops: Option<Op>,
    /// How long ago the oldest committed op it lacks was committed (0: it lacks none).
    pub lag_ticks: Option<Tick>,
    /// How long since it was last heard in this view.
    pub last_contact_ticks_ago: Option<Tick>,
}

/// What the primary heard of each member in its view: when last (a heartbeat
/// answer or a prepare_ok), and the highest op it showed it holds (a durable
/// acknowledgement, or its applied commit in a heartbeat).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Contacts {
    at: [Option<Tick>; MEMBERS_MAX],
    reached: [Option<Op>; MEMBERS_MAX],
}

impl Default for Contacts {
    fn default() -> Self {
        Self { at: [None; MEMBERS_MAX], reached: [None; MEMBERS_MAX] }
    }
}

impl Contacts {
    pub fn heard(&mut self, member: MemberId, now: Tick) {
        if let Some(at) = self.at.get_mut(member as usize) {
            *at = Some(now);
        }
    }

    /// `member` holds every op up to `op`.
    pub fn reached(&mut self, member: MemberId, op: Op) {
        if let Some(reached) = self.reached.get_mut(member as usize) {
            *reached = (*reached).max(Some(op));
        }
    }

    pub fn last(&self, member: MemberId) -> Option<Tick> {
        self.at.get(member as usize).copied().flatten()
    }

    pub fn reached_op(&self, member: MemberId) -> Option<Op> {
        self.reached.get(member as usize).copied().flatten()
    }

    /// Whether `member` was heard within `window_ticks` of `now`.
    pub fn recent(&self, member: MemberId, now: Tick, window_ticks: Tick) -> bool {
        self.last(member).is_some_and(|at| now.saturating_sub(at) <= window_ticks)
    }

    /// `member` as the primary sees it.
    pub fn lag(&self, member: MemberId, role: Role, times: &CommitTimes, commit: Op, now: Tick) -> FollowerLag {
        follower_lag(member, role, self.reached_op(member), self.last(member), times, commit, now)
    }
}

/// The follower lag of `member`, heard last at `contact` and holding up to `reached`.
fn follower_lag(
    member: MemberId,
    role: Role,
    reached: Option<Op>,
    contact: Option<Tick>,
    times: &CommitTimes,
    commit: Op,
    now: Tick,
) -> FollowerLag {
    let lag = reached.map(|reached| times.lag_of(reached, commit, now));
    FollowerLag {
        member,
        role,
        reached_op: reached,
        lag_ops: lag.map(|(ops, _)| ops),
        lag_ticks: lag.map(|(_, ticks)| ticks),
        last_contact_ticks_ago: contact.map(|at| now.saturating_sub(at)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_lag_is_the_age_of_the_oldest_committed_op_lacking() {
        let mut times = CommitTimes::default();
        times.restart(10, 1_000);
        times.record(12, 1_100);
        times.record(12, 1_150);
        times.record(20, 1_200);
        assert_eq!(times.committed_at(11), Some(1_100));
        assert_eq!(times.committed_at(12), Some(1_100));
        assert_eq!(times.committed_at(13), Some(1_200));
        assert_eq!(times.committed_at(21), None, "not committed");
        assert_eq!(times.committed_at(3), Some(1_000), "before this view: when it began serving");
        assert_eq!(times.lag_of(20, 20, 1_300), (0, 0));
        assert_eq!(times.lag_of(12, 20, 1_300), (8, 100), "it lacks op 13, committed at 1,200");
        assert_eq!(times.lag_of(12, 20, 5_000), (8, 3_800), "and the lag grows while it is not heard");
        assert_eq!(times.lag_of(0, 20, 1_300), (20, 300));
    }

    #[test]
    fn commit_times_are_bounded() {
        let mut times = CommitTimes::default();
        times.restart(0, 0);
        for op in 1..=(COMMIT_TIMES_MAX as u64 * 3) {
            times.record(op, op * 10);
        }
        assert_eq!(times.samples.len(), COMMIT_TIMES_MAX);
        let oldest_kept = (COMMIT_TIMES_MAX as u64 * 2 + 1) * 10;
        assert_eq!(times.committed_at(1), Some(oldest_kept), "older than kept: a lower bound");
    }

    #[test]
    fn contacts_and_an_unheard_follower() {
        let mut contacts = Contacts::default();
        assert!(!contacts.recent(2, 100, 300));
        contacts.heard(2, 100);
        contacts.heard(200, 100);
        contacts.reached(2, 9);
        contacts.reached(2, 4);
        contacts.reached(200, 4);
        assert!(contacts.recent(2, 400, 300) && !contacts.recent(2, 401, 300));
        let mut times = CommitTimes::default();
        times.restart(9, 50);
        let unheard = contacts.lag(3, Role::Standby, &times, 9, 500);
        assert_eq!((unheard.lag_ops, unheard.lag_ticks, unheard.last_contact_ticks_ago), (None, None, None));
        let heard = contacts.lag(2, Role::Active, &times, 9, 500);
        assert_eq!(heard.reached_op, Some(9), "what it reached never goes back");
        assert_eq!((heard.lag_ops, heard.lag_ticks, heard.last_contact_ticks_ago), (Some(0), Some(0), Some(400)));
    }
}
