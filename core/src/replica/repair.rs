//! Repair of missing or damaged entries, state transfer, and recovery of lost state.

use super::phase::{Phase, RecoveryRound};
use super::timers::Timer;
use super::{Replica, Status, Write};
use crate::message::{
    Checkpoint, CheckpointData, Message, Prepare, Recovery, RecoveryResponse, RequestCheckpoint, RequestPrepare,
};
use crate::state_machine::StateMachine;
use crate::types::Op;
use alloc::vec::Vec;

/// Ops one repair round asks for.
const REPAIR_OPS_PER_ROUND: u64 = 16;

impl<S: StateMachine> Replica<S> {
    pub(super) fn on_repair_timeout(&mut self) {
        match self.status() {
            Status::Normal if !self.is_primary() => self.repair_log(),
            Status::Normal => self.repair_own_log(),
            Status::ViewChange => {
                // Messages may have been lost: say it again.
                self.send_start_view_change();
                if let Some(target) =
                    self.round().and_then(|round| round.dvc_target).filter(|target| *target != self.id)
                {
                    let dvc = Message::DoViewChange(self.do_view_change_message());
                    self.send(target, dvc);
                }
                self.maybe_start_view();
                self.timers.set(Timer::Repair, self.now + self.options.heartbeat_interval_ticks);
            }
            _ => {}
        }
    }

    /// A primary holds every body above what it applied; a damaged slot below (found at
    /// restart) is history that laggards may still need, so it is fetched from backups.
    fn repair_own_log(&mut self) {
        let mut asked = 0;
        let missing: Vec<(Op, u64)> = self
            .log
            .slots_after(self.log.base())
            .filter(|slot| slot.body.is_none())
            .take(REPAIR_OPS_PER_ROUND as usize)
            .map(|slot| (slot.header.op, slot.header.checksum))
            .collect();
        for (op, checksum) in missing {
            let request = RequestPrepare { view: self.view, from: self.id, op, checksum: Some(checksum) };
            self.send_to_replicas(&Message::RequestPrepare(request));
            self.counters.repairs_requested += 1;
            asked += 1;
        }
        if asked > 0 {
            self.timers.set(Timer::Repair, self.now + self.options.repair_interval_ticks);
        }
    }

    /// Ask the primary for every op we lack up to what we know exists.
    fn repair_log(&mut self) {
        let known = self.commit_max.max(self.log.op()).max(self.future.keys().next_back().copied().unwrap_or(0));
        let primary = self.primary_of(self.view);
        let mut asked = 0;
        if self.applied < self.log.base() {
            // Behind our window: backfill the op below it, or take a checkpoint,
            // whichever the primary still has.
            self.awaiting_checkpoint = true;
            let request = RequestCheckpoint { view: self.view, from: self.id };
            self.send(primary, Message::RequestCheckpoint(request));
            let request = RequestPrepare { view: self.view, from: self.id, op: self.log.base(), checksum: None };
            self.send(primary, Message::RequestPrepare(request));
            asked += 1;
        } else {
            // From the start of the window: damaged history is repaired too, since
            // lagging peers may still need it.
            let mut op = self.log.base() + 1;
            while op <= known && asked < REPAIR_OPS_PER_ROUND {
                let slot = self.log.get(op);
                let missing = match slot {
                    Some(slot) => slot.body.is_none(),
                    None => !self.future.contains_key(&op),
                };
                if missing {
                    let checksum = slot.map(|slot| slot.header.checksum);
                    let request = RequestPrepare { view: self.view, from: self.id, op, checksum };
                    self.send(primary, Message::RequestPrepare(request));
                    self.counters.repairs_requested += 1;
                    asked += 1;
                }
                op += 1;
            }
        }
        if asked > 0 || self.applied < self.commit_max {
            self.timers.set(Timer::Repair, self.now + self.options.repair_interval_ticks);
        }
    }

    pub(super) fn on_request_prepare(&mut self, request: RequestPrepare) {
        // Asked by checksum, any member in any view may answer: the checksum names the
        // very entry. Without one, only the primary of the asker's view, whose log is
        // that view's.
        let canonical = request.view == self.view && self.is_serving_primary();
        if request.checksum.is_none() && request.view != self.view {
            return;
        }
        match self.log.get(request.op) {
            Some(slot) if slot.body.is_some() => {
                let matches = match request.checksum {
                    Some(checksum) => slot.header.checksum == checksum,
                    None => canonical,
                };
                if matches {
                    let entry = slot.entry().expect("has a body");
                    // What we know committed holds for our view's log only.
                    let commit = if request.view == self.view { self.commit_max } else { 0 };
                    let prepare = Prepare { view: request.view, commit, entry };
                    self.send(request.from, Message::Prepare(prepare));
                }
            }
            _ if canonical && request.op <= self.checkpoint.op => self.send_checkpoint(request.from),
            _ => {}
        }
    }

    pub(super) fn on_request_checkpoint(&mut self, request: RequestCheckpoint) {
        if request.from >= self.options.member_count() || request.view > self.view {
            return;
        }
        if self.applied.max(self.checkpoint.op) > 0 && matches!(self.status(), Status::Normal | Status::ViewChange) {
            self.send_checkpoint(request.from);
        }
    }

    /// The freshest committed state, not just the last stored checkpoint: a member that
    /// lost records in the middle of its log (a damaged header on disk) keeps the run
    /// after the hole and needs a state at least that new, which the stored checkpoint
    /// (taken every quarter of the log bound) may not yet be.
    fn send_checkpoint(&mut self, to: crate::types::MemberId) {
        let data = match self.log.header(self.applied) {
            Some(last_header) if self.applied > self.checkpoint.op => CheckpointData {
                op: self.applied,
                last_header,
                upgrade: self.upgrade.clone(),
                config: self.config.clone(),
                state: self.state.snapshot(),
                sessions: self.sessions.encode(),
            },
            _ => self.checkpoint.clone(),
        };
        let checkpoint = Checkpoint { view: self.view, from: self.id, data };
        self.send(to, Message::Checkpoint(checkpoint));
    }

    /// State transfer: adopt a committed checkpoint newer than what we applied.
    pub(super) fn on_checkpoint(&mut self, checkpoint: Checkpoint) {
        let data = checkpoint.data;
        let (op, view, checksum) =
            data.config.last_change.as_ref().map_or((0, 0, 0), |change| (change.op, change.view, change.checksum));
        let membership = data.config.membership.clone();
        let stamp = crate::message::ConfigStamp { op, view, checksum, membership, committed: true };
        self.note_config(&stamp, true);
        if data.op <= self.applied || self.status() == Status::Recovering || checkpoint.view < self.view {
            return;
        }
        if self.status() == Status::ViewChange && !self.may_lead() {
            return;
        }
        if data.upgrade.release > self.options.binary_release {
            let cluster = data.upgrade.release;
            self.halt(super::HaltReason::BinaryTooOld { binary: self.options.binary_release, cluster });
            return;
        }
        let Some(sessions) = super::sessions::Sessions::decode(&data.sessions) else { return };
        if self.state.restore(&data.state).is_err() {
            return;
        }
        self.sessions = sessions;
        self.upgrade = data.upgrade.clone();
        self.config = data.config.clone();
        self.applied = data.op;
        self.applied_checksum = data.last_header.checksum;
        self.commit_max = self.commit_max.max(data.op);
        self.counters.state_transfers += 1;
        let mut stale_suffix = false;
        if data.op <= self.log.base() {
            // Our window starts at or after the checkpoint: it is all we need.
        } else if self.log.header(data.op) == Some(data.last_header) {
            self.log.trim_before(data.op + 1);
        } else {
            // Either the checkpoint is past our log, or our slot at its op is not the
            // committed one, so nothing after it can have been acknowledged in a view
            // that committed it.
            self.log.reset(data.op, Some(data.last_header.checksum));
            stale_suffix = true;
        }
        self.durable_op = self.durable_op.min(self.log.op());
        self.awaiting_checkpoint = false;
        self.checkpoint = data.clone();
        self.persist(Write::Checkpoint { data, retain_from: self.applied + 1 });
        if stale_suffix {
            let superblock = self.superblock();
            self.persist(Write::Install { superblock, truncate_after: self.applied, slots: alloc::vec::Vec::new() });
        }
        while let Some(next) = self.future.remove(&(self.log.op() + 1)) {
            self.accept_entry(next);
        }
        self.apply_committed();
        if self.status() == Status::ViewChange {
            self.maybe_start_view();
        } else {
            self.timers.arm(Timer::Repair, self.now);
        }
    }

    pub(super) fn start_recovery(&mut self) {
        let nonce = self.prng.next_u64();
        self.phase = Phase::Recovering(RecoveryRound::new(nonce));
        // To every member: with its disk lost, this member knows only the configuration
        // it was formatted with, and the answers name the current one.
        let recovery = Message::Recovery(Recovery { from: self.id, nonce });
        self.send_to_all(&recovery);
        self.timers.set(Timer::Recovery, self.now + self.options.recovery_interval_ticks);
    }

    pub(super) fn on_recovery_timeout(&mut self) {
        if self.status() == Status::Recovering {
            self.start_recovery();
        }
    }

    pub(super) fn on_recovery(&mut self, recovery: Recovery) {
        if self.status() != Status::Normal || !self.is_voter(self.id) || recovery.from >= self.options.member_count() {
            return;
        }
        let primary_log = self.is_serving_primary().then(|| self.start_view_message());
        let config = self.committed_stamp();
        let response = RecoveryResponse { view: self.view, nonce: recovery.nonce, from: self.id, config, primary_log };
        self.send(recovery.from, Message::RecoveryResponse(response));
    }

    pub(super) fn on_recovery_response(&mut self, response: RecoveryResponse) {
        let member_count = self.options.member_count();
        let Phase::Recovering(round) = &mut self.phase else { return };
        if response.nonce != round.nonce || response.from >= member_count {
            return;
        }
        round.responses.insert(response.from, response);
        let responses = &round.responses;
        // Answers are counted against the newest committed configuration any of them
        // names: the one this member belonged to when it lost its disk, or a later one.
        let Some(config) = responses.values().map(|r| &r.config).max_by_key(|config| config.op).cloned() else {
            return;
        };
        let counted = responses.keys().filter(|member| config.membership.is_active(**member)).count();
        if counted < config.membership.quorum() {
            return;
        }
        let view = responses.values().map(|r| r.view).max().unwrap_or(0);
        let Some(start_view) = responses.values().filter(|r| r.view == view).find_map(|r| r.primary_log.clone()) else {
            return;
        };
        self.note_config(&config, true);
        // No checkpoint survived either: state comes from the log or by state transfer.
        self.install_view(start_view);
    }
}
