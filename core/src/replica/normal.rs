//! Normal operation: requests, prepares, acknowledgements, commits and execution.

use alloc::vec::Vec;

use super::log::LogSlot;
use super::sessions::{Admission, SESSION_EVICTED, SESSION_TOO_OLD};
use super::timers::Timer;
use super::{Applied, AppliedRequest, Replica, RequestDrop, RequestOutcome, Status, Write};
use crate::message::{Body, CheckpointData, Entry, Message, Prepare, PrepareOk, Reply, Request};
use crate::release::{Feature, OLDEST_RELEASE};
use crate::state_machine::StateMachine;
use crate::types::Op;

/// How many entries may wait ahead of a gap.
const FUTURE_MAX: usize = 256;
/// The most client requests one batched prepare carries.
pub const BATCH_MAX_REQUESTS: usize = 64;

impl<S: StateMachine> Replica<S> {
    pub(super) fn on_request(&mut self, request: Request) -> RequestOutcome {
        if self.status() == Status::Halted {
            self.counters.requests_dropped += 1;
            return RequestOutcome::Dropped(RequestDrop::Halted);
        }
        if !self.is_serving_primary() {
            // The client resends, to every member after a timeout.
            self.counters.requests_dropped += 1;
            return RequestOutcome::Dropped(RequestDrop::NotPrimary);
        }
        if self.applied < self.commit_max {
            self.counters.requests_dropped += 1;
            return RequestOutcome::Dropped(RequestDrop::CatchingUp);
        }
        match self.sessions.admit(&request, self.feature_enabled(Feature::KvCommands)) {
            Admission::New => {}
            Admission::Duplicate(session) => {
                // A registration is answered with its session; a request, with its op.
                let op = if request.is_register() { session.session } else { session.op };
                let result = session.reply.clone();
                self.reply(&request, op, result);
                return RequestOutcome::Answered;
            }
            Admission::Stale => {
                self.counters.requests_dropped += 1;
                return RequestOutcome::Dropped(RequestDrop::Superseded);
            }
            // The table is whole only once the whole log is applied: a new primary may
            // not have applied a registration committed in an older view yet. Until
            // then the log decides (`execute` refuses it alike on every member).
            Admission::Evicted if self.applied == self.log.op() => {
                self.counters.sessions_evicted_refused += 1;
                self.reply(&request, self.applied, S::refusal(SESSION_EVICTED));
                return RequestOutcome::Answered;
            }
            Admission::Evicted => {}
        }
        if let Err(refusal) = S::admit(self.upgrade.release, &request.operation) {
            if self.applied < self.inherited_op {
                // The release is the applied one, and the log this primary inherited
                // from older views may hold, unapplied, the upgrade or this very
                // request logged by an older primary: refusing now could deny what
                // will run. The client resends; once that log is applied the answer is
                // final (what this primary logs itself, it admitted at this release).
                self.counters.requests_dropped += 1;
                return RequestOutcome::Dropped(RequestDrop::CatchingUp);
            }
            // Never logged: no member meets a command its release lacks.
            self.counters.requests_refused_release += 1;
            self.reply(&request, self.applied, refusal);
            return RequestOutcome::Answered;
        }
        // A session in the table registered at an applied op, so its release is known
        // here; one not in it yet is decided when the request applies.
        let in_table = self.sessions.get(request.client).is_some_and(|session| session.session == request.session);
        if let Some(refusal) = in_table.then(|| self.session_refusal(&request)).flatten() {
            self.counters.requests_refused_release += 1;
            self.reply(&request, self.applied, refusal);
            return RequestOutcome::Answered;
        }
        if self.inflight.get(&request.client).is_some_and(|r| *r >= request.request)
            || self.request_queue.iter().any(|q| q.client == request.client && q.request >= request.request)
        {
            return RequestOutcome::InProgress;
        }
        if self.reads_by_index(&request) {
            if self.read_index.waits_for(&request) {
                self.ask_again_for_waiting_reads();
                return RequestOutcome::InProgress;
            }
            if self.read_index.waiting_len() >= self.options.request_queue_max {
                self.counters.requests_dropped += 1;
                return RequestOutcome::Dropped(RequestDrop::QueueFull);
            }
            self.queue_indexed_read(request);
            return RequestOutcome::Queued;
        }
        if self.request_queue.len() >= self.options.request_queue_max {
            self.counters.requests_dropped += 1;
            return RequestOutcome::Dropped(RequestDrop::QueueFull);
        }
        self.request_queue.push_back(request);
        self.prepare_queued();
        RequestOutcome::Queued
    }

    /// The refusal of a command the cluster's release has but the release its session
    /// opened under lacks (`SESSION_TOO_OLD`). Decided from logged data alone, so it is
    /// final: a copy of a request refused `feature-off` before an upgrade committed is
    /// refused again after it, never run.
    fn session_refusal(&self, request: &Request) -> Option<Vec<u8>> {
        // A command every release runs (most requests) needs no look at the history.
        if request.is_register()
            || S::admit(OLDEST_RELEASE, &request.operation).is_ok()
            || S::admit(self.upgrade.release, &request.operation).is_err()
        {
            return None;
        }
        let opened_at = self.upgrade.release_at(request.session);
        S::admit(opened_at, &request.operation).err()?;
        let text = alloc::format!(
            "{SESSION_TOO_OLD}: this session opened at release {opened_at}, which lacks the command; \
             the cluster runs {} now: open a new session and send it again",
            self.upgrade.release
        );
        Some(S::refusal(&text))
    }

    fn reply(&mut self, request: &Request, op: Op, result: Vec<u8>) {
        let reply = Reply { view: self.view, client: request.client, request: request.request, op, result };
        let to = super::Destination::Client(request.client);
        self.outbox.push_back(super::Outgoing { to, message: Message::Reply(reply) });
    }

    /// Keep at most one checkpoint interval of applied history in memory (storage keeps
    /// what the durable checkpoint does not cover): a view's start may have lengthened it.
    pub(super) fn trim_history(&mut self) {
        let retain_from = (self.checkpoint.op + 1).saturating_sub(self.options.checkpoint_interval_ops());
        self.log.trim_before(retain_from.min(self.applied + 1));
    }

    /// Turn queued requests into prepares while the pipeline has room.
    pub(super) fn prepare_queued(&mut self) {
        if (self.log.op() - self.log.base()) >= self.options.log_bound_ops {
            self.trim_history();
        }
        let batch_max = if self.feature_enabled(Feature::BatchedPrepares) { BATCH_MAX_REQUESTS } else { 1 };
        // Applying what just committed may have ended this member's service (a
        // reconfiguration, a halt): check again.
        while !self.request_queue.is_empty()
            && self.is_serving_primary()
            && self.log.op() < self.commit_max + self.options.pipeline_max_ops
            && (self.log.op() - self.log.base()) < self.options.log_bound_ops
            && !self.reconfig_in_progress()
        {
            let count = self.request_queue.len().min(batch_max);
            let requests: Vec<Request> = self.request_queue.drain(..count).collect();
            for request in &requests {
                self.inflight.insert(request.client, request.request);
            }
            self.prepare_body(Body::Requests(requests));
        }
    }

    pub(super) fn prepare_body(&mut self, body: Body) {
        assert!(self.is_serving_primary(), "only the serving primary prepares");
        // A serving primary applied at least up to its window's base, so an empty window
        // follows the entry it applied last.
        let parent = self.log.next_parent().unwrap_or_else(|| {
            assert_eq!(self.log.op(), self.applied, "a primary's window starts at most at what it applied");
            self.applied_checksum
        });
        let entry = Entry::new(self.log.op() + 1, self.view, parent, body);
        self.log.push(LogSlot { header: entry.header, body: Some(entry.body.clone()), durable: false });
        self.persist(Write::Entry(entry.clone()));
        let prepare = Message::Prepare(Prepare { view: self.view, commit: self.commit_max, entry });
        self.send_to_followers(&prepare);
        self.timers.arm(Timer::Prepare, self.now + self.options.prepare_timeout_ticks);
    }

    pub(super) fn on_prepare(&mut self, prepare: Prepare) {
        if prepare.view < self.view || self.status() == Status::Recovering {
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
        if prepare.view > self.view || self.status() != Status::Normal {
            if self.status() == Status::ViewChange && self.is_voter(self.id) && prepare.view == self.view {
                // An answer to the bodies a new primary asked for: kept (bounded) where
                // the view change looks for them, by header.
                if self.may_lead() && prepare.entry.is_intact() && self.future.len() < FUTURE_MAX {
                    self.future.insert(prepare.entry.header.op, prepare.entry);
                    self.maybe_start_view();
                }
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
            if self.log.checksum_at(op).is_none_or(|checksum| checksum == entry.header.checksum) {
                self.log.prepend(LogSlot { header: entry.header, body: Some(entry.body.clone()), durable: false });
                self.persist(Write::Entry(entry));
            }
            return;
        }
        if op <= self.log.base() || op <= self.applied {
            return;
        }
        // Within one view the primary's entry is canonical: a different one at its op,
        // or one it does not follow from, was left over from an older view, uncommitted.
        if self.log.get(op).is_some() {
            self.drop_stale_suffix(op);
        } else if op == self.log.op() + 1 && !self.log.chains(&entry.header) {
            self.drop_stale_suffix(op - 1);
        }
        if op == self.log.op() + 1 && self.log.chains(&entry.header) {
            if self.window_full_for(op) {
                // Full: catch up by executing (and checkpointing) first.
                return;
            }
            self.append(entry);
            while let Some(next) = self.future.remove(&(self.log.op() + 1)) {
                if self.window_full_for(next.header.op) || !self.log.chains(&next.header) {
                    // Asked for again by repair once there is room.
                    break;
                }
                self.append(next);
            }
        } else if op > self.log.op() {
            if self.future.len() < FUTURE_MAX {
                self.future.insert(op, entry);
            }
            self.timers.arm(Timer::Repair, self.now);
        }
    }

    /// Forget the slots from `from` on, which the primary's log does not hold: storage
    /// too, before anything is acknowledged after them. Never a committed one.
    fn drop_stale_suffix(&mut self, from: Op) {
        assert!(
            from > self.applied && from > self.commit_max.min(self.log.op()),
            "member {} would drop op {from}, which it knows committed",
            self.id
        );
        self.log.truncate_after(from - 1);
        self.durable_op = self.durable_op.min(from - 1);
        self.prepare_ok_sent = self.prepare_ok_sent.min(from - 1);
        let superblock = self.superblock();
        self.persist(Write::Install { superblock, truncate_after: from - 1, slots: Vec::new() });
        self.timers.arm(Timer::Repair, self.now);
    }

    /// Whether the window has no room for `op`, once history below the checkpoint that
    /// a view's start may have left there is gone.
    fn window_full_for(&mut self, op: Op) -> bool {
        if op - self.log.base() > self.options.log_bound_ops {
            self.trim_history();
        }
        op - self.log.base() > self.options.log_bound_ops
    }

    fn append(&mut self, entry: Entry) {
        self.log.push(LogSlot { header: entry.header, body: Some(entry.body.clone()), durable: false });
        self.persist(Write::Entry(entry));
    }

    pub(super) fn maybe_send_prepare_ok(&mut self) {
        if self.status() != Status::Normal || !self.is_voter(self.id) || self.is_primary() {
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
        self.heard_advertisement(ok.from, ok.view, ok.release);
        if ok.view != self.view || !self.is_serving_primary() {
            return;
        }
        if !self.is_voter(ok.from) {
            return;
        }
        let acked = &mut self.acked[ok.from as usize];
        *acked = (*acked).max(ok.op.min(self.log.op()));
        self.contacts.reached(ok.from, *acked);
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
            self.commit_times.record(quorum_op, self.now);
            self.apply_committed();
            self.prepare_queued();
        }
        if self.log.op() <= self.commit_max {
            self.timers.cancel(Timer::Prepare);
        }
    }

    /// The highest op a majority of `membership`'s active replicas acknowledged.
    fn quorum_acked(&self, membership: &super::Membership) -> Op {
        let mut acked: Vec<Op> = membership.active().iter().map(|member| self.acked[*member as usize]).collect();
        acked.sort_unstable_by(|a, b| b.cmp(a));
        acked[membership.quorum() - 1]
    }

    pub(super) fn apply_committed(&mut self) {
        while self.applied < self.commit_max && self.status() != Status::Halted {
            let op = self.applied + 1;
            let Some(slot) = self.log.get(op) else { break };
            let Some(body) = slot.body.clone() else { break };
            let checksum = slot.header.checksum;
            self.execute(op, checksum, body);
        }
        self.serve_indexed_reads();
        if self.applied >= self.checkpoint.op + self.options.checkpoint_interval_ops()
            && self.status() != Status::Halted
        {
            self.take_checkpoint();
        }
    }

    fn execute(&mut self, op: Op, checksum: u64, body: Body) {
        assert_eq!(op, self.applied + 1, "ops apply in order");
        self.applied_checksum = checksum;
        let mut notes = Vec::new();
        let reconfigured = matches!(body, Body::Reconfigure(_));
        match body {
            Body::Requests(requests) => {
                for request in requests {
                    // Checked again here: the session may have been evicted since the
                    // request was prepared, and every member must decide alike.
                    let (fresh, answered, result) =
                        match self.sessions.admit(&request, self.feature_enabled(Feature::KvCommands)) {
                            Admission::New if request.is_register() => {
                                self.sessions.register(request.client, op);
                                (true, true, Vec::new())
                            }
                            Admission::New => {
                                let result = match self.session_refusal(&request) {
                                    Some(refusal) => refusal,
                                    None => self.state.apply(self.upgrade.release, &request.operation),
                                };
                                self.sessions.record(request.client, request.request, result.clone(), op);
                                (true, true, result)
                            }
                            Admission::Evicted => (false, true, S::refusal(SESSION_EVICTED)),
                            Admission::Duplicate(_) | Admission::Stale => (false, false, Vec::new()),
                        };
                    if self.is_primary() && self.status() == super::Status::Normal {
                        if self.inflight.get(&request.client) == Some(&request.request) {
                            self.inflight.remove(&request.client);
                        }
                        if answered {
                            self.reply(&request, op, result.clone());
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
                let was_serving = self.is_serving_primary();
                let changed_in = self.log.header(op).map_or(0, |header| header.view);
                let event =
                    super::membership::PromotionEvent { op, promoted: change.promoted, replaced: change.replaced };
                if self.config.promotions.len() == super::membership::PROMOTION_HISTORY_MAX {
                    self.config.promotions.remove(0);
                }
                self.config.promotions.push(event);
                let previous = core::mem::replace(&mut self.config.membership, change.membership);
                let change = super::membership::ConfigChange { op, checksum, view: changed_in, previous };
                self.config.last_change = Some(change);
                self.applied = op;
                self.counters.reconfigurations_applied += 1;
                self.after_reconfigure(was_serving);
                // Durable at once: which membership chooses primaries must survive a restart.
                self.take_checkpoint();
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
        self.timers.set(Timer::Prepare, self.now + self.options.prepare_timeout_ticks);
    }
}
