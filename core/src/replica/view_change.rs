//! View change (StartViewChange, DoViewChange, StartView) with nack-based truncation.
//!
//! The new primary adopts the log of the most up-to-date replica in a quorum of
//! DoViewChange messages: the highest `log_view`, then the highest op. It needs a body
//! for every op it adopts. A body that no one can supply may be dropped, with every
//! op after it, only when a quorum proves the op cannot have committed: each such
//! replica "nacks" it, i.e. it is not committed there and the replica does not hold
//! that header, not even damaged. A committed op is durable on a quorum and replicas
//! lose durable entries only to damage (which never nacks), so quorums intersect.

use alloc::vec::Vec;

use super::log::LogSlot;
use super::{Replica, Role, Status, Write};
use crate::message::{
    Body, DoViewChange, Entry, Header, Message, RequestCheckpoint, RequestPrepare, Slot, StartView, StartViewChange,
};
use crate::state_machine::StateMachine;
use crate::types::{Op, View};

impl<S: StateMachine> Replica<S> {
    pub(super) fn start_view_change(&mut self, view: View) {
        let voting = self.is_voter(self.id) || self.drafted_view == Some(view);
        if !voting || self.status == Status::Recovering {
            return;
        }
        debug_assert!(view > self.view || self.status == Status::Normal);
        self.view = view;
        self.status = Status::ViewChange;
        self.counters.view_changes += 1;
        self.begin_view_change_round(view);
    }

    pub(super) fn begin_view_change_round(&mut self, view: View) {
        self.svc_votes = 1 << self.id;
        self.dvcs.clear();
        self.dvc_sent = false;
        self.installing = false;
        self.awaiting_checkpoint = false;
        self.request_queue.clear();
        self.inflight.clear();
        self.acked = [0; crate::types::MEMBERS_MAX];
        self.timers.heartbeat_at = None;
        self.timers.prepare_at = None;
        self.timers.primary_timeout_at = None;
        if self.durable_view < view {
            let superblock = self.superblock();
            self.persist(Write::Superblock(superblock));
        }
        self.send_to_replicas(&Message::StartViewChange(StartViewChange { view, from: self.id }));
        let jitter = self.jitter();
        self.timers.view_change_at = Some(self.now + self.options.view_change_timeout_ticks + jitter);
        self.timers.repair_at = Some(self.now + self.options.heartbeat_interval_ticks);
        self.maybe_send_do_view_change();
    }

    pub(super) fn on_view_change_timeout(&mut self) {
        if self.status == Status::ViewChange {
            self.start_view_change(self.view + 1);
        }
    }

    pub(super) fn on_start_view_change(&mut self, svc: StartViewChange) {
        if svc.from >= self.options.member_count() || self.status == Status::Recovering {
            return;
        }
        if !self.is_voter(self.id) && self.is_voter(svc.from) && self.role() == Role::Standby && svc.view > self.view {
            // A voter's log says this standby was promoted, though ours does not hold
            // that entry yet: its vote may be what the new configuration's quorum
            // needs. Votes are counted against the adopted log's configuration, so a
            // vote that turns out not to count does no harm. A true standby is never
            // drawn in: only a member whose log promotes it sends it this.
            self.drafted_view = Some(svc.view);
        }
        let voting = self.is_voter(self.id) || self.drafted_view == Some(svc.view);
        if !voting || !self.is_voter(svc.from) {
            // A member that no longer counts (or a standby) may not know it yet: the
            // primary tells it where the cluster is, and it stays out of the votes.
            if self.is_serving_primary() {
                let start_view = Message::StartView(self.start_view_message());
                self.send(svc.from, start_view);
            }
            return;
        }
        if svc.view > self.view {
            self.start_view_change(svc.view);
        }
        if svc.view != self.view {
            return;
        }
        match self.status {
            Status::ViewChange => {
                self.svc_votes |= 1 << svc.from;
                self.maybe_send_do_view_change();
            }
            Status::Normal if self.is_primary() => {
                let start_view = Message::StartView(self.start_view_message());
                self.send(svc.from, start_view);
            }
            _ => {}
        }
    }

    pub(super) fn do_view_change_message(&self) -> DoViewChange {
        DoViewChange {
            view: self.view,
            from: self.id,
            log_view: self.log_view,
            commit: self.commit_max,
            checkpoint: self.log.base(),
            slots: self.log.view_change_slots(),
        }
    }

    pub(super) fn maybe_send_do_view_change(&mut self) {
        if self.status != Status::ViewChange || self.dvc_sent || self.durable_view < self.view {
            return;
        }
        let membership = self.view_membership(self.view);
        let votes = membership.active().iter().filter(|member| self.svc_votes & (1 << **member) != 0).count();
        if votes < membership.quorum() {
            return;
        }
        self.dvc_sent = true;
        let dvc = self.do_view_change_message();
        let primary = self.primary_of(self.view);
        if primary == self.id {
            self.on_do_view_change(dvc);
        } else {
            self.send(primary, Message::DoViewChange(dvc));
        }
    }

    pub(super) fn on_do_view_change(&mut self, dvc: DoViewChange) {
        // Votes are weighed against the log the new primary adopts, so any member's
        // DoViewChange is kept; members outside that configuration do not count.
        if !self.is_voter(self.id) || dvc.from >= self.options.member_count() || self.status == Status::Recovering {
            return;
        }
        if dvc.view > self.view {
            self.start_view_change(dvc.view);
        }
        if dvc.view != self.view {
            return;
        }
        if self.status == Status::Normal {
            if self.is_primary() {
                let start_view = Message::StartView(self.start_view_message());
                self.send(dvc.from, start_view);
            }
            return;
        }
        if self.primary_of(self.view) != self.id {
            return;
        }
        self.svc_votes |= 1 << dvc.from;
        self.dvcs.insert(dvc.from, dvc);
        self.maybe_send_do_view_change();
        self.maybe_start_view();
    }

    /// A body for op `op` with this header, from our log, stashed repairs or any DVC.
    fn find_body(&self, op: Op, header: Header) -> Option<Body> {
        if let Some(slot) = self.log.get(op) {
            if slot.header == header && slot.body.is_some() {
                return slot.body.clone();
            }
        }
        if let Some(entry) = self.future.get(&op) {
            if entry.header == header {
                return Some(entry.body.clone());
            }
        }
        self.dvcs.values().find_map(|dvc| {
            let slot = dvc.slots.get(op.checked_sub(dvc.checkpoint + 1)? as usize)?;
            (slot.header == header).then(|| slot.body.clone()).flatten()
        })
    }

    /// A committed entry at `op` (at or below some member's commit), from anyone.
    fn find_committed(&self, op: Op) -> Option<Entry> {
        if op <= self.commit_max {
            if let Some(entry) = self.log.get(op).and_then(LogSlot::entry) {
                return Some(entry);
            }
        }
        self.dvcs.values().filter(|dvc| dvc.commit >= op).find_map(|dvc| {
            let slot = dvc.slots.get(op.checked_sub(dvc.checkpoint + 1)? as usize)?;
            Some(Entry { header: slot.header, body: slot.body.clone()? })
        })
    }

    fn dvc_quorum(&self, membership: &crate::replica::Membership) -> bool {
        let votes = self.dvcs.keys().filter(|member| membership.is_active(**member)).count();
        votes >= membership.quorum()
    }

    /// Whether a majority of the configuration that prepared `op` proves it never
    /// committed. `entries` are the ones adopted so far, up to `op - 1`.
    fn nacked_by_a_quorum(&self, op: Op, header: Header, entries: &[Entry]) -> bool {
        let (membership, _) = self.config_of_log(entries, Op::MAX);
        self.nacks(op, header, &membership) >= membership.quorum()
    }

    fn nacks(&self, op: Op, header: Header, membership: &crate::replica::Membership) -> usize {
        self.dvcs
            .values()
            .filter(|dvc| membership.is_active(dvc.from))
            .filter(|dvc| {
                if dvc.commit >= op || op <= dvc.checkpoint {
                    return false;
                }
                match dvc.slots.get((op - dvc.checkpoint - 1) as usize) {
                    None => true,
                    Some(slot) => slot.header != header,
                }
            })
            .count()
    }

    pub(super) fn maybe_start_view(&mut self) {
        if self.status != Status::ViewChange || !self.is_primary() || self.installing {
            return;
        }
        if self.dvcs.len() < self.view_membership(self.view).quorum() || !self.dvcs.contains_key(&self.id) {
            return;
        }
        let best = self
            .dvcs
            .values()
            .max_by_key(|dvc| (dvc.log_view, dvc.checkpoint + dvc.slots.len() as Op))
            .expect("a quorum is not empty");
        let best_from = best.from;
        let best_checkpoint = best.checkpoint;
        let canonical: Vec<Header> = best.slots.iter().map(|slot| slot.header).collect();
        let mut canonical_op = best_checkpoint + canonical.len() as Op;
        let commit = self.dvcs.values().map(|dvc| dvc.commit).max().unwrap_or(0).max(self.commit_max);

        let mut entries: Vec<Entry> = Vec::new();
        let mut op = self.applied + 1;
        while op <= canonical_op {
            if op <= best_checkpoint {
                match self.find_committed(op) {
                    Some(entry) => entries.push(entry),
                    None => {
                        // Committed history that nobody here still holds: take the
                        // most advanced member's checkpoint, then try again.
                        if best_from != self.id {
                            let request = RequestCheckpoint { view: self.view, from: self.id };
                            self.send(best_from, Message::RequestCheckpoint(request));
                        }
                        return;
                    }
                }
            } else {
                let header = canonical[(op - best_checkpoint - 1) as usize];
                match self.find_body(op, header) {
                    Some(body) => entries.push(Entry { header, body }),
                    None if op > commit && self.nacked_by_a_quorum(op, header, &entries) => {
                        canonical_op = op - 1;
                        break;
                    }
                    None => {
                        let request =
                            RequestPrepare { view: self.view, from: self.id, op, checksum: Some(header.checksum) };
                        self.send_to_replicas(&Message::RequestPrepare(request));
                        self.counters.repairs_requested += 1;
                        return;
                    }
                }
            }
            op += 1;
        }
        debug_assert!(commit <= canonical_op.max(self.applied), "a view change never loses a committed op");

        // The adopted log names the configuration: this view needs its primary, and
        // DoViewChange messages from a majority of its active set (and of the old one
        // while a reconfiguration in it is uncommitted). Otherwise wait for more.
        let (membership, pending) = self.config_of_log(&entries, commit);
        if membership.primary_of(self.view) != self.id || !self.dvc_quorum(&membership) {
            return;
        }
        if pending.is_some_and(|(_, old)| !self.dvc_quorum(&old)) {
            return;
        }

        let keep = self.applied.min(self.log.op());
        debug_assert!(
            self.applied <= self.log.op(),
            "member {} applied {} beyond its log op {} (base {})",
            self.id,
            self.applied,
            self.log.op(),
            self.log.base()
        );
        if keep < self.log.base() {
            self.log.reset(keep);
        } else {
            self.log.truncate_after(keep);
        }
        self.durable_op = self.durable_op.min(keep);
        for entry in &entries {
            self.log.push(LogSlot { header: entry.header, body: Some(entry.body.clone()), durable: false });
        }
        self.future.clear();
        self.log_view = self.view;
        self.commit_max = self.commit_max.max(commit.min(canonical_op.max(self.applied)));
        self.installing = true;
        let superblock = self.superblock();
        let slots = entries.into_iter().map(|entry| Slot { header: entry.header, body: Some(entry.body) }).collect();
        self.persist(Write::Install { superblock, truncate_after: keep, slots });
    }

    /// The new primary's log is durable: start the view.
    pub(super) fn on_view_installed(&mut self) {
        debug_assert!(self.is_primary());
        self.status = Status::Normal;
        self.dvcs.clear();
        self.timers.view_change_at = None;
        self.timers.repair_at = Some(self.now + self.options.repair_interval_ticks);
        self.acked = [0; crate::types::MEMBERS_MAX];
        self.acked[self.id as usize] = self.durable_op;
        let now = self.now;
        self.last_heard_at = [now; crate::types::MEMBERS_MAX];
        self.standbys.reset(now);
        let standbys: Vec<crate::types::MemberId> = self.membership().standbys().to_vec();
        self.standbys.retain_members(&standbys, now);
        let start_view = Message::StartView(self.start_view_message());
        self.send_to_followers(&start_view);
        self.timers.heartbeat_at = Some(self.now + self.options.heartbeat_interval_ticks);
        self.apply_committed();
        self.advance_commit();
        if self.log.op() > self.commit_max {
            Self::arm(&mut self.timers.prepare_at, self.now + self.options.prepare_timeout_ticks);
        }
    }

    /// The view's whole log window: every header, and every body the primary holds.
    pub(super) fn start_view_message(&self) -> StartView {
        debug_assert!(self.log.last_missing_body().is_none_or(|op| op <= self.applied));
        StartView {
            view: self.view,
            commit: self.commit_max,
            checkpoint: self.log.base(),
            slots: self.log.view_change_slots(),
        }
    }

    pub(super) fn on_start_view(&mut self, start_view: StartView) {
        if self.status == Status::Recovering {
            return;
        }
        if start_view.view < self.view {
            // A replica cut off while it was replaced may have moved to views the
            // cluster never reached. A committed reconfiguration that removes it
            // releases it from those views' promises: it adopts the log and stays out.
            if self.removes_me(&start_view) {
                self.install_view(start_view);
            }
            return;
        }
        if start_view.view == self.view && self.status == Status::Normal {
            return;
        }
        self.install_view(start_view);
    }

    /// Adopt a view's log as a backup or standby (or after recovery).
    pub(super) fn install_view(&mut self, start_view: StartView) {
        self.backup_of_view = Some(start_view.view);
        self.view = start_view.view;
        self.log_view = start_view.view;
        self.status = Status::Normal;
        self.dvcs.clear();
        self.dvc_sent = false;
        self.installing = false;
        self.timers.view_change_at = None;
        self.timers.recovery_at = None;
        self.prepare_ok_sent = 0;
        let first = start_view.checkpoint + 1;
        // Our committed slots agree with every view's log; the rest may not. The start
        // view may be older than what we applied (a delayed message): then it adds nothing.
        let keep = self.log.op().min(self.commit_max.max(self.applied));
        // Bodies we hold beyond `keep`, for slots the primary lacks a body for.
        let ours: Vec<LogSlot> = self.log.slots_after(keep).cloned().collect();
        if keep < first - 1 || keep < self.log.base() {
            self.log.reset((first - 1).max(self.applied));
        } else {
            self.log.truncate_after(keep);
        }
        // Storage drops everything after what we keep, even across a gap.
        let truncate_after = keep;
        self.durable_op = self.durable_op.min(keep);
        let mut slots: Vec<Slot> = Vec::new();
        for mut slot in start_view.slots {
            if slot.header.op <= self.log.op() {
                continue;
            }
            if slot.header.op != self.log.op() + 1 {
                break;
            }
            if slot.body.is_none() {
                slot.body = ours.iter().find(|own| own.header == slot.header).and_then(|own| own.body.clone());
            }
            self.log.push(LogSlot { header: slot.header, body: slot.body.clone(), durable: false });
            slots.push(slot);
        }
        self.future.clear();
        // Commit knowledge from other views may not hold for this log: start afresh.
        self.commit_max = self.applied.max(start_view.commit.min(self.log.op()));
        self.awaiting_checkpoint = self.applied < self.log.base();
        let superblock = self.superblock();
        self.persist(Write::Install { superblock, truncate_after, slots });
        self.heard_from_primary();
        self.apply_committed();
        Self::arm(&mut self.timers.repair_at, self.now + self.options.repair_interval_ticks);
    }

    pub(super) fn on_request_start_view(&mut self, request: crate::message::RequestStartView) {
        if self.is_serving_primary() && request.view <= self.view && request.from < self.options.member_count() {
            let start_view = Message::StartView(self.start_view_message());
            self.send(request.from, start_view);
        }
    }
}
