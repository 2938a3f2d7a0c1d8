//! The primary's standby manager: health from heartbeat answers, lag behind the
//! cluster's commit with a history hosts can plot, and which standbys are promotable.
//!
//! It is volatile state of the primary: a new primary rebuilds it from the heartbeat
//! answers it receives, giving every standby one health timeout of grace.

use alloc::collections::VecDeque;
use alloc::vec::Vec;
use serde::Serialize;

use crate::types::{MemberId, Op, Tick};

/// Lag samples kept per standby.
pub const LAG_HISTORY_MAX: usize = 256;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StandbyOptions {
    /// A standby that has not answered for this long is unhealthy (3 missed heartbeats).
    pub health_timeout_ticks: Tick,
    /// A healthy standby at most this many ops behind may be promoted.
    pub promotable_lag_ops: Op,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StandbyTrack {
    pub member: MemberId,
    /// When the standby last answered, or when this primary started watching it.
    pub last_heard_at: Tick,
    pub heard: bool,
    /// The standby's reported progress.
    pub op: Op,
    pub commit: Op,
    /// Ops behind the cluster commit at the last answer; `None` before any answer.
    pub lag_ops: Option<Op>,
    /// `(tick, lag_ops)` at each answer, oldest first.
    pub lag_history: VecDeque<(Tick, Op)>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct StandbyView {
    pub member: MemberId,
    pub healthy: bool,
    pub lag_ops: Option<Op>,
    pub promotable: bool,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct HealthStats {
    pub healthy: usize,
    pub unhealthy: usize,
    pub lag_min_ops: Option<Op>,
    pub lag_max_ops: Option<Op>,
    pub lag_median_ops: Option<Op>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StandbyManager {
    options: StandbyOptions,
    standbys: Vec<StandbyTrack>,
}

impl StandbyManager {
    pub fn new(options: StandbyOptions, standbys: impl Iterator<Item = MemberId>, now: Tick) -> Self {
        let standbys = standbys
            .map(|member| StandbyTrack {
                member,
                last_heard_at: now,
                heard: false,
                op: 0,
                commit: 0,
                lag_ops: None,
                lag_history: VecDeque::new(),
            })
            .collect();
        Self { options, standbys }
    }

    /// Start watching afresh, as a new primary does.
    pub fn reset(&mut self, now: Tick) {
        let members: Vec<MemberId> = self.standbys.iter().map(|track| track.member).collect();
        *self = StandbyManager::new(self.options.clone(), members.into_iter(), now);
    }

    /// Follow a membership change: stop watching members that are no longer
    /// standbys, and start watching new ones.
    pub fn retain_members(&mut self, standbys: &[MemberId], now: Tick) {
        self.standbys.retain(|track| standbys.contains(&track.member));
        for member in standbys {
            if self.track(*member).is_none() {
                let fresh = StandbyManager::new(self.options.clone(), core::iter::once(*member), now);
                self.standbys.extend(fresh.standbys);
            }
        }
        self.standbys.sort_by_key(|track| track.member);
    }

    fn track_mut(&mut self, member: MemberId) -> Option<&mut StandbyTrack> {
        self.standbys.iter_mut().find(|track| track.member == member)
    }

    pub fn track(&self, member: MemberId) -> Option<&StandbyTrack> {
        self.standbys.iter().find(|track| track.member == member)
    }

    /// A heartbeat answer from a standby.
    pub fn on_report(&mut self, member: MemberId, op: Op, commit: Op, cluster_commit: Op, now: Tick) {
        let Some(track) = self.track_mut(member) else { return };
        track.last_heard_at = now;
        track.heard = true;
        track.op = op;
        track.commit = commit;
        let lag = cluster_commit.saturating_sub(commit);
        track.lag_ops = Some(lag);
        if track.lag_history.len() == LAG_HISTORY_MAX {
            track.lag_history.pop_front();
        }
        track.lag_history.push_back((now, lag));
    }

    pub fn is_healthy(&self, member: MemberId, now: Tick) -> bool {
        self.track(member)
            .is_some_and(|track| now.saturating_sub(track.last_heard_at) <= self.options.health_timeout_ticks)
    }

    /// A standby as of now: its lag is against the cluster's current commit, so a
    /// standby that stopped answering shows its lag growing.
    pub fn view(&self, member: MemberId, cluster_commit: Op, now: Tick) -> Option<StandbyView> {
        let track = self.track(member)?;
        let healthy = self.is_healthy(member, now);
        let lag_ops = track.heard.then(|| cluster_commit.saturating_sub(track.commit));
        // Promotable by how far behind it was when it last answered, not against the
        // commit now: under steady load the cluster commits hundreds of ops between two
        // heartbeats, so a standby that keeps up would never look promotable. Staleness
        // is what health judges.
        let promotable = healthy && track.lag_ops.is_some_and(|lag| lag <= self.options.promotable_lag_ops);
        Some(StandbyView { member, healthy, lag_ops, promotable })
    }

    pub fn views(&self, cluster_commit: Op, now: Tick) -> Vec<StandbyView> {
        self.standbys.iter().filter_map(|track| self.view(track.member, cluster_commit, now)).collect()
    }

    pub fn stats(&self, cluster_commit: Op, now: Tick) -> HealthStats {
        HealthStats::of(&self.views(cluster_commit, now))
    }
}

impl HealthStats {
    /// Counts and lag figures over `views`.
    pub fn of(views: &[StandbyView]) -> HealthStats {
        let mut lags: Vec<Op> = views.iter().filter_map(|view| view.lag_ops).collect();
        lags.sort_unstable();
        HealthStats {
            healthy: views.iter().filter(|view| view.healthy).count(),
            unhealthy: views.iter().filter(|view| !view.healthy).count(),
            lag_min_ops: lags.first().copied(),
            lag_max_ops: lags.last().copied(),
            lag_median_ops: (!lags.is_empty()).then(|| lags[lags.len() / 2]),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn manager() -> StandbyManager {
        let options = StandbyOptions { health_timeout_ticks: 300, promotable_lag_ops: 4 };
        StandbyManager::new(options, [3, 4, 5].into_iter(), 0)
    }

    #[test]
    fn health_follows_answers_and_times_out() {
        let mut m = manager();
        assert!(m.is_healthy(3, 300), "a grace period from the start");
        assert!(!m.is_healthy(3, 301));
        m.on_report(3, 10, 10, 10, 250);
        assert!(m.is_healthy(3, 550));
        assert!(!m.is_healthy(3, 551));
        m.reset(600);
        assert!(m.is_healthy(3, 900));
        assert_eq!(m.track(3).unwrap().lag_ops, None);
    }

    #[test]
    fn lag_promotable_and_stats() {
        let mut m = manager();
        m.on_report(3, 20, 20, 20, 10);
        m.on_report(4, 18, 15, 20, 10);
        m.on_report(5, 1, 1, 20, 10);
        let views = m.views(20, 20);
        assert_eq!(views[0].lag_ops, Some(0));
        assert!(views[0].promotable);
        assert_eq!(views[1].lag_ops, Some(5));
        assert!(!views[1].promotable, "5 ops behind is past the bound of 4");
        let stats = m.stats(20, 20);
        assert_eq!((stats.healthy, stats.unhealthy), (3, 0));
        assert_eq!((stats.lag_min_ops, stats.lag_median_ops, stats.lag_max_ops), (Some(0), Some(5), Some(19)));
        assert!(!m.view(3, 20, 400).unwrap().promotable, "unhealthy is never promotable");
        assert_eq!(m.view(3, 25, 20).unwrap().lag_ops, Some(5), "lag grows with the commit");
        let under_load = m.view(3, 500, 100).unwrap();
        assert_eq!(under_load.lag_ops, Some(480));
        assert!(under_load.promotable, "caught up when it last answered, 90 ticks ago: the load moved on, not it");
        for i in 0..(LAG_HISTORY_MAX as u64 + 10) {
            m.on_report(3, i, i, i, 20 + i);
        }
        assert_eq!(m.track(3).unwrap().lag_history.len(), LAG_HISTORY_MAX);
    }
}
