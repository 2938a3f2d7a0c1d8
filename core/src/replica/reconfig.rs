//! Promotion of a standby through a committed reconfiguration (`cluster_reconfig`).
//!
//! The membership lives in the log. A `Reconfigure` entry at op k sets it from k on,
//! and every member reads its membership from its own log, committed or not, as in
//! Raft's joint consensus. While k is uncommitted the old and the new active sets
//! must both agree:
//! - k, and everything before it, commits only once durable on a majority of each;
//! - a view change whose log holds an uncommitted k needs DoViewChange messages from
//!   a majority of each.
//!
//! So neither configuration can go on without the other until k commits, and once it
//! has, a majority of the old one holds k and can never elect a log without it. The
//! primary prepares nothing after an uncommitted k.
//!
//! Primaries come from the newest membership in the log prepared before the view: a
//! change prepared in view v counts from view v + 1 on, so a view never changes its
//! primary, and a view change run again for the same view chooses the same one. Once
//! k commits, the primary hands over to the next view under the new membership.

use super::membership::{Membership, PromotionEvent};
use super::{Replica, Role};
use crate::message::{Body, ConfigStamp, Entry, Reconfiguration};
use crate::release::Feature;
use crate::state_machine::StateMachine;
use crate::types::{MemberId, Op, Tick, View};
use crate::upgrade::Refusal;

/// What every host shows of the configuration and promotions.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReconfigStatus {
    /// As of the newest op this member applied.
    pub membership: Membership,
    /// An uncommitted reconfiguration in this member's log: its op and membership.
    pub pending: Option<(Op, Membership)>,
    pub promotions: alloc::vec::Vec<PromotionEvent>,
}

impl<S: StateMachine> Replica<S> {
    pub fn reconfig_status(&self) -> ReconfigStatus {
        ReconfigStatus {
            membership: self.config.membership.clone(),
            pending: self.pending_reconfig().map(|(op, _)| (op, self.membership().clone())),
            promotions: self.config.promotions.clone(),
        }
    }

    /// Reconfigurations in the log not applied yet, oldest first.
    fn log_changes(&self) -> impl Iterator<Item = (Op, View, &Membership)> + '_ {
        self.log_change_slots().map(|(header, membership)| (header.op, header.view, membership))
    }

    fn log_change_slots(&self) -> impl Iterator<Item = (crate::message::Header, &Membership)> + '_ {
        self.log.slots_after(self.applied).filter_map(|slot| match &slot.body {
            Some(Body::Reconfigure(change)) => Some((slot.header, &change.membership)),
            _ => None,
        })
    }

    /// The newest membership in this member's log, committed or not.
    pub fn membership(&self) -> &Membership {
        self.log_changes().last().map_or(&self.config.membership, |(_, _, membership)| membership)
    }

    /// The newest reconfiguration in the log if it is not committed yet: its op and
    /// the membership before it.
    pub fn pending_reconfig(&self) -> Option<(Op, &Membership)> {
        let mut previous = &self.config.membership;
        let mut newest = None;
        for (op, _, membership) in self.log_changes() {
            newest = Some((op, previous));
            previous = membership;
        }
        newest.filter(|(op, _)| *op > self.commit_max)
    }

    /// The membership that chooses the primary of `view`: the newest in the log
    /// (committed or not) prepared before `view`. It depends on the log alone, never on
    /// what a member happens to know committed: a view change run again for the same
    /// view, after a restart, chooses the same primary.
    pub(super) fn view_membership(&self, view: View) -> &Membership {
        let from_log = self.log_changes().filter(|(_, changed_in, _)| *changed_in < view).last();
        if let Some((_, _, membership)) = from_log {
            return membership;
        }
        let config = &self.config;
        match &config.last_change {
            // Changed in this view or later, as far as this checkpoint knows.
            Some(change) if change.view >= view => &change.previous,
            _ => &config.membership,
        }
    }

    pub(super) fn primary_of(&self, view: View) -> MemberId {
        match self.known_primary {
            Some((known_view, primary)) if known_view == view => primary,
            _ => self.view_membership(view).primary_of(view),
        }
    }

    /// Whether `member`'s acknowledgements and view-change votes count: active in the
    /// newest membership, or in the one before an uncommitted change. For this member
    /// itself, a newer committed configuration a primary named overrides the log: a
    /// removed member stops voting, a promoted standby starts, before the log says so.
    pub(super) fn is_voter(&self, member: MemberId) -> bool {
        if member == self.id {
            if let Some(committed) = self.newer_committed_hint() {
                return committed.membership.is_active(member);
            }
        }
        self.membership().is_active(member) || self.pending_reconfig().is_some_and(|(_, old)| old.is_active(member))
    }

    /// The membership as of the newest op this member applied.
    pub fn committed_membership(&self) -> &Membership {
        &self.config.membership
    }

    /// This member's role in the committed membership, or in a newer committed one a
    /// primary named. While a reconfiguration is uncommitted, the standby it promotes
    /// and the replica it replaces both vote (`is_voter`) but keep their roles.
    pub fn role(&self) -> Role {
        match self.newer_committed_hint() {
            Some(committed) if committed.op > self.config_op() => committed.membership.role_of(self.id),
            _ => self.committed_membership().role_of(self.id),
        }
    }

    /// The op of the reconfiguration that set the membership we applied (0: initial).
    fn config_op(&self) -> Op {
        self.config.last_change.as_ref().map_or(0, |change| change.op)
    }

    /// The configuration we applied, as messages carry it.
    pub(super) fn committed_stamp(&self) -> ConfigStamp {
        let (op, view, checksum) =
            self.config.last_change.as_ref().map_or((0, 0, 0), |change| (change.op, change.view, change.checksum));
        ConfigStamp { op, view, checksum, membership: self.config.membership.clone(), committed: true }
    }

    /// The newest configuration our log holds, committed or not.
    fn log_stamp_op(&self) -> Op {
        self.log_changes().last().map_or(self.config_op(), |(op, _, _)| op)
    }

    /// The newest configuration we know of: from our log, or one another member named.
    pub(super) fn newest_stamp(&self) -> ConfigStamp {
        let own = match self.log_change_slots().last() {
            Some((header, membership)) => ConfigStamp {
                op: header.op,
                view: header.view,
                checksum: header.checksum,
                membership: membership.clone(),
                committed: header.op <= self.commit_max,
            },
            None => self.committed_stamp(),
        };
        [self.live_config_hint(), self.committed_hint.as_ref()]
            .into_iter()
            .flatten()
            .filter(|hint| hint.op > own.op)
            .max_by_key(|hint| hint.op)
            .cloned()
            .unwrap_or(own)
    }

    /// The uncommitted configuration a peer named, unless our log shows it was dropped.
    /// Once we adopted the log of a view after the one it was prepared in, that log holds
    /// every entry of earlier views that can still commit: if the change is not in it
    /// (past our log's end, or another entry at its op, or below what we applied), it
    /// never will be. Routing DoViewChanges by a dropped change sends them to a member
    /// the adopted log does not make primary, and the view change stalls.
    fn live_config_hint(&self) -> Option<&ConfigStamp> {
        let hint = self.config_hint.as_ref()?;
        if hint.view >= self.log_view {
            return Some(hint);
        }
        let dropped = hint.op > self.log.op()
            || hint.op <= self.applied
            || self.log.checksum_at(hint.op).is_some_and(|checksum| checksum != hint.checksum);
        (!dropped).then_some(hint)
    }

    fn newer_committed_hint(&self) -> Option<&ConfigStamp> {
        self.committed_hint.as_ref().filter(|hint| hint.op > self.log_stamp_op())
    }

    /// Remember a configuration another member named, if newer than our log's:
    /// `committed` when a primary names what it applied.
    pub(super) fn note_config(&mut self, stamp: &ConfigStamp, committed: bool) {
        let committed = committed || stamp.committed;
        if committed && stamp.op > self.commit_max && self.log.checksum_at(stamp.op) == Some(stamp.checksum) {
            // Our log holds the committed reconfiguration itself: by its parents, our
            // log is the committed one up to it.
            self.commit_max = stamp.op;
            self.apply_committed();
        }
        if stamp.op <= self.log_stamp_op() {
            return;
        }
        let newer = |slot: &Option<ConfigStamp>| slot.as_ref().is_none_or(|known| known.op < stamp.op);
        if newer(&self.config_hint) {
            self.config_hint = Some(stamp.clone());
        }
        if committed && newer(&self.committed_hint) {
            self.committed_hint = Some(stamp.clone());
        }
    }

    /// A newer configuration than our log's that chooses the primary of `view` (it
    /// was prepared in an earlier view), if another member named one.
    pub(super) fn hint_for_view(&self, view: View) -> Option<&Membership> {
        let own_op = self.log_stamp_op();
        [self.live_config_hint(), self.committed_hint.as_ref()]
            .into_iter()
            .flatten()
            .filter(|hint| hint.op > own_op && hint.view < view)
            .max_by_key(|hint| hint.op)
            .map(|hint| &hint.membership)
    }

    /// The member to send our DoViewChange for `view` to: the primary by the newest
    /// configuration we know of, from our log or from a peer. It is chosen once per
    /// view (`dvc_target`), and a restart in the middle of a view change moves on to
    /// the next view rather than send it again: so no two members can each gather a
    /// quorum of them, whatever each believed. The adopted log decides who leads.
    pub(super) fn do_view_change_target(&self, view: View) -> MemberId {
        match self.hint_for_view(view) {
            Some(hint) => hint.primary_of(view),
            None => self.primary_of(view),
        }
    }

    /// True while a reconfiguration keeps the primary from preparing: one is
    /// uncommitted, or it committed in this view and the next view must begin first.
    pub fn reconfig_in_progress(&self) -> bool {
        self.pending_reconfig().is_some()
            || self.view_membership(self.view) != self.membership()
            || self.hand_over_to.is_some()
    }

    /// `promote S [replace=R]`: the serving primary prepares the reconfiguration.
    /// Checks run in the order `no-primary`, `feature-off`, `not-standby`,
    /// `in-progress`, `not-promotable`.
    pub fn handle_promote(&mut self, now: Tick, standby: MemberId, replace: Option<MemberId>) -> Result<(), Refusal> {
        self.now = now;
        if !self.is_serving_primary() {
            return Err(Refusal::NoPrimary);
        }
        if !self.feature_enabled(Feature::ClusterReconfig) {
            return Err(Refusal::FeatureOff);
        }
        let membership = self.membership();
        if membership.role_of(standby) != Role::Standby || !membership.is_member(standby) {
            return Err(Refusal::NotStandby);
        }
        if replace.is_some_and(|replaced| !membership.is_active(replaced)) {
            return Err(Refusal::NotStandby);
        }
        if self.reconfig_in_progress() {
            return Err(Refusal::InProgress);
        }
        let promotable =
            self.standbys.view(standby, self.commit_max, self.now).is_some_and(|standby| standby.promotable);
        if !promotable {
            return Err(Refusal::NotPromotable);
        }
        let next = membership.promote(standby, replace);
        self.prepare_body(Body::Reconfigure(Reconfiguration {
            promoted: standby,
            replaced: replace,
            membership: next,
        }));
        self.counters.reconfigurations_prepared += 1;
        Ok(())
    }

    /// The automatic policy (`auto_promote_after_ticks`): once an active replica has
    /// been silent that long, promote the healthy standby with the least lag in its
    /// place (the lowest id on a tie). Runs on the primary's heartbeat.
    pub(super) fn maybe_auto_promote(&mut self) {
        let Some(after_ticks) = self.options.auto_promote_after_ticks else { return };
        if !self.is_serving_primary() || !self.feature_enabled(Feature::ClusterReconfig) || self.reconfig_in_progress()
        {
            return;
        }
        let now = self.now;
        let membership = self.membership();
        let silent = membership.active().iter().copied().find(|member| {
            *member != self.id && now.saturating_sub(self.last_heard_at[*member as usize]) > after_ticks
        });
        let Some(silent) = silent else { return };
        let best = self
            .standbys
            .views(self.commit_max, now)
            .into_iter()
            .filter(|standby| standby.promotable && membership.role_of(standby.member) == Role::Standby)
            .min_by_key(|standby| (standby.lag_ops, standby.member));
        if let Some(best) = best {
            let _ = self.handle_promote(now, best.member, Some(silent));
        }
    }

    /// After applying a reconfiguration: the cluster moves on to the next view, whose
    /// primary the new membership chooses. The primary hands over once its lease is
    /// gone (`heartbeat.rs`); its followers move when it does.
    pub(super) fn after_reconfigure(&mut self, was_serving: bool) {
        let now = self.now;
        let standbys: alloc::vec::Vec<MemberId> = self.membership().standbys().to_vec();
        self.standbys.retain_members(&standbys, now);
        if was_serving {
            // As soon as no lease it granted is left: at once, if none is.
            self.schedule_hand_over(self.view + 1);
        }
    }

    /// Whether a view's log holds a committed reconfiguration that removes this member.
    pub(super) fn removes_me(&self, start_view: &crate::message::StartView) -> bool {
        start_view.slots.iter().any(|slot| match &slot.body {
            Some(Body::Reconfigure(change)) => {
                slot.header.op <= start_view.commit
                    && slot.header.op > self.applied
                    && change.membership.role_of(self.id) == Role::Removed
            }
            _ => false,
        })
    }

    /// The newest membership, and an uncommitted change's op and old membership, of the
    /// log a new primary adopts: what it applied, then `entries` from the next op on.
    /// What its DoViewChange quorum is checked against.
    pub(super) fn config_of_log(&self, entries: &[Entry], commit: Op) -> (Membership, Option<(Op, Membership)>) {
        let changes = entries.iter().filter_map(|entry| match &entry.body {
            Body::Reconfigure(change) => Some((entry.header.op, &change.membership)),
            _ => None,
        });
        let mut membership = &self.config.membership;
        let mut newest: Option<(Op, &Membership)> = None;
        for (op, next) in changes {
            newest = Some((op, membership));
            membership = next;
        }
        let pending = newest.filter(|(op, _)| *op > commit).map(|(op, old)| (op, old.clone()));
        (membership.clone(), pending)
    }
}
