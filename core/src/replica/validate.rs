//! What a peer sends is checked before any handler sees it: a message that names a
//! member outside the cluster, slots that do not follow each other, a body that does
//! not match its header, or a membership no reconfiguration could produce is counted
//! and dropped. An honest peer never sends one; a bug, a newer release's misreading or a
//! corrupt frame that passed its checksum must not reach an assertion.

use super::membership::Membership;
use super::Replica;
use crate::message::{Body, CheckpointData, ConfigStamp, Entry, Message, Slot};
use crate::state_machine::StateMachine;
use crate::types::{MemberId, Op};

impl<S: StateMachine> Replica<S> {
    /// Why `message` must be dropped, or `None` when it may be handled.
    pub(super) fn invalid_reason(&self, message: &Message) -> Option<&'static str> {
        let from = |member: MemberId| self.invalid_sender(member);
        match message {
            Message::Request(_) | Message::ReadRequest(_) => None,
            Message::Reply(_) => Some("a reply is for clients, not members"),
            Message::Prepare(prepare) => self.invalid_entry(&prepare.entry),
            Message::PrepareOk(ok) => from(ok.from),
            Message::Commit(commit) => from(commit.from).or_else(|| self.invalid_config(&commit.config)),
            Message::Heartbeat(heartbeat) => from(heartbeat.from),
            Message::StartViewChange(svc) => from(svc.from).or_else(|| self.invalid_config(&svc.config)),
            Message::DoViewChange(dvc) => from(dvc.from)
                .or_else(|| (dvc.log_view > dvc.view).then_some("a log view after the view"))
                .or_else(|| self.invalid_slots(dvc.checkpoint, &dvc.slots)),
            Message::StartView(start_view) => (start_view.from >= self.options.member_count())
                .then_some("a sender outside the cluster")
                .or_else(|| self.invalid_config(&start_view.config))
                .or_else(|| self.invalid_slots(start_view.checkpoint, &start_view.slots)),
            Message::RequestStartView(request) => from(request.from),
            Message::Recovery(recovery) => from(recovery.from),
            Message::RecoveryResponse(response) => {
                from(response.from).or_else(|| self.invalid_config(&response.config)).or_else(|| {
                    let log = response.primary_log.as_ref()?;
                    self.invalid_config(&log.config).or_else(|| self.invalid_slots(log.checkpoint, &log.slots))
                })
            }
            Message::RequestPrepare(request) => {
                from(request.from).or_else(|| (request.op == 0).then_some("op 0 is no entry"))
            }
            Message::RequestCheckpoint(request) => from(request.from),
            Message::ConfirmPrimacy(confirm) => from(confirm.from),
            Message::PrimacyConfirmed(confirmed) => from(confirmed.from),
            Message::Checkpoint(checkpoint) => {
                from(checkpoint.from).or_else(|| self.invalid_checkpoint(&checkpoint.data))
            }
        }
    }

    fn invalid_sender(&self, member: MemberId) -> Option<&'static str> {
        if member >= self.options.member_count() {
            Some("a sender outside the cluster")
        } else if member == self.id {
            Some("a message in this member's own name")
        } else {
            None
        }
    }

    fn invalid_entry(&self, entry: &Entry) -> Option<&'static str> {
        if entry.header.op == 0 {
            return Some("op 0 is no entry");
        }
        if !entry.is_intact() {
            return Some("a body that does not match its header");
        }
        self.invalid_body(&entry.body)
    }

    fn invalid_body(&self, body: &Body) -> Option<&'static str> {
        match body {
            Body::Reconfigure(change) => {
                if self.invalid_membership(&change.membership).is_some() {
                    return Some("a reconfiguration to an impossible membership");
                }
                let promoted = change.membership.is_active(change.promoted);
                let replaced = change.replaced.is_none_or(|member| change.membership.removed().contains(&member));
                (!promoted || !replaced).then_some("a reconfiguration that does not do what it says")
            }
            Body::Requests(_) | Body::Upgrade { .. } | Body::UpgradeControl(_) => None,
        }
    }

    /// Slots must follow `checkpoint` one op after another, within a window's bound,
    /// each body matching its header.
    fn invalid_slots(&self, checkpoint: Op, slots: &[Slot]) -> Option<&'static str> {
        if slots.len() as Op > self.options.window_max_ops() {
            return Some("more slots than a log window holds");
        }
        for (index, slot) in slots.iter().enumerate() {
            if slot.header.op != checkpoint + 1 + index as Op {
                return Some("slots that do not follow each other");
            }
            if let Some(body) = &slot.body {
                if !slot.header.covers(body) {
                    return Some("a body that does not match its header");
                }
                if let Some(reason) = self.invalid_body(body) {
                    return Some(reason);
                }
            }
        }
        None
    }

    fn invalid_config(&self, config: &ConfigStamp) -> Option<&'static str> {
        self.invalid_membership(&config.membership)
    }

    /// A membership names every member once, in one role, with at least one active.
    fn invalid_membership(&self, membership: &Membership) -> Option<&'static str> {
        if membership.active().is_empty() {
            return Some("a membership without active replicas");
        }
        let count = self.options.member_count();
        let mut seen: u32 = 0;
        for member in membership.active().iter().chain(membership.standbys()).chain(membership.removed()) {
            if *member >= count || seen & (1 << member) != 0 {
                return Some("a membership naming a member twice or outside the cluster");
            }
            seen |= 1 << member;
        }
        (seen.count_ones() != count as u32).then_some("a membership that leaves a member out")
    }

    fn invalid_checkpoint(&self, data: &CheckpointData) -> Option<&'static str> {
        if data.last_header.op != data.op {
            return Some("a checkpoint whose last header is for another op");
        }
        self.invalid_membership(&data.config.membership)
    }
}
