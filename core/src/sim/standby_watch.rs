//! The standby subjects (`lag[S]`, `health[S]`, `promotable[S]`) read what the primary
//! tracks, and member ABI 1 does not report that for a primary running archived code.
//! So while an archived member is primary, the simulator keeps the same tracking
//! beside it: a [`StandbyManager`] started when that member becomes primary of a view,
//! fed every heartbeat a standby delivers to it, exactly as the core feeds its own
//! (`replica/heartbeat.rs`). It sees what the primary sees and nothing else.

use crate::message::Heartbeat;
use crate::replica::Options;
use crate::standby::{StandbyManager, StandbyOptions, StandbyView};
use crate::types::{MemberId, Op, Tick, View};

use super::engine::MemberState;

#[derive(Clone)]
pub struct StandbyWatch {
    primary: MemberId,
    incarnation: u64,
    view: View,
    manager: StandbyManager,
}

impl StandbyWatch {
    /// Whether this watch follows `primary`'s incarnation as primary of `view`.
    pub fn follows(&self, primary: MemberId, incarnation: u64, view: View) -> bool {
        (self.primary, self.incarnation, self.view) == (primary, incarnation, view)
    }

    /// A watch of `standbys`, from the moment `primary` became primary of `view`.
    pub fn start(
        primary: MemberId,
        incarnation: u64,
        view: View,
        options: &Options,
        standbys: &[MemberId],
        now: Tick,
    ) -> Self {
        let manager_options = StandbyOptions {
            health_timeout_ticks: 3 * options.heartbeat_interval_ticks,
            promotable_lag_ops: options.promotable_lag_ops,
        };
        let manager = StandbyManager::new(manager_options, standbys.iter().copied(), now);
        StandbyWatch { primary, incarnation, view, manager }
    }

    /// A heartbeat delivered to the watched primary, in the state it had then.
    pub fn on_heartbeat(&mut self, heartbeat: &Heartbeat, primary: &MemberState, standbys: &[MemberId], now: Tick) {
        if heartbeat.view != primary.view || !primary.serving_primary || !standbys.contains(&heartbeat.from) {
            return;
        }
        self.manager.retain_members(standbys, now);
        self.manager.on_report(heartbeat.from, heartbeat.op, heartbeat.commit, primary.commit_max, now);
    }

    pub fn view(&self, standby: MemberId, commit_max: Op, now: Tick) -> Option<StandbyView> {
        self.manager.view(standby, commit_max, now)
    }
}
