//! Normal operation: requests, prepares, acknowledgements, commits and execution.

use alloc::vec::Vec;

use super::log::LogSlot;
use super::{Applied, AppliedRequest, Replica, Role, Status, Write};
use crate::message::{
    Body, CheckpointData, ClientRequest, Commit, Entry, Heartbeat, Message, Prepare, PrepareOk, Reply, Request,
    RequestStartView,
};
use crate::release::Feature;
use crate::state_machine::StateMachine;
use crate::types::Op;

/// How many entries may wait ahead of a gap.
const FUTURE_MAX: usize = 256;
/// The most client requests one batched prepare carries.
pub const BATCH_MAX_REQUESTS: usize = 64;

impl<S: StateMachine> Replica<S> {
    pub(super) fn on_request(&mut self, request: Request) {
        if !self.is_serving_primary() || self.applied < self.commit_max {
            // Not ready: the client resends, to every member after a timeout.
            self.counters.requests_dropped += 1;
            return;
        }
        if let Some(session) = self.sessions.get(request.client) {
            if request.request < session.request {
                self.counters.requests_dropped += 1;
                return;
            }
            if request.request == session.request {
                let reply = Reply {
                    view: self.view,
                    client: request.client,
                    request: request.request,
                    op: session.op,
                    result: session.reply.clone(),
                };
                self.outbox.push_back(super::Outgoing {
                    to: super::Destination::Client(request.client),
                    message: Message::Reply(reply),
                });
                return;
            }
        }
        if self.inflight.get(&request.client).is_some_and(|r| *r >= request.request)
            || self.request_queue.iter().any(|q| q.client == request.client && q.request >= request.request)
        {
            return;
        }
        if self.request_queue.len() >= self.options.request_queue_max {
            self.counters.requests_dropped += 1;
            return;
        }
        self.request_queue.push_back(request);
        self.prepare_queued();
    }

    /// Turn queued requests into prepares while the pipeline has room.
    pub(super) fn prepare_queued(&mut self) {
        let batch_max = if self.feature_enabled(Feature::BatchedPrepares) { BATCH_MAX_REQUESTS } else { 1 };
        while !self.request_queue.is_empty()
            && self.log.op() < self.commit_max + self.options.pipeline_max_ops
            && (self.log.op() - self.log.base()) < self.options.log_bound_ops
            && !self.reconfig_in_progress()
        {
            let count = self.request_queue.len().min(batch_max);
            let requests: Vec<ClientRequest> = self
                .request_queue
                .drain(..count)
                .map(|request| ClientRequest {
                    client: request.client,
                    request: request.request,
                    operation: request.operation,
                })
                .collect();
            for request in &requests {
                self.inflight.insert(request.client, request.request);
            }
            self.prepare_body(Body::Requests(requests));
        }
    }

    pub(super) fn prepare_body(&mut self, body: Body) {
        debug_assert!(self.is_serving_primary());
        let entry = Entry::new(self.log.op() + 1, self.view, body);
        self.log.push(LogSlot { header: entry.header, body: Some(entry.body.clone()), durable: false });
        self.persist(Write::Entry(entry.clone()));
        let prepare = Message::Prepare(Prepare { view: self.view, commit: self.commit_max, entry });
        self.send_to_followers(&prepare);
        Self::arm(&mut self.timers.prepare_at, self.now + self.options.prepare_timeout_ticks);
    }

    pub(super) fn on_prepare(&mut self, prepare: Prepare) {
        if prepare.view < self.view || self.status == Status::Recovering {
            self.counters.messages_dropped += 1;
            return;
        }
        if self.is_primary() && prepare.view == self.view {
            // Only a repair of a body we lack, with the header we hold.
            let header = prepare.entry.header;
            if let Some(slot) = self.log.get_mut(header.op) {
                if slot.header == header && slot.body.is_none() && prepare.entry.is_intact() {
                    slot.body = Some(prepare.entry.body.clone());
                    self.persist(Write::Entry(prepare.entry));
                }
            }
            return;
        }
        if prepare.view > self.view || self.status != Status::Normal {
            if self.status == Status::ViewChange && self.is_voter(self.id) && prepare.view == self.view {
                return;
            }
            self.request_start_view(prepare.view);
            return;
        }
        self.heard_from_primary();
        // A repair answer may come from any member while it carries our view.
        self.commit_max = self.commit_max.max(prepare.commit);
        let op = prepare.entry.header.op;
        self.accept_entry(prepare.entry);
        if op <= self.durable_op {
            // A resent prepare: our PrepareOk may have been lost.
            self.prepare_ok_sent = self.prepare_ok_sent.min(op - 1);
            self.maybe_send_prepare_ok();
        }
        self.apply_committed();
    }

    /// Store an entry of the current view at its op, or keep it until the gap before it fills.
    pub(super) fn accept_entry(&mut self, entry: Entry) {
        let op = entry.header.op;
        if !entry.is_intact() {
            self.counters.messages_dropped += 1;
            return;
        }
        if let Some(slot) = self.log.get_mut(op) {
            if slot.header == entry.header {
                if slot.body.is_none() {
                    // A repair: of a gap left by damage, or of history below `applied`.
                    slot.body = Some(entry.body.clone());
                    self.persist(Write::Entry(entry));
                }
                return;
            }
        }
        if op == self.log.base() && op > self.applied && (self.log.len() as Op) < self.options.log_bound_ops {
            // Backfill below our window, towards what we applied, while the window has
            // room; past that, the checkpoint asked for alongside brings us up.
            self.log.prepend(LogSlot { header: entry.header, body: Some(entry.body.clone()), durable: false });
            self.persist(Write::Entry(entry));
            return;
        }
        if op <= self.log.base() || op <= self.applied {
            return;
        }
        if self.log.get(op).is_some() {
            // Within one view the primary's entry is canonical: ours was left over
            // from an older view and was never committed.
            assert!(op > self.commit_max.min(self.applied), "a committed entry never changes");
            self.log.truncate_after(op - 1);
            self.durable_op = self.durable_op.min(op - 1);
            self.prepare_ok_sent = self.prepare_ok_sent.min(op - 1);
            // Storage must forget the stale suffix too, atomically with the new entry.
            let superblock = self.superblock();
            self.log.push(LogSlot { header: entry.header, body: Some(entry.body.clone()), durable: false });
            let slot = crate::message::Slot { header: entry.header, body: Some(entry.body) };
            self.persist(Write::Install { superblock, truncate_after: op - 1, slots: alloc::vec![slot] });
            return;
        }
        if op == self.log.op() + 1 {
            if op - self.log.base() > self.options.log_bound_ops {
                // Full: catch up by executing (and checkpointing) first.
                return;
            }
            self.append(entry);
            while let Some(next) = self.future.remove(&(self.log.op() + 1)) {
                if next.header.op - self.log.base() > self.options.log_bound_ops {
                    self.future.insert(next.header.op, next);
                    break;
                }
                self.append(next);
            }
        } else if op > self.log.op() + 1 {
            if self.future.len() < FUTURE_MAX {
                self.future.insert(op, entry);
            }
            Self::arm(&mut self.timers.repair_at, self.now);
        }
    }

    fn append(&mut self, entry: Entry) {
        self.log.push(LogSlot { header: entry.header, body: Some(entry.body.clone()), durable: false });
        self.persist(Write::Entry(entry));
    }

    pub(super) fn maybe_send_prepare_ok(&mut self) {
        if self.status != Status::Normal || !self.is_voter(self.id) || self.is_primary() {
            return;
        }
        if self.durable_op > self.prepare_ok_sent && self.durable_view >= self.view {
            self.prepare_ok_sent = self.durable_op;
            let ok =
                PrepareOk { view: self.view, op: self.durable_op, from: self.id, release: self.options.binary_release };
            let primary = self.primary_of(self.view);
            self.send(primary, Message::PrepareOk(ok));
        }
    }

    pub(super) fn on_prepare_ok(&mut self, ok: PrepareOk) {
        if ok.view != self.view || !self.is_serving_primary() || ok.from >= self.options.member_count() {
            return;
        }
        self.last_heard_at[ok.from as usize] = self.now;
        let changed = self.advertised[ok.from as usize] != Some(ok.release);
        self.advertised[ok.from as usize] = Some(ok.release);
        if changed {
            self.maybe_propose_upgrade();
        }
        if !self.is_voter(ok.from) {
            return;
        }
        let acked = &mut self.acked[ok.from as usize];
        *acked = (*acked).max(ok.op.min(self.log.op()));
        self.advance_commit();
    }

    /// Commit the highest op that a quorum of active replicas holds durably: of the
    /// old and of the new active set while a reconfiguration is uncommitted.
    pub(super) fn advance_commit(&mut self) {
        if !self.is_serving_primary() {
            return;
        }
        let mut quorum_op = self.quorum_acked(self.membership());
        if let Some((_, old)) = self.pending_reconfig() {
            quorum_op = quorum_op.min(self.quorum_acked(old));
        }
        if quorum_op > self.commit_max {
            self.commit_max = quorum_op;
            self.apply_committed();
            self.prepare_queued();
        }
        if self.log.op() <= self.commit_max {
            self.timers.prepare_at = None;
        }
    }

    /// The highest op a majority of `membership`'s active replicas acknowledged.
    fn quorum_acked(&self, membership: &super::Membership) -> Op {
        let mut acked: Vec<Op> = membership.active().iter().map(|member| self.acked[*member as usize]).collect();
        acked.sort_unstable_by(|a, b| b.cmp(a));
        acked[membership.quorum() - 1]
    }

    pub(super) fn apply_committed(&mut self) {
        while self.applied < self.commit_max && self.status != Status::Halted {
            let op = self.applied + 1;
            let Some(slot) = self.log.get(op) else { break };
            let Some(body) = slot.body.clone() else { break };
            let checksum = slot.header.checksum;
            self.execute(op, checksum, body);
        }
        if self.applied >= self.checkpoint.op + self.options.checkpoint_interval_ops() && self.status != Status::Halted
        {
            self.take_checkpoint();
        }
    }

    fn execute(&mut self, op: Op, checksum: u64, body: Body) {
        debug_assert_eq!(op, self.applied + 1);
        let mut notes = Vec::new();
        let reconfigured = matches!(body, Body::Reconfigure(_));
        match body {
            Body::Requests(requests) => {
                for request in requests {
                    let fresh = !self.sessions.is_duplicate(request.client, request.request);
                    let result = if fresh {
                        let result = self.state.apply(&request.operation);
                        self.sessions.record(request.client, request.request, result.clone(), op);
                        result
                    } else {
                        Vec::new()
                    };
                    if self.is_primary() && self.status == super::Status::Normal {
                        if self.inflight.get(&request.client) == Some(&request.request) {
                            self.inflight.remove(&request.client);
                        }
                        if fresh {
                            let reply = Reply {
                                view: self.view,
                                client: request.client,
                                request: request.request,
                                op,
                                result: result.clone(),
                            };
                            self.outbox.push_back(super::Outgoing {
                                to: super::Destination::Client(request.client),
                                message: Message::Reply(reply),
                            });
                        }
                    }
                    if self.options.report_applied {
                        notes.push(AppliedRequest {
                            client: request.client,
                            request: request.request,
                            operation: request.operation,
                            result,
                            fresh,
                        });
                    }
                }
            }
            Body::Upgrade { release } => {
                if release > self.options.binary_release {
                    self.halt(super::HaltReason::BinaryTooOld {
                        binary: self.options.binary_release,
                        cluster: release,
                    });
                    return;
                }
                let before = self.upgrade.release;
                self.upgrade.apply_upgrade(op, release);
                if self.upgrade.release != before {
                    // Persisted at once, so that a restart with an older binary halts
                    // before it writes anything.
                    let superblock = self.superblock();
                    self.persist(Write::Superblock(superblock));
                }
            }
            Body::UpgradeControl(command) => self.upgrade.apply_command(op, command),
            Body::Reconfigure(change) => {
                let changed_in = self.log.header(op).map_or(0, |header| header.view);
                let event =
                    super::membership::PromotionEvent { op, promoted: change.promoted, replaced: change.replaced };
                if self.config.promotions.len() == super::membership::PROMOTION_HISTORY_MAX {
                    self.config.promotions.remove(0);
                }
                self.config.promotions.push(event);
                let previous = core::mem::replace(&mut self.config.membership, change.membership);
                self.config.last_change = Some(super::membership::ConfigChange { op, view: changed_in, previous });
                self.applied = op;
                self.counters.reconfigurations_applied += 1;
                self.after_reconfigure(changed_in);
            }
        }
        self.applied = op;
        if self.options.report_applied {
            let digest = self.state_digest();
            let release = self.upgrade.release;
            let membership = &self.config.membership;
            let membership_digest = membership.digest();
            let reconfiguration = reconfigured.then(|| membership.clone());
            self.applied_notes.push_back(Applied {
                op,
                checksum,
                requests: notes,
                digest,
                release,
                membership_digest,
                reconfiguration,
            });
        }
    }

    fn take_checkpoint(&mut self) {
        let op = self.applied;
        let Some(last_header) = self.log.header(op) else { return };
        let data = CheckpointData {
            op,
            last_header,
            upgrade: self.upgrade.clone(),
            config: self.config.clone(),
            state: self.state.snapshot(),
            sessions: self.sessions.encode(),
        };
        // Keep one interval of history behind the checkpoint for lagging peers.
        let retain_from = (op + 1).saturating_sub(self.options.checkpoint_interval_ops());
        self.checkpoint = data.clone();
        self.persist(Write::Checkpoint { data, retain_from });
    }

    pub(super) fn on_heartbeat_timeout(&mut self) {
        if !self.is_serving_primary() {
            return;
        }
        let commit = Message::Commit(Commit {
            view: self.view,
            commit: self.commit_max,
            checkpoint: self.checkpoint.op,
            release: self.options.binary_release,
            cluster_release: self.upgrade.release,
            from: self.id,
        });
        // Standbys get heartbeats at every release, so that they advertise their
        // binaries before they are allowed to follow the log.
        for member in 0..self.options.member_count() {
            self.send(member, commit.clone());
        }
        self.maybe_propose_upgrade();
        self.maybe_auto_promote();
        self.timers.heartbeat_at = Some(self.now + self.options.heartbeat_interval_ticks);
    }

    pub(super) fn on_prepare_timeout(&mut self) {
        if !self.is_serving_primary() || self.log.op() <= self.commit_max {
            return;
        }
        // Resend what a quorum has not yet acknowledged, to whoever lacks it.
        let first = self.commit_max + 1;
        let last = self.log.op().min(first + self.options.pipeline_max_ops);
        for member in 0..self.options.member_count() {
            if member == self.id || !self.is_voter(member) {
                continue;
            }
            let acked = self.acked[member as usize];
            for op in first.max(acked + 1)..=last {
                if let Some(entry) = self.log.get(op).and_then(|slot| slot.entry()) {
                    let prepare = Prepare { view: self.view, commit: self.commit_max, entry };
                    self.send(member, Message::Prepare(prepare));
                }
            }
        }
        self.timers.prepare_at = Some(self.now + self.options.prepare_timeout_ticks);
    }

    pub(super) fn on_commit(&mut self, commit: Commit) {
        if commit.view < self.view || self.status == Status::Recovering {
            return;
        }
        let from = commit.from;
        if from >= self.options.member_count() {
            self.counters.messages_dropped += 1;
            return;
        }
        // Only the serving primary of a view sends its Commit messages.
        if self.known_primary.is_none_or(|(view, _)| view <= commit.view) {
            self.known_primary = Some((commit.view, from));
        }
        self.advertised[from as usize] = Some(commit.release);
        if commit.cluster_release > self.options.binary_release {
            let binary = self.options.binary_release;
            self.halt(super::HaltReason::BinaryTooOld { binary, cluster: commit.cluster_release });
            return;
        }
        if self.role() == Role::Standby && !Feature::StandbyReplicas.enabled_at(commit.cluster_release) {
            // Not following yet: only say which binary we run.
            self.heard_from_primary();
            let heartbeat =
                Heartbeat { view: self.view, from: self.id, op: 0, commit: 0, release: self.options.binary_release };
            self.send(from, Message::Heartbeat(heartbeat));
            return;
        }
        if commit.view > self.view || self.status != Status::Normal {
            if !(self.status == Status::ViewChange && commit.view == self.view) {
                let request = RequestStartView { view: commit.view, from: self.id };
                self.send(from, Message::RequestStartView(request));
            }
            return;
        }
        if self.is_primary() {
            return;
        }
        self.heard_from_primary();
        self.commit_max = self.commit_max.max(commit.commit);
        self.apply_committed();
        if self.applied < self.commit_max {
            Self::arm(&mut self.timers.repair_at, self.now);
        }
        let heartbeat = Heartbeat {
            view: self.view,
            from: self.id,
            op: self.log.op(),
            commit: self.applied,
            release: self.options.binary_release,
        };
        self.send(from, Message::Heartbeat(heartbeat));
    }

    pub(super) fn on_heartbeat(&mut self, heartbeat: Heartbeat) {
        if heartbeat.from >= self.options.member_count() {
            return;
        }
        self.last_heard_at[heartbeat.from as usize] = self.now;
        let changed = self.advertised[heartbeat.from as usize] != Some(heartbeat.release);
        self.advertised[heartbeat.from as usize] = Some(heartbeat.release);
        if !self.is_voter(heartbeat.from)
            && self.membership().role_of(heartbeat.from) == Role::Standby
            && self.is_serving_primary()
            && heartbeat.view == self.view
        {
            let now = self.now;
            self.standbys.on_report(heartbeat.from, heartbeat.op, heartbeat.commit, self.commit_max, now);
        }
        if changed {
            self.maybe_propose_upgrade();
        }
    }

    pub(super) fn heard_from_primary(&mut self) {
        self.last_primary_contact_at = self.now;
        self.set_primary_timeout();
    }

    pub(super) fn on_primary_timeout(&mut self) {
        if self.status != Status::Normal {
            return;
        }
        match (self.is_voter(self.id), self.role()) {
            (true, _) if !self.is_primary() => {
                self.start_view_change(self.view + 1);
            }
            (false, Role::Standby) => {
                // A standby never starts a view change; it asks where the cluster is.
                let primary = self.primary_of(self.view);
                let request = RequestStartView { view: self.view, from: self.id };
                self.send(primary, Message::RequestStartView(request));
                self.set_primary_timeout();
            }
            _ => {}
        }
    }

    pub(super) fn request_start_view(&mut self, view: crate::types::View) {
        let primary = self.primary_of(view);
        let request = RequestStartView { view, from: self.id };
        self.send(primary, Message::RequestStartView(request));
    }
}
