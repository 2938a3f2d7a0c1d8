//! View change (StartViewChange, DoViewChange, StartView) with nack-based truncation.
//!
//! The new primary adopts the log of the most up-to-date replica in a quorum of
//! DoViewChange messages: the highest `log_view`, then the highest op. It needs a body
//! for every op it adopts. A body that no one can supply may be dropped, with every
//! op after it, only when enough replicas prove the op cannot have committed: each such
//! replica "nacks" it, i.e. it is not committed there and the replica does not hold
//! that header, not even damaged. An op commits on a quorum `q` of `n` actives, so
//! `n - q + 1` nacks prove it did not. Replicas lose durable entries only to damage,
//! which keeps the header and never nacks.
//!
//! Promises. Voting (StartViewChange) binds a member to nothing. Only once a quorum
//! voted does it make the new view durable and send its DoViewChange: from then on it
//! never goes back to an older view, since the new primary may build on its log. A view
//! change that gathers no quorum (a member cut off, or a primary that gave way for want
//! of one) stays in its view instead of climbing, and falls back to the view the
//! cluster is in as soon as it hears that view's primary.
//!
//! Leases. A follower that heard its primary within `primary_timeout_ticks` joins no
//! other member's view change (Raft's leader stickiness), and a primary holding a
//! quorum joins none either; only the primary itself can hand over early, and it does
//! so only once its lease is gone (`normal.rs`). So while a primary's lease holds, no
//! other primary can be elected, and a standby may read on it.

use alloc::vec::Vec;

use super::log::LogSlot;
use super::membership::Membership;
use super::phase::{Phase, ViewChangeRound};
use super::timers::Timer;
use super::{Pending, Replica, Role, Status, Write};
use crate::message::{
    Body, DoViewChange, Entry, Header, Message, RequestCheckpoint, RequestPrepare, Slot, StartView, StartViewChange,
};
use crate::state_machine::StateMachine;
use crate::types::{MemberId, Op, View};

impl<S: StateMachine> Replica<S> {
    pub(super) fn start_view_change(&mut self, view: View) {
        let voting = self.is_voter(self.id) || self.drafted_view == Some(view);
        if !voting || matches!(self.status(), Status::Recovering | Status::Halted) {
            return;
        }
        assert!(view > self.view, "member {} moves from view {} to the older view {view}", self.id, self.view);
        self.view = view;
        self.counters.view_changes += 1;
        self.begin_view_change_round();
    }

    pub(super) fn begin_view_change_round(&mut self) {
        self.phase = Phase::ViewChange(ViewChangeRound::new(self.id));
        self.awaiting_checkpoint = false;
        self.request_queue.clear();
        self.inflight.clear();
        self.acked = [0; crate::types::MEMBERS_MAX];
        self.timers.cancel(Timer::Heartbeat);
        self.timers.cancel(Timer::Prepare);
        self.timers.cancel(Timer::PrimaryTimeout);
        self.send_start_view_change();
        let jitter = self.jitter();
        self.timers.set(Timer::ViewChange, self.now + self.options.view_change_timeout_ticks + jitter);
        self.timers.set(Timer::Repair, self.now + self.options.heartbeat_interval_ticks);
        self.maybe_send_do_view_change();
    }

    /// To every member: one whose log lacks a reconfiguration may still count.
    pub(super) fn send_start_view_change(&mut self) {
        let handing_over = self.handing_over_view == Some(self.view);
        let promised_view = self.durable_view;
        let config = self.newest_stamp();
        let svc = StartViewChange { view: self.view, from: self.id, handing_over, promised_view, config };
        self.send_to_all(&Message::StartViewChange(svc));
    }

    pub(super) fn on_view_change_timeout(&mut self) {
        if self.status() != Status::ViewChange {
            return;
        }
        if self.svc_quorum() {
            // The view's primary did not start it in time: on to the next.
            self.start_view_change(self.view + 1);
        } else {
            // Nobody joined: a higher view would be no more reachable, and would only
            // drag the others along once they hear it. Ask again in this one.
            self.begin_view_change_round();
        }
    }

    /// Whether a quorum voted for this view, by our log's configuration or by a newer
    /// one another member named.
    fn svc_quorum(&self) -> bool {
        let svc_votes = self.round().map_or(0, |round| round.svc_votes);
        let votes = |membership: &Membership| {
            membership.active().iter().filter(|member| svc_votes & (1 << **member) != 0).count()
        };
        let membership = self.view_membership(self.view);
        if votes(membership) >= membership.quorum() {
            return true;
        }
        self.hint_for_view(self.view).is_some_and(|hint| votes(hint) >= hint.quorum())
    }

    /// Whether this member follows a primary it heard from recently enough that it
    /// joins no other member's view change: see the module comment.
    fn holds_to_primary(&self) -> bool {
        if self.status() != Status::Normal {
            return false;
        }
        if self.is_primary() {
            return self.holds_quorum();
        }
        self.now < self.last_primary_contact_at + self.options.primary_timeout_ticks
    }

    pub(super) fn on_start_view_change(&mut self, svc: crate::message::StartViewChange) {
        if matches!(self.status(), Status::Recovering) {
            return;
        }
        self.note_config(&svc.config, false);
        let drafting = !self.is_voter(self.id) && self.role() == Role::Standby;
        if drafting && svc.config.membership.is_active(self.id) && svc.view >= self.view {
            // A configuration newer than our log promotes this standby: its vote may be
            // what that configuration's quorum needs. Votes are counted against the
            // adopted log's configuration, so a vote that turns out not to count does
            // no harm.
            self.drafted_view = Some(svc.view);
            if svc.view == self.view && self.status() == Status::Normal {
                // It follows this view without having started it: join its view change.
                self.begin_view_change_round();
            }
        }
        let voting = self.is_voter(self.id) || self.drafted_view == Some(svc.view);
        if !voting {
            // A member that no longer counts (or a standby) may not know it yet: the
            // primary tells it where the cluster is, and it stays out of the votes.
            if self.is_serving_primary() {
                let start_view = Message::StartView(self.start_view_message());
                self.send(svc.from, start_view);
            } else if self.role() == Role::Removed {
                // A member that knows it was removed knows the removal committed, which
                // a new member whose log holds it uncommitted cannot tell: it says so.
                let config = self.committed_stamp();
                let reply =
                    StartViewChange { view: svc.view, from: self.id, handing_over: false, promised_view: 0, config };
                self.send(svc.from, Message::StartViewChange(reply));
            }
            return;
        }
        if svc.view > self.view {
            let handed_over = svc.handing_over && self.status() == Status::Normal && svc.from == self.primary_hint();
            if self.holds_to_primary() && !handed_over {
                if self.is_serving_primary() {
                    if svc.promised_view > self.view {
                        // It cannot come back to this view: the cluster goes to its.
                        self.schedule_hand_over(svc.promised_view);
                    } else {
                        // It voted without promising: show it where we are.
                        let start_view = Message::StartView(self.start_view_message());
                        self.send(svc.from, start_view);
                    }
                }
                return;
            }
            self.start_view_change(svc.view);
        }
        if svc.view != self.view {
            return;
        }
        match self.status() {
            Status::ViewChange => {
                self.round_mut().expect("in a view change").svc_votes |= 1 << svc.from;
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
        if self.round().is_none_or(|round| round.dvc_target.is_some()) || !self.svc_quorum() {
            return;
        }
        if self.durable_view < self.view {
            // The promise first: durable before the DoViewChange leaves.
            let view = self.view;
            let requested =
                self.pending.iter().any(|(_, pending)| matches!(pending, Pending::View { view: v } if *v == view));
            if !requested {
                let superblock = self.superblock();
                self.persist(Write::Superblock(superblock));
            }
            return;
        }
        let dvc = self.do_view_change_message();
        let target = self.do_view_change_target(self.view);
        self.round_mut().expect("in a view change").dvc_target = Some(target);
        if target == self.id {
            self.on_do_view_change(dvc);
        } else {
            self.send(target, Message::DoViewChange(dvc));
        }
    }

    pub(super) fn on_do_view_change(&mut self, dvc: DoViewChange) {
        // Kept whoever the sender takes for the primary: the adopted log's configuration
        // decides who leads and whose DoViewChange counts.
        if matches!(self.status(), Status::Recovering) {
            return;
        }
        if dvc.view > self.view && !self.holds_to_primary() {
            self.start_view_change(dvc.view);
        }
        if dvc.view != self.view {
            return;
        }
        if self.status() == Status::Normal {
            if self.is_serving_primary() {
                let start_view = Message::StartView(self.start_view_message());
                self.send(dvc.from, start_view);
            }
            return;
        }
        let Some(round) = self.round_mut() else { return };
        round.svc_votes |= 1 << dvc.from;
        round.dvcs.insert(dvc.from, dvc);
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
        self.dvcs().values().find_map(|dvc| {
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
        self.dvcs().values().filter(|dvc| dvc.commit >= op).find_map(|dvc| {
            let slot = dvc.slots.get(op.checked_sub(dvc.checkpoint + 1)? as usize)?;
            Some(Entry { header: slot.header, body: slot.body.clone()? })
        })
    }

    fn dvc_quorum(&self, membership: &Membership) -> bool {
        let votes = self.dvcs().keys().filter(|member| membership.is_active(**member)).count();
        votes >= membership.quorum()
    }

    /// Whether the DoViewChanges prove `op` never committed. `entries` are the ones
    /// adopted so far, up to `op - 1`; `commit` the highest commit any DVC knows. While
    /// a reconfiguration is uncommitted an op commits only in both configurations, so
    /// proving it in either is enough.
    fn proven_uncommitted(&self, op: Op, header: Header, entries: &[Entry], commit: Op) -> bool {
        let (membership, pending) = self.config_of_log(entries, commit);
        let proves = |membership: &Membership| {
            let needed = membership.active().len() - membership.quorum() + 1;
            self.nacks(op, header, membership) >= needed
        };
        proves(&membership) || pending.is_some_and(|(_, old)| proves(&old))
    }

    fn nacks(&self, op: Op, header: Header, membership: &Membership) -> usize {
        self.dvcs()
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

    /// Whether this member may be the one to start the view: by its log, by a newer
    /// configuration it heard of, or because another member sent it its DoViewChange.
    pub(super) fn may_lead(&self) -> bool {
        self.do_view_change_target(self.view) == self.id || self.dvcs().keys().any(|member| *member != self.id)
    }

    pub(super) fn maybe_start_view(&mut self) {
        let ready = self.round().is_some_and(|round| !round.installing && round.dvcs.contains_key(&self.id));
        if !ready || !self.may_lead() {
            return;
        }
        let best = self
            .dvcs()
            .values()
            .max_by_key(|dvc| (dvc.log_view, dvc.checkpoint + dvc.slots.len() as Op))
            .expect("our own DoViewChange is there");
        let best_from = best.from;
        let best_checkpoint = best.checkpoint;
        let canonical: Vec<Header> = best.slots.iter().map(|slot| slot.header).collect();
        let mut canonical_op = best_checkpoint + canonical.len() as Op;
        let commit = self.dvcs().values().map(|dvc| dvc.commit).max().unwrap_or(0).max(self.commit_max);
        if canonical_op.saturating_sub(self.applied) > self.options.window_max_ops() {
            // Too far behind to hold the view's log in one window: catch up first.
            self.request_checkpoint_from(best_from);
            return;
        }

        let mut entries: Vec<Entry> = Vec::new();
        let mut op = self.applied + 1;
        while op <= canonical_op {
            if op <= best_checkpoint {
                match self.find_committed(op) {
                    Some(entry) => entries.push(entry),
                    None => {
                        // Committed history that nobody here still holds: take the
                        // most advanced member's checkpoint, then try again.
                        self.request_checkpoint_from(best_from);
                        return;
                    }
                }
            } else {
                let header = canonical[(op - best_checkpoint - 1) as usize];
                match self.find_body(op, header) {
                    Some(body) => entries.push(Entry { header, body }),
                    None if op > commit && self.proven_uncommitted(op, header, &entries, commit) => {
                        canonical_op = op - 1;
                        break;
                    }
                    None => {
                        let request =
                            RequestPrepare { view: self.view, from: self.id, op, checksum: Some(header.checksum) };
                        self.send_to_all(&Message::RequestPrepare(request));
                        self.counters.repairs_requested += 1;
                        return;
                    }
                }
            }
            op += 1;
        }

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
        assert!(
            commit <= canonical_op.max(self.applied),
            "member {} would start view {} at op {canonical_op}, below the committed op {commit}",
            self.id,
            self.view
        );

        // What we applied stays; the adopted entries follow it. A window that starts
        // past what we applied (we were catching up) is replaced by the adopted one.
        let keep = self.applied;
        assert!(self.applied <= self.log.op(), "member {} applied past its log", self.id);
        if keep < self.log.base() {
            self.log.reset(keep, Some(self.applied_checksum));
        } else {
            self.log.truncate_after(keep);
        }
        self.durable_op = self.durable_op.min(keep);
        for entry in &entries {
            self.log.push(LogSlot { header: entry.header, body: Some(entry.body.clone()), durable: false });
        }
        self.bound_window();
        self.extend_history_for_laggards();
        self.future.clear();
        self.log_view = self.view;
        self.backup_of_view = None;
        // This view's primary is settled: a change that commits during the view does
        // not move it (the primary hands over instead).
        self.known_primary = Some((self.view, self.id));
        self.commit_max = self.commit_max.max(commit.min(canonical_op.max(self.applied)));
        self.round_mut().expect("in a view change").installing = true;
        let superblock = self.superblock();
        let slots = entries.into_iter().map(|entry| Slot { header: entry.header, body: Some(entry.body) }).collect();
        self.persist(Write::Install { superblock, truncate_after: keep, slots });
    }

    /// A member whose commit is below our window drops, on adopting our log, what it
    /// holds past its commit unless it chains to our window. One that lacks those slots
    /// altogether leaves the committed ops there on fewer members than before. So the
    /// window reaches down to the lowest commit among the DoViewChanges, with slots any
    /// of them holds that chain to what we hold, which this member then stores too.
    fn extend_history_for_laggards(&mut self) {
        let lowest = self.dvcs().values().map(|dvc| dvc.commit).min().unwrap_or(self.applied);
        let mut op = self.log.base();
        let Some(mut expected) = self.log.checksum_at(op) else { return };
        let mut history = Vec::new();
        while op > lowest && (self.log.len() + history.len()) < self.options.window_max_ops() as usize {
            let found = self
                .dvcs()
                .values()
                .filter_map(|dvc| dvc.slots.get(op.checked_sub(dvc.checkpoint + 1)? as usize))
                .filter(|slot| slot.header.checksum == expected)
                .max_by_key(|slot| slot.body.is_some());
            let Some(slot) = found.cloned() else { break };
            expected = slot.header.parent;
            history.push(slot);
            op -= 1;
        }
        for slot in history {
            self.log.prepend(LogSlot { header: slot.header, body: slot.body.clone(), durable: false });
            if let Some(body) = slot.body {
                self.persist(Write::Entry(Entry { header: slot.header, body }));
            }
        }
    }

    /// Ask `member` for its state, or, when that is this member itself, the one whose
    /// DoViewChange knows the most committed.
    fn request_checkpoint_from(&mut self, member: MemberId) {
        let from = if member != self.id {
            Some(member)
        } else {
            self.dvcs().values().filter(|dvc| dvc.from != self.id).max_by_key(|dvc| dvc.commit).map(|dvc| dvc.from)
        };
        if let Some(from) = from {
            let request = RequestCheckpoint { view: self.view, from: self.id };
            self.send(from, Message::RequestCheckpoint(request));
        }
    }

    /// The new primary's log is durable: start the view.
    pub(super) fn on_view_installed(&mut self) {
        assert!(self.is_primary(), "member {} installed view {} it does not lead", self.id, self.view);
        self.phase = Phase::Normal;
        self.timers.cancel(Timer::ViewChange);
        self.timers.set(Timer::Repair, self.now + self.options.repair_interval_ticks);
        self.begin_serving();
        let start_view = Message::StartView(self.start_view_message());
        self.send_to_followers(&start_view);
        self.trim_history();
        self.apply_committed();
        self.advance_commit();
        if self.log.op() > self.commit_max {
            self.timers.arm(Timer::Prepare, self.now + self.options.prepare_timeout_ticks);
        }
    }

    /// The view's whole log window: every header, and every body the primary holds.
    pub(super) fn start_view_message(&self) -> StartView {
        assert!(
            self.log.last_missing_body().is_none_or(|op| op <= self.applied),
            "a primary holds every body above what it applied"
        );
        StartView {
            view: self.view,
            from: self.id,
            commit: self.commit_max,
            config: self.committed_stamp(),
            checkpoint: self.log.base(),
            checkpoint_checksum: self
                .log
                .checksum_at(self.log.base())
                .or((self.log.base() == self.applied).then_some(self.applied_checksum))
                .expect("a primary knows the entry its window starts after"),
            slots: self.log.view_change_slots(),
        }
    }

    pub(super) fn on_start_view(&mut self, start_view: StartView) {
        if self.status() == Status::Recovering {
            return;
        }
        self.note_config(&start_view.config, true);
        if start_view.view < self.view {
            // A replica cut off while it was replaced may have moved to views the
            // cluster never reached. A committed reconfiguration that removes it
            // releases it from those views' promises: it adopts the log and stays out.
            // A view change that promised nothing falls back to where the cluster is.
            if self.removes_me(&start_view) || self.may_fall_back_to(start_view.view) {
                self.install_view(start_view);
            }
            return;
        }
        if start_view.view == self.view && self.status() == Status::Normal {
            return;
        }
        self.install_view(start_view);
    }

    /// Whether this member, in a view change nobody joined, may go back to `view`: it
    /// sent no DoViewChange for any view above that one.
    pub(super) fn may_fall_back_to(&self, view: View) -> bool {
        self.status() == Status::ViewChange
            && view >= self.durable_view.max(self.log_view)
            && self.durable_view < self.view
    }

    /// Adopt a view's log as a backup or standby (or after recovery).
    pub(super) fn install_view(&mut self, start_view: StartView) {
        self.backup_of_view = Some(start_view.view);
        self.known_primary = Some((start_view.view, start_view.from));
        self.view = start_view.view;
        self.log_view = start_view.view;
        self.phase = Phase::Normal;
        self.timers.cancel(Timer::ViewChange);
        self.timers.cancel(Timer::Recovery);
        self.timers.cancel(Timer::Heartbeat);
        self.timers.cancel(Timer::Prepare);
        self.prepare_ok_sent = 0;
        // A lease from an older view's primary says nothing of this one.
        self.read_lease_until = 0;
        let first = start_view.checkpoint + 1;
        // What we applied or know committed agrees with every view's log (a start view
        // older than that adds nothing). Past it, the slots we hold up to the primary's
        // window are the committed ones exactly when they chain to the window's first
        // slot: those we keep too, so that adopting the view drops no committed entry.
        let mut keep = self.log.op().min(self.commit_max.max(self.applied));
        let top = start_view.checkpoint;
        if top > keep && top <= self.log.op() && self.log.chain_ends_at(top, start_view.checkpoint_checksum, keep) {
            keep = top;
        }
        // Bodies we hold beyond `keep`, for slots the primary lacks a body for.
        let ours: Vec<LogSlot> = self.log.slots_after(keep).cloned().collect();
        if keep < first - 1 || keep < self.log.base() {
            let base = (first - 1).max(self.applied);
            let checksum =
                if base == self.applied { Some(self.applied_checksum) } else { Some(start_view.checkpoint_checksum) };
            self.log.reset(base, checksum);
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
        self.bound_window();
        self.future.clear();
        // Commit knowledge from other views may not hold for this log: start afresh.
        self.commit_max = self.applied.max(start_view.commit.min(self.log.op()));
        let superblock = self.superblock();
        self.persist(Write::Install { superblock, truncate_after, slots });
        self.heard_from_primary();
        self.apply_committed();
        self.timers.arm(Timer::Repair, self.now + self.options.repair_interval_ticks);
    }

    pub(super) fn on_request_start_view(&mut self, request: crate::message::RequestStartView) {
        if self.is_serving_primary() && request.view <= self.view {
            let start_view = Message::StartView(self.start_view_message());
            self.send(request.from, start_view);
        }
    }
}
